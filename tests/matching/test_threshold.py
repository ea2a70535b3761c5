"""Tests for choosing the Dice threshold from best-match scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from linkage.matching.threshold import (
    DEFAULT_THRESHOLD,
    ThresholdChoice,
    choose_threshold,
    fixed_threshold,
)

# Matches Beta(60, 6) (mean 0.91) and non-matches Beta(60, 40) (mean 0.60):
# the best possible threshold classifies at least 99.96% of scores correctly.
MATCH = (60.0, 6.0)
NON_MATCH = (60.0, 40.0)
SIZES = [200, 1_000, 10_000, 100_000, 1_000_000]
SHARES = [0.01, 0.05, 0.2, 0.5, 0.6]


def _mixture(
    match: tuple[float, float],
    non_match: tuple[float, float],
    share: float,
    size: int,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """``size`` scores, ``share`` of them matches; also which ones match."""
    rng = np.random.default_rng(seed)
    matches = round(share * size)
    best = np.concatenate(
        [rng.beta(*match, matches), rng.beta(*non_match, size - matches)]
    )
    return best, np.arange(size) < matches


def _accuracy(
    best: NDArray[np.float64], is_match: NDArray[np.bool_], threshold: float
) -> float:
    return float(np.mean((best >= threshold) == is_match))


def _oracle_accuracy(
    match: tuple[float, float], non_match: tuple[float, float], share: float
) -> float:
    """The accuracy of the best threshold for the true distributions."""
    t = np.linspace(0.3, 0.999, 7000)
    errors = share * stats.beta(*match).cdf(t) + (1 - share) * stats.beta(
        *non_match
    ).sf(t)
    return float(1.0 - errors.min())


@pytest.mark.parametrize("share", SHARES)
@pytest.mark.parametrize("size", SIZES)
def test_well_separated_groups_are_split_in_the_valley(size: int, share: float) -> None:
    """Well-apart groups: >= 99.5% classified right, threshold in the valley."""
    best, is_match = _mixture(MATCH, NON_MATCH, share, size, seed=size)
    choice = choose_threshold(best)
    assert _accuracy(best, is_match, choice.threshold) >= 0.995
    if is_match.sum() < 40:
        return  # Too few matches to show as a group: the default is allowed.
    assert choice.method in ("valley", "mixture"), choice.explanation
    density = share * stats.beta(*MATCH).pdf(choice.threshold) + (
        1 - share
    ) * stats.beta(*NON_MATCH).pdf(choice.threshold)
    match_peak = share * stats.beta(*MATCH).pdf(0.9)
    assert density <= 0.25 * match_peak
    assert choice.modes[0] < choice.threshold < choice.modes[1]


@pytest.mark.parametrize("share", [0.05, 0.2, 0.5, 0.6])
def test_overlapping_groups_come_close_to_the_best_threshold(share: float) -> None:
    """Beta(30,3) and Beta(12,8) overlap: within a point of the best accuracy."""
    match, non_match = (30.0, 3.0), (12.0, 8.0)
    best, is_match = _mixture(match, non_match, share, 100_000)
    choice = choose_threshold(best)
    assert choice.method in ("valley", "mixture")
    oracle = _oracle_accuracy(match, non_match, share)
    assert _accuracy(best, is_match, choice.threshold) >= oracle - 0.01


def test_a_shoulder_without_a_valley_falls_back_to_the_default() -> None:
    """1% matches on Beta(12,8)'s tail form no valley: 0.8, and it says so."""
    best, _ = _mixture((30.0, 3.0), (12.0, 8.0), 0.01, 100_000)
    choice = choose_threshold(best)
    assert choice.method == "default"
    assert choice.threshold == DEFAULT_THRESHOLD
    assert "do not form two clear groups" in choice.explanation
    assert "default threshold 0.8 is used" in choice.explanation


@pytest.mark.parametrize("share", [0.05, 0.2, 0.6])
def test_skewed_non_matches_and_identical_records(share: float) -> None:
    """Maxima as non-matches and a pile at 1.0 still give >= 99.5% right."""
    rng = np.random.default_rng(7)
    matches = round(share * 20_000)
    match_scores = rng.beta(25, 3, matches)
    match_scores[rng.random(matches) < 0.3] = 1.0
    non_match = rng.beta(20, 30, (20_000 - matches, 40)).max(axis=1)
    best = np.concatenate([match_scores, non_match])
    is_match = np.arange(best.size) < matches
    choice = choose_threshold(best)
    assert choice.method in ("valley", "mixture")
    assert _accuracy(best, is_match, choice.threshold) >= 0.995


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.beta(12, 8, n),
        lambda rng, n: rng.beta(60, 40, n),
        lambda rng, n: rng.beta(20, 30, (n, 40)).max(axis=1),
        lambda rng, n: np.round(rng.beta(12, 8, n) * 40) / 40,
    ],
    ids=["beta-12-8", "beta-60-40", "maxima", "coarse-lattice"],
)
@pytest.mark.parametrize("size", [200, 10_000])
def test_one_group_gives_the_default(draw: object, size: int) -> None:
    """Scores with a single peak (no matches) get the documented default."""
    rng = np.random.default_rng(size)
    best = draw(rng, size)  # type: ignore[operator]
    choice = choose_threshold(best)
    assert choice.method == "default"
    assert choice.threshold == DEFAULT_THRESHOLD


