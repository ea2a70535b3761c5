"""Dice similarity of CLKs: every pair at or above a threshold, fast and bounded.

CLKs are packed Bloom filters, one row of bytes each (``(n, 128)`` uint8 for
1024 bits). ``Dice(a, b) = 2|a AND b| / (|a| + |b|)``, and 0 when both are
empty. Three ideas make the all-pairs search fast:

* **Popcount pruning.** ``Dice(a, b) >= t`` needs
  ``t|a|/(2-t) <= |b| <= (2-t)|a|/t``, so the right side is sorted by
  popcount once and each left row is compared only with the right rows in
  its window (found by binary search). Pairs outside it are never compared.
* **Vectorised popcounts.** The right side is stored word-major (one row per
  64-bit word, one column per CLK), so the compiled inner loop runs over a
  block of right rows and LLVM emits ``vpopcntq`` on AVX-512 machines
  (eight rows per instruction).
* **Blocking.** Four left rows share each load of the right side (register
  blocking), and 64 left rows go over the same 256 right rows while they sit
  in the L1 cache (cache blocking). The threshold test runs in the same loop
  as the last popcounts, so a block without a candidate costs no more.

Memory stays bounded: the left side is processed in chunks of rows, and in a
chunk each row writes its candidates into a fixed-capacity slot. A row that
overflows its slot keeps counting, then is run again with a slot of exactly
the size it needs, so the result is exact for any threshold.

**Scores and the threshold.** A pair's score is ``2c / (|a| + |b|)``
computed in float64 from the integer counts, and a pair is a candidate when
that score is ``>= threshold``: a pair exactly at the threshold is included.
The kernels decide this in integer arithmetic, as ``2c·D >= T·(|a| + |b|)``
with a fraction ``T/D`` chosen so that the two tests agree for every possible
pair of popcounts (see :func:`exact_fraction`).

The kernels are compiled on first use (and cached on disk by numba), so
importing this module is cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numba
import numpy as np
import numpy.typing as npt
from numba import njit, prange

import linkage.jit  # noqa: F401  (numba without its BLAS probe)
from linkage.matching.candidates import (
    CandidatePairs,
    Clks,
    Indices,
    Scores,
    candidate_limit_error,
)
from linkage.popcount import popcount64

#: Candidates each left row may hold before it is run again with an exact slot.
DEFAULT_SLOT_CAPACITY = 64
_LANE_WORDS = 8  # Words per pass of the inner loop; rows are padded to this.
_GROUP = 4  # Left rows per pass over a block (register blocking); even.
_BLOCK = 256  # Right rows per block: 32 KB at 1024 bits, so it stays in L1.
_TILE = 64  # Left rows that go over each block in turn (cache blocking).
_BEST_CHUNK = 8192  # Left rows per call of the best-score kernel.
_NEVER = 2**60  # A need no pair can meet: rows with an empty CLK match nothing.


# --- Public API --------------------------------------------------------------


def popcounts(clks: Clks) -> npt.NDArray[np.int32]:
    """The number of bits set in each CLK.

    Raises:
        TypeError: ``clks`` is not a uint8 array.
        ValueError: ``clks`` is not two-dimensional.
    """
    clks = _check_clks("clks", clks)
    counts: npt.NDArray[np.int32] = np.bitwise_count(clks).sum(axis=1, dtype=np.int32)
    return counts


def dice(a: Clks, b: Clks) -> Scores:
    """Row-wise Dice coefficients of two equally shaped arrays of CLKs.

    Example:
        >>> a = np.array([[0b1100], [0]], dtype=np.uint8)
        >>> b = np.array([[0b0110], [0]], dtype=np.uint8)
        >>> dice(a, b).tolist()
        [0.5, 0.0]

    Raises:
        TypeError: an input is not a uint8 array.
        ValueError: the inputs are not two-dimensional or differ in shape.
    """
    a = _check_clks("a", a)
    b = _check_clks("b", b)
    if a.shape != b.shape:
        raise ValueError(
            f"'a' and 'b' must have the same shape (got {a.shape} and {b.shape})"
        )
    common = np.bitwise_count(a & b).sum(axis=1, dtype=np.int64)
    total = popcounts(a).astype(np.int64) + popcounts(b)
    scores: Scores = np.divide(2 * common, total, out=np.zeros(len(a)), where=total > 0)
    return scores


def iter_candidates(
    left: Clks,
    right: Clks | None,
    threshold: float,
    *,
    chunk_rows: int = 8192,
    progress: Callable[[int], None] | None = None,
    slot_capacity: int = DEFAULT_SLOT_CAPACITY,
    limit: int | None = None,
) -> Iterator[CandidatePairs]:
    """Every pair of CLKs whose Dice coefficient is at least ``threshold``.

    Chunks come in the order of the left rows, one per ``chunk_rows`` rows;
    within a chunk, pairs are sorted by left, then right index. Memory is
    bounded by the chunk size, whatever the threshold.

    Args:
        left: CLKs, one packed row each.
        right: CLKs of the same width, or ``None`` to deduplicate ``left``:
            then each pair ``(i, j)`` comes once, with ``i < j``, in the chunk
            of whichever of the two rows has the lower popcount.
        threshold: the least Dice coefficient of a candidate, in (0, 1]; a
            pair whose float64 score equals it is a candidate.
        chunk_rows: left rows per chunk.
        progress: called after each chunk with the number of left rows done
            so far.
        slot_capacity: candidates a left row holds before it is run again
            with an exact slot (a tuning knob; results do not depend on it).
        limit: the most candidates to yield in all; more raise
            :class:`~linkage.errors.InputError` as soon as a chunk's count
            shows it, before they are held in memory.

    Example:
        >>> clks = np.array([[0b1111], [0b1110], [0b0001]], dtype=np.uint8)
        >>> found = find_candidates(clks, None, 0.8)
        >>> found.left.tolist(), found.right.tolist(), found.score.tolist()
        ([0], [1], [0.8571428571428571])

    Raises:
        TypeError: an input is not a uint8 array.
        ValueError: an input is not two-dimensional, the widths differ, the
            threshold is not in (0, 1], or a size is not positive.
    """
    left, right = _check_pair(left, right)
    _check_threshold("threshold", threshold, low_open=True)
    _check_positive("chunk_rows", chunk_rows)
    _check_positive("slot_capacity", slot_capacity)
    chunks = _iter_candidates(
        left, right, threshold, chunk_rows, progress, slot_capacity, limit
    )
    return chunks


def find_candidates(
    left: Clks,
    right: Clks | None,
    threshold: float,
    *,
    chunk_rows: int = 8192,
    progress: Callable[[int], None] | None = None,
    slot_capacity: int = DEFAULT_SLOT_CAPACITY,
) -> CandidatePairs:
    """All of :func:`iter_candidates`' chunks in one (same arguments)."""
    chunks = list(
        iter_candidates(
            left,
            right,
            threshold,
            chunk_rows=chunk_rows,
            progress=progress,
            slot_capacity=slot_capacity,
        )
    )
    if not chunks:
        return CandidatePairs(_no_indices(), _no_indices(), np.zeros(0), 0)
    return CandidatePairs(
        np.concatenate([c.left for c in chunks]),
        np.concatenate([c.right for c in chunks]),
        np.concatenate([c.score for c in chunks]),
        sum(c.compared for c in chunks),
    )


