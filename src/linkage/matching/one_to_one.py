"""Where false links start to outnumber true ones, when each record links at
most one record of each other party (linkage without dedup).

Just above the pile of non-match scores, a lower threshold adds links of
both kinds: true matches that scored low (typos under diffusion), and false
links of records that have no match. With one-to-one linkage a record
without a match links falsely only with a partner that has no match either:
a partner with a match takes its match, which scores higher. So where most
of the other party's records have a match (police records against a health
register), false links are rare even inside the pile's tail, and the best
threshold lies well below the point where the pile holds half the records.

:func:`end_of_false_links` estimates both rates from samples scored against
two random halves of the records each may link
(:func:`linkage.matching.sampling.best_against_halves`):

* **Non-match law.** The worse of a record's two half-scores is a best score
  over records that are (mostly) not its match; a Gumbel law fitted to them
  (:func:`~linkage.matching.non_matches.fit_non_matches`) is ``G``, and a
  record without a match has its best score over all partners by ``G²``.
* **Records without a match.** Half of them score at most the median of
  ``G²``, and records with a match almost never do: twice the share at or
  below that median estimates the share without one, ``u``.
* **False links.** A record without a match links falsely at ``t`` when its
  best partner without a match scores at least ``t``: chance
  ``1 - G(t)^(2v)``, ``v`` the share of its partners without a match.
* **True links.** Just above the pile the matches spread thinly and evenly,
  so their density a few scales above it stands in for their density in
  the pile's tail.

The threshold is the lowest score, walking down from above the pile, where
each step still adds more true links than false ones. The sides share one
scale of scores: a side's records are counted as many times as the sample
stands for.

The law is approximate, and its errors pull opposite ways. Fitted to the
worse halves, where a record without a match holds the lower of two draws,
it sits a little low, and it undercounts records without a match where they
are many (simulated: 0.44 for 0.67). But real best scores have a lighter
upper tail than a Gumbel law fitted from the pile's body, which overcounts
false links (a tax office against another: 136 records predicted above
0.58, 32 found). Fitted to both halves instead, the thresholds came out
0.004-0.006 higher on the demo and households populations and F1 lower;
``benchmarks/threshold_check.py`` measures the rule as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.matching.non_matches import NonMatchFit, fit_non_matches

__all__ = ["FalseLinkEnd", "SampledSide", "end_of_false_links"]

Scores = npt.NDArray[np.floating]

_TAIL_SCALES = 6.0  # Above location + 6 scales the pile holds 1 - G < 0.25 %.
_WINDOW_SCALES = 3.0  # Width of the window where the matches' density is read.
_STEP = 0.001
_MIN_SAMPLE = 40  # Fewer non-match scores cannot place a Gumbel fit.
_MEDIAN_OF_SQUARE = -math.log(-math.log(math.sqrt(0.5)))  # G² median, in scales.


@dataclass(frozen=True)
class SampledSide:
    """A sample of one party's records scored against two random halves of
    the records they may link.

    Attributes:
        records: How many records the sample stands for (the party's).
        first: Each sampled record's best score against the first half.
        second: ... and against the second half.
        partners: Indices (in the same sequence of sides) of the sides whose
            records these may link; empty means every other side.
    """

    records: int
    first: Scores
    second: Scores
    partners: tuple[int, ...] = ()

    @property
    def better(self) -> npt.NDArray[np.float64]:
        """Per sampled record, its best score over all its partners."""
        return np.maximum(self.first, self.second).astype(np.float64)

    @property
    def worse(self) -> npt.NDArray[np.float64]:
        """Per sampled record, the best of the half without its match."""
        return np.minimum(self.first, self.second).astype(np.float64)

    @property
    def weight(self) -> float:
        """How many of the party's records one sampled record stands for."""
        return self.records / max(len(self.first), 1)


@dataclass(frozen=True)
class FalseLinkEnd:
    """Where a lower threshold would start adding more false links than true.

    Attributes:
        threshold: That score.
        unmatched: Per side, the estimated share of records without a match.
    """

    threshold: float
    unmatched: tuple[float, ...]


def end_of_false_links(sides: Sequence[SampledSide]) -> FalseLinkEnd | None:
    """The lowest threshold at which one-to-one linkage still gains more true
    links than false ones with each step down; None where a side's
    non-match scores are too few to fit, or no side is given."""
    fits = [_fit(side) for side in sides]
    if not sides or any(fit is None for fit in fits):
        return None
    laws = [fit for fit in fits if fit is not None]
    unmatched = [
        _unmatched_share(side, law) for side, law in zip(sides, laws, strict=True)
    ]
    free = [_partners_free_share(sides, unmatched, i) for i in range(len(sides))]
    top = max(law.location + _TAIL_SCALES * law.scale for law in laws)
    width = _WINDOW_SCALES * max(law.scale for law in laws)

    def false_ends(score: float) -> float:
        ends = 0.0
        for side, law, share, other in zip(sides, laws, unmatched, free, strict=True):
            below = float(law.share_below(score))
            ends += share * side.records * (1.0 - below ** (2 * other))
        return ends

    density = _true_density(sides, laws, unmatched, top, width)
    score = top
    lowest = min(law.location for law in laws)
    while score - _STEP > lowest:
        added_false = false_ends(score - _STEP) - false_ends(score)
        if added_false > density * _STEP:
            break
        score -= _STEP
    return FalseLinkEnd(round(score, 3), tuple(round(share, 4) for share in unmatched))


def _fit(side: SampledSide) -> NonMatchFit | None:
    worse = side.worse
    scores = np.sort(worse[(worse > 0.0) & (worse < 1.0)])
    if len(scores) < _MIN_SAMPLE:
        return None
    return fit_non_matches(scores, float(np.median(scores)))


def _unmatched_share(side: SampledSide, law: NonMatchFit) -> float:
    median = law.location + _MEDIAN_OF_SQUARE * law.scale
    below = np.count_nonzero(side.better <= median)
    return min(1.0, 2.0 * below / max(len(side.first), 1))


def _partners_free_share(
    sides: Sequence[SampledSide], unmatched: Sequence[float], index: int
) -> float:
    """The records-weighted share without a match among the side's partners."""
    partners = sides[index].partners or tuple(
        other for other in range(len(sides)) if other != index
    )
    if not partners:  # One side alone: its records compete among themselves.
        return unmatched[index]
    total = sum(sides[other].records for other in partners)
    return sum(unmatched[other] * sides[other].records for other in partners) / total


def _true_density(
    sides: Sequence[SampledSide],
    laws: Sequence[NonMatchFit],
    unmatched: Sequence[float],
    top: float,
    width: float,
) -> float:
    """Records with a match per unit of score, from ``top`` to ``top + width``."""
    in_window = 0.0
    for side, law, share in zip(sides, laws, unmatched, strict=True):
        better = side.better
        counted = np.count_nonzero((better >= top) & (better < top + width))
        tail = (
            float(law.share_below(top + width)) ** 2 - float(law.share_below(top)) ** 2
        )
        in_window += counted * side.weight - share * side.records * tail
    return max(in_window, 0.0) / width
