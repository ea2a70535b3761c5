"""Tests for the one candidate-pairs type."""

from __future__ import annotations

import numpy as np

from linkage.matching.candidates import (
    ALL_PAIRS,
    CandidatePairs,
    candidate_limit_error,
)


def test_a_candidate_set_defaults_to_every_pair_compared() -> None:
    empty = np.zeros(0, dtype=np.int64)
    pairs = CandidatePairs(empty, empty, np.zeros(0))
    assert pairs.compared == 0 and pairs.blocking == ALL_PAIRS
    assert pairs.estimated_completeness == 1.0


def test_the_limit_error_names_the_limit_and_the_threshold() -> None:
    error = candidate_limit_error(1_000, 0.5)
    assert "1,000" in str(error) and "0.500" in str(error)