def best_scores(left: Clks, right: Clks | None, *, floor: float = 0.0) -> Scores:
    """Each left row's highest Dice coefficient with any right row.

    With ``right=None``, the highest with any other left row. A row whose best
    is below ``floor`` gets 0.0: a higher floor prunes more pairs, so set it
    as high as the scores of interest allow.

    Example:
        >>> clks = np.array([[0b1111], [0b1110], [0b0001]], dtype=np.uint8)
        >>> best_scores(clks, None).round(3).tolist()
        [0.857, 0.857, 0.4]

    Raises:
        TypeError: an input is not a uint8 array.
        ValueError: an input is not two-dimensional, the widths differ, or
            ``floor`` is not in [0, 1].
    """
    left, right = _check_pair(left, right)
    _check_threshold("floor", floor, low_open=False)
    side = _RightSide.build(left if right is None else right, dedup=right is None)
    result = np.zeros(len(left))
    pops = popcounts(left).astype(np.int64)
    if floor > 0:
        num, den = exact_fraction(floor, 2 * side.bits)
    else:
        num, den = 0, 1
    for first in range(0, len(left), _BEST_CHUNK):
        rows = np.arange(first, min(first + _BEST_CHUNK, len(left)))
        rows = rows[np.argsort(pops[rows], kind="stable")]
        result[rows] = _best_chunk(left, rows, pops[rows], side, num, den)
    return result


# --- Preparation ---------------------------------------------------------------


