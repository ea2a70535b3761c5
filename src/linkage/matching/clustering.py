"""Group records of many parties, or of one, into people.

Every function here is a greedy agglomeration: each record starts in a group
of its own, candidate pairs are visited by descending score (ties by
ascending record indices, see :func:`~linkage.matching.solving.descending_order`)
and a pair merges its two groups when a rule about the *whole* merged group
holds. The rules differ:

* :func:`cluster_parties` links 2..N parties: at most one record per party
  (single linkage on candidates under that rule).
* :func:`cluster_dedup` finds duplicates within one party, where a person may
  have many records: the linkage between two groups (complete or average, a
  missing candidate counting as similarity 0 or as a score given, such as
  that of a typical unrelated pair) must reach a threshold.
* :func:`cluster_links_and_dedup` does the same across parties, with any
  number of records per party, except that two records of one party share a
  group only if they form a candidate pair at or above the threshold
  themselves, and that two groups with no party in common are averaged over
  their candidate pairs only.

Pairs are unordered here; a pair given twice counts once, with its best score.
Each function returns a label per record: ``0..k-1`` for the groups of two or
more records, numbered by their smallest record, and ``-1`` for records left
alone.

Why not the transitive closure of the candidate graph? One record with typos
that resemble two people chains both into one group. Complete linkage refuses
every such chain but also splits a person whose duplicates each resemble only
the original. Average linkage, with missing pairs counting 0, sits between.
On FEBRL3 (5,000 records; CLKs under ``configs/schemas/febrl4.json``) the best
pairwise F1 we saw was 0.983 for average linkage (candidates >= 0.75,
threshold 0.8), against 0.977 for the closure (at 0.825) and 0.967 for
complete linkage (at 0.8).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from numba import njit, types
from numba.typed import Dict

import linkage.jit  # noqa: F401  (numba without its BLAS probe)
from linkage.matching.candidates import Indices, Scores
from linkage.matching.solving import candidate_arrays, visit_and_pair_orders

Linkage = Literal["complete", "average"]
LINKAGES: tuple[Linkage, ...] = ("complete", "average")

# Rules the compiled agglomeration knows.
_COMPLETE = 0  # Every cross pair is a candidate scoring at least the threshold.
# Mean cross-pair score (missing pairs count 0, scores measured from what they
# count as) >= the threshold.
_AVERAGE = 1
# _AVERAGE, and every cross pair within one party is a candidate >= the threshold.
_AVERAGE_DIRECT_WITHIN = 2
_MAX_RECORDS = 3_037_000_499  # So that lo * count + hi fits in an int64.
# A mean equal to the threshold passes even if summing rounded it down.
_ROUNDING = 1e-9


def cluster_parties(
    party_of: npt.ArrayLike,
    left: npt.ArrayLike,
    right: npt.ArrayLike,
    score: npt.ArrayLike,
) -> Indices:
    """Group the records of 2..N parties, at most one record per party.

    ``party_of[g]`` is the party of global record ``g``. Candidate pairs,
    best first, merge their two groups unless a party would then have two
    records in the group. With two parties this is
    :func:`~linkage.matching.solving.greedy_one_to_one`.

    Two records of one group need not be a candidate pair themselves: as in
    :func:`cluster_links_and_dedup` for groups with no party in common, one
    person's records at two agencies may differ where two people's would (a
    move, a field left empty) while a third agency's record resembles both.
    Until 2026-12-07 every two records of a group had to be candidates
    (complete linkage, except between partially compared parties): with the
    shipped default at the automatic threshold, pairwise F1 on the
    5,000-person demo (four agencies) 0.757 -> 0.785, on the 20,000-person
    demo 0.751 -> 0.778, on the households population (five agencies)
    0.618 -> 0.628, precision 0.991 -> 0.984, 0.981 -> 0.964 and
    0.931 -> 0.919.

    Raises:
        ValueError: ``party_of`` is not a 1-D array of non-negative integers,
            or the candidates are malformed or name a record it does not have.

    Example:
        >>> # 1 and 2 are no candidates, but each is alike to 0.
        >>> cluster_parties([0, 1, 2], [0, 0], [1, 2], [0.9, 0.7])
        array([0, 0, 0])
        >>> # 0 and 2 are both of party 0: 2 cannot join.
        >>> cluster_parties([0, 1, 0], [0, 1], [1, 2], [0.9, 0.8])
        array([ 0,  0, -1])
    """
    parties = _party_array(party_of)
    count = len(parties)
    lo, hi, scores = _pairs(count, left, right, score)
    n_parties = int(parties.max()) + 1 if count else 0
    # Groups never share a party here, so only their candidates are averaged,
    # and with the threshold at -inf any candidate may merge them.
    no_partial = _partial_matrix(None, parties)
    return _cluster(
        count,
        lo,
        hi,
        scores,
        _AVERAGE_DIRECT_WITHIN,
        -np.inf,
        parties,
        n_parties,
        no_partial,
    )


def cluster_dedup(
    count: int,
    left: npt.ArrayLike,
    right: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    linkage: Linkage = "average",
    threshold: float,
    missing: float = 0.0,
) -> Indices:
    """Group duplicate records of one party (any number per person).

    A candidate pair scoring at least ``threshold`` merges its two groups if
    the linkage between them is at least ``threshold``, taken over every pair
    of records across the groups, where a pair that is not a candidate counts
    as similarity 0:

    * ``"complete"``: the least similar cross pair (so every cross pair must
      be a candidate with score >= ``threshold``);
    * ``"average"``: the mean similarity of the cross pairs.

    Candidates below ``threshold`` start no merge but count in the average.
    Since a missing pair counts ``missing``, give candidates down to a lower
    score than ``threshold`` (on FEBRL3, candidates >= 0.75 with threshold
    0.8 beat candidates >= 0.8), or average linkage cannot hold together a
    person whose duplicates resemble the original more than each other.

    ``missing`` is the similarity a pair that is not a candidate counts as
    (below ``threshold``). 0 suits scores where unrelated records score near
    0; where they score far above it, pass their typical score, see
    :func:`cluster_links_and_dedup`.

    Raises:
        ValueError: an argument is out of range, or the candidates are
            malformed or name a record outside ``0..count-1``.

    Example:
        >>> cluster_dedup(3, [0, 1], [1, 2], [0.9, 0.9], threshold=0.4)
        array([0, 0, 0])
        >>> cluster_dedup(
        ...     3, [0, 1], [1, 2], [0.9, 0.9], linkage="complete", threshold=0.4
        ... )
        array([ 0,  0, -1])
    """
    if linkage not in LINKAGES:
        raise ValueError(f"'linkage' must be in {LINKAGES!r} (got {linkage!r})")
    _check_threshold(threshold, missing)
    if not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"'count' must be an integer >= 0 (got {count!r})")
    lo, hi, scores = _pairs(int(count), left, right, score)
    rule = _COMPLETE if linkage == "complete" else _AVERAGE
    no_parties = np.zeros(0, dtype=np.int64)
    no_partial = _partial_matrix(None, no_parties)
    lifted, bar = _counting_missing_as(scores, threshold, missing)
    return _cluster(int(count), lo, hi, lifted, rule, bar, no_parties, 0, no_partial)


def cluster_links_and_dedup(
    party_of: npt.ArrayLike,
    left: npt.ArrayLike,
    right: npt.ArrayLike,
    score: npt.ArrayLike,
    threshold: float,
    *,
    partial: npt.ArrayLike | None = None,
    missing: float = 0.0,
) -> Indices:
    """Group the records of 2..N parties, several records per party allowed.

    For linking parties whose own data hold duplicates. The rule is that of
    :func:`cluster_dedup` with average linkage over all records, plus one
    about records of the same party: two of them share a group only if they
    form a candidate pair scoring at least ``threshold`` themselves.
    Candidates should include pairs within each party as well as across
    parties: a missing pair counts as similarity ``missing``, except
    between two groups that hold no party in common, which join when the
    mean of their candidate pairs reaches ``threshold``.

    Why ``missing`` (0 unless given): encodings diffused so that unrelated
    records score about 0.5 call for that typical score instead. Counting
    0, one missing pair outweighed a strong one, and a person's third
    record stayed out of a group whose two records it matched one each.
    The matcher passes the median score of random pairs. Measured with the
    shipped default (dedup, automatic threshold, pairwise F1, 5,000
    people): demo 0.890 -> 0.896 (within-agency recall 0.812 -> 0.846;
    seed 3 0.884 -> 0.888), households 0.808 -> 0.812 (seed 5 0.804 ->
    0.806), FEBRL3 0.956 -> 0.963; counting the candidate floor instead
    gained about as much.

    Why the extra rule: records of one party are formatted alike, so two
    records of one person there resemble each other directly. Without it,
    two people of one household chain through another party's record of
    either (on the 20,000-person demo, CLKs diffused with 4 taps, within-party
    precision was 0.36; with it 0.48, for within-party recall 0.884 -> 0.877).
    With one party the rule would be complete linkage, so it applies from two.

    ``partial[p, q]`` (a square boolean matrix over the parties) marks pairs
    of parties compared on a CLK of fields one of them does not hold: their
    true matches score low, so a missing candidate between their records is
    no evidence that they differ, and it is left out of the average instead
    of counting 0. On the demo, social services and tax hold only the names
    in common; counting their missing pairs as 0 kept a tax record out of
    every group holding a social services record (20,000-person demo F1
    0.797 without, 0.867 with; households 0.760 and 0.774). It now matters only
    where a merge puts two records of one party together.

    Why that exception: one person's records at two agencies may differ
    where records of two people would (a move, a field left empty), and the
    person's other records vouch for them. A police record at the old
    address with a tax record alike to it, and a health record at the new
    address alike to the police one but not to the tax one, are one person;
    counting the missing health-tax pair as 0 kept them apart. A merge that
    puts two records of one party together (twins, namesakes at one
    agency) still counts missing pairs as 0. Measured with the shipped
    default (dedup, automatic threshold), pairwise F1: 5,000-person demo
    0.878 -> 0.896 (seed 7; seed 3 0.877 -> 0.894), 20,000-person demo
    0.868 -> 0.887 with within-agency precision 0.927 -> 0.930; households
    population 0.774 -> 0.781 (seed 11; seed 5 0.769 -> 0.773). Counting
    every missing pair neither way gained as much on 5,000 people but cost
    within-agency precision on 20,000 (0.927 -> 0.893).

    Raises:
        ValueError: as for :func:`cluster_parties` and :func:`cluster_dedup`,
            or ``partial`` is not a square matrix over the parties.

    Example:
        >>> # Records 0 and 2 (party 0) resemble 1 (party 1), not each other.
        >>> cluster_links_and_dedup([0, 1, 0], [0, 1], [1, 2], [0.9, 0.8], 0.5)
        array([ 0,  0, -1])
    """
    parties = _party_array(party_of)
    _check_threshold(threshold, missing)
    lo, hi, scores = _pairs(len(parties), left, right, score)
    one_party = len(parties) == 0 or parties.min() == parties.max()
    rule = _AVERAGE if one_party else _AVERAGE_DIRECT_WITHIN
    unknown = _partial_matrix(partial, parties)
    lifted, bar = _counting_missing_as(scores, threshold, missing)
    return _cluster(len(parties), lo, hi, lifted, rule, bar, parties, 0, unknown)


def _partial_matrix(partial: npt.ArrayLike | None, parties: Indices) -> Indices:
    """``partial`` as a 0/1 matrix over the parties (0 x 0 if not given)."""
    if partial is None:
        return np.zeros((0, 0), dtype=np.int64)
    matrix = np.asarray(partial)
    size = int(parties.max()) + 1 if len(parties) else 0
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or len(matrix) < size:
        raise ValueError(
            "'partial' must be a square matrix over the parties "
            f"(at least {size} x {size}; got shape {matrix.shape})"
        )
    flags: Indices = (matrix != 0).astype(np.int64)
    return flags


def _check_threshold(threshold: float, missing: float) -> None:
    if isinstance(threshold, bool) or not np.isfinite(threshold):
        raise ValueError(f"'threshold' must be a finite number (got {threshold!r})")
    if isinstance(missing, bool) or not missing < threshold:
        raise ValueError(
            f"'missing' must be a number below the threshold {threshold} "
            f"(got {missing!r})"
        )


def _counting_missing_as(
    scores: Scores, threshold: float, missing: float
) -> tuple[Scores, float]:
    """Scores and threshold measured from ``missing``: the agglomeration
    counts a missing pair as 0, and the mean of cross pairs reaches the
    threshold exactly when, measured from ``missing``, it reaches it too."""
    if missing == 0:
        return scores, threshold
    return scores - missing, threshold - missing


def _party_array(party_of: npt.ArrayLike) -> Indices:
    parties = np.asarray(party_of)
    if parties.ndim != 1:
        raise ValueError(f"'party_of' must be a 1-D array (got {parties.ndim} dims)")
    if parties.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(parties.dtype, np.integer):
        raise ValueError(f"'party_of' must hold integers (got dtype {parties.dtype})")
    if parties.min() < 0:
        raise ValueError(f"'party_of' must be >= 0 (got {parties.min()})")
    return parties.astype(np.int64, copy=False)


def _pairs(
    count: int, left: npt.ArrayLike, right: npt.ArrayLike, score: npt.ArrayLike
) -> tuple[Indices, Indices, Scores]:
    """Checked candidates as unordered pairs ``lo < hi``, self-pairs dropped."""
    if count > _MAX_RECORDS:
        raise ValueError(f"'count' must be <= {_MAX_RECORDS} (got {count})")
    lefts, rights, scores = candidate_arrays(left, right, score)
    for name, indices in (("left", lefts), ("right", rights)):
        if len(indices) and indices.max() >= count:
            raise ValueError(
                f"'{name}' must be < the record count {count} (got {indices.max()})"
            )
    if bool(np.all(lefts < rights)):
        return lefts, rights, scores  # Already ordered (the matcher's): no copy.
    lo = np.minimum(lefts, rights)
    hi = np.maximum(lefts, rights)
    distinct = lo != hi
    return lo[distinct], hi[distinct], scores[distinct]


def _cluster(
    count: int,
    lo: Indices,
    hi: Indices,
    scores: Scores,
    rule: int,
    threshold: float,
    parties: Indices,
    n_parties: int,
    partial: Indices,
) -> Indices:
    """Run the agglomeration and number the groups."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    order, by_pair = visit_and_pair_orders(lo, hi, scores)
    # A pair below the threshold cannot start a merge under complete linkage,
    # and by our rule does not under average linkage; it still counts there.
    visit = order[: np.count_nonzero(scores >= threshold)]
    keys, best = _pair_table(count, lo, hi, scores, by_pair)
    del by_pair  # Memory: at millions of candidates each array is large.
    indptr, neighbours, neighbour_scores = _adjacency(count, keys, best)
    group = _agglomerate(
        visit,
        lo,
        hi,
        scores,
        keys,
        best,
        indptr,
        neighbours,
        neighbour_scores,
        parties,
        n_parties,
        partial,
        rule,
        float(threshold),
    )
    return _labels(group)


