"""The fit of the non-match pile, and the threshold where it ends."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from linkage.matching.non_matches import fit_non_matches
from linkage.matching.threshold import choose_threshold


def _diffused_like(
    non_matches: int, matches: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Best scores as diffusion makes them: each non-match is the best of
    2,000 unrelated scores (a tight pile near 0.555); most matches spread
    evenly from 0.575 to 1.0, the rest (records with no error) near 0.96."""
    rng = np.random.default_rng(seed)
    unrelated = rng.normal(0.5, 0.016, (non_matches, 2000)).max(axis=1)
    flat = rng.random(matches) < 0.7
    spread = np.where(
        flat, rng.uniform(0.575, 1.0, matches), rng.normal(0.96, 0.015, matches)
    )
    best = np.concatenate([unrelated, np.clip(spread, 0.0, 1.0)])
    return best, np.arange(len(best)) >= non_matches


def _f1(
    best: NDArray[np.float64], is_match: NDArray[np.bool_], threshold: float
) -> float:
    kept = best >= threshold
    found = int((kept & is_match).sum())
    return 2 * found / (int(kept.sum()) + int(is_match.sum()))


def test_a_gumbel_pile_is_recovered() -> None:
    rng = np.random.default_rng(1)
    pile = np.sort(rng.gumbel(0.53, 0.005, 5000))
    fit = fit_non_matches(pile, mode=0.53)
    assert fit is not None
    assert fit.location == pytest.approx(0.53, abs=0.002)
    assert fit.scale == pytest.approx(0.005, rel=0.15)
    assert fit.records == pytest.approx(5000, rel=0.1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_tight_pile_below_a_flat_run_of_matches_ends_the_non_matches(
    seed: int,
) -> None:
    """The valley's lowest point lies somewhere in the flat run; the pile's
    end keeps the matches above the pile, within a point of the best F1."""
    best, is_match = _diffused_like(3000, 2000, seed)
    choice = choose_threshold(best)
    assert choice.method == "non-match pile"
    assert choice.non_match_end == choice.threshold
    assert choice.valley_threshold is not None
    assert choice.threshold < choice.valley_threshold
    candidates = np.arange(0.5, 1.0, 0.002)
    oracle = max(_f1(best, is_match, t) for t in candidates)
    assert _f1(best, is_match, choice.threshold) >= oracle - 0.01
    assert _f1(best, is_match, choice.valley_threshold) < oracle - 0.01


def test_well_separated_groups_keep_the_valley() -> None:
    """A broad non-match group whose fitted end lies past the valley."""
    rng = np.random.default_rng(4)
    best = np.concatenate([rng.beta(60, 6, 5000), rng.beta(60, 40, 5000)])
    choice = choose_threshold(best)
    assert choice.method in ("valley", "mixture")
    assert choice.non_match_end is None


def test_a_second_model_gets_its_candidates_from_the_valley() -> None:
    """The probabilistic method re-scores whole-encoding candidates; it takes
    them from the valley, not from the pile's lower end."""
    best, _ = _diffused_like(3000, 2000, seed=0)
    choice = choose_threshold(best)
    assert choice.method == "non-match pile"
    assert choice.valley_or_threshold == choice.valley_threshold
    assert choice.valley_or_threshold > choice.threshold
    rng = np.random.default_rng(4)
    apart = np.concatenate([rng.beta(60, 6, 5000), rng.beta(60, 40, 5000)])
    valley = choose_threshold(apart, prefer_fit=False)
    assert valley.method == "valley"
    assert valley.valley_or_threshold == valley.threshold


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_too_thin_for_a_second_peak_still_end_the_pile(seed: int) -> None:
    """Diffusion of few fields: 6,000 non-matches in a tight pile and 400
    matches spread thinly above it (none without an error), too few to make
    a clear second peak. The threshold is where the pile ends, within two
    points of the best F1, not the plain CLKs' default of 0.8, which loses
    most matches; and the explanation says the groups are not clear."""
    unrelated, _ = _diffused_like(6000, 0, seed)
    spread = np.random.default_rng(seed).uniform(0.575, 0.9, 400)
    best = np.concatenate([unrelated, spread])
    is_match = np.arange(len(best)) >= len(unrelated)
    choice = choose_threshold(best)
    assert choice.method == "non-match pile"
    assert "do not form two clear groups" in choice.explanation
    assert "set the threshold yourself" in choice.explanation
    candidates = np.arange(0.5, 1.0, 0.002)
    oracle = max(_f1(best, is_match, t) for t in candidates)
    assert _f1(best, is_match, choice.threshold) >= oracle - 0.02
    assert _f1(best, is_match, 0.8) < oracle - 0.1