def test_explanation_names_the_groups_and_the_threshold() -> None:
    """The explanation counts the groups and quotes their peaks and threshold."""
    best, _ = _mixture(MATCH, NON_MATCH, 0.5, 10_000)
    best = np.concatenate([best, np.zeros(120)])
    choice = choose_threshold(best)
    above = int(np.count_nonzero(best >= choice.threshold))
    text = choice.explanation
    assert text.startswith(f"Best-match scores form two groups: {above:,} around")
    assert "(likely matches)" in text
    assert "120 of them with no candidate at all" in text
    if choice.method == "valley":
        assert f"The threshold {choice.threshold:g} sits in the valley" in text
    else:
        assert f"A two-group fit puts the threshold at {choice.threshold:g}" in text
        assert choice.threshold < (choice.valley_threshold or 0)
    assert choice.records == 10_120
    assert choice.records_above == above
    assert choice.estimated_matches is not None
    assert abs(choice.estimated_matches - 5_000) < 250


def test_the_numbers_behind_the_choice_are_kept() -> None:
    """Histogram, modes and the three candidate thresholds come back."""
    best, _ = _mixture(MATCH, NON_MATCH, 0.3, 5_000)
    choice = choose_threshold(best, bins=50)
    assert len(choice.histogram_edges) == 51
    assert sum(choice.histogram_counts) == 5_000
    assert choice.histogram_edges[0] == 0.0
    assert choice.histogram_edges[-1] == 1.0
    assert 0.55 < choice.modes[0] < 0.65
    assert 0.88 < choice.modes[1] < 0.94
    for value in (
        choice.valley_threshold,
        choice.mixture_threshold,
        choice.otsu_threshold,
    ):
        assert value is not None
        assert 0.65 < value < 0.88


def test_a_gap_is_split_in_its_middle() -> None:
    """Two spikes with nothing between: the threshold is the gap's middle."""
    best = np.array([0.6] * 500 + [0.95] * 500)
    choice = choose_threshold(best)
    assert choice.method in ("valley", "mixture")
    assert abs(choice.threshold - 0.775) <= 0.005


def test_deterministic() -> None:
    """The same scores give the same choice, to the last digit."""
    best, _ = _mixture(MATCH, NON_MATCH, 0.2, 20_000)
    assert choose_threshold(best) == choose_threshold(best.copy())


def test_all_scores_equal_gives_the_default() -> None:
    """Identical scores cannot show two groups; the explanation says why."""
    choice = choose_threshold(np.full(500, 0.61))
    assert choice.method == "default"
    assert "all 500 scores are 0.61" in choice.explanation


def test_all_zero_gives_the_default() -> None:
    """No record with any candidate: the default, and no crash."""
    choice = choose_threshold(np.zeros(50))
    assert choice.threshold == DEFAULT_THRESHOLD
    assert choice.records_above == 0


def test_too_few_scores_give_the_default() -> None:
    """Fewer than 20 informative scores: the default, saying how many there are."""
    choice = choose_threshold(np.array([0.0, 0.0, 0.62, 0.95, 1.0]))
    assert choice.method == "default"
    assert "only 2 records score above 0 and below 1" in choice.explanation
    assert choice.records_above == 2


@pytest.mark.parametrize(
    ("best", "message"),
    [
        (np.array([], dtype=np.float64), "no best-match scores"),
        (np.array([0.5, math.nan]), r"in \[0, 1\] \(got nan at position 1\)"),
        (np.array([0.5, 1.2]), r"got 1.2 at position 1"),
        (np.array([-0.1, 0.5]), r"got -0.1 at position 0"),
        (np.zeros((2, 2)), "one-dimensional"),
    ],
)
def test_bad_scores_are_refused(best: NDArray[np.float64], message: str) -> None:
    """Empty, NaN, out-of-range or 2-D scores raise ValueError saying why."""
    with pytest.raises(ValueError, match=message):
        choose_threshold(best)


def test_bins_must_be_at_least_two() -> None:
    """A histogram of one bin is refused."""
    with pytest.raises(ValueError, match="bins must be an integer of at least 2"):
        choose_threshold(np.array([0.5, 0.6]), bins=1)


def test_fixed_threshold() -> None:
    """An operator's threshold is kept as given and explained."""
    choice = fixed_threshold(0.85)
    assert choice == ThresholdChoice(
        threshold=0.85,
        method="fixed",
        explanation=(
            "The threshold 0.85 was set by the operator: pairs whose Dice "
            "similarity is at least this much are matches."
        ),
    )
    assert fixed_threshold(1).threshold == 1.0


@pytest.mark.parametrize("value", [0, 0.0, -0.2, 1.01, math.nan, math.inf])
def test_fixed_threshold_out_of_range(value: float) -> None:
    """A threshold outside (0, 1] is refused with the fix."""
    with pytest.raises(ValueError, match=r"greater than 0 and at most 1.*e\.g\. 0\.8"):
        fixed_threshold(value)


@pytest.mark.parametrize("value", [True, "0.8", None])
def test_fixed_threshold_not_a_number(value: object) -> None:
    """A threshold that is not a number is refused."""
    with pytest.raises(ValueError, match="threshold must be a number"):
        fixed_threshold(value)  # type: ignore[arg-type]
