"""The Dice kernels against a brute-force numpy reference."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.matching.candidates import CandidatePairs
from linkage.matching.clk.similarity import (
    best_scores,
    dice,
    exact_fraction,
    find_candidates,
    iter_candidates,
    popcounts,
)

Clks = npt.NDArray[np.uint8]
WIDTHS = (8, 16, 128, 127, 200, 512)  # 1, 2, 4 and 8 passes of 8 words

# The first example of a run may compile the kernels (when numba's cache is cold).
fast = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def reference_scores(left: Clks, right: Clks) -> npt.NDArray[np.float64]:
    """Every pair's Dice coefficient, the slow and obvious way."""
    common = np.bitwise_count(left[:, None, :] & right[None, :, :]).sum(
        axis=2, dtype=np.int64
    )
    total = popcounts(left)[:, None].astype(np.int64) + popcounts(right)[None, :]
    return np.divide(2 * common, total, out=np.zeros(common.shape), where=total > 0)


def reference_pairs(
    left: Clks, right: Clks | None, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs at or above the threshold, sorted by (left, right)."""
    scores = reference_scores(left, left if right is None else right)
    keep = scores >= threshold
    if right is None:
        keep &= np.triu(np.ones_like(keep), k=1)
    i, j = np.nonzero(keep)
    return i, j, scores[i, j]


def reference_best(
    left: Clks, right: Clks | None, floor: float = 0.0
) -> npt.NDArray[np.float64]:
    """Each left row's best score, 0.0 below the floor."""
    scores = reference_scores(left, left if right is None else right)
    if right is None:
        np.fill_diagonal(scores, -1.0)
    if scores.shape[1] == 0:
        return np.zeros(len(left))
    best = scores.max(axis=1)
    return np.where(best >= floor, best, 0.0)


def assert_same_pairs(found: CandidatePairs, expected: tuple[np.ndarray, ...]) -> None:
    """Same pairs (in any order) and exactly the same scores."""
    order = np.lexsort((found.right, found.left))
    np.testing.assert_array_equal(found.left[order], expected[0])
    np.testing.assert_array_equal(found.right[order], expected[1])
    np.testing.assert_array_equal(found.score[order], expected[2])


def random_clks(
    rng: np.random.Generator, rows: int, width: int, density: float = 0.3
) -> Clks:
    """Random CLKs with a density that varies per row around ``density``."""
    per_row = rng.uniform(density / 2, min(1.0, density * 1.5), size=(rows, 1))
    return np.packbits(rng.random((rows, width * 8)) < per_row, axis=1)


def noisy_copies(rng: np.random.Generator, clks: Clks, flip: float) -> Clks:
    """``clks`` with a fraction ``flip`` of their bits flipped."""
    bits = clks.shape[1] * 8
    return clks ^ np.packbits(rng.random((len(clks), bits)) < flip, axis=1)


@st.composite
def clk_pairs(draw: st.DrawFn) -> tuple[Clks, Clks]:
    """Two small sets of CLKs with duplicates, near-duplicates and empty CLKs."""
    width = draw(st.sampled_from(WIDTHS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.02, 0.1, 0.3, 0.5, 0.9]))
    left = random_clks(rng, draw(st.integers(0, 30)), width, density)
    right = random_clks(rng, draw(st.integers(0, 30)), width, density)
    shared = min(len(left), len(right), draw(st.integers(0, 10)))
    right[:shared] = noisy_copies(rng, left[:shared], draw(st.sampled_from([0, 0.02])))
    if len(left) and draw(st.booleans()):
        left[rng.integers(0, len(left), size=3)] = 0
    if len(right) and draw(st.booleans()):
        right[rng.integers(0, len(right), size=2)] = 0
    return left, right


def thresholds(pairs: tuple[Clks, Clks]) -> st.SearchStrategy[float]:
    """Any threshold, or one that some pair's score hits exactly."""
    scores = reference_scores(*pairs).ravel()
    exact = [float(s) for s in np.unique(scores) if s > 0]
    anything = st.floats(0.01, 1.0)
    return st.one_of(anything, st.sampled_from(exact)) if exact else anything


@fast
@given(data=st.data())
def test_candidates_match_reference(data: st.DataObject) -> None:
    """Linking finds exactly the reference pairs and scores."""
    left, right = data.draw(clk_pairs())
    threshold = data.draw(thresholds((left, right)))
    chunk = data.draw(st.integers(1, 40))
    found = find_candidates(left, right, threshold, chunk_rows=chunk, slot_capacity=2)
    assert_same_pairs(found, reference_pairs(left, right, threshold))
    assert 0 <= found.compared <= len(left) * len(right)


