"""Sampled best-match scores: what the automatic threshold looks at.

A record's best score alone is not enough: where every record has its match
(as in FEBRL4) there is no non-match mode. So the records each sampled record
may match are split into two random halves and the sample is scored against
each: the better of the two holds the record's match, the other the best of
records that are (mostly) not its match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.matching.clk.similarity import best_scores
from linkage.matching.one_to_one import SampledSide

Scores = npt.NDArray[np.float64]

#: Records scored to choose a threshold: enough for a histogram.
SAMPLE_ROWS = 5000
#: Fixed, so the same files give the same threshold.
SAMPLE_SEED = 20261125


def sample_rows(
    rng: np.random.Generator, count: int, limit: int = SAMPLE_ROWS
) -> npt.NDArray[np.int64]:
    """At most ``limit`` of ``count`` row numbers, drawn without repeats, sorted."""
    if count <= limit:
        return np.arange(count, dtype=np.int64)
    return np.sort(rng.choice(count, size=limit, replace=False)).astype(np.int64)


def best_against_halves(
    clks: npt.NDArray[np.uint8],
    others: npt.NDArray[np.uint8],
    rng: np.random.Generator,
) -> tuple[Scores, Scores]:
    """A sample of ``clks``'s best scores against two random halves of ``others``."""
    sample = clks[sample_rows(rng, len(clks))]
    halves = np.array_split(others[rng.permutation(len(others))], 2)
    return (
        best_scores(sample, halves[0], floor=0.0),
        best_scores(sample, halves[1], floor=0.0),
    )


def pool_halves(first: Scores, second: Scores) -> Scores:
    """Both halves' scores in one distribution: per record the better (its
    match, if it has one) and the other (its best non-match)."""
    return np.concatenate([np.maximum(first, second), np.minimum(first, second)])


@dataclass(frozen=True)
class ScoreSample:
    """Best-match scores a threshold is chosen from.

    Attributes:
        pooled: Both halves' scores of every sample (:func:`pool_halves`):
            the histogram the threshold is read from.
        sides: For linkage where each record links at most one record of
            each other party, each direction sampled (a party against the
            records it may link), both directions of every pair of parties;
            None with dedup.
    """

    pooled: Scores
    sides: tuple[SampledSide, ...] | None = None