@dataclass(frozen=True)
class _RightSide:
    """The right side sorted by popcount, word-major, ready for the kernels."""

    order: Indices  # sorted position -> row index
    pops: Indices  # popcount at each sorted position
    words: npt.NDArray[np.uint64]  # (words per CLK, rows), word-major
    position: Indices | None  # row index -> sorted position, when deduplicating

    @property
    def bits(self) -> int:
        """Bits per CLK after padding."""
        return int(self.words.shape[0]) * 64

    @classmethod
    def build(cls, clks: Clks, *, dedup: bool) -> _RightSide:
        """Sort ``clks`` by popcount and store them word-major."""
        pops = popcounts(clks).astype(np.int64)
        order = np.argsort(pops, kind="stable").astype(np.int64)
        words = np.ascontiguousarray(to_words(clks[order]).T)
        position = None
        if dedup:
            position = np.empty_like(order)
            position[order] = np.arange(len(order))
        return cls(order, pops[order], words, position)

    def windows(self, pops: Indices, num: int, den: int) -> tuple[Indices, Indices]:
        """The sorted positions ``[lo, hi)`` that can reach Dice ``num/den``."""
        if num == 0:
            lo = np.zeros(len(pops), dtype=np.int64)
            hi = np.full(len(pops), len(self.pops), dtype=np.int64)
            return lo, hi
        least = -(-num * pops // (2 * den - num))
        most = (2 * den - num) * pops // num
        lo = np.searchsorted(self.pops, least, side="left").astype(np.int64)
        hi = np.searchsorted(self.pops, most, side="right").astype(np.int64)
        return lo, hi


def to_words(clks: Clks, pad_rows: int = 0) -> npt.NDArray[np.uint64]:
    """CLKs as uint64 words, zero-padded to whole passes of the inner loop."""
    rows, width = clks.shape
    words = max(-(-width // (8 * _LANE_WORDS)), 1) * _LANE_WORDS
    padded = np.zeros((rows + pad_rows, words * 8), dtype=np.uint8)
    padded[:rows, :width] = clks
    return padded.view(np.uint64)


@functools.lru_cache(maxsize=64)
def exact_fraction(threshold: float, max_sum: int) -> tuple[int, int]:
    """A fraction ``T/D`` that decides ``float(2c / s) >= threshold`` exactly.

    For every popcount sum ``0 < s <= max_sum`` and common count ``c``,
    ``2c·D >= T·s`` holds exactly when the float64 score ``2c / s`` is
    ``>= threshold``. Such a fraction exists because the scores that pass
    form an upper set: with ``need[s]`` the least passing ``c`` for each
    ``s``, ``T/D = min(2·need[s] / s)`` lies above every failing score.
    """
    sums = np.arange(1, max_sum + 1, dtype=np.int64)
    need = np.ceil(threshold * sums / 2).astype(np.int64)
    # The estimate may be one off either way where float64 rounds.
    while np.any(lower := (2 * (need - 1)) / sums >= threshold):
        need -= lower
    while np.any(higher := (2 * need) / sums < threshold):
        need += higher
    ratios = 2 * need / sums
    near = np.flatnonzero(ratios <= ratios.min() + 1e-9)
    best = min(Fraction(2 * int(need[k]), int(sums[k])) for k in near)
    return best.numerator, best.denominator


# --- Candidates -------------------------------------------------------------------


def _iter_candidates(
    left: Clks,
    right: Clks | None,
    threshold: float,
    chunk_rows: int,
    progress: Callable[[int], None] | None,
    capacity: int,
    limit: int | None,
) -> Iterator[CandidatePairs]:
    side = _RightSide.build(left if right is None else right, dedup=right is None)
    pops = popcounts(left).astype(np.int64)
    fraction = exact_fraction(threshold, 2 * side.bits)
    left_over = limit
    for first in range(0, len(left), chunk_rows):
        rows = np.arange(first, min(first + chunk_rows, len(left)), dtype=np.int64)
        chunk = _chunk_candidates(left, rows, pops, side, fraction, capacity, left_over)
        if left_over is not None:
            left_over -= len(chunk.score)
        if progress is not None:
            progress(int(rows[-1]) + 1)
        yield chunk


def _chunk_candidates(
    left: Clks,
    rows: Indices,
    pops: Indices,
    side: _RightSide,
    fraction: tuple[int, int],
    capacity: int,
    limit: int | None,
) -> CandidatePairs:
    """Candidates of one chunk of left rows, sorted by (left, right).

    Raises:
        InputError: the chunk alone has more than ``limit`` candidates.
    """
    numer, denom = fraction
    # Rows in popcount order have nearly the same windows, so blocks share them.
    key = pops[rows] if side.position is None else side.position[rows]
    rows = rows[np.argsort(key, kind="stable")]
    row_pops = pops[rows]
    lo, hi = side.windows(row_pops, numer, denom)
    after = np.full(len(rows), -1, dtype=np.int64)
    if side.position is not None:
        # Each pair once: from the row that comes first in popcount order.
        after = side.position[rows]
        lo = np.maximum(lo, after + 1)
    job = _Job(
        words=to_words(left[rows], pad_rows=_GROUP),
        need=np.where(row_pops > 0, numer * row_pops, _NEVER),
        lo=lo,
        hi=hi,
        after=after,
        side=side,
        numer=numer,
        denom=denom,
    )
    try:
        found, common, compared = job.run(capacity, limit)
    except _CandidateLimit:
        raise candidate_limit_error(limit or 0, numer / denom) from None
    left_rows = rows[found[0]]
    right_rows = side.order[found[1]]
    score = 2 * common / (row_pops[found[0]] + side.pops[found[1]])
    if side.position is not None:
        left_rows, right_rows = (
            np.minimum(left_rows, right_rows),
            np.maximum(left_rows, right_rows),
        )
    order = np.lexsort((right_rows, left_rows))
    return CandidatePairs(left_rows[order], right_rows[order], score[order], compared)


class _CandidateLimit(Exception):
    """A chunk counted more candidates than it may hold."""


@dataclass(frozen=True)
class _Job:
    """Kernel inputs for one chunk of left rows, in popcount order."""

    words: npt.NDArray[np.uint64]
    need: Indices
    lo: Indices
    hi: Indices
    after: Indices
    side: _RightSide
    numer: int
    denom: int

    def run(
        self, capacity: int, limit: int | None = None
    ) -> tuple[tuple[Indices, Indices], Indices, int]:
        """Run the kernel, then once more for rows that overflowed their slot.

        Returns ``((row positions, sorted right positions), common, compared)``.

        Raises:
            InputError: more than ``limit`` candidates, found from the first
                run's counts, before memory is taken for them.
        """
        count = len(self.lo)
        slots = np.full(count, capacity, dtype=np.int64)
        offsets = np.arange(count, dtype=np.int64) * capacity
        hits, common, totals, compared = self._kernel(slots, offsets)
        if limit is not None and int(totals.sum()) > limit:
            raise _CandidateLimit
        kept = np.arange(capacity)[None, :] < np.minimum(totals, capacity)[:, None]
        over = np.flatnonzero(totals > capacity)
        kept[over] = False
        row_of, slot_of = np.nonzero(kept.reshape(count, capacity))
        where = row_of * capacity + slot_of
        rows, right, counts = [row_of], [hits[where]], [common[where]]
        if len(over):
            retry = self._subset(over)
            exact = totals[over]
            ends = np.cumsum(exact)
            again = retry._kernel(exact, ends - exact)
            rows.append(np.repeat(over, exact))
            right.append(again[0])
            counts.append(again[1])
        return (
            (np.concatenate(rows), np.concatenate(right).astype(np.int64)),
            np.concatenate(counts).astype(np.int64),
            compared,
        )

    def _subset(self, rows: Indices) -> _Job:
        """The same job for some of its rows only."""
        padded = np.concatenate([rows, np.full(_GROUP, len(self.lo), dtype=np.int64)])
        return _Job(
            words=self.words[padded],
            need=self.need[rows],
            lo=self.lo[rows],
            hi=self.hi[rows],
            after=self.after[rows],
            side=self.side,
            numer=self.numer,
            denom=self.denom,
        )

    def _kernel(
        self, slots: Indices, offsets: Indices
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], Indices, int]:
        """Right positions, common counts and totals per row, pairs compared."""
        size = int(slots.sum())
        hits = np.empty(size, dtype=np.int32)
        common = np.empty(size, dtype=np.int32)
        totals = np.zeros(len(self.lo), dtype=np.int64)
        lo, hi = _normalised(self.lo, self.hi, len(self.side.pops))
        compared = _candidates_kernel(
            self.words,
            lo,
            hi,
            self.side.words,
            self.need,
            self.numer * self.side.pops,
            2 * self.denom,
            self.after,
            hits,
            common,
            offsets,
            slots,
            totals,
            numba.get_num_threads(),
        )
        return hits, common, totals, int(compared)


def _normalised(lo: Indices, hi: Indices, size: int) -> tuple[Indices, Indices]:
    """Empty windows as ``[size, 0)``, so they never widen a block's union."""
    empty = lo >= hi
    return np.where(empty, size, lo), np.where(empty, 0, hi)


# --- Best scores -------------------------------------------------------------------


def _best_chunk(
    left: Clks, rows: Indices, pops: Indices, side: _RightSide, num: int, den: int
) -> Scores:
    """Best scores of some left rows, given in popcount order."""
    lo, hi = side.windows(pops, num, den)
    nums = np.full(len(rows), num, dtype=np.int64)
    dens = np.full(len(rows), den, dtype=np.int64)
    strict = np.zeros(len(rows), dtype=np.int64)
    # An empty CLK scores 0 with anything: ask for more than Dice 1 of it.
    empty = pops == 0
    nums[empty], dens[empty], strict[empty] = 1, 1, 1
    lo, hi = _normalised(np.where(empty, 0, lo), np.where(empty, 0, hi), len(side.pops))
    skip = np.full(len(rows), -1, dtype=np.int64)
    if side.position is not None:
        skip = side.position[rows]
    found = np.zeros(len(rows), dtype=np.bool_)
    words = to_words(left[rows], pad_rows=_GROUP)
    _best_kernel(
        words,
        lo,
        hi,
        side.words,
        pops,
        side.pops,
        skip,
        nums,
        dens,
        strict,
        found,
        numba.get_num_threads(),
    )
    return np.where(found, nums / dens, 0.0)


# --- Checks ------------------------------------------------------------------------


def _check_clks(name: str, clks: Clks) -> Clks:
    clks = np.asarray(clks)
    if clks.dtype != np.uint8:
        raise TypeError(f"'{name}' must be an array of uint8 (got {clks.dtype})")
    if clks.ndim != 2:
        raise ValueError(
            f"'{name}' must be two-dimensional, a CLK per row (got shape {clks.shape})"
        )
    return np.ascontiguousarray(clks)


def _check_pair(left: Clks, right: Clks | None) -> tuple[Clks, Clks | None]:
    left = _check_clks("left", left)
    if right is None:
        return left, None
    right = _check_clks("right", right)
    if left.shape[1] != right.shape[1]:
        raise ValueError(
            "'left' and 'right' must have the same width in bytes "
            f"(got {left.shape[1]} and {right.shape[1]})"
        )
    return left, right


def _check_threshold(name: str, value: float, *, low_open: bool) -> None:
    ok = 0 < value <= 1 if low_open else 0 <= value <= 1
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"'{name}' must be in {interval} (got {value!r})")


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"'{name}' must be a positive integer (got {value!r})")