@fast
@given(data=st.data())
def test_dedup_matches_reference(data: st.DataObject) -> None:
    """Deduplication finds each pair i < j once, exactly as the reference."""
    left, right = data.draw(clk_pairs())
    clks = np.concatenate([left, right])
    threshold = data.draw(thresholds((clks, clks)))
    found = find_candidates(
        clks, None, threshold, chunk_rows=data.draw(st.integers(1, 70))
    )
    assert np.all(found.left < found.right)
    assert_same_pairs(found, reference_pairs(clks, None, threshold))


@fast
@given(data=st.data())
def test_best_scores_match_reference(data: st.DataObject) -> None:
    """Best scores equal the row maxima of the reference, with the floor applied."""
    left, right = data.draw(clk_pairs())
    floor = data.draw(st.one_of(st.just(0.0), thresholds((left, right))))
    np.testing.assert_array_equal(
        best_scores(left, right, floor=floor), reference_best(left, right, floor)
    )
    np.testing.assert_array_equal(
        best_scores(left, None, floor=floor), reference_best(left, None, floor)
    )


@fast
@given(
    threshold=st.floats(0.001, 1.0),
    bits=st.sampled_from([64, 512, 1024]),
)
def test_exact_fraction_agrees_with_float_scores(threshold: float, bits: int) -> None:
    """``2c·D >= T·s`` holds exactly when the float score ``2c/s`` reaches t."""
    numer, denom = exact_fraction(threshold, 2 * bits)
    sums = np.arange(1, 2 * bits + 1)[:, None]
    common = np.arange(0, bits + 1)[None, :]
    possible = 2 * common <= sums
    by_fraction = 2 * common * denom >= numer * sums
    by_float = (2 * common) / sums >= threshold
    assert np.array_equal(by_fraction & possible, by_float & possible)
    assert Fraction(numer, denom) <= 1


def test_pair_exactly_at_threshold_is_included() -> None:
    """A pair whose score equals the threshold is a candidate; just above, not."""
    a = np.array([[0b11111000]], dtype=np.uint8)  # 5 bits
    b = np.array([[0b11110100]], dtype=np.uint8)  # 5 bits, 4 in common: 0.8
    found = find_candidates(a, b, 0.8)
    assert found.score.tolist() == [0.8]
    assert len(find_candidates(a, b, float(np.nextafter(0.8, 1))).score) == 0
    assert best_scores(a, b, floor=0.8).tolist() == [0.8]


@pytest.mark.parametrize("width", WIDTHS)
def test_many_blocks_and_tiles(width: int) -> None:
    """Several tiles and right blocks, planted matches, link and dedup."""
    rng = np.random.default_rng(width)
    left = random_clks(rng, 150, width, 0.4)
    right = np.concatenate(
        [random_clks(rng, 600, width, 0.4), noisy_copies(rng, left[:90], 0.05)]
    )
    for threshold in (0.3, 0.6, 0.8):
        found = find_candidates(left, right, threshold, chunk_rows=70)
        assert_same_pairs(found, reference_pairs(left, right, threshold))
        found = find_candidates(right, None, threshold, chunk_rows=333)
        assert_same_pairs(found, reference_pairs(right, None, threshold))
    np.testing.assert_array_equal(best_scores(left, right), reference_best(left, right))
    np.testing.assert_array_equal(
        best_scores(right, None, floor=0.6), reference_best(right, None, 0.6)
    )


@pytest.mark.parametrize("capacity", [1, 2, 7, 64])
def test_overflowing_slots_are_recomputed_exactly(capacity: int) -> None:
    """Rows with far more candidates than their slot holds lose none of them."""
    rng = np.random.default_rng(capacity)
    base = random_clks(rng, 3, 128, 0.4)
    left = noisy_copies(rng, np.repeat(base, 40, axis=0), 0.01)
    right = noisy_copies(rng, np.repeat(base, 50, axis=0), 0.01)
    found = find_candidates(left, right, 0.7, chunk_rows=33, slot_capacity=capacity)
    assert len(found.score) > 40 * 50
    assert_same_pairs(found, reference_pairs(left, right, 0.7))
    found = find_candidates(right, None, 0.7, slot_capacity=capacity)
    assert_same_pairs(found, reference_pairs(right, None, 0.7))


def test_slot_exactly_full_is_not_an_overflow() -> None:
    """A row with exactly ``slot_capacity`` candidates keeps them all, once."""
    clk = np.full((1, 16), 0xF0, dtype=np.uint8)
    for copies in (3, 4, 5):
        found = find_candidates(
            clk, np.repeat(clk, copies, axis=0), 1.0, slot_capacity=4
        )
        assert found.right.tolist() == list(range(copies))


