"""The threshold of one-to-one linkage: where false links would start to
outnumber true ones, checked on simulated links solved one-to-one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from linkage.matching.non_matches import fit_non_matches
from linkage.matching.one_to_one import SampledSide, end_of_false_links
from linkage.matching.sampling import pool_halves
from linkage.matching.solving import greedy_one_to_one
from linkage.matching.threshold import choose_threshold


@dataclass(frozen=True)
class Simulated:
    """Dice scores of two parties as diffusion makes them, and who matches."""

    scores: NDArray[np.float64]  # left records x right records
    match_of: NDArray[np.int64]  # per left record its right match, or -1
    sides: tuple[SampledSide, SampledSide]

    @property
    def matches(self) -> int:
        return int(np.count_nonzero(self.match_of >= 0))

    def f1(self, threshold: float) -> float:
        """Pairwise F1 of greedy one-to-one links at ``threshold``."""
        left, right = np.nonzero(self.scores >= threshold)
        linked_left, linked_right, _ = greedy_one_to_one(
            left, right, self.scores[left, right]
        )
        correct = int(np.count_nonzero(self.match_of[linked_left] == linked_right))
        return 2 * correct / (len(linked_left) + self.matches)


def _simulate(left: int, right: int, shared: int, seed: int) -> Simulated:
    """Unrelated pairs score N(0.5, 0.016) (a pile near 0.55 once the best of
    many is taken); of the ``shared`` true pairs 70 % spread evenly from
    0.56 to 1.0, the rest (no error) near 0.96."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.5, 0.016, (left, right))
    match_of = np.full(left, -1, dtype=np.int64)
    lefts = rng.choice(left, shared, replace=False)
    rights = rng.choice(right, shared, replace=False)
    flat = rng.random(shared) < 0.7
    scores[lefts, rights] = np.where(
        flat, rng.uniform(0.56, 1.0, shared), rng.normal(0.96, 0.015, shared)
    ).clip(0.0, 1.0)
    match_of[lefts] = rights
    return Simulated(scores, match_of, (_side(scores, rng, 1), _side(scores.T, rng, 0)))


def _side(
    scores: NDArray[np.float64], rng: np.random.Generator, partner: int
) -> SampledSide:
    halves = np.array_split(rng.permutation(scores.shape[1]), 2)
    first, second = (scores[:, half].max(axis=1) for half in halves)
    return SampledSide(scores.shape[0], first, second, (partner,))


@pytest.fixture(scope="module", params=[0, 1])
def simulated(request: pytest.FixtureRequest) -> Simulated:
    # Like police (nearly all matched) against health (two thirds not).
    return _simulate(3000, 1200, 1000, seed=request.param)


def test_the_threshold_is_within_a_point_of_the_best_one_to_one_f1(
    simulated: Simulated,
) -> None:
    pooled = pool_halves(simulated.sides[0].first, simulated.sides[0].second)
    choice = choose_threshold(pooled, one_to_one=simulated.sides)
    shared = choose_threshold(pooled)
    grid = np.arange(0.55, 0.7, 0.005)
    best = max(simulated.f1(float(threshold)) for threshold in grid)
    assert choice.method == "non-match pile"
    assert "more false links than true ones" in choice.explanation
    assert simulated.f1(choice.threshold) >= best - 0.01
    # Counting every record as a competitor ends the pile higher, and loses.
    assert choice.threshold < shared.threshold
    assert simulated.f1(shared.threshold) < simulated.f1(choice.threshold)


def test_the_shares_without_a_match_are_estimated(simulated: Simulated) -> None:
    """Roughly: the law fitted to the worse halves sits low where most
    records have no match (their worse half is the lower of two draws), so
    the left side's share (truly 0.67) comes out near 0.44; the right's
    (truly 0.17) near 0.14."""
    estimate = end_of_false_links(simulated.sides)
    assert estimate is not None
    left, right = estimate.unmatched
    assert 0.35 <= left <= 0.75
    assert 0.1 <= right <= 0.25


def test_never_inside_the_pile_body(simulated: Simulated) -> None:
    """Where nearly everyone has a match, false links are rare at any score;
    the threshold still stays two scales above the pile's mode."""
    everyone = _simulate(1000, 1000, 990, seed=3)
    pooled = pool_halves(everyone.sides[0].first, everyone.sides[0].second)
    choice = choose_threshold(pooled, one_to_one=everyone.sides)
    middle = np.sort(pooled[(pooled > 0) & (pooled < 1)])
    pile = fit_non_matches(middle, choice.modes[0])
    assert pile is not None
    assert choice.threshold >= pile.location + 2 * pile.scale - 0.001


def test_too_few_scores_give_no_estimate() -> None:
    rng = np.random.default_rng(0)
    few = SampledSide(10, rng.random(10), rng.random(10))
    assert end_of_false_links([few, few]) is None
    assert end_of_false_links([]) is None


def test_without_an_estimate_the_pile_ends_as_without_sides(
    simulated: Simulated,
) -> None:
    """Sides too small to fit leave the rule of the shared threshold, and
    the explanation says which rule it was."""
    pooled = pool_halves(simulated.sides[0].first, simulated.sides[0].second)
    rng = np.random.default_rng(0)
    few = SampledSide(10, rng.random(10), rng.random(10))
    choice = choose_threshold(pooled, one_to_one=[few, few])
    assert choice.threshold == choose_threshold(pooled).threshold
    assert "at most half the records nearby" in choice.explanation
    assert "more false links" not in choice.explanation
