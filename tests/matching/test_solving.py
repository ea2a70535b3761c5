"""One-to-one solvers: hand-made cases with known answers, and properties."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.matching import solving
from linkage.matching.solving import (
    descending_order,
    greedy_one_to_one,
    optimal_one_to_one,
)

Pairs = list[tuple[int, int, float]]
Solver = Callable[[Any, Any, Any], solving.Matching]


def as_arrays(pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate triples as the three parallel arrays the solvers take."""
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    score = np.array([p[2] for p in pairs], dtype=np.float64)
    return left, right, score


def as_triples(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Pairs:
    """A solver's result as (left, right, score) triples, in its order."""
    return [(int(a), int(b), float(s)) for a, b, s in zip(*result, strict=True)]


@st.composite
def candidate_sets(draw: st.DrawFn, max_records: int = 6) -> Pairs:
    """Up to ``max_records`` records a side; scores from a few values, so ties."""
    n_left = draw(st.integers(1, max_records))
    n_right = draw(st.integers(1, max_records))
    pair = st.tuples(
        st.integers(0, n_left - 1),
        st.integers(0, n_right - 1),
        st.sampled_from([0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0]),
    )
    return draw(st.lists(pair, max_size=3 * max_records))


def best_scores(pairs: Pairs) -> dict[tuple[int, int], float]:
    """The best score of each distinct candidate pair."""
    best: dict[tuple[int, int], float] = {}
    for a, b, s in pairs:
        best[a, b] = max(s, best.get((a, b), s))
    return best


def brute_force_total(pairs: Pairs) -> float:
    """The largest total score of any one-to-one subset of the candidates."""
    best = best_scores(pairs)
    edges = list(best.items())
    top = 0.0
    for size in range(1, min(len(edges), 6) + 1):
        for chosen in itertools.combinations(edges, size):
            lefts = {a for (a, _), _ in chosen}
            rights = {b for (_, b), _ in chosen}
            if len(lefts) == len(rights) == size:
                top = max(top, sum(s for _, s in chosen))
    return top


def greedy_reference(pairs: Pairs) -> Pairs:
    """anonlink's greedy rule written plainly: best first, skip matched records."""
    used_left: set[int] = set()
    used_right: set[int] = set()
    accepted = []
    for a, b, s in sorted(pairs, key=lambda p: (-p[2], p[0], p[1])):
        if a not in used_left and b not in used_right:
            used_left.add(a)
            used_right.add(b)
            accepted.append((a, b, s))
    return accepted


def assert_valid_matching(result: Pairs, pairs: Pairs) -> None:
    """One-to-one, every accepted pair a candidate with its best score."""
    best = best_scores(pairs)
    assert len({a for a, _, _ in result}) == len(result)
    assert len({b for _, b, _ in result}) == len(result)
    for a, b, s in result:
        assert best[a, b] == s
    scores = [s for _, _, s in result]
    assert scores == sorted(scores, reverse=True)


def test_greedy_takes_best_pair_and_optimal_the_larger_total() -> None:
    """On a 2x2, greedy keeps 0.9 alone; optimal takes both 0.8s (1.6 > 0.9)."""
    pairs = as_arrays([(0, 0, 0.9), (0, 1, 0.8), (1, 0, 0.8)])
    assert as_triples(greedy_one_to_one(*pairs)) == [(0, 0, 0.9)]
    assert as_triples(optimal_one_to_one(*pairs)) == [(0, 1, 0.8), (1, 0, 0.8)]


def test_greedy_gives_the_loser_its_next_best_partner() -> None:
    """Right 0 goes to left 0 (0.9 > 0.85), so left 1 settles for right 1."""
    pairs = as_arrays([(1, 0, 0.85), (1, 1, 0.6), (0, 0, 0.9)])
    assert as_triples(greedy_one_to_one(*pairs)) == [(0, 0, 0.9), (1, 1, 0.6)]


def test_greedy_breaks_ties_by_left_then_right() -> None:
    """Equal scores go to the smallest (left, right), whatever the input order."""
    pairs = [(1, 0, 0.5), (0, 1, 0.5), (1, 1, 0.5), (0, 0, 0.5)]
    for permutation in itertools.permutations(pairs):
        result = as_triples(greedy_one_to_one(*as_arrays(list(permutation))))
        assert result == [(0, 0, 0.5), (1, 1, 0.5)]


def test_optimal_leaves_records_unmatched_rather_than_lose_score() -> None:
    """0.9 alone beats the full assignment 0.2 + 0.2 on a 2x2 component."""
    pairs = as_arrays([(0, 0, 0.9), (0, 1, 0.2), (1, 0, 0.2)])
    assert as_triples(optimal_one_to_one(*pairs)) == [(0, 0, 0.9)]


def test_optimal_takes_the_best_pair_of_a_star() -> None:
    """A record with three candidates and no other edges keeps its best one."""
    pairs = as_arrays([(5, 1, 0.7), (5, 2, 0.9), (5, 3, 0.8), (6, 7, 0.75)])
    assert as_triples(optimal_one_to_one(*pairs)) == [(5, 2, 0.9), (6, 7, 0.75)]


def test_a_repeated_pair_counts_once_with_its_best_score() -> None:
    """A pair given twice is matched once, with the better score."""
    pairs = as_arrays([(0, 0, 0.5), (0, 0, 0.9), (1, 0, 0.8), (1, 1, 0.3)])
    expected = [(0, 0, 0.9), (1, 1, 0.3)]
    assert as_triples(greedy_one_to_one(*pairs)) == expected
    assert as_triples(optimal_one_to_one(*pairs)) == expected


@pytest.mark.parametrize("solve", [greedy_one_to_one, optimal_one_to_one])
def test_no_candidates_match_nothing(solve: Solver) -> None:
    """Empty candidate arrays give empty int64, int64 and float64 arrays."""
    left, right, score = solve([], [], [])
    assert (len(left), len(right), len(score)) == (0, 0, 0)
    dtypes = (left.dtype.name, right.dtype.name, score.dtype.name)
    assert dtypes == ("int64", "int64", "float64")


def test_a_huge_component_is_refused_with_advice() -> None:
    """A component over max_component_size raises and suggests what to do."""
    pairs = as_arrays([(a, b, 0.8) for a in range(3) for b in range(3)])
    with pytest.raises(ValueError, match="threshold, or use greedy_one_to_one"):
        optimal_one_to_one(*pairs, max_component_size=5)
    assert len(optimal_one_to_one(*pairs, max_component_size=6)[0]) == 3


@pytest.mark.parametrize(
    ("left", "right", "score", "message"),
    [
        ([0, 1], [0], [0.5, 0.5], "must have one length"),
        ([0, -1], [0, 1], [0.5, 0.5], "'left' must be >= 0"),
        ([0.0, 1.0], [0, 1], [0.5, 0.5], "'left' must hold integers"),
        ([0, 1], [0, 1], [0.5, np.nan], "'score' must be finite"),
        ([[0, 1]], [0, 1], [0.5, 0.5], "'left' must be a 1-D array"),
    ],
)
def test_malformed_candidates_are_refused(
    left: object, right: object, score: object, message: str
) -> None:
    """Each malformed input raises ValueError naming the argument."""
    for solve in (greedy_one_to_one, optimal_one_to_one):
        with pytest.raises(ValueError, match=message):
            solve(left, right, score)  # type: ignore[arg-type]


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(candidate_sets())
def test_descending_order_is_score_then_left_then_right(pairs: Pairs) -> None:
    """The packed sort equals a three-key lexsort."""
    left, right, score = as_arrays(pairs)
    order = descending_order(left, right, score)
    expected = np.lexsort((right, left, -score))
    assert as_triples((left[order], right[order], score[order])) == as_triples(
        (left[expected], right[expected], score[expected])
    )


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(candidate_sets())
def test_greedy_equals_the_plain_rule(pairs: Pairs) -> None:
    """The compiled greedy solver accepts exactly what the plain loop accepts."""
    result = as_triples(greedy_one_to_one(*as_arrays(pairs)))
    assert result == greedy_reference(pairs)
    assert_valid_matching(result, pairs)


@settings(max_examples=200, deadline=None)
@given(candidate_sets(max_records=4))
def test_optimal_is_a_maximum_and_beats_greedy(pairs: Pairs) -> None:
    """Optimal is one-to-one, equals the brute-force optimum, and >= greedy."""
    result = as_triples(optimal_one_to_one(*as_arrays(pairs)))
    assert_valid_matching(result, pairs)
    total = sum(s for _, _, s in result)
    assert total == pytest.approx(brute_force_total(pairs))
    greedy_total = greedy_one_to_one(*as_arrays(pairs))[2].sum()
    assert total >= greedy_total - 1e-9


@settings(deadline=None)  # The first call compiles the numba kernels.
@given(candidate_sets(max_records=12))
def test_compiled_and_scipy_components_agree(pairs: Pairs) -> None:
    """Solving every component with scipy gives the same total score."""
    arrays = as_arrays(pairs)
    compiled = optimal_one_to_one(*arrays)[2].sum()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(solving, "_COMPILED_CELLS", 0)
        with_scipy = optimal_one_to_one(*arrays)
    assert_valid_matching(as_triples(with_scipy), pairs)
    assert with_scipy[2].sum() == pytest.approx(compiled)
