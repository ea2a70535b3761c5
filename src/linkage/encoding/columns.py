"""A column of values as the encoder receives it, and its distinct values.

Columns come as Arrow string arrays (``linkage encode`` without a mapping),
numpy object arrays or lists of text (a mapping's output).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["ColumnValues", "KnownValues", "as_arrow_strings", "factorize"]

# Arrow arrays are typed loosely (pyarrow ships no stubs), hence the alias.
ColumnValues: TypeAlias = "Sequence[str] | npt.NDArray[np.object_] | pa.Array"


def factorize(values: ColumnValues) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Codes and distinct values of a column; Arrow columns stay in C++."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        encoded = pc.dictionary_encode(values)
        return _integers(encoded.indices), encoded.dictionary.to_pylist()
    array = np.asarray(values, dtype=object)
    if not _utf8_clean(array):
        return _factorize_in_python(array)
    # Imported here: `linkage encode` hands Arrow columns over and, without a
    # mapping, never needs pandas (about 0.3 s to import).
    import pandas as pd

    codes, uniques = pd.factorize(array, sort=False)
    return codes.astype(np.intp), [str(value) for value in uniques]


def as_arrow_strings(values: ColumnValues) -> pa.Array | None:
    """The column as one Arrow string array; None if a value is not text that
    UTF-8 can hold (a lone surrogate, a number, a missing value)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        try:
            values = pa.array(np.asarray(values, dtype=object), type=pa.string())
        except (pa.ArrowException, UnicodeEncodeError):
            return None
    if values.null_count or values.type != pa.string():
        return None
    return values


class KnownValues:
    """The distinct values an encoder has seen, in one Arrow array, each with
    its row in the encoder's filter table (``-1``: invalid).

    A chunk is looked up by dictionary-encoding the known values followed by
    the chunk: the known values keep their places at the dictionary's start,
    so the chunk's codes index :attr:`rows` directly and every code past them
    is a new value. All of it runs in Arrow's C++, without the GIL, where a
    Python dictionary would hash each distinct value of every chunk anew
    while holding it.
    """

    def __init__(self) -> None:
        self._values: pa.Array
        self.rows: npt.NDArray[np.intp]
        self.clear()

    def __len__(self) -> int:
        return len(self._values)

    def encode(self, column: pa.Array) -> tuple[npt.NDArray[np.intp], pa.Array]:
        """Each value's code, and the dictionary: the known values, then the
        chunk's new ones."""
        known = len(self._values)
        whole = pa.concat_arrays([self._values, column]) if known else column
        encoded = pc.dictionary_encode(whole)
        return _integers(encoded.indices.slice(known)), encoded.dictionary

    def remember(self, dictionary: pa.Array, new_rows: npt.NDArray[np.intp]) -> None:
        """Keep ``dictionary`` (from :meth:`encode`) and the rows of its new values."""
        self._values = dictionary
        self.rows = np.concatenate([self.rows, new_rows])

    def clear(self) -> None:
        """Forget every value."""
        # Not pa.array([]): that imports pandas (0.2 s) to look for its types.
        self._values = pa.nulls(0, type=pa.string())
        self.rows = np.zeros(0, dtype=np.intp)


def _integers(array: pa.Array) -> npt.NDArray[np.intp]:
    """An Arrow integer array as numpy, read from its buffer when it can be.

    pyarrow's ``to_numpy`` imports pandas (about 0.3 s), which encoding an
    export without a mapping otherwise never needs.
    """
    if array.null_count:
        return array.to_numpy(zero_copy_only=False).astype(np.intp)  # type: ignore[no-any-return]
    dtype = np.dtype(f"int{array.type.bit_width}")
    raw = np.frombuffer(
        array.buffers()[1],
        dtype=dtype,
        count=len(array),
        offset=array.offset * dtype.itemsize,
    )
    return raw.astype(np.intp)


def _utf8_clean(values: npt.NDArray[np.object_]) -> bool:
    """Whether every value is UTF-8 text (no lone surrogates).

    pandas' string hash table misreads a string it cannot convert to UTF-8
    when two threads factorise at once (measured: about 1 run in 10 gave a
    lone surrogate another value's code, so an invalid value was encoded).
    """
    try:
        "".join(values.tolist()).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except TypeError:
        return True  # Not all text: pandas uses its object table, no UTF-8.
    return True


def _factorize_in_python(
    values: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.intp], list[str]]:
    index: dict[object, int] = {}
    codes = np.fromiter(
        (index.setdefault(value, len(index)) for value in values.tolist()),
        dtype=np.intp,
        count=len(values),
    )
    return codes, [str(value) for value in index]