def _no_indices() -> Indices:
    return np.zeros(0, dtype=np.int64)


# --- Compiled kernels ------------------------------------------------------------
# numba ignores the annotations; mypy reads them.

Words = npt.NDArray[np.uint64]
Counts = npt.NDArray[np.uint64]


@njit(inline="always")
def _common_one(a: tuple[int, ...], right: Words, word: int, j: np.uint64) -> int:
    """Common bits of one left row's eight words ``a`` with column ``j``."""
    return (  # type: ignore[no-any-return]
        popcount64(a[0] & right[word, j])
        + popcount64(a[1] & right[word + 1, j])
        + popcount64(a[2] & right[word + 2, j])
        + popcount64(a[3] & right[word + 3, j])
        + popcount64(a[4] & right[word + 4, j])
        + popcount64(a[5] & right[word + 5, j])
        + popcount64(a[6] & right[word + 6, j])
        + popcount64(a[7] & right[word + 7, j])
    )


@njit(inline="always")
def _common8(
    a: tuple[int, ...], b: tuple[int, ...], right: Words, word: int, j: np.uint64
) -> tuple[int, int]:
    """Common bits of two left rows' eight words ``a`` and ``b`` with column
    ``j`` (the compiler loads the column's words once for both)."""
    return _common_one(a, right, word, j), _common_one(b, right, word, j)


