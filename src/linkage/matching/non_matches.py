"""Where the non-matches' best scores end: a fit to their pile alone.

A record without a match still has a best score: the highest of many
similarities to unrelated records, so its scores follow an extreme-value
(Gumbel) law, piled up tightly at a value set by the schema. Hardening by
diffusion makes that pile very narrow (4 taps over 1,024 bits: 0.53 +- 0.005
on FEBRL) and spreads the true matches thinly from just above it to 1.0, so
the histogram has no valley worth the name: its lowest point lies anywhere in
the flat run of matches, and a threshold there drops every match below it
(FEBRL3: the valley at 0.627 kept 75 % of the links; just above the pile,
91 %).

:func:`fit_non_matches` fits the pile from its own body, where matches are
rare: location and scale from its median and 5th percentile, its size from
the records the body holds, refined until they agree. :meth:`NonMatchFit.end`
then finds the lowest score at which the fitted pile holds at most half the
records nearby: above it a record is likelier a match than not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["NonMatchFit", "fit_non_matches"]

_BODY = 3.0  # The body reaches this many scales above the location.
_BODY_SHARE = math.exp(-math.exp(-_BODY))  # Share of a Gumbel law in its body.
_MEDIAN = -math.log(math.log(2.0))  # Gumbel median, in scales above location.
_FIFTH = -math.log(-math.log(0.05))  # Gumbel 5th percentile (negative).
_ROUNDS = 20
_MIN_SCALE = 1e-4
_MIN_WINDOW = 0.005  # Half-width of the neighbourhood compared at each score,
# at least, and at least one scale of the pile: a broad pile needs a broad look.
_STEP = 0.001


@dataclass(frozen=True)
class NonMatchFit:
    """A Gumbel law fitted to the pile of non-match best scores.

    Attributes:
        location: the pile's mode.
        scale: its spread (Gumbel beta).
        records: how many best scores it holds.
    """

    location: float
    scale: float
    records: float

    def share_below(self, score: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """The share of the pile scoring below ``score``."""
        standard = (np.asarray(score, dtype=np.float64) - self.location) / self.scale
        return np.exp(-np.exp(-standard))

    def end(self, sorted_scores: NDArray[np.float64]) -> float | None:
        """The lowest score, at or above the pile's mode, where the fitted
        pile holds at most half of the records nearby (within one scale of
        the pile, or 0.005); None if it never does."""
        window = max(_MIN_WINDOW, self.scale)
        for score in np.arange(self.location, 1.0, _STEP):
            low, high = score - window, score + window
            nearby = np.searchsorted(sorted_scores, high) - np.searchsorted(
                sorted_scores, low
            )
            expected = self.records * float(
                self.share_below(high) - self.share_below(low)
            )
            if nearby > 0 and expected <= 0.5 * nearby:
                return float(score)
        return None


def fit_non_matches(
    sorted_scores: NDArray[np.float64], mode: float
) -> NonMatchFit | None:
    """Fit the non-match pile whose mode is near ``mode``.

    Args:
        sorted_scores: best-match scores strictly between 0 and 1, ascending.
        mode: where the lower peak of their density lies.

    Returns None when the pile's body holds fewer than 20 records: too few
    to place its median and 5th percentile.
    """
    location, scale, records = mode, 0.01, 0.0
    for _ in range(_ROUNDS):
        body = int(np.searchsorted(sorted_scores, location + _BODY * scale))
        records = body / _BODY_SHARE
        if 0.05 * records < 1 or body < 20:
            return None
        median = _at_rank(sorted_scores, 0.5 * records)
        fifth = _at_rank(sorted_scores, 0.05 * records)
        scale = max((median - fifth) / (_MEDIAN - _FIFTH), _MIN_SCALE)
        location = median - _MEDIAN * scale
    return NonMatchFit(location=location, scale=scale, records=records)


def _at_rank(sorted_scores: NDArray[np.float64], rank: float) -> float:
    index = min(max(int(rank), 0), len(sorted_scores) - 1)
    return float(sorted_scores[index])
