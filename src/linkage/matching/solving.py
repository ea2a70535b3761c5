"""One-to-one matching of two parties' records from scored candidate pairs.

Candidate pairs come as three parallel arrays: ``left[k]`` and ``right[k]`` are
record indices and ``score[k]`` is their Dice similarity. Left and right
indices are separate index spaces (global indices of two different parties
are fine too, since their ranges do not overlap). Both solvers return the
accepted pairs as ``(left, right, score)`` in :func:`descending_order`: by
descending score, ties by ascending ``(left, right)``.

* :func:`greedy_one_to_one` is anonlink's ``greedy_solve``: fast, and what a
  threshold-based linkage usually wants.
* :func:`optimal_one_to_one` maximises the total score; it can beat greedy
  where a record's best partner is better used elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

import linkage.jit  # noqa: F401  (numba without its BLAS probe)
from linkage.matching.candidates import Indices, Scores

# SciPy serves the optimal solver only, and takes about 0.3 s to import
# (scipy.optimize): the functions that use it import it when they run.

Matching = tuple[Indices, Indices, Scores]

#: Default limit on the records in one connected component for the optimum.
MAX_COMPONENT_SIZE = 4_000
_INT64_MAX = 2**63 - 1
# Components with at most this many cells are solved in compiled code.
_COMPILED_CELLS = 10_000


def candidate_arrays(
    left: npt.ArrayLike, right: npt.ArrayLike, score: npt.ArrayLike
) -> Matching:
    """Check candidate pairs and return them as int64, int64 and float64 arrays.

    Raises:
        ValueError: the arrays are not 1-D and of one length, an index is not
            a non-negative integer, or a score is not a finite number >= 0.
    """
    lefts = _index_array("left", left)
    rights = _index_array("right", right)
    scores = np.asarray(score, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"'score' must be a 1-D array (got {scores.ndim} dims)")
    if not len(lefts) == len(rights) == len(scores):
        lengths = f"{len(lefts)}, {len(rights)} and {len(scores)}"
        raise ValueError(
            f"'left', 'right' and 'score' must have one length ({lengths})"
        )
    bad = ~(np.isfinite(scores) & (scores >= 0))
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(
            f"'score' must be finite and >= 0 (got {scores[first]!r} at {first})"
        )
    return lefts, rights, scores


def _index_array(name: str, values: npt.ArrayLike) -> Indices:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be a 1-D array (got {array.ndim} dims)")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"'{name}' must hold integers (got dtype {array.dtype})")
    if array.min() < 0:
        raise ValueError(f"'{name}' must be >= 0 (got {array.min()})")
    return array.astype(np.int64, copy=False)


def descending_order(
    left: Indices, right: Indices, score: Scores
) -> npt.NDArray[np.intp]:
    """The order in which greedy rules visit candidates.

    By descending score, ties by ascending ``(left, right)``, so the result
    does not depend on the order the candidates arrived in.
    """
    return visit_and_pair_orders(left, right, score)[0]


def visit_and_pair_orders(
    left: Indices, right: Indices, score: Scores
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """:func:`descending_order`, and the order by ascending ``(left, right)``.

    Rather than one slow three-key ``lexsort``, ranks the pairs and the
    scores separately and sorts one packed integer key (about twice as fast
    at 10 million candidates). Repeats of one pair are in no set order.
    """
    count = len(score)
    if count == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    bits = count.bit_length()
    pair_order = _pair_order(left, right)
    score_rank, distinct = _dense_rank(-score)
    if distinct.bit_length() + bits > 63:
        return np.lexsort((right, left, -score)), pair_order
    pair_position = np.empty(count, dtype=np.int64)
    pair_position[pair_order] = np.arange(count, dtype=np.int64)
    packed = (score_rank << bits) | pair_position
    packed.sort()
    order: npt.NDArray[np.intp] = pair_order[packed & ((1 << bits) - 1)]
    return order, pair_order


def _pair_order(left: Indices, right: Indices) -> npt.NDArray[np.intp]:
    """Candidates ordered by ``(left, right)``; a repeated pair in any order."""
    width = int(right.max()) + 1
    if (int(left.max()) + 1) * width > _INT64_MAX:
        return np.lexsort((right, left))
    key = left * width + right
    if int(key.max()).bit_length() + len(key).bit_length() > 63:
        # Too wide to pack with positions; an unstable sort only reorders
        # repeats of one pair, which no caller can tell apart.
        return np.argsort(key)
    return stable_argsort(key)


def _dense_rank(values: Scores) -> tuple[Indices, int]:
    """Rank of each value among the distinct values (smallest 0), and their count."""
    order = np.argsort(values)
    ordered = values[order]
    ranks_sorted = np.zeros(len(values), dtype=np.int64)
    np.cumsum(ordered[1:] != ordered[:-1], out=ranks_sorted[1:])
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = ranks_sorted
    return ranks, int(ranks_sorted[-1]) + 1


def greedy_one_to_one(
    left: npt.ArrayLike, right: npt.ArrayLike, score: npt.ArrayLike
) -> Matching:
    """Match records one-to-one, best pair first (anonlink's ``greedy_solve``).

    Visits the candidates in :func:`descending_order` and accepts a pair when
    neither of its records is matched yet. Each record is then matched to its
    best partner unless a better-scoring pair already claimed that partner.

    Raises:
        ValueError: the candidates are malformed (see :func:`candidate_arrays`).

    Example:
        >>> greedy_one_to_one([0, 0, 1], [0, 1, 0], [0.9, 0.8, 0.8])[1]
        array([0])
    """
    lefts, rights, scores = candidate_arrays(left, right, score)
    if len(scores) == 0:
        return _empty_matching()
    order = descending_order(lefts, rights, scores)
    accepted = _greedy_kernel(lefts, rights, order.astype(np.int64))
    return lefts[accepted], rights[accepted], scores[accepted]


@njit(cache=True)
def _greedy_kernel(left: Indices, right: Indices, order: Indices) -> Indices:
    left_used = np.zeros(left.max() + 1, dtype=np.bool_)
    right_used = np.zeros(right.max() + 1, dtype=np.bool_)
    accepted = np.empty(min(len(order), len(left_used), len(right_used)), np.int64)
    count = 0
    for index in order:
        a = left[index]
        b = right[index]
        if not left_used[a] and not right_used[b]:
            left_used[a] = True
            right_used[b] = True
            accepted[count] = index
            count += 1
    return accepted[:count]


def optimal_one_to_one(
    left: npt.ArrayLike,
    right: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    max_component_size: int = MAX_COMPONENT_SIZE,
) -> Matching:
    """Match records one-to-one so that the total score is as large as possible.

    Records are the nodes and candidates the edges of a bipartite graph; a
    matching only combines edges within a connected component, so each one is
    solved on its own. A component with one record on a side (a single pair
    or a star) takes its best pair. Any other component is an assignment
    problem on its dense score matrix, in which a non-candidate scores 0 and
    is never accepted, so records may stay unmatched. Small components are
    solved together in compiled code (a shortest augmenting path method, the
    one :func:`scipy.optimize.linear_sum_assignment` uses), larger ones by
    scipy itself.

    Raises:
        ValueError: the candidates are malformed, or a component holds more than
            ``max_component_size`` records (a dense solve would be too slow).

    Example:
        >>> optimal_one_to_one([0, 0, 1], [0, 1, 0], [0.9, 0.8, 0.8])[1]
        array([1, 0])
    """
    lefts, rights, scores = candidate_arrays(left, right, score)
    if len(scores) == 0:
        return _empty_matching()
    component, sizes = _components(lefts, rights)
    hard = (sizes[0] > 1) & (sizes[1] > 1)
    _check_component_sizes(sizes[:, hard].sum(axis=0), max_component_size)
    order = descending_order(lefts, rights, scores)
    grouped, starts = _group_by_component(order, component)
    first = component[grouped[starts[:-1]]]
    easy = ~hard[first]
    accepted = np.zeros(len(scores), dtype=np.bool_)
    accepted[grouped[starts[:-1][easy]]] = True
    compiled = ~easy & (sizes[0, first] * sizes[1, first] <= _COMPILED_CELLS)
    _solve_compiled(grouped, starts, compiled, lefts, rights, scores, accepted)
    for group in np.flatnonzero(~easy & ~compiled):
        edges = grouped[starts[group] : starts[group + 1]]
        accepted[_solve_with_scipy(lefts, rights, scores, edges)] = True
    kept = order[accepted[order]]
    return lefts[kept], rights[kept], scores[kept]


def _group_by_component(
    order: npt.NDArray[np.intp], component: npt.NDArray[np.int32]
) -> tuple[Indices, Indices]:
    """Candidates grouped by component, best first, and where each group starts.

    Group ``g`` is ``grouped[starts[g]:starts[g + 1]]``.
    """
    grouped = order[stable_argsort(component[order])].astype(np.int64)
    starts = np.flatnonzero(np.diff(component[grouped])) + 1
    return grouped, np.concatenate([[0], starts, [len(grouped)]]).astype(np.int64)


def stable_argsort(keys: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.intp]:
    """``np.argsort(keys, kind="stable")`` for non-negative integer keys, faster.

    Packs each key with its position into one integer and sorts those when
    they fit in 63 bits, which numpy does several times faster.
    """
    count = len(keys)
    if count == 0:
        return np.zeros(0, dtype=np.intp)
    bits = count.bit_length()
    if int(keys.max()).bit_length() + bits > 63:
        return np.argsort(keys, kind="stable")
    packed = (keys.astype(np.int64) << bits) | np.arange(count, dtype=np.int64)
    packed.sort()
    return packed & ((1 << bits) - 1)


def _empty_matching() -> Matching:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty.copy(), np.zeros(0, dtype=np.float64)


def _components(
    left_nodes: Indices, right_nodes: Indices
) -> tuple[npt.NDArray[np.int32], Indices]:
    """Component of each candidate, and each component's left and right sizes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n_left = int(left_nodes.max()) + 1
    n_nodes = n_left + int(right_nodes.max()) + 1
    graph = coo_matrix(
        (np.ones(len(left_nodes), dtype=np.int8), (left_nodes, n_left + right_nodes)),
        shape=(n_nodes, n_nodes),
    )
    n_components, labels = connected_components(graph, directed=False)
    sizes = np.stack(
        [
            np.bincount(labels[:n_left], minlength=n_components),
            np.bincount(labels[n_left:], minlength=n_components),
        ]
    )
    return labels[left_nodes], sizes.astype(np.int64)


def _check_component_sizes(sizes: Indices, limit: int) -> None:
    if len(sizes) and sizes.max() > limit:
        raise ValueError(
            f"a connected component of the candidate graph holds {sizes.max()} "
            f"records, more than max_component_size={limit}; raise the candidate "
            "threshold, or use greedy_one_to_one"
        )


def _solve_with_scipy(
    left_nodes: Indices, right_nodes: Indices, scores: Scores, edges: Indices
) -> Indices:
    """Indices of the candidates an optimal assignment of one component uses.

    ``edges`` are the component's candidates, best first, so the first of a
    repeated pair is the one with the best score.
    """
    from scipy.optimize import linear_sum_assignment

    rows, row_of = np.unique(left_nodes[edges], return_inverse=True)
    cols, col_of = np.unique(right_nodes[edges], return_inverse=True)
    cell = row_of * len(cols) + col_of
    first = np.unique(cell, return_index=True)[1]
    weight = np.zeros((len(rows), len(cols)))
    weight.flat[cell[first]] = scores[edges[first]]
    edge_at = np.full((len(rows), len(cols)), -1, dtype=np.int64)
    edge_at.flat[cell[first]] = edges[first]
    chosen_rows, chosen_cols = linear_sum_assignment(weight, maximize=True)
    chosen: Indices = edge_at[chosen_rows, chosen_cols]
    return chosen[chosen >= 0]


@njit(cache=True)
def _solve_compiled(
    grouped: Indices,
    starts: Indices,
    selected: npt.NDArray[np.bool_],
    left_nodes: Indices,
    right_nodes: Indices,
    scores: Scores,
    accepted: npt.NDArray[np.bool_],
) -> None:
    """Mark the candidates an optimal assignment uses, in each selected component.

    Component ``g``'s candidates are ``grouped[starts[g]:starts[g + 1]]``, best
    first, so the first of a repeated pair is the one with the best score.
    """
    row_of = np.full(left_nodes.max() + 1, -1, np.int64)
    col_of = np.full(right_nodes.max() + 1, -1, np.int64)
    for group in range(len(selected)):
        if not selected[group]:
            continue
        edges = grouped[starts[group] : starts[group + 1]]
        n_rows = 0
        n_cols = 0
        for edge in edges:
            if row_of[left_nodes[edge]] < 0:
                row_of[left_nodes[edge]] = n_rows
                n_rows += 1
            if col_of[right_nodes[edge]] < 0:
                col_of[right_nodes[edge]] = n_cols
                n_cols += 1
        # The solver wants no more rows than columns.
        flip = n_rows > n_cols
        shape = (n_cols, n_rows) if flip else (n_rows, n_cols)
        cost = np.zeros(shape)
        edge_at = np.full(shape, -1, np.int64)
        for edge in edges:
            row = row_of[left_nodes[edge]]
            col = col_of[right_nodes[edge]]
            if flip:
                row, col = col, row
            if edge_at[row, col] < 0:
                edge_at[row, col] = edge
                cost[row, col] = -scores[edge]
        assignment = _assign_rows(cost)
        for row in range(shape[0]):
            edge = edge_at[row, assignment[row]]
            if edge >= 0:
                accepted[edge] = True
        for edge in edges:
            row_of[left_nodes[edge]] = -1
            col_of[right_nodes[edge]] = -1


@njit(cache=True)
def _assign_rows(cost: Scores) -> Indices:
    """The column of each row in a minimum-cost assignment (rows <= columns).

    Shortest augmenting paths with row and column potentials (the Hungarian
    method in O(rows² · columns)): each row in turn is added along the path
    of least reduced cost, and the potentials keep the reduced costs >= 0.
    Rows and columns are counted from 1 here; column 0 is the virtual start.
    """
    n_rows, n_cols = cost.shape
    row_potential = np.zeros(n_rows + 1)
    col_potential = np.zeros(n_cols + 1)
    owner = np.zeros(n_cols + 1, np.int64)  # Row (from 1) holding each column.
    came_from = np.zeros(n_cols + 1, np.int64)
    for new_row in range(1, n_rows + 1):
        owner[0] = new_row
        col = 0
        slack = np.full(n_cols + 1, np.inf)
        visited = np.zeros(n_cols + 1, np.bool_)
        while True:
            visited[col] = True
            row = owner[col]
            delta = np.inf
            next_col = 0
            for j in range(1, n_cols + 1):
                if not visited[j]:
                    reduced = (
                        cost[row - 1, j - 1] - row_potential[row] - col_potential[j]
                    )
                    if reduced < slack[j]:
                        slack[j] = reduced
                        came_from[j] = col
                    if slack[j] < delta:
                        delta = slack[j]
                        next_col = j
            for j in range(n_cols + 1):
                if visited[j]:
                    row_potential[owner[j]] += delta
                    col_potential[j] -= delta
                else:
                    slack[j] -= delta
            col = next_col
            if owner[col] == 0:
                break
        while col != 0:
            previous = came_from[col]
            owner[col] = owner[previous]
            col = previous
    assignment = np.empty(n_rows, np.int64)
    for j in range(1, n_cols + 1):
        if owner[j] != 0:
            assignment[owner[j] - 1] = j - 1
    return assignment