@njit(inline="always")
def _eight(words: Words, row: int, word: int) -> tuple[int, ...]:
    """Words ``word`` to ``word + 7`` of left row ``row``, to keep in registers."""
    return (
        words[row, word],
        words[row, word + 1],
        words[row, word + 2],
        words[row, word + 3],
        words[row, word + 4],
        words[row, word + 5],
        words[row, word + 6],
        words[row, word + 7],
    )


@njit(inline="always")
def _count_pass(
    acc: Counts,
    slot: int,
    words: Words,
    row: int,
    right: Words,
    word: int,
    start: int,
    count: int,
    fresh: bool,
) -> None:
    """``acc[slot:slot+2] +=`` two rows' common bits in 8 words (``=`` if
    ``fresh``: a constant once inlined, so the first pass reads nothing)."""
    a, b = _eight(words, row, word), _eight(words, row + 1, word)
    for k in range(count):
        # Unsigned indices skip the negative-index wraparound, which would
        # otherwise turn the loads into gathers.
        j, kk = np.uint64(start + k), np.uint64(k)
        first, second = _common8(a, b, right, word, j)
        if fresh:
            acc[slot, kk] = first
            acc[slot + 1, kk] = second
        else:
            acc[slot, kk] += first
            acc[slot + 1, kk] += second


