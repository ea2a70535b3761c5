"""The candidate pairs a change set brings: its records against everyone.

Each added or corrected record is scored against every record of every party
it may link to, on the CLK (or view) a full run compares those two parties
on, with that view's shift, and kept at the linkage's candidate floor: the
same pairs, with the same scores, that a full run on the final data finds
for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from linkage.matching.candidates import CandidatePairs
from linkage.matching.clk.similarity import iter_candidates
from linkage.matching.parameters import LinkageParameters
from linkage.matching.parties import PartySet
from linkage.matching.views import ViewPlan

__all__ = ["Compare", "pairs_of_changed"]

#: Scores left CLKs against right ones at a threshold, chunk by chunk:
#: :func:`~linkage.matching.clk.similarity.iter_candidates` here, or
#: :class:`~linkage.matching.clk.distributed.DaskRectangles` on a cluster.
Compare = Callable[
    [npt.NDArray[np.uint8], npt.NDArray[np.uint8], float], Iterator[CandidatePairs]
]


def pairs_of_changed(
    parties: PartySet,
    views: ViewPlan,
    changed: npt.NDArray[np.int64],
    parameters: LinkageParameters,
    compare: Compare = iter_candidates,
) -> CandidatePairs:
    """Every candidate pair with at least one record in ``changed`` (global
    indices), once, as (lower index, higher index)."""
    lefts, rights, scores, compared = [], [], [], 0
    offsets, party_of = parties.offsets, parties.party_of
    count = len(parties.parties)
    for i in range(count):
        rows = changed[party_of[changed] == i] - offsets[i]
        if not rows.size:
            continue
        for j in range(count):
            if i == j and not parameters.dedup:
                continue
            view = views.view_of(i, j)
            shift = parameters.shifts.get(view, 0.0)
            for chunk in compare(
                views.clks(i, view)[rows], views.clks(j, view), parameters.floor - shift
            ):
                lefts.append(offsets[i] + rows[chunk.left])
                rights.append(offsets[j] + chunk.right)
                scores.append(chunk.score + shift if shift else chunk.score)
                compared += chunk.compared
    if not scores:
        empty = np.zeros(0, dtype=np.int64)
        return CandidatePairs(empty, empty.copy(), np.zeros(0), compared)
    return _once(
        np.concatenate(lefts),
        np.concatenate(rights),
        np.concatenate(scores),
        compared,
        parties.total,
    )


def _once(
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    compared: int,
    records: int,
) -> CandidatePairs:
    """Without a record's pair with itself, each pair once (two changed
    records find each other twice), lower index first."""
    other = left != right
    low = np.minimum(left[other], right[other])
    high = np.maximum(left[other], right[other])
    _, first = np.unique(low * records + high, return_index=True)
    return CandidatePairs(low[first], high[first], score[other][first], compared)
