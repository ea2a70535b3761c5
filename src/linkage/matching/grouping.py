"""From candidate pairs to groups: the solver a linkage's settings call for.

Every solver here is local to the connected components of the candidate
graph: a pair links only records it joins, and every rule looks only at the
two groups a pair would merge. So grouping the records of a few components,
in the same relative order, gives what grouping every record gives them;
incremental updates (:mod:`linkage.matching.standing`) rely on it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linkage.matching import clustering, solving
from linkage.matching.candidates import CandidatePairs
from linkage.matching.parameters import Solver

__all__ = ["group_records"]


def group_records(
    party_of: npt.NDArray[np.int64],
    parties: int,
    candidates: CandidatePairs,
    threshold: float,
    *,
    dedup: bool,
    solver: Solver = "greedy",
    partial: npt.NDArray[np.bool_] | None = None,
    missing: float = 0.0,
) -> npt.NDArray[np.int64]:
    """A group label per record (-1: in no group).

    ``parties`` is how many parties the linkage has (``party_of`` may name
    only some of them): it decides the solver. ``partial`` marks the pairs of
    parties compared on a CLK that holds a field one of them lacks (see
    :meth:`~linkage.matching.views.ViewPlan.partially_compared`); only
    deduplication needs it, as it does ``missing``, the score a pair that is
    not a candidate counts as (see
    :func:`~linkage.matching.clustering.cluster_links_and_dedup`).
    """
    pairs = (candidates.left, candidates.right, candidates.score)
    count = len(party_of)
    if dedup and parties == 1:
        return clustering.cluster_dedup(
            count, *pairs, threshold=threshold, missing=missing
        )
    if dedup:
        return clustering.cluster_links_and_dedup(
            party_of, *pairs, threshold=threshold, partial=partial, missing=missing
        )
    # Probabilistic candidates reach below the threshold; the CLK ones
    # don't, and copying millions of pairs for nothing costs memory.
    above = candidates.score >= threshold
    if not above.all():
        pairs = (
            candidates.left[above],
            candidates.right[above],
            candidates.score[above],
        )
    if parties == 2:
        solve = (
            solving.optimal_one_to_one
            if solver == "optimal"
            else solving.greedy_one_to_one
        )
        left, right, _ = solve(*pairs)
        labels = np.full(count, -1, dtype=np.int64)
        labels[left] = np.arange(len(left))
        labels[right] = np.arange(len(right))
        return labels
    return clustering.cluster_parties(party_of, *pairs)