@njit(inline="always")
def _count_last_pass(
    acc: Counts,
    slot: int,
    words: Words,
    row: int,
    right: Words,
    word: int,
    start: int,
    count: int,
    fresh: bool,
    test: Indices,
    against: Indices,
    weighted: bool,
) -> tuple[np.int64, np.int64]:
    """Each row's ``max(c·scale - base - weight·against)`` over the block, with
    ``c`` the counts so far (none if ``fresh``) and the last eight words.

    ``test[:, r]`` is row ``r``'s ``(scale, base, weight)``; a margin of 0 or
    more means some pair in the block passes the row's test. The counts are
    not stored: few blocks pass, and :func:`_complete` counts those again.
    Without ``weighted`` every weight is 1 and the loop has one
    multiplication less (``fresh`` and ``weighted`` are constants once
    inlined, so the compiler drops the other branches).
    """
    a, b = _eight(words, row, word), _eight(words, row + 1, word)
    scale0, base0, weight0 = test[0, slot], test[1, slot], test[2, slot]
    scale1, base1, weight1 = test[0, slot + 1], test[1, slot + 1], test[2, slot + 1]
    margin0, margin1 = np.int64(-1), np.int64(-1)
    for k in range(count):
        j, kk = np.uint64(start + k), np.uint64(k)
        first, second = _common8(a, b, right, word, j)
        if not fresh:
            first += acc[slot, kk]
            second += acc[slot + 1, kk]
        value = against[j]
        if weighted:
            margin0 = max(margin0, np.int64(first) * scale0 - base0 - weight0 * value)
            margin1 = max(margin1, np.int64(second) * scale1 - base1 - weight1 * value)
        else:
            margin0 = max(margin0, np.int64(first) * scale0 - base0 - value)
            margin1 = max(margin1, np.int64(second) * scale1 - base1 - value)
    return margin0, margin1


@njit(inline="always")
def _complete(
    acc: Counts,
    slot: int,
    words: Words,
    row: int,
    right: Words,
    start: int,
    count: int,
) -> None:
    """``acc[slot]``: the whole common counts of one row whose block passed
    its test (the last pass counted its words without storing them)."""
    passes = right.shape[0] // _LANE_WORDS
    word = (passes - 1) * _LANE_WORDS
    a = _eight(words, row, word)
    for k in range(count):
        j, kk = np.uint64(start + k), np.uint64(k)
        if passes == 1:
            acc[slot, kk] = _common_one(a, right, word, j)
        else:
            acc[slot, kk] += _common_one(a, right, word, j)


@njit(inline="always")
def _count_group(
    acc: Counts,
    words: Words,
    row: int,
    right: Words,
    start: int,
    count: int,
    test: Indices,
    against: Indices,
    margins: Indices,
    weighted: bool,
) -> None:
    """``margins[r]``: whether left row ``row + r`` has a passing pair among
    right ``start`` to ``start + count`` (0 or more: yes).

    ``acc[r, k]`` holds the common bits of all words but the last eight; the
    last pass computes the margins from them without storing its own counts
    (see :func:`_count_last_pass`), so blocks without a passing pair cost
    nothing more, and :func:`_complete` finishes the rows that pass.
    """
    passes = right.shape[0] // _LANE_WORDS
    if passes > 1:
        for slot in range(0, _GROUP, 2):
            _count_pass(acc, slot, words, row + slot, right, 0, start, count, True)
    for done in range(1, passes - 1):
        for slot in range(0, _GROUP, 2):
            word = done * _LANE_WORDS
            _count_pass(acc, slot, words, row + slot, right, word, start, count, False)
    word = (passes - 1) * _LANE_WORDS
    for slot in range(0, _GROUP, 2):
        if passes == 1:
            margins[slot], margins[slot + 1] = _count_last_pass(
                acc, slot, words, row + slot, right, word, start, count, True,
                test, against, weighted,
            )  # fmt: skip
        else:
            margins[slot], margins[slot + 1] = _count_last_pass(
                acc, slot, words, row + slot, right, word, start, count, False,
                test, against, weighted,
            )  # fmt: skip


