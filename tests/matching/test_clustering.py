"""Grouping records of many parties, or of one: known answers and properties."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.matching.clustering import (
    cluster_dedup,
    cluster_links_and_dedup,
    cluster_parties,
)
from linkage.matching.solving import greedy_one_to_one

Pairs = list[tuple[int, int, float]]


def as_arrays(pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate triples as the three parallel arrays the functions take."""
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    score = np.array([p[2] for p in pairs], dtype=np.float64)
    return left, right, score


def groups(labels: np.ndarray) -> list[list[int]]:
    """The records of each label 0..k-1, in label order."""
    return [np.flatnonzero(labels == k).tolist() for k in range(labels.max() + 1)]


def best_scores(pairs: Pairs) -> dict[tuple[int, int], float]:
    """The best score of each unordered candidate pair (self-pairs dropped)."""
    best: dict[tuple[int, int], float] = {}
    for a, b, s in pairs:
        if a != b:
            key = (min(a, b), max(a, b))
            best[key] = max(s, best.get(key, s))
    return best


@st.composite
def parties_and_candidates(
    draw: st.DrawFn, max_parties: int = 4
) -> tuple[list[int], Pairs]:
    """A party for each of up to 10 records, and candidates among them."""
    party_of = draw(st.lists(st.integers(0, max_parties - 1), min_size=1, max_size=10))
    record = st.integers(0, len(party_of) - 1)
    score = st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    return party_of, draw(st.lists(st.tuples(record, record, score), max_size=30))


def assert_well_labelled(labels: np.ndarray, count: int) -> None:
    """One int64 label per record; labels 0..k-1, each used at least twice."""
    assert labels.dtype == np.int64
    assert labels.shape == (count,)
    used = labels[labels >= 0]
    if len(used):
        assert set(used.tolist()) == set(range(used.max() + 1))
        assert np.bincount(used).min() >= 2
        firsts = [group[0] for group in groups(labels)]
        assert firsts == sorted(firsts)


def test_a_record_alike_to_two_others_of_other_parties_joins_them() -> None:
    """Hub 0 resembles 1 and 2 (two other parties), which are no candidates:
    one person whose records at 1 and 2 differ (a move), all three join."""
    left, right, score = as_arrays([(0, 1, 0.7), (0, 2, 0.75)])
    labels = cluster_parties([0, 1, 2], left, right, score)
    assert labels.tolist() == [0, 0, 0]


def test_three_parties_group_one_consistent_triangle() -> None:
    """Three records that all resemble each other form one group."""
    pairs = [(0, 1, 0.9), (1, 2, 0.8), (0, 2, 0.7), (3, 4, 0.85)]
    labels = cluster_parties([0, 1, 2, 0, 2, 1], *as_arrays(pairs))
    assert labels.tolist() == [0, 0, 0, 1, 1, -1]


def test_a_group_holds_at_most_one_record_per_party() -> None:
    """Records 1 and 2 are both party 1: 2 cannot join {0, 1}, so it pairs with 3."""
    pairs = [(1, 2, 0.95), (0, 1, 0.9), (0, 2, 0.8), (2, 3, 0.75), (0, 3, 0.7)]
    labels = cluster_parties([0, 1, 1, 2], *as_arrays(pairs))
    assert labels.tolist() == [0, 0, 1, 1]


def test_records_in_no_candidate_stay_alone() -> None:
    """Records without candidates get -1; no candidates at all give all -1."""
    assert cluster_parties([0, 1, 2, 0], [0], [1], [0.9]).tolist() == [0, 0, -1, -1]
    assert cluster_parties([0, 1, 2], [], [], []).tolist() == [-1, -1, -1]
    assert cluster_parties([], [], [], []).tolist() == []
    empty = cluster_dedup(3, [], [], [], threshold=0.5)
    assert empty.tolist() == [-1, -1, -1]


def test_labels_follow_the_smallest_record_of_each_group() -> None:
    """Group {0, 1} is label 0 even though group {3, 4} scored higher."""
    pairs = [(3, 4, 0.99), (1, 0, 0.8)]
    labels = cluster_parties([0, 1, 2, 0, 1], *as_arrays(pairs))
    assert labels.tolist() == [0, 0, -1, 1, 1]


