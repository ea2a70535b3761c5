"""The best match of a few CLKs among many, at once: the kernel behind lookups.

A full run compares every record with every other once; a lookup compares
one to a hundred new CLKs with every linked record, many times a minute. So
the linked records' CLKs are prepared once (:class:`ClkIndex`: sorted by
popcount, packed in 64-bit words) and each query then scans only the
popcounts that can reach the threshold, ``t|a|/(2-t) <= |b| <= (2-t)|a|/t``
(the same pruning as :mod:`linkage.matching.clk.similarity`).

Scores and the threshold are decided as a run decides them: a record is a
match when the float64 Dice ``2c / (|a| + |b|)`` is ``>= threshold``, so a
score exactly at the threshold matches. Of several matches the highest score
wins; on a tie, the record that comes first in the index.

Example:
    >>> clks = np.array([[0b1111], [0b1110], [0b0001]], dtype=np.uint8)
    >>> index = ClkIndex(clks)
    >>> best = index.best(np.array([[0b1110]], dtype=np.uint8), 0.8)
    >>> best.rows.tolist(), best.scores.round(3).tolist()
    ([1], [1.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

import linkage.jit  # noqa: F401  (numba without its BLAS probe)
from linkage.popcount import popcount64

__all__ = ["BestMatches", "ClkIndex"]

_WORD_BYTES = 8


@dataclass(frozen=True)
class BestMatches:
    """Each query's best record at or above the threshold.

    Attributes:
        rows: the record's row in the CLKs the index was built from, or -1
            where no record reaches the threshold.
        scores: its Dice score (0.0 where ``rows`` is -1).
    """

    rows: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]


class ClkIndex:
    """Linked records' CLKs, ready to be searched for a query's best match.

    Built once per party and view (about 0.1 s per million 1024-bit CLKs);
    holds a copy of the CLKs (128 MB per million at 1024 bits).

    Raises:
        TypeError: ``clks`` is not a uint8 array.
        ValueError: ``clks`` is not two-dimensional.
    """

    def __init__(self, clks: npt.NDArray[np.uint8]) -> None:
        if not isinstance(clks, np.ndarray) or clks.dtype != np.uint8:
            raise TypeError("'clks' must be a uint8 array")
        if clks.ndim != 2:
            raise ValueError(f"'clks' must be two-dimensional (got {clks.ndim})")
        self.width = int(clks.shape[1])
        pops = np.bitwise_count(clks).sum(axis=1, dtype=np.int64)
        self._order = np.argsort(pops, kind="stable").astype(np.int64)
        self._pops = np.ascontiguousarray(pops[self._order])
        self._words = _to_words(clks[self._order])

    def __len__(self) -> int:
        return len(self._order)

    def best(self, queries: npt.NDArray[np.uint8], threshold: float) -> BestMatches:
        """The best record of each query row with Dice ``>= threshold``.

        Raises:
            ValueError: the queries are not as wide as the indexed CLKs, or
                the threshold is not in (0, 1].
        """
        if queries.ndim != 2 or queries.shape[1] != self.width:
            raise ValueError(
                f"queries must be {self.width}-byte CLKs (got shape {queries.shape})"
            )
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"'threshold' must be in (0, 1] (got {threshold!r})")
        words = _to_words(np.ascontiguousarray(queries, dtype=np.uint8))
        pops = np.bitwise_count(queries).sum(axis=1, dtype=np.int64)
        windows = np.array(
            [self._window(int(pop), threshold) for pop in pops.tolist()],
            dtype=np.int64,
        ).reshape(-1, 2)
        # One pass over the index for every query: the scan is bound by
        # reading the CLKs, so queries answered together share that cost.
        positions, scores = _best_in_windows(
            words, pops, self._words, self._pops, windows, threshold
        )
        rows = np.where(positions >= 0, self._order[np.maximum(positions, 0)], -1)
        return BestMatches(rows.astype(np.int64), scores)

    def _window(self, pop: int, threshold: float) -> tuple[int, int]:
        """Sorted positions ``[lo, hi)`` whose popcounts can reach ``threshold``
        with a query of ``pop`` bits; one wider on each side than the float
        bounds, since the exact test runs in the kernel."""
        if pop == 0:
            return 0, 0  # An empty CLK scores 0 with anything.
        least = int(np.floor(threshold * pop / (2 - threshold))) - 1
        most = int(np.ceil((2 - threshold) * pop / threshold)) + 1
        lo = int(np.searchsorted(self._pops, least, side="left"))
        hi = int(np.searchsorted(self._pops, most, side="right"))
        return lo, hi


def _to_words(clks: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Rows of CLK bytes as rows of 64-bit words, zero-padded."""
    rows, width = clks.shape
    words = -(-width // _WORD_BYTES)
    padded = np.zeros((rows, words * _WORD_BYTES), dtype=np.uint8)
    padded[:, :width] = clks
    return padded.view(np.uint64)


@njit(nogil=True, cache=True)
def _best_in_windows(
    queries: npt.NDArray[np.uint64],
    query_pops: npt.NDArray[np.int64],
    words: npt.NDArray[np.uint64],
    pops: npt.NDArray[np.int64],
    windows: npt.NDArray[np.int64],
    threshold: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For each query, the position in its window ``[lo, hi)`` with the
    highest Dice ``>= threshold`` (the first on a tie) and its score; -1 and
    0.0 where none reaches it. Each indexed CLK is read once for all."""
    count = queries.shape[0]
    best = np.full(count, -1, dtype=np.int64)
    best_score = np.zeros(count)
    if count == 0:
        return best, best_score
    start, stop = windows[:, 0].min(), windows[:, 1].max()
    for position in range(start, stop):
        for query in range(count):
            if position < windows[query, 0] or position >= windows[query, 1]:
                continue
            common = 0
            for word in range(queries.shape[1]):
                common += popcount64(queries[query, word] & words[position, word])
            score = 2.0 * common / (query_pops[query] + pops[position])
            if score >= threshold and score > best_score[query]:
                best[query], best_score[query] = position, score
    return best, best_score