@njit(inline="always")
def _span(lo: Indices, hi: Indices, first: int, stop: int) -> tuple[int, int]:
    """The union of the windows of rows ``first`` to ``stop - 1``."""
    low, high = lo[first], hi[first]
    for row in range(first + 1, stop):
        low = min(low, lo[np.uint64(row)])
        high = max(high, hi[np.uint64(row)])
    return low, high


@njit(parallel=True, fastmath=True, cache=True)
def _candidates_kernel(
    words: Words,
    lo: Indices,
    hi: Indices,
    right: Words,
    need: Indices,
    right_need: Indices,
    twice_denom: int,
    after: Indices,
    hits: npt.NDArray[np.int32],
    common: npt.NDArray[np.int32],
    offsets: Indices,
    slots: Indices,
    totals: Indices,
    threads: int,
) -> int:
    """Find every pair with ``2c·D >= need[row] + right_need[q]``.

    ``words`` are the left rows in popcount order (padded by ``_GROUP`` zero
    rows), ``[lo, hi)`` their windows of sorted right positions and
    ``right`` the right side, word-major. A pair also needs
    ``q > after[row]``. Row ``row`` writes its ``k``-th right position and
    common count at ``offsets[row] + k`` of ``hits`` and ``common`` while
    ``k < slots[row]``, and its count into ``totals[row]``. The rows are
    shared among ``threads`` tasks. Returns the number of pairs compared.
    """
    rows = len(lo)
    tiles = (rows + _TILE - 1) // _TILE
    tasks = max(min(threads, tiles), 1)
    compared = np.zeros(tasks, dtype=np.int64)
    for task in prange(tasks):
        acc = np.empty((_GROUP, _BLOCK), dtype=np.uint64)
        test = np.ones((3, _GROUP), dtype=np.int64)
        test[0] = twice_denom
        margins = np.empty(_GROUP, dtype=np.int64)
        done = 0
        # Strided tiles: neighbours in popcount order cost about the same.
        for tile in range(task, tiles, tasks):
            first = tile * _TILE
            stop = min(first + _TILE, rows)
            tile_lo, tile_hi = _span(lo, hi, first, stop)
            for block in range(tile_lo, tile_hi, _BLOCK):
                block_end = min(block + _BLOCK, tile_hi)
                for row in range(first, stop, _GROUP):
                    group_end = min(row + _GROUP, stop)
                    start, end = _span(lo, hi, row, group_end)
                    start, end = max(start, block), min(end, block_end)
                    if start >= end:
                        continue
                    done += (group_end - row) * (end - start)
                    for slot in range(group_end - row):
                        test[1, slot] = need[row + slot]
                    _count_group(
                        acc, words, row, right, start, end - start, test,
                        right_need, margins, False,
                    )  # fmt: skip
                    for slot in range(group_end - row):
                        if margins[slot] >= 0:
                            _complete(
                                acc, slot, words, row + slot, right, start,
                                end - start,
                            )  # fmt: skip
                            _emit(
                                acc[slot], row + slot, start, end, need, right_need,
                                twice_denom, after, hits, common, offsets, slots,
                                totals,
                            )  # fmt: skip
        compared[task] = done
    return compared.sum()  # type: ignore[no-any-return]


@njit(inline="always")
def _emit(
    counts: Counts,
    row: int,
    start: int,
    end: int,
    need: Indices,
    right_need: Indices,
    twice_denom: int,
    after: Indices,
    hits: npt.NDArray[np.int32],
    common: npt.NDArray[np.int32],
    offsets: Indices,
    slots: Indices,
    totals: Indices,
) -> None:
    """Write the row's pairs in ``[start, end)`` that reach the threshold."""
    total = totals[row]
    for q in range(max(start, after[row] + 1), end):
        shared = np.int64(counts[q - start])
        if shared * twice_denom >= need[row] + right_need[q]:
            if total < slots[row]:
                hits[offsets[row] + total] = q
                common[offsets[row] + total] = shared
            total += 1
    totals[row] = total