def test_labels_do_not_depend_on_candidate_order() -> None:
    """Every order of the same ties gives the same labels."""
    pairs = [(0, 1, 0.8), (0, 2, 0.8), (1, 2, 0.8), (2, 3, 0.8), (1, 3, 0.8)]
    seen = {
        tuple(cluster_parties([0, 1, 2, 1], *as_arrays(list(p))).tolist())
        for p in itertools.permutations(pairs)
    }
    assert seen == {(0, 0, 0, -1)}


def test_dedup_chain_depends_on_the_linkage() -> None:
    """A-B and B-C at 0.9, A-C missing: average joins all at 0.4, not at 0.5."""
    pairs = as_arrays([(0, 1, 0.9), (1, 2, 0.9)])
    complete = cluster_dedup(3, *pairs, linkage="complete", threshold=0.4)
    assert complete.tolist() == [0, 0, -1]
    assert cluster_dedup(3, *pairs, threshold=0.4).tolist() == [0, 0, 0]
    assert cluster_dedup(3, *pairs, threshold=0.5).tolist() == [0, 0, -1]


def test_a_candidate_below_the_threshold_still_counts_in_the_average() -> None:
    """A-C at 0.3 starts no merge, but lifts C's linkage to {A, B} to 0.6."""
    pairs = as_arrays([(0, 1, 0.9), (1, 2, 0.9), (0, 2, 0.3)])
    assert cluster_dedup(3, *pairs, threshold=0.5).tolist() == [0, 0, 0]
    assert cluster_dedup(2, [0], [1], [0.3], threshold=0.5).tolist() == [-1, -1]


def test_dedup_does_not_chain_unrelated_records() -> None:
    """A-B, B-C and C-D alike, nothing else: two groups, not one chain."""
    pairs = as_arrays([(0, 1, 0.95), (1, 2, 0.9), (2, 3, 0.95)])
    labels = cluster_dedup(4, *pairs, threshold=0.5)
    assert labels.tolist() == [0, 0, 1, 1]


def test_average_keeps_duplicates_that_only_resemble_the_original() -> None:
    """Duplicates at 0.9 to the original and 0.76 to each other stay together."""
    original = [(0, d, 0.9) for d in (1, 2, 3)]
    among = [(1, 2, 0.76), (1, 3, 0.76), (2, 3, 0.76)]
    pairs = as_arrays(original + among)
    assert cluster_dedup(4, *pairs, threshold=0.8).tolist() == [0, 0, 0, 0]
    complete = cluster_dedup(4, *pairs, linkage="complete", threshold=0.8)
    assert complete.tolist() == [0, 0, -1, -1]


def test_a_missing_pair_counts_as_given() -> None:
    """C resembles A (0.9), not B (no candidate): counting the missing pair
    0 keeps C out of {A, B} at 0.6; counting it as a typical unrelated
    pair's 0.5 lets C in, since (0.9 + 0.5) / 2 = 0.7."""
    pairs = as_arrays([(0, 1, 0.95), (0, 2, 0.9)])
    assert cluster_dedup(3, *pairs, threshold=0.6).tolist() == [0, 0, -1]
    lifted = cluster_dedup(3, *pairs, threshold=0.6, missing=0.5)
    assert lifted.tolist() == [0, 0, 0]
    # Across parties too, where a merge puts two records of one party (A
    # and C) together.
    parties = [0, 1, 0]
    assert cluster_links_and_dedup(parties, *pairs, 0.6).tolist() == [0, 0, -1]
    lifted = cluster_links_and_dedup(parties, *pairs, 0.6, missing=0.5)
    assert lifted.tolist() == [0, 0, 0]


def test_a_mean_equal_to_the_threshold_passes() -> None:
    """(0.7 + 0.6) / 2 is 0.65 although the float sum rounds below 1.3."""
    pairs = as_arrays([(0, 1, 0.95), (0, 2, 0.7), (1, 2, 0.6)])
    assert cluster_dedup(3, *pairs, threshold=0.65).tolist() == [0, 0, 0]