def _pair_table(
    count: int, lo: Indices, hi: Indices, scores: Scores, by_pair: Indices
) -> tuple[Indices, Scores]:
    """Sorted distinct keys ``lo * count + hi`` and each pair's best score.

    ``by_pair`` orders the candidates by ``(lo, hi)``.
    """
    if len(lo) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    keys = lo[by_pair] * count + hi[by_pair]
    starts = np.flatnonzero(np.diff(keys, prepend=-1))
    return keys[starts], np.maximum.reduceat(scores[by_pair], starts)


@njit(cache=True)
def _adjacency(
    count: int, keys: Indices, best: Scores
) -> tuple[Indices, Indices, Scores]:
    """Neighbours of each record in CSR form: ``indptr``, indices, scores."""
    indptr = np.zeros(count + 1, np.int64)
    for key in keys:
        indptr[key // count + 1] += 1
        indptr[key % count + 1] += 1
    for record in range(count):
        indptr[record + 1] += indptr[record]
    filled = indptr[:-1].copy()
    neighbours = np.empty(2 * len(keys), np.int64)
    neighbour_scores = np.empty(2 * len(keys))
    for at in range(len(keys)):
        ends = (keys[at] // count, keys[at] % count)
        for end in range(2):
            here = ends[end]
            neighbours[filled[here]] = ends[1 - end]
            neighbour_scores[filled[here]] = best[at]
            filled[here] += 1
    return indptr, neighbours, neighbour_scores


@njit(cache=True)
def _agglomerate(
    visits: npt.NDArray[np.intp],
    lo: Indices,
    hi: Indices,
    scores: Scores,
    keys: Indices,
    best: Scores,
    indptr: Indices,
    neighbours: Indices,
    neighbour_scores: Scores,
    parties: Indices,
    n_parties: int,
    partial: Indices,
    rule: int,
    threshold: float,
) -> Indices:
    """The group (an id of one of its records) of each record after merging.

    ``visits`` are the positions in ``lo``, ``hi`` and ``scores`` of the
    pairs to visit, in visiting order (indexed here rather than copied).
    Groups are linked lists of records (``head``, ``following``, ``tail``);
    a merge relabels the smaller group, so each record is relabelled at most
    ``log2(count)`` times.
    """
    count = len(indptr) - 1
    group = np.arange(count)
    head = np.arange(count)
    tail = np.arange(count)
    following = np.full(count, -1)
    size = np.ones(count, np.int64)
    degree = indptr[1:] - indptr[:-1]
    party_mark = np.zeros(n_parties, np.int64)
    direct_within = rule == _AVERAGE_DIRECT_WITHIN
    counted = direct_within or len(partial) > 0
    party_count = np.zeros(int(parties.max()) + 1 if counted else 0, np.int64)
    same_party = np.eye(len(party_count), dtype=np.int64)
    # A lookup costs a binary search; a scan, one step per neighbour.
    search_steps = max(1, int(np.log2(len(keys) + 1)))
    # Whether two groups merge depends on their records alone, and a group
    # only changes by growing: a refusal holds until either grows. Without
    # this, every further candidate pair between two large groups the rule
    # refused rescanned them (a model that took every candidate for a match:
    # 1,430 records clustered in 10.6 s).
    refused = Dict.empty(key_type=types.int64, value_type=types.int64)
    for step in range(len(visits)):
        visit = visits[step]
        a = group[lo[visit]]
        b = group[hi[visit]]
        if a == b:
            continue
        pair = min(a, b) * count + max(a, b)
        state = size[min(a, b)] * (count + 1) + size[max(a, b)]
        if refused.get(pair, -1) == state:
            continue
        if n_parties > 0:
            if size[a] + size[b] > n_parties or _share_a_party(
                a, b, head, following, parties, party_mark, step + 1
            ):
                refused[pair] = state
                continue
        # Same-party cross pairs, and those of them scoring >= the threshold;
        # cross pairs of partially compared parties, and those found.
        within, close, unsure, unsure_found = 0, 0, 0, 0
        if size[a] == 1 and size[b] == 1:
            found, total, least = 1, scores[visit], scores[visit]
            if direct_within and parties[lo[visit]] == parties[hi[visit]]:
                within, close = 1, 1
        else:
            if direct_within:
                within = _pairs_by_party(
                    a, b, head, following, parties, same_party, party_count
                )
            if len(partial):
                unsure = _pairs_by_party(
                    a, b, head, following, parties, partial, party_count
                )
            ends = (a, b) if degree[a] <= degree[b] else (b, a)
            if size[a] * size[b] * search_steps <= min(degree[a], degree[b]):
                found, total, least, close, unsure_found = _cross_by_lookup(
                    a, b, head, following, keys, best, parties, partial, threshold
                )
            else:
                found, total, least, close, unsure_found = _cross_by_scan(
                    ends[0], ends[1], head, following, group, indptr,
                    neighbours, neighbour_scores, parties, partial, threshold,
                )  # fmt: skip
        if direct_within and within == 0:
            # Groups of different parties only: their missing pairs count
            # neither way (see cluster_links_and_dedup).
            pairs = found
        else:
            # Missing pairs of partially compared parties count neither way.
            pairs = size[a] * size[b] - (unsure - unsure_found)
        if rule == _COMPLETE:
            if found < pairs or least < threshold:
                refused[pair] = state
                continue
        elif total < (threshold - _ROUNDING) * pairs or close < within:
            refused[pair] = state
            continue
        if size[a] < size[b]:
            a, b = b, a
        # Group b joins group a.
        member = head[b]
        while member >= 0:
            group[member] = a
            member = following[member]
        following[tail[a]] = head[b]
        tail[a] = tail[b]
        size[a] += size[b]
        degree[a] += degree[b]
    return group


@njit(cache=True)
def _share_a_party(
    a: int,
    b: int,
    head: Indices,
    following: Indices,
    parties: Indices,
    party_mark: Indices,
    stamp: int,
) -> bool:
    """Whether groups a and b hold records of one party (marks with ``stamp``)."""
    member = head[a]
    while member >= 0:
        party_mark[parties[member]] = stamp
        member = following[member]
    member = head[b]
    while member >= 0:
        if party_mark[parties[member]] == stamp:
            return True
        member = following[member]
    return False


@njit(cache=True)
def _cross_by_lookup(
    a: int,
    b: int,
    head: Indices,
    following: Indices,
    keys: Indices,
    best: Scores,
    parties: Indices,
    partial: Indices,
    threshold: float,
) -> tuple[int, float, float, int, int]:
    """Candidates across groups a and b, their total and least score, how
    many of them join two records of one party at >= ``threshold`` (counted
    only when ``parties`` is given), and how many join records of two
    partially compared parties (only when ``partial`` is given).

    Looks each cross pair up in the sorted pair keys: ``|a| * |b|`` searches.
    """
    count = len(head)
    found = 0
    total = 0.0
    least = np.inf
    close = 0
    unsure = 0
    x = head[a]
    while x >= 0:
        y = head[b]
        while y >= 0:
            key = min(x, y) * count + max(x, y)
            at = np.searchsorted(keys, key)
            if at < len(keys) and keys[at] == key:
                found += 1
                total += best[at]
                least = min(least, best[at])
                close += _close_within(x, y, best[at], parties, threshold)
                unsure += _partially_compared(x, y, parties, partial)
            y = following[y]
        x = following[x]
    return found, total, least, close, unsure


@njit(cache=True)
def _close_within(
    x: int, y: int, score: float, parties: Indices, threshold: float
) -> int:
    """1 if records x and y are of one party and score >= ``threshold``."""
    if len(parties) == 0 or parties[x] != parties[y]:
        return 0
    return 1 if score >= threshold else 0


@njit(cache=True)
def _partially_compared(x: int, y: int, parties: Indices, partial: Indices) -> int:
    """1 if records x and y are of two partially compared parties."""
    if len(partial) == 0:
        return 0
    return 1 if partial[parties[x], parties[y]] else 0


@njit(cache=True)
def _pairs_by_party(
    a: int,
    b: int,
    head: Indices,
    following: Indices,
    parties: Indices,
    weights: Indices,
    party_count: Indices,
) -> int:
    """The sum over pairs across groups a and b of ``weights[p, q]`` for
    their parties p and q: with the identity, the pairs within one party;
    with ``partial``, the pairs of partially compared parties.

    ``party_count`` is all zeros on entry and on return.
    """
    member = head[a]
    while member >= 0:
        party_count[parties[member]] += 1
        member = following[member]
    pairs = 0
    member = head[b]
    while member >= 0:
        for party in range(len(party_count)):
            pairs += party_count[party] * weights[party, parties[member]]
        member = following[member]
    member = head[a]
    while member >= 0:
        party_count[parties[member]] = 0
        member = following[member]
    return pairs


@njit(cache=True)
def _cross_by_scan(
    a: int,
    b: int,
    head: Indices,
    following: Indices,
    group: Indices,
    indptr: Indices,
    neighbours: Indices,
    neighbour_scores: Scores,
    parties: Indices,
    partial: Indices,
    threshold: float,
) -> tuple[int, float, float, int, int]:
    """As :func:`_cross_by_lookup`, reading the neighbours of group a's records.

    Each cross pair is found once, from its end in ``a``.
    """
    found = 0
    total = 0.0
    least = np.inf
    close = 0
    unsure = 0
    x = head[a]
    while x >= 0:
        for at in range(indptr[x], indptr[x + 1]):
            y = neighbours[at]
            if group[y] == b:
                found += 1
                total += neighbour_scores[at]
                least = min(least, neighbour_scores[at])
                close += _close_within(x, y, neighbour_scores[at], parties, threshold)
                unsure += _partially_compared(x, y, parties, partial)
        x = following[x]
    return found, total, least, close, unsure


@njit(cache=True)
def _labels(group: Indices) -> Indices:
    """``0..k-1`` for groups of two or more, by smallest record; ``-1`` otherwise."""
    count = len(group)
    members = np.zeros(count, np.int64)
    for record in range(count):
        members[group[record]] += 1
    label_of = np.full(count, -1)
    labels = np.full(count, -1)
    next_label = 0
    for record in range(count):
        root = group[record]
        if members[root] < 2:
            continue
        if label_of[root] < 0:
            label_of[root] = next_label
            next_label += 1
        labels[record] = label_of[root]
    return labels
