"""Group again only the records a change can have moved.

The solvers are local to the connected components of the graph of pairs at
or above the threshold (:mod:`linkage.matching.grouping`: a pair below it
never starts a merge, though average linkage counts it between two groups a
stronger pair brings together). So only components that hold a changed
record, or a record that lost such a pair to a withdrawal or a correction,
can group differently. Every other component keeps its groups, as a full run
on the final data would leave them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage.matching.candidates import CandidatePairs
from linkage.matching.grouping import group_records
from linkage.matching.parameters import LinkageParameters

__all__ = ["Regrouped", "regroup"]


@dataclass(frozen=True)
class Regrouped:
    """The records grouped again and their new groups.

    Attributes:
        records: global indices of the records grouped again, ascending.
        labels: per such record, its group (-1: alone), numbered from 0 in
            the order of each group's first record.
    """

    records: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]


def regroup(
    party_of: npt.NDArray[np.int64],
    parties: int,
    pairs: CandidatePairs,
    seeds: npt.NDArray[np.int64],
    parameters: LinkageParameters,
    partial: npt.NDArray[np.bool_] | None,
) -> Regrouped:
    """Group the components (of the pairs at or above the threshold) that
    hold a record of ``seeds``, with every pair among their records."""
    count = len(party_of)
    linking = pairs.score >= parameters.threshold
    graph = coo_matrix(
        (
            np.ones(int(linking.sum()), dtype=np.int8),
            (pairs.left[linking], pairs.right[linking]),
        ),
        shape=(count, count),
    )
    _, component = connected_components(graph, directed=False)
    touched = np.zeros(component.max() + 1 if count else 0, dtype=bool)
    touched[component[seeds]] = True
    records = np.flatnonzero(touched[component]).astype(np.int64)
    local = np.full(count, -1, dtype=np.int64)
    local[records] = np.arange(len(records))
    # A pair below the threshold may join two components; it counts only
    # within one.
    inside = (local[pairs.left] >= 0) & (local[pairs.right] >= 0)
    sub_pairs = CandidatePairs(
        local[pairs.left[inside]], local[pairs.right[inside]], pairs.score[inside]
    )
    labels = _numbered_by_first_record(
        group_records(
            party_of[records],
            parties,
            sub_pairs,
            parameters.threshold,
            dedup=parameters.dedup,
            solver=parameters.solver,
            partial=partial,
            missing=parameters.missing,
        )
    )
    return Regrouped(records, labels)


def _numbered_by_first_record(
    labels: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """The same groups, numbered in the order of their first record (the
    one-to-one solvers number them by pair): the match ID rules break ties
    by it."""
    grouped = labels >= 0
    found, first = np.unique(labels[grouped], return_index=True)
    number = np.empty(int(found.max()) + 1 if len(found) else 0, dtype=np.int64)
    number[found[np.argsort(first)]] = np.arange(len(found))
    renumbered = np.full(len(labels), -1, dtype=np.int64)
    renumbered[grouped] = number[labels[grouped]]
    return renumbered