def test_links_and_dedup_allow_several_records_per_party() -> None:
    """Two records of party 0 and one of party 1, all alike, form one group."""
    pairs = as_arrays([(0, 1, 0.9), (0, 2, 0.9), (1, 2, 0.85)])
    assert cluster_links_and_dedup([0, 0, 1], *pairs, 0.8).tolist() == [0, 0, 0]
    assert cluster_parties([0, 0, 1], *pairs).tolist() == [0, -1, 0]


def test_two_records_of_one_party_need_their_own_link() -> None:
    """Two people of one household at party 0, each alike to party 1's record
    of one of them (0.9, 0.7) but not to each other, are not chained."""
    pairs = as_arrays([(0, 1, 0.9), (1, 2, 0.7), (0, 2, 0.5)])
    labels = cluster_links_and_dedup([0, 1, 0], *pairs, 0.6)
    assert labels.tolist() == [0, 0, -1]
    # Alike to each other at the threshold, they join.
    close = as_arrays([(0, 1, 0.9), (1, 2, 0.7), (0, 2, 0.6)])
    assert cluster_links_and_dedup([0, 1, 0], *close, 0.6).tolist() == [0, 0, 0]


def test_groups_of_different_parties_are_averaged_over_their_candidates() -> None:
    """A police record (party 0) at the old address, a tax record (1) alike
    to it, and a health record (2) at the new address alike to the police
    one only: one person, since no two of them are of one party."""
    pairs = as_arrays([(0, 1, 0.95), (0, 2, 0.7)])
    assert cluster_links_and_dedup([0, 1, 2], *pairs, 0.62).tolist() == [0, 0, 0]
    # A candidate between them still counts, however low.
    low = as_arrays([(0, 1, 0.95), (0, 2, 0.7), (1, 2, 0.05)])
    assert cluster_links_and_dedup([0, 1, 2], *low, 0.62).tolist() == [0, 0, -1]
    # Once two records of one party would share the group (twins at party 0,
    # alike enough to each other), a missing pair counts 0 again.
    twins = as_arrays([(0, 1, 0.95), (0, 2, 0.7)])
    assert cluster_links_and_dedup([0, 1, 0], *twins, 0.62).tolist() == [0, 0, -1]


def test_missing_pairs_of_partially_compared_parties_count_neither_way() -> None:
    """Health (party 0) and social services (1) records of one person, and
    tax (2) and health records of the same person: merging the two groups
    puts two health records together, so missing pairs count 0, except
    between social services and tax when marked as partially compared
    (they share only the names)."""
    found = [(0, 1, 0.96), (2, 3, 0.95), (0, 3, 0.9), (0, 2, 0.8), (1, 3, 0.7)]
    pairs = as_arrays(found)
    party_of = [0, 1, 2, 0]
    assert cluster_links_and_dedup(party_of, *pairs, 0.65).tolist() == [0, 0, 1, 1]
    partial = np.zeros((3, 3), dtype=bool)
    partial[1, 2] = partial[2, 1] = True
    labels = cluster_links_and_dedup(party_of, *pairs, 0.65, partial=partial)
    assert labels.tolist() == [0, 0, 0, 0]
    # A candidate between them still counts, however low.
    low = as_arrays([*found, (1, 2, 0.05)])
    labels = cluster_links_and_dedup(party_of, *low, 0.65, partial=partial)
    assert labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="'partial' must be a square matrix"):
        cluster_links_and_dedup(party_of, *pairs, 0.6, partial=np.zeros((2, 2)))


