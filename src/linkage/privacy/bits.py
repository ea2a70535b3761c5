"""Small helpers every attack shares: CLKs as bit matrices, progress callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from linkage.formats.schema import LinkageSchema

#: ``progress(step, done, total)``: called as an attack advances.
Progress = Callable[[str, int, int], None]


def unpack_bits(
    clks: npt.NDArray[np.uint8], bit_length: int | None = None
) -> npt.NDArray[np.float32]:
    """CLKs as a ``(records, bits)`` float32 matrix of 0 and 1, ready for BLAS.

    Bits come in clkhash order: the first bit is the most significant bit of
    the first byte.
    """
    bits = np.unpackbits(np.asarray(clks, dtype=np.uint8), axis=1)
    if bit_length is not None:
        bits = bits[:, :bit_length]
    return bits.astype(np.float32)


def filter_slices(schema: LinkageSchema) -> list[slice]:
    """The bit columns of each filter of an encoding (one for a plain CLK)."""
    ends = np.cumsum([segment.clk_bits for segment in schema.segments]).tolist()
    return [slice(start, end) for start, end in zip([0, *ends], ends, strict=False)]


def report(progress: Progress | None, step: str, done: int, total: int) -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(step, done, total)