@njit(parallel=True, fastmath=True, cache=True)
def _best_kernel(
    words: Words,
    lo: Indices,
    hi: Indices,
    right: Words,
    left_pops: Indices,
    right_pops: Indices,
    skip: Indices,
    nums: Indices,
    dens: Indices,
    strict: Indices,
    found: npt.NDArray[np.bool_],
    threads: int,
) -> None:
    """Raise each row's best Dice ``nums/dens`` over its shrinking window.

    A row is never paired with right position ``skip[row]`` (itself, when
    deduplicating). A pair improves on the row's best when
    ``2c·den >= num·s + strict[row]``; ``strict`` turns 1 and ``found``
    True once the row has a best, and the row's window ``[lo, hi)`` then
    shrinks to the popcounts that could beat it. Blocks are visited from the
    tile's own popcount outwards, so good partners come early.
    """
    rows = len(lo)
    tiles = (rows + _TILE - 1) // _TILE
    tasks = max(min(threads, tiles), 1)
    for task in prange(tasks):
        acc = np.empty((_GROUP, _BLOCK), dtype=np.uint64)
        test = np.zeros((3, _GROUP), dtype=np.int64)
        margins = np.empty(_GROUP, dtype=np.int64)
        for tile in range(task, tiles, tasks):
            first = tile * _TILE
            stop = min(first + _TILE, rows)
            tile_lo, tile_hi = _span(lo, hi, first, stop)
            if tile_lo >= tile_hi:
                continue
            centre = np.searchsorted(right_pops, left_pops[(first + stop) // 2])
            centre = min(max(centre, tile_lo), tile_hi)
            up = (tile_hi - centre + _BLOCK - 1) // _BLOCK
            down = (centre - tile_lo + _BLOCK - 1) // _BLOCK
            for step in range(up + down):
                if step < up:
                    block = centre + step * _BLOCK
                    block_end = min(block + _BLOCK, tile_hi)
                else:
                    block_end = centre - (step - up) * _BLOCK
                    block = max(block_end - _BLOCK, tile_lo)
                for row in range(first, stop, _GROUP):
                    group_end = min(row + _GROUP, stop)
                    start, end = _span(lo, hi, row, group_end)
                    start, end = max(start, block), min(end, block_end)
                    if start >= end:
                        continue
                    for slot in range(group_end - row):
                        r = row + slot
                        test[0, slot] = 2 * dens[r]
                        test[1, slot] = nums[r] * left_pops[r] + strict[r]
                        test[2, slot] = nums[r]
                    _count_group(
                        acc, words, row, right, start, end - start, test,
                        right_pops, margins, True,
                    )  # fmt: skip
                    for slot in range(group_end - row):
                        if margins[slot] >= 0:
                            _complete(
                                acc, slot, words, row + slot, right, start,
                                end - start,
                            )  # fmt: skip
                            _improve(
                                acc[slot], row + slot, start, end, left_pops,
                                right_pops, skip, nums, dens, strict, found, lo, hi,
                            )  # fmt: skip


@njit(inline="always")
def _improve(
    counts: Counts,
    row: int,
    start: int,
    end: int,
    left_pops: Indices,
    right_pops: Indices,
    skip: Indices,
    nums: Indices,
    dens: Indices,
    strict: Indices,
    found: npt.NDArray[np.bool_],
    lo: Indices,
    hi: Indices,
) -> None:
    """Take the row's best pair in ``[start, end)`` if it beats the best so far."""
    num, den = nums[row], dens[row]
    improved = False
    for q in range(start, end):
        shared = np.int64(counts[q - start])
        total = left_pops[row] + right_pops[q]
        if q != skip[row] and 2 * shared * den >= num * total + strict[row]:
            num, den = 2 * shared, total
            strict[row] = 1
            improved = True
    if not improved:
        return
    nums[row], dens[row], found[row] = num, den, True
    if num > 0:
        least = -(-num * left_pops[row] // (2 * den - num))
        most = (2 * den - num) * left_pops[row] // num
        lo[row] = np.searchsorted(right_pops, least, side="left")
        hi[row] = np.searchsorted(right_pops, most, side="right")