def test_links_and_dedup_of_one_party_is_average_dedup() -> None:
    """With one party the same-party rule would be complete linkage: it is
    left out, so duplicates that only resemble the original stay together."""
    original = [(0, d, 0.9) for d in (1, 2, 3)]
    among = [(1, 2, 0.76), (1, 3, 0.76), (2, 3, 0.76)]
    pairs = as_arrays(original + among)
    labels = cluster_links_and_dedup([0, 0, 0, 0], *pairs, 0.8)
    assert labels.tolist() == cluster_dedup(4, *pairs, threshold=0.8).tolist()
    assert labels.tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cluster_dedup(2, [0], [2], [0.9], threshold=0.5), "'right' must be <"),
        (
            lambda: cluster_dedup(2, [0], [1], [0.9], linkage="x", threshold=0.5),  # type: ignore[arg-type]
            "'linkage' must be in",
        ),
        (lambda: cluster_dedup(2, [0], [1], [0.9], threshold=np.nan), "'threshold'"),
        (
            lambda: cluster_dedup(2, [0], [1], [0.9], threshold=0.5, missing=0.5),
            "'missing' must be a number below the threshold",
        ),
        (lambda: cluster_dedup(-1, [], [], [], threshold=0.5), "'count' must be"),
        (lambda: cluster_parties([[0, 1]], [0], [1], [0.9]), "'party_of' must be"),
        (lambda: cluster_parties([0, -1], [0], [1], [0.9]), "'party_of' must be"),
    ],
)
def test_bad_arguments_are_refused(call: Callable[[], object], message: str) -> None:
    """Each bad argument raises ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        call()


def reference_parties(party_of: list[int], pairs: Pairs) -> list[int]:
    """The rule of ``cluster_parties``, written plainly: candidates by
    descending score (ties by record numbers) merge two groups unless a
    party would have two records in the merged group."""
    group = list(range(len(party_of)))
    visits = sorted(
        ((min(a, b), max(a, b), s) for a, b, s in pairs if a != b),
        key=lambda pair: (-pair[2], pair[0], pair[1]),
    )
    for a, b, _ in visits:
        first, second = group[a], group[b]
        members = {party_of[r] for r, g in enumerate(group) if g == first}
        others = {party_of[r] for r, g in enumerate(group) if g == second}
        if first != second and not members & others:
            group = [first if g == second else g for g in group]
    return plain_labels(group)


def plain_labels(group: list[int]) -> list[int]:
    """Groups of two or more numbered 0.. by their first record; -1 else."""
    sizes = {g: group.count(g) for g in group}
    numbers: dict[int, int] = {}
    for g in group:
        if sizes[g] > 1 and g not in numbers:
            numbers[g] = len(numbers)
    return [numbers.get(g, -1) for g in group]


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(parties_and_candidates())
def test_party_groups_follow_the_rule_as_written(
    case: tuple[list[int], Pairs],
) -> None:
    """The compiled agglomeration gives the plain reference's groups, and
    every group has one record per party at most."""
    party_of, pairs = case
    labels = cluster_parties(party_of, *as_arrays(pairs))
    assert_well_labelled(labels, len(party_of))
    assert labels.tolist() == reference_parties(party_of, pairs)
    for group in groups(labels):
        assert len({party_of[r] for r in group}) == len(group)


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(parties_and_candidates(max_parties=2))
def test_two_parties_group_as_greedy_one_to_one(
    case: tuple[list[int], Pairs],
) -> None:
    """With two parties the groups are exactly greedy's pairs."""
    party_of, pairs = case
    across = [(a, b, s) for a, b, s in pairs if party_of[a] < party_of[b]]
    labels = cluster_parties(party_of, *as_arrays(across))
    left, right, _ = greedy_one_to_one(*as_arrays(across))
    pairs_found = zip(left.tolist(), right.tolist(), strict=True)
    expected = sorted(sorted(pair) for pair in pairs_found)
    assert sorted(groups(labels)) == expected


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(
    parties_and_candidates(),
    st.sampled_from([0.5, 0.65, 0.8]),
    st.sampled_from([0.0, 0.3, 0.45]),
)
def test_dedup_groups_meet_their_linkage(
    case: tuple[list[int], Pairs], threshold: float, missing: float
) -> None:
    """Complete: all pairs >= t. Average: each group's mean pair (``missing``
    if not a candidate) >= t."""
    party_of, pairs = case
    count = len(party_of)
    best = best_scores(pairs)
    complete = cluster_dedup(
        count, *as_arrays(pairs), linkage="complete", threshold=threshold
    )
    assert_well_labelled(complete, count)
    for group in groups(complete):
        pairs_in = itertools.combinations(group, 2)
        assert all(best.get(pair, 0.0) >= threshold for pair in pairs_in)
    average = cluster_dedup(
        count, *as_arrays(pairs), threshold=threshold, missing=missing
    )
    assert_well_labelled(average, count)
    for group in groups(average):
        pairs_in = itertools.combinations(group, 2)
        inside = [best.get(pair, missing) for pair in pairs_in]
        assert np.mean(inside) >= threshold - 1e-9


