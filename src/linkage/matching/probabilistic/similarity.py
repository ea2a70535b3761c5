"""Dice similarity field by field, for encodings made of per-field segments.

A per-field encoding (schema ``linkage.segments``) is the concatenation of one
Bloom filter per field; :class:`~linkage.formats.clkfile.FieldSegment` says
where each lies. An all-zero segment means the record lacks that field, so its
similarity is NaN ("missing"), never 0 ("disagrees").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from linkage.formats.clkfile import FieldSegment
from linkage.matching.candidates import Clks, Indices

_PAIRS_PER_BATCH = 1 << 18  # Bounds the gathered rows to 2**18 x segment bytes.


def segment_popcounts(
    clks: Clks, segments: Sequence[FieldSegment]
) -> npt.NDArray[np.int32]:
    """Bits set in each segment of each encoding: (records, segments)."""
    counts = np.empty((len(clks), len(segments)), dtype=np.int32)
    for column, segment in enumerate(segments):
        part = clks[:, segment.start : segment.stop]
        counts[:, column] = np.bitwise_count(part).sum(axis=1, dtype=np.int32)
    return counts


def field_similarities(
    clks: Clks,
    segments: Sequence[FieldSegment],
    left: Indices,
    right: Indices,
    popcounts: npt.NDArray[np.int32] | None = None,
) -> npt.NDArray[np.float32]:
    """Dice of every pair ``(left[i], right[i])`` in every segment.

    Returns a float32 array (pairs, segments); NaN where either record's
    segment is empty (the field is missing).
    """
    if popcounts is None:
        popcounts = segment_popcounts(clks, segments)
    result = np.empty((len(left), len(segments)), dtype=np.float32)
    for start in range(0, len(left), _PAIRS_PER_BATCH):
        stop = start + _PAIRS_PER_BATCH
        result[start:stop] = _batch(
            clks, segments, left[start:stop], right[start:stop], popcounts
        )
    return result


def _batch(
    clks: Clks,
    segments: Sequence[FieldSegment],
    left: Indices,
    right: Indices,
    popcounts: npt.NDArray[np.int32],
) -> npt.NDArray[np.float32]:
    common = np.empty((len(left), len(segments)), dtype=np.int32)
    first, second = clks[left], clks[right]
    for column, segment in enumerate(segments):
        span = slice(segment.start, segment.stop)
        both = np.bitwise_and(first[:, span], second[:, span])
        common[:, column] = np.bitwise_count(both).sum(axis=1, dtype=np.int32)
    total = popcounts[left] + popcounts[right]
    missing = (popcounts[left] == 0) | (popcounts[right] == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = (2 * common / total).astype(np.float32)
    dice[missing] = np.nan
    return dice


def random_pairs(
    party_of: npt.NDArray[np.integer],
    count: int,
    rng: np.random.Generator,
    *,
    across: bool,
    within: bool,
) -> tuple[Indices, Indices]:
    """About ``count`` random pairs of distinct records, as the linkage compares
    them (across parties, within one, or both): nearly all are non-matches."""
    total = len(party_of)
    left = rng.integers(0, total, size=2 * count, dtype=np.int64)
    right = rng.integers(0, total, size=2 * count, dtype=np.int64)
    same_party = party_of[left] == party_of[right]
    keep = left != right
    if not within:
        keep &= ~same_party
    if not across:
        keep &= same_party
    return left[keep][:count], right[keep][:count]
