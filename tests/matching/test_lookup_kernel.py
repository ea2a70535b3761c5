"""ClkIndex finds each query's best record exactly as the run's kernel scores it."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.matching.clk.similarity import dice, find_candidates
from linkage.matching.lookup import ClkIndex


def _noisy(rng: np.random.Generator, clks: np.ndarray, share: float) -> np.ndarray:
    flips = np.packbits(rng.random((len(clks), clks.shape[1] * 8)) < share, axis=1)
    return clks ^ flips


@pytest.mark.parametrize("threshold", [0.6, 0.8, 0.95])
def test_best_is_the_highest_candidate_of_the_all_pairs_kernel(
    threshold: float,
) -> None:
    """For every query, the row and score are those of its best candidate
    from find_candidates (the run's kernel), or -1 where it has none."""
    rng = np.random.default_rng(3)
    clks = np.packbits(rng.random((800, 256)) < 0.3, axis=1)
    queries = np.concatenate(
        [_noisy(rng, clks[:40], 0.05), np.packbits(rng.random((10, 256)) < 0.3, axis=1)]
    )
    found = ClkIndex(clks).best(queries, threshold)
    pairs = find_candidates(queries, clks, threshold)
    for query in range(len(queries)):
        mine = pairs.left == query
        if not mine.any():
            assert found.rows[query] == -1 and found.scores[query] == 0.0
            continue
        best = pairs.score[mine].max()
        assert found.scores[query] == best
        assert dice(queries[[query]], clks[[found.rows[query]]])[0] == best


def test_a_score_exactly_at_the_threshold_matches_and_ties_take_the_first() -> None:
    """Dice 0.5 at threshold 0.5 is a match; of two equal rows the first wins."""
    clks = np.array([[0b0000_0011], [0b0000_0011], [0b1111_0000]], dtype=np.uint8)
    query = np.array([[0b0000_0001]], dtype=np.uint8)  # Dice 2/3 with rows 0, 1.
    found = ClkIndex(clks).best(query, 2 / 3)
    assert found.rows.tolist() == [0]
    half = np.array([[0b0000_0110]], dtype=np.uint8)  # Dice 0.5 with rows 0, 1.
    assert ClkIndex(clks).best(half, 0.5).rows.tolist() == [0]


def test_an_empty_query_matches_nothing_and_bad_input_is_named() -> None:
    """An all-zero CLK scores 0; a wrong width or threshold is a ValueError."""
    index = ClkIndex(np.ones((3, 4), dtype=np.uint8))
    assert index.best(np.zeros((1, 4), dtype=np.uint8), 0.1).rows.tolist() == [-1]
    with pytest.raises(ValueError, match="4-byte"):
        index.best(np.zeros((1, 5), dtype=np.uint8), 0.5)
    with pytest.raises(ValueError, match="threshold"):
        index.best(np.zeros((1, 4), dtype=np.uint8), 0.0)
    with pytest.raises(TypeError):
        ClkIndex(np.ones((3, 4), dtype=np.int64))  # type: ignore[arg-type]