def reference_links_and_dedup(
    party_of: list[int],
    pairs: Pairs,
    threshold: float,
    partial: np.ndarray,
    missing: float = 0.0,
) -> list[int]:
    """The rule of ``cluster_links_and_dedup``, written plainly: candidates
    at or above the threshold by descending score (ties by record numbers)
    merge two groups when (with two or more parties) every pair of one
    party's records across them is a candidate at or above the threshold,
    and the mean of the cross pairs reaches it: over the candidates only if
    the groups share no party, else with a missing pair counting
    ``missing`` unless its parties are marked partial. Labels numbered as
    the function does."""
    best = best_scores(pairs)
    several = len(set(party_of)) > 1
    group = list(range(len(party_of)))
    visits = sorted(
        ((min(a, b), max(a, b), s) for a, b, s in pairs if a != b and s >= threshold),
        key=lambda pair: (-pair[2], pair[0], pair[1]),
    )
    for a, b, _ in visits:
        first, second = group[a], group[b]
        if first == second:
            continue
        members = [r for r, g in enumerate(group) if g == first]
        others = [r for r, g in enumerate(group) if g == second]
        cross = [(min(x, y), max(x, y)) for x in members for y in others]
        same = [pair for pair in cross if party_of[pair[0]] == party_of[pair[1]]]
        if several and any(best.get(pair, 0.0) < threshold for pair in same):
            continue
        if several and not same:
            counted = [best[pair] for pair in cross if pair in best]
        else:
            counted = [
                best.get(pair, missing)
                for pair in cross
                if pair in best or not partial[party_of[pair[0]], party_of[pair[1]]]
            ]
        if sum(counted) < (threshold - 1e-9) * len(counted):
            continue
        group = [first if g == second else g for g in group]
    return plain_labels(group)


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(
    parties_and_candidates(),
    st.sampled_from([0.5, 0.65, 0.8]),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=4),
    st.sampled_from([0.0, 0.3, 0.45]),
)
def test_links_and_dedup_follow_the_rule_as_written(
    case: tuple[list[int], Pairs],
    threshold: float,
    marked: list[tuple[int, int]],
    missing: float,
) -> None:
    """The compiled agglomeration gives the plain reference's groups, with
    and without partially compared parties, whatever a missing pair counts
    as; each party's records in a group are candidates at or above the
    threshold to each other."""
    party_of, pairs = case
    partial = np.zeros((4, 4), dtype=bool)
    for p, q in marked:
        partial[p, q] = partial[q, p] = p != q
    labels = cluster_links_and_dedup(
        party_of, *as_arrays(pairs), threshold, partial=partial, missing=missing
    )
    assert_well_labelled(labels, len(party_of))
    assert labels.tolist() == reference_links_and_dedup(
        party_of, pairs, threshold, partial, missing
    )
    best = best_scores(pairs)
    if len(set(party_of)) > 1:
        for group in groups(labels):
            same_party = [
                (a, b)
                for a, b in itertools.combinations(group, 2)
                if party_of[a] == party_of[b]
            ]
            assert all(best.get(pair, 0.0) >= threshold for pair in same_party)


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(parties_and_candidates())
def test_clustering_ignores_candidate_order_and_direction(
    case: tuple[list[int], Pairs],
) -> None:
    """Reversing the list and swapping left and right changes no label."""
    party_of, pairs = case
    flipped = [(b, a, s) for a, b, s in reversed(pairs)]
    for given_pairs in (pairs, flipped):
        arrays = as_arrays(given_pairs)
        labels = cluster_parties(party_of, *arrays).tolist()
        dedup = cluster_dedup(len(party_of), *arrays, threshold=0.6).tolist()
        if given_pairs is pairs:
            expected = (labels, dedup)
    assert (labels, dedup) == expected
