"""Reading an agency's records file: CSV in blocks, every value as text.

Values are never guessed at: no NA detection, no number parsing, so ``"NA"``
and ``"007"`` reach the mapping and the schema exactly as the agency wrote
them. The file is read with Arrow's streaming CSV reader, block by block, so
memory stays flat and columns can be factorised without creating a Python
string per row. Problems with the file itself (missing, empty, not the stated
text encoding, ragged rows) become :class:`~linkage.errors.InputError` naming
the file and line.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pa_csv

from linkage.encoding.overlap import ReadAhead
from linkage.errors import InputError, Problem

if TYPE_CHECKING:
    import pandas as pd

_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class RecordChunk:
    """Consecutive records; ``first_row`` is the 1-based row of the first one."""

    batch: pa.RecordBatch
    first_row: int

    def __len__(self) -> int:
        return int(self.batch.num_rows)

    def column(self, name: str) -> pa.Array:
        """One column, as Arrow strings."""
        return self.batch.column(name)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The chunk as a pandas frame of ``str`` values."""
        # Arrow imports pandas here, only when a mapping needs a frame.
        frame: pd.DataFrame = self.batch.to_pandas()
        return frame


class RecordsReading:
    """A records file being read: its chunks, one ahead on another thread,
    from the moment this is made.

    ``linkage encode`` starts one before importing the encoder, so the first
    block is parsed meanwhile; :func:`~linkage.encoding.recipe.encode_csv`
    takes it. Close it (or leave its ``with`` block) if it is not read to the
    end.
    """

    def __init__(self, path: Path, encoding: str = "utf-8") -> None:
        self.path = path
        self.encoding = encoding
        self.chunks: ReadAhead[RecordChunk] = ReadAhead(
            iter_chunks(path, encoding=encoding)
        )

    def close(self) -> None:
        """Stop reading (waits for the block under way)."""
        self.chunks.close()

    def __enter__(self) -> RecordsReading:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def count_rows(path: Path) -> int:
    """Data rows in a CSV file, counted by newlines (for progress only)."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as file:
        while block := file.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def read_columns(path: Path, encoding: str = "utf-8") -> list[str]:
    """The header row of a records file.

    Read with Python's csv module alone: opening the file with Arrow parses
    its first block (8 MB, 0.15 s), which :func:`iter_chunks` does again.
    """
    _check_file(path)
    _check_encoding(encoding)
    return _header(path, encoding)


def iter_chunks(path: Path, *, encoding: str = "utf-8") -> Iterator[RecordChunk]:
    """Yield the records of ``path`` in blocks of a few megabytes.

    Raises:
        InputError: the file is missing, empty, not in ``encoding``, or a row
            has a different number of fields than the header.
    """
    first_row = 1
    with _open(path, encoding) as reader:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, UnicodeDecodeError) as error:
                raise _read_error(path, encoding, error, first_row) from None
            yield RecordChunk(batch, first_row)
            first_row += batch.num_rows


def _open(path: Path, encoding: str) -> pa_csv.CSVStreamingReader:
    _check_file(path)
    _check_encoding(encoding)
    header = _header(path, encoding)
    try:
        return pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                block_size=_BLOCK_BYTES,
                # Arrow's own threads would parse several blocks ahead before
                # handing over the first (0.05-0.1 s with nothing to encode);
                # the encoder reads one block ahead on its own thread instead.
                use_threads=False,
                encoding=_arrow_encoding(encoding),
                column_names=header,
                skip_rows=1,
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise _read_error(path, encoding, error, 1) from None


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(
            f"{encoding!r} is not a text encoding Python knows",
            hint="Use for example utf-8, utf-8-sig, latin-1 or cp1252.",
        ) from None


def _arrow_encoding(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    # Arrow decodes UTF-8 itself (and skips a byte-order mark).
    return "utf8" if name in ("utf-8", "utf-8-sig") else encoding


def _header(path: Path, encoding: str) -> list[str]:
    """The header row, read with Python's csv rules, checked for duplicates."""
    try:
        with open(path, encoding=encoding, newline="") as file:
            header = next(csv.reader(file), [])
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None
    header = [
        name.lstrip("\ufeff") if i == 0 else name for i, name in enumerate(header)
    ]
    if not header or header == [""]:
        raise InputError(
            f"{path} has no header row",
            hint="The first line must name the columns, separated by commas.",
        )
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(
            f"{path} names these columns more than once: {', '.join(duplicates)}",
            hint="Give every column a distinct name in the header row.",
        )
    return header


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"records file {path} does not exist")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise InputError(
            f"{path} is empty: it has no header row and no records",
            hint="Export the records again, with a header row naming the columns.",
        )


_COLUMNS_MISMATCH = re.compile(r"Expected (\d+) columns, got (\d+)")


def _read_error(
    path: Path, encoding: str, error: Exception, first_row: int
) -> InputError:
    text = str(error)
    if isinstance(error, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
        return _decode_error(path, encoding)
    mismatch = _COLUMNS_MISMATCH.search(text)
    if mismatch:
        expected, got = mismatch.groups()
        line = _line_with_field_count(path, encoding, int(expected))
        where = f"line {line}" if line else f"a row after row {first_row - 1}"
        return InputError(
            f"{path} is not a well-formed CSV file",
            [
                Problem(
                    f"{where} has {got} fields; the header has {expected}", str(path)
                )
            ],
            hint="Each row needs one value per header column (empty values are "
            "fine); check the quoting on that line.",
        )
    return InputError(
        f"{path} is not a well-formed CSV file",
        [Problem(text.splitlines()[0], str(path))],
        hint="Check the quoting and the number of fields on the line named.",
    )


def _line_with_field_count(path: Path, encoding: str, expected: int) -> int | None:
    """The first line whose field count differs from the header's."""
    with open(path, encoding=encoding, newline="", errors="replace") as file:
        reader = csv.reader(file)
        for row in reader:
            if len(row) != expected:
                return reader.line_num
    return None


def _decode_error(path: Path, encoding: str) -> InputError:
    line, column = _first_undecodable(path, encoding)
    return InputError(
        f"{path} is not valid {encoding} text",
        [Problem(f"line {line}, character {column} cannot be decoded", str(path))],
        hint=(
            "Save the export as UTF-8, or name its encoding with --encoding "
            "(for example --encoding cp1252 or --encoding latin-1)."
        ),
    )


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int]:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    with open(path, "rb") as file:
        for raw_line in file:
            try:
                decoder.decode(raw_line)
            except UnicodeDecodeError as error:
                return line, error.start + 1
            line += 1
    return line, 1