@pytest.mark.parametrize("chunk_rows", [1, 63, 64, 65, 99, 100, 101, 10_000])
def test_chunk_boundaries_change_nothing(chunk_rows: int) -> None:
    """Any chunk size gives the same pairs; progress counts rows done."""
    rng = np.random.default_rng(5)
    left = random_clks(rng, 100, 64, 0.3)
    right = np.concatenate([noisy_copies(rng, left, 0.05), random_clks(rng, 50, 64)])
    done: list[int] = []
    chunks = list(
        iter_candidates(left, right, 0.7, chunk_rows=chunk_rows, progress=done.append)
    )
    assert len(chunks) == -(-100 // chunk_rows)
    assert done == [min(100, chunk_rows * (k + 1)) for k in range(len(chunks))]
    for chunk in chunks:
        order = np.lexsort((chunk.right, chunk.left))
        assert np.array_equal(order, np.arange(len(order)))
    found = find_candidates(left, right, 0.7, chunk_rows=chunk_rows)
    assert_same_pairs(found, reference_pairs(left, right, 0.7))
    assert found.compared == sum(c.compared for c in chunks)


def test_popcount_window_prunes_pairs() -> None:
    """Pairs whose popcounts cannot reach the threshold are never compared."""
    rng = np.random.default_rng(3)
    sparse = random_clks(rng, 50, 128, 0.02)
    dense = random_clks(rng, 70, 128, 0.6)
    found = find_candidates(sparse, dense, 0.5)
    assert found.compared == 0
    assert len(found.score) == 0
    both = np.concatenate([sparse, dense])
    assert find_candidates(both, None, 0.5).compared < len(both) ** 2 // 2


def test_empty_clks_never_match() -> None:
    """Two empty CLKs score 0 and are no candidates; best score 0."""
    empty = np.zeros((3, 16), dtype=np.uint8)
    assert len(find_candidates(empty, empty, 0.01).score) == 0
    assert len(find_candidates(empty, None, 0.01).score) == 0
    assert best_scores(empty, empty).tolist() == [0.0, 0.0, 0.0]
    assert dice(empty, empty).tolist() == [0.0, 0.0, 0.0]


def test_empty_inputs() -> None:
    """No rows on either side gives no pairs and no work."""
    some = np.ones((4, 16), dtype=np.uint8)
    none = np.zeros((0, 16), dtype=np.uint8)
    for left, right in ((none, some), (some, none), (none, None)):
        found = find_candidates(left, right, 0.5)
        assert (len(found.left), len(found.right), found.compared) == (0, 0, 0)
        assert found.left.dtype == found.right.dtype == np.int64
    assert best_scores(some, none).tolist() == [0.0] * 4
    assert best_scores(some[:1], None).tolist() == [0.0]


def test_dice_and_popcounts_match_reference() -> None:
    """Row-wise Dice and popcounts agree with the reference."""
    rng = np.random.default_rng(9)
    a, b = random_clks(rng, 40, 127), random_clks(rng, 40, 127)
    np.testing.assert_array_equal(dice(a, b), np.diag(reference_scores(a, b)))
    expected = np.unpackbits(a, axis=1).sum(axis=1)
    np.testing.assert_array_equal(popcounts(a), expected)
    assert popcounts(a).dtype == np.int32


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.0000001, float("nan")])
def test_threshold_out_of_range_is_refused(threshold: float) -> None:
    """A threshold outside (0, 1] raises ValueError, before any iteration."""
    clks = np.zeros((2, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="'threshold' must be in"):
        iter_candidates(clks, clks, threshold)


def test_bad_inputs_are_refused() -> None:
    """Different widths, wrong shapes or dtypes, bad sizes and floors raise."""
    a = np.zeros((2, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="same width"):
        find_candidates(a, np.zeros((2, 17), dtype=np.uint8), 0.5)
    with pytest.raises(ValueError, match="same width"):
        best_scores(a, np.zeros((2, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="two-dimensional"):
        find_candidates(np.zeros(16, dtype=np.uint8), None, 0.5)
    with pytest.raises(TypeError, match="uint8"):
        find_candidates(a.astype(np.int64), None, 0.5)
    with pytest.raises(ValueError, match="'chunk_rows'"):
        find_candidates(a, None, 0.5, chunk_rows=0)
    with pytest.raises(ValueError, match="'slot_capacity'"):
        find_candidates(a, None, 0.5, slot_capacity=0)
    with pytest.raises(ValueError, match="'floor'"):
        best_scores(a, None, floor=1.5)
    with pytest.raises(ValueError, match="same shape"):
        dice(a, a[:1])


def test_import_compiles_nothing() -> None:
    """Importing the module compiles no kernel: that waits for the first call."""
    code = (
        "import linkage.matching.clk.similarity as s; "
        "assert not s._candidates_kernel.signatures; "
        "assert not s._best_kernel.signatures"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
