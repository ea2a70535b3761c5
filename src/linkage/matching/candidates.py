"""Candidate pairs: the one type every step of matching hands on.

A candidate pair is two record indices and a score. Pairs travel as three
parallel arrays (``left``, ``right``, ``score``) in one
:class:`CandidatePairs`, with the number of pairs compared to find them, and,
once gathered for a whole linkage, a sentence on how they were found
(``blocking``) and the share of the pairs at or above the threshold they are
estimated to hold (``estimated_completeness``). Whoever found them:

- the all-pairs Dice kernel
  (:func:`linkage.matching.clk.similarity.iter_candidates`) yields one per
  chunk of left rows, in that call's row indices;
- Hamming LSH (:func:`linkage.matching.clk.blocking.run_lsh`) returns
  :class:`~linkage.matching.clk.blocking.LshCandidates`: the same fields in
  the global record index, plus the plan that found them;
- the matcher (:mod:`linkage.matching.matcher`) gathers the kernel's chunks
  into the global record index, and the probabilistic method
  (:mod:`linkage.matching.probabilistic.link`) rescores pairs with their
  match probability.

``CandidateChunk`` (the kernel's name) and ``Candidates`` (the matcher's) are
other names for :class:`CandidatePairs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError

__all__ = [
    "ALL_PAIRS",
    "CandidateLimitError",
    "CandidatePairs",
    "Clks",
    "Indices",
    "Scores",
    "candidate_floor_error",
    "candidate_limit_error",
    "pairs_sharing_a_value",
]

Clks = npt.NDArray[np.uint8]  # Packed Bloom filters, one row of bytes each.
Indices = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]

#: How pairs found by comparing every pair are described.
ALL_PAIRS = "none (all pairs)"


@dataclass(frozen=True)
class CandidatePairs:
    """Candidate pairs and how they were found.

    Attributes:
        left: record indices (into the left CLKs for a chunk of the all-pairs
            kernel, else the global record index).
        right: record indices (into the right CLKs for a chunk, or into the
            left ones when deduplicating, and then ``left < right``).
        score: each pair's score: Dice, or the probabilistic method's match
            probability.
        compared: the pairs actually compared to find these, after pruning
            (a row run again after its slot overflowed counts once).
        blocking: how the pairs were found, for the report.
        estimated_completeness: the share of the pairs at or above the
            threshold these are estimated to hold (1 when every pair was
            compared).
    """

    left: Indices
    right: Indices
    score: Scores
    compared: int = 0
    blocking: str = ALL_PAIRS
    estimated_completeness: float = 1.0


class CandidateLimitError(InputError):
    """More than ``limit`` pairs reach ``threshold``: the run stops.

    ``threshold`` is the score the pairs were gathered at, which is not always
    the threshold the operator gave (deduplication and the probabilistic
    method gather pairs below it), so whoever set that score may say what it
    is (:func:`candidate_floor_error`).
    """

    def __init__(self, summary: str, hint: str, limit: int, threshold: float) -> None:
        super().__init__(summary, hint=hint)
        self.limit = limit
        self.threshold = threshold


_LIMIT_HINT = (
    "Raise the threshold (a Dice threshold below about 0.6 compares "
    "records that share little), or check that the files were encoded with "
    "a suitable schema."
)


def candidate_limit_error(limit: int, threshold: float) -> CandidateLimitError:
    """The error for more than ``limit`` pairs at or above ``threshold``."""
    return CandidateLimitError(
        f"More than {limit:,} pairs of records reach the threshold "
        f"{threshold:.3f}: too many to be matches",
        _LIMIT_HINT,
        limit,
        threshold,
    )


def candidate_floor_error(
    error: CandidateLimitError, floor: str, hint: str
) -> CandidateLimitError:
    """``error`` again, for pairs gathered at a floor below the threshold.

    Args:
        error: The error raised at the floor.
        floor: What the floor is: "reach a Dice of 0.500 (FLOOR)".
        hint: What to do about it.
    """
    return CandidateLimitError(
        f"More than {error.limit:,} pairs of records reach a Dice of "
        f"{error.threshold:.3f} ({floor}): too many to gather",
        hint,
        error.limit,
        error.threshold,
    )


def pairs_sharing_a_value(
    values: npt.NDArray[np.generic],
    held: npt.NDArray[np.bool_],
    most: int | None = None,
) -> tuple[Indices, Indices]:
    """Every pair of records (indices into ``values``) whose values are equal,
    among the records ``held`` marks; with ``most``, values more records
    share than that are passed over. Each pair once, in no set order."""
    records = np.flatnonzero(held)
    order = records[np.argsort(values[records], kind="stable")]
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    if most is not None:
        starts, sizes = starts[sizes <= most], sizes[sizes <= most]
    lefts, rights = [], []
    # For each gap g, pair every record with the one g places later in its
    # block: vectorised over blocks, one pass per gap up to the largest block.
    for gap in range(1, int(sizes.max(initial=1))):
        long_enough = sizes > gap
        block_starts, block_sizes = starts[long_enough], sizes[long_enough]
        counts = block_sizes - gap
        first = np.repeat(block_starts, counts) + _ranges(counts)
        lefts.append(order[first])
        rights.append(order[first + gap])
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    return (
        np.concatenate(lefts).astype(np.int64),
        np.concatenate(rights).astype(np.int64),
    )


def _ranges(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0..c-1 for each count c, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts)
