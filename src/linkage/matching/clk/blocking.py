"""Hamming LSH blocking on the CLKs themselves: no plaintext blocking key.

A *table* samples ``k`` bit positions; two records collide in it when their
CLKs agree on all ``k``. Records are sorted by their ``k`` sampled bits, and
only records in the same bucket are compared (with the exact Dice score, so a
candidate is never a false positive). Over ``L`` tables with independent
positions, a pair whose CLKs agree on a fraction ``p`` of their bits is
missed with probability ``(1 - p^k)^L``; pairs found in several tables are
kept once.

**Choosing k and L** (:func:`plan_lsh`). A pair with Dice ``t`` and popcounts
``a`` and ``b`` differs in ``(a + b)(1 - t)`` bits, so its chance of
colliding in a table is known. A sample of 2,000 records is compared with
every record (exact, all pairs) to see how far apart the pairs at or above
the threshold really are; for each ``k``, ``L`` is the fewest tables that
find the target share of them (0.998 by default), and random pairs of the
data show how many comparisons each table will cost. The ``k`` with the
least modelled time wins. Both can be set by hand.

**Costs.** Per table: the records' keys are packed with their row numbers
and sorted, bucket members are gathered side by side, and each allowed pair
in a bucket is scored once (a byte per pair flags those kept); the table's
pairs are merged into the sorted, distinct set found so far in linear time.
Scores are computed once, at the end.

**Pair completeness.** Under the model, the chance a found pair was found is
known from its own score and popcounts, so the pairs the tables missed can be
estimated (a Horvitz-Thompson estimate): :attr:`LshCandidates.estimated_completeness`.
Where truth or an all-pairs answer exists, measure it instead; the benchmarks do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
from numba import njit, prange

import linkage.jit  # noqa: F401  (numba without its BLAS probe)
from linkage.errors import InputError
from linkage.matching.candidates import (
    CandidatePairs,
    Clks,
    Indices,
    candidate_limit_error,
)
from linkage.matching.clk.similarity import (
    exact_fraction,
    iter_candidates,
    popcounts,
)
from linkage.popcount import popcount64

__all__ = [
    "DEFAULT_COMPLETENESS",
    "LSH_STEP",
    "LshCandidates",
    "LshPlan",
    "TableResult",
    "all_pairs_comparisons",
    "lsh_table",
    "merge_tables",
    "plan_lsh",
    "run_lsh",
]

Words = npt.NDArray[np.uint64]

# Aimed a little above the 0.995 we promise: the plan's sample is finite.
DEFAULT_COMPLETENESS: Final = 0.998
#: The progress label's step name; details follow in parentheses.
LSH_STEP: Final = "LSH blocking"
_PLAN_SEED: Final = 20261126
_SAMPLE_RECORDS: Final = 2000  # Records whose pairs >= threshold guide the plan.
_MAX_SAMPLED_PAIRS: Final = 1_000_000
# The cost model's constants, measured on the reference machine (2 cores,
# AVX-512): sorting, gathering and bucketing one record in one table; scoring
# one pair in a bucket; and one pair of the all-pairs kernel. Only their
# ratios matter: they choose bits per table, and all-pairs or LSH.
_SECONDS_PER_RECORD_PER_TABLE: Final = 110e-9
_SECONDS_PER_COMPARISON: Final = 6e-9
_SECONDS_PER_ALL_PAIRS_PAIR: Final = 0.3e-9
_AUTO_MARGIN: Final = 0.5  # LSH only when modelled at under half all-pairs' time,
_AUTO_ALL_PAIRS_SECONDS: Final = 30.0  # and all-pairs (exact) would take longer.
_MIN_BITS, _MAX_BITS = 8, 62
_MAX_TABLES: Final = 4000
_SAMPLE_PAIRS: Final = 20_000
# A table whose buckets hold more pairs than this per record is degenerate
# (records nearly alike on the sampled bits): refuse it rather than run out
# of time or memory.
_MAX_PAIRS_PER_RECORD_PER_TABLE: Final = 500


@dataclass(frozen=True)
class LshPlan:
    """The LSH parameters: ``bits`` sampled per table, ``tables`` tables.

    ``expected_completeness`` is the share of the pairs at or above
    ``threshold`` the tables are expected to find (from a sample of them);
    the costs are the model's seconds for LSH and for all-pairs.
    """

    bits: int
    tables: int
    threshold: float
    seed: int = _PLAN_SEED
    expected_completeness: float = float("nan")
    expected_comparisons: float = float("nan")
    lsh_seconds: float = float("nan")
    all_pairs_seconds: float = float("nan")

    def positions(self, table: int, bit_length: int) -> Indices:
        """The bit positions table ``table`` samples (the same on every machine)."""
        rng = np.random.default_rng([self.seed, table])
        chosen = rng.choice(bit_length, size=self.bits, replace=False)
        return np.sort(chosen).astype(np.int64)

    @property
    def worthwhile(self) -> bool:
        """Whether to use LSH when the choice is automatic: only when the
        exact all-pairs comparison would take long, and LSH is expected to
        beat it by a clear margin."""
        return (
            self.all_pairs_seconds > _AUTO_ALL_PAIRS_SECONDS
            and self.lsh_seconds < _AUTO_MARGIN * self.all_pairs_seconds
        )

    @staticmethod
    def may_be_worthwhile(pairs: int) -> bool:
        """Whether a plan for ``pairs`` all-pairs comparisons can be
        :attr:`worthwhile` at all: all-pairs must be modelled to take long.

        Planning compares a sample of records with every record, so automatic
        blocking asks this first and skips a plan it could not use.
        """
        return _all_pairs_seconds(pairs) > _AUTO_ALL_PAIRS_SECONDS

    def describe(self) -> str:
        """One sentence for the report."""
        return (
            f"Hamming LSH: {self.tables} tables of {self.bits} sampled bits, "
            f"expected to find {self.expected_completeness:.2%} of the pairs at "
            f"or above {self.threshold:.3f} (estimated from a sample of them)"
        )


def all_pairs_comparisons(sizes: list[int], *, across: bool, within: bool) -> int:
    """How many pairs an all-pairs comparison of these parties scores."""
    total = 0
    for i, size in enumerate(sizes):
        if within:
            total += size * (size - 1) // 2
        if across:
            total += size * sum(sizes[i + 1 :])
    return total


def plan_lsh(
    clks: Clks,
    party_of: npt.NDArray[np.int64],
    threshold: float,
    *,
    across: bool,
    within: bool,
    completeness: float = DEFAULT_COMPLETENESS,
    bits: int | None = None,
    tables: int | None = None,
) -> LshPlan:
    """Choose ``bits`` and ``tables`` for these records and this threshold.

    A sample of records is compared with every record (all-pairs, exact) to
    see how far apart the pairs at or above the threshold are; random pairs
    show how often non-matches would collide. Of the ``bits`` that reach
    ``completeness`` on the sample, the one with the least modelled time wins.

    Raises:
        InputError: ``completeness`` is not in (0, 1), or a given ``bits`` or
            ``tables`` is out of range.
    """
    if not 0 < completeness < 1:
        raise InputError(f"LSH completeness must be in (0, 1) (got {completeness})")
    if bits is not None and not _MIN_BITS <= bits <= _MAX_BITS:
        raise InputError(f"LSH bits per table must be {_MIN_BITS}..{_MAX_BITS}")
    if tables is not None and not 1 <= tables <= _MAX_TABLES:
        raise InputError(f"LSH tables must be 1..{_MAX_TABLES} (got {tables})")
    bit_length = clks.shape[1] * 8
    pairs = all_pairs_comparisons(
        np.bincount(party_of).tolist(), across=across, within=within
    )
    # Counted once: every k below is scored from the same distances.
    close = _counted(_candidate_differences(clks, party_of, threshold, across, within))
    far = _counted(_random_pair_differences(clks, party_of, across=across))
    options = [
        _option(close, far, bit_length, pairs, len(clks), k, tables, completeness)
        for k in ([bits] if bits is not None else range(_MIN_BITS, _MAX_BITS + 1))
    ]
    best = min(options, key=lambda option: option.lsh_seconds)
    return LshPlan(
        bits=best.bits,
        tables=best.tables,
        threshold=threshold,
        expected_completeness=best.expected_completeness,
        expected_comparisons=best.expected_comparisons,
        lsh_seconds=best.lsh_seconds,
        all_pairs_seconds=_all_pairs_seconds(pairs),
    )


def _all_pairs_seconds(pairs: int) -> float:
    """The model's seconds for comparing ``pairs`` pairs with all-pairs."""
    return pairs * _SECONDS_PER_ALL_PAIRS_PAIR


def _option(
    close: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    far: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    bit_length: int,
    pairs: int,
    records: int,
    bits: int,
    tables: int | None,
    completeness: float,
) -> LshPlan:
    """The plan with ``bits`` per table, and its modelled cost.

    ``close`` and ``far`` are (distinct differing-bit counts, how often each
    occurs) of the pairs >= threshold and of random pairs.
    """
    distances, weights = close
    hits = np.array([_all_agree(bit_length, int(d), bits) for d in distances])
    if tables is None:
        tables = _tables_for(hits, weights, completeness)
    found = _found_share(hits, weights, tables)
    comparisons = pairs * _mean_all_agree(*far, bit_length, bits) * tables
    seconds = (
        tables * records * _SECONDS_PER_RECORD_PER_TABLE
        + comparisons * _SECONDS_PER_COMPARISON
    )
    if found < completeness:
        seconds = math.inf  # Misses too much: never the cheapest choice.
    return LshPlan(bits, tables, 0.0, _PLAN_SEED, found, comparisons, seconds)


def _counted(
    differing: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    distances, weights = np.unique(differing, return_counts=True)
    return distances.astype(np.int64), weights.astype(np.int64)


def _found_share(
    hits: npt.NDArray[np.float64], weights: npt.NDArray[np.int64], tables: int
) -> float:
    if not weights.sum():
        return 1.0
    return float(np.dot(1 - (1 - hits) ** tables, weights) / weights.sum())


def _tables_for(
    hits: npt.NDArray[np.float64], weights: npt.NDArray[np.int64], completeness: float
) -> int:
    """The fewest tables that find ``completeness`` of the sampled pairs."""
    if _found_share(hits, weights, _MAX_TABLES) < completeness:
        return _MAX_TABLES
    low, high = 1, _MAX_TABLES
    while low < high:
        middle = (low + high) // 2
        if _found_share(hits, weights, middle) >= completeness:
            high = middle
        else:
            low = middle + 1
    return low


def _candidate_differences(
    clks: Clks,
    party_of: npt.NDArray[np.int64],
    threshold: float,
    across: bool,
    within: bool,
) -> npt.NDArray[np.int64]:
    """Differing bits of the pairs >= threshold that a sample of records has.

    Falls back to a pair exactly at the threshold with popcounts at the 90th
    percentile when the sample has no such pair.
    """
    rng = np.random.default_rng(_PLAN_SEED)
    count = len(clks)
    sample = np.sort(rng.choice(count, size=min(_SAMPLE_RECORDS, count), replace=False))
    counts = popcounts(clks).astype(np.int64)
    found, held = [], 0
    # Small chunks, so a low threshold stops the sampling early.
    for chunk in iter_candidates(clks[sample], clks, threshold, chunk_rows=128):
        a, b = sample[chunk.left], chunk.right
        same = party_of[a] == party_of[b]
        allowed = (a != b) & ((same & within) | (~same & across))
        differing = (counts[a] + counts[b]) * (1 - chunk.score)
        found.append(np.rint(differing[allowed]).astype(np.int64))
        held += len(found[-1])
        if held >= _MAX_SAMPLED_PAIRS:
            break  # Plenty to plan from; a low threshold would fill memory.
    close = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    if len(close):
        return close
    high = float(np.quantile(counts, 0.9)) if count else 0.0
    return np.array([math.ceil(2 * high * (1 - threshold))], dtype=np.int64)


def _random_pair_differences(
    clks: Clks, party_of: npt.NDArray[np.int64], *, across: bool
) -> npt.NDArray[np.int64]:
    """Differing bits of random pairs (across parties when linking)."""
    rng = np.random.default_rng(_PLAN_SEED)
    count = len(clks)
    if count < 2:
        return np.zeros(1, dtype=np.int64)
    first = rng.integers(0, count, _SAMPLE_PAIRS)
    second = rng.integers(0, count, _SAMPLE_PAIRS)
    keep = first != second
    if across and party_of.max() > 0:
        keep &= party_of[first] != party_of[second]
    first, second = first[keep], second[keep]
    if not len(first):
        return np.zeros(1, dtype=np.int64)
    differ: npt.NDArray[np.int64] = (
        np.unpackbits(clks[first] ^ clks[second], axis=1).sum(axis=1).astype(np.int64)
    )
    return differ


def _log_all_agree(bit_length: int, differing: int, bits: int) -> float:
    """log P(k positions drawn without replacement all avoid the differing bits)."""
    agree = bit_length - differing
    if agree < bits:
        return -math.inf
    return (
        math.lgamma(agree + 1)
        - math.lgamma(agree - bits + 1)
        - math.lgamma(bit_length + 1)
        + math.lgamma(bit_length - bits + 1)
    )


def _all_agree(bit_length: int, differing: int, bits: int) -> float:
    return math.exp(_log_all_agree(bit_length, differing, bits))


def _mean_all_agree(
    distances: npt.NDArray[np.int64],
    weights: npt.NDArray[np.int64],
    bit_length: int,
    bits: int,
) -> float:
    values = [_all_agree(bit_length, int(d), bits) for d in distances]
    return float(np.dot(values, weights) / weights.sum())


# --- One table --------------------------------------------------------------------


@dataclass(frozen=True)
class TableResult:
    """The candidates one table found: pair codes ``left * n + right`` (left <
    right, global indices), their scores, and how many pairs it compared."""

    codes: Indices
    scores: npt.NDArray[np.float64]
    compared: int


def lsh_table(
    words: Words,
    counts: npt.NDArray[np.int64],
    party_of: npt.NDArray[np.int64],
    plan: LshPlan,
    table: int,
    *,
    across: bool,
    within: bool,
    limit: int | None = None,
) -> TableResult:
    """Compare the records that collide in one table; keep pairs >= threshold.

    ``words`` are the CLKs as uint64 words and ``counts`` their popcounts. A
    pure function of its arguments, so tables can run anywhere (a Dask worker)
    and give the same pairs.

    Raises:
        InputError: the table's buckets would hold a degenerate number of
            pairs, or more than ``limit`` pairs reach the threshold in it.
    """
    count = len(words)
    positions = plan.positions(table, words.shape[1] * 64)
    order, sorted_keys = _sorted_by_key(_keys(words, positions), plan.bits)
    starts = _bucket_starts(sorted_keys)
    sizes = np.diff(starts)
    pair_offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    pair_offsets[1:] = np.cumsum(sizes * (sizes - 1) // 2)
    if pair_offsets[-1] > _MAX_PAIRS_PER_RECORD_PER_TABLE * max(count, 1):
        raise InputError(
            f"LSH table {table} would compare {int(pair_offsets[-1]):,} pairs: the "
            "records are too alike on the sampled bits",
            hint="Sample more bits per table (--lsh-bits), or use --blocking none.",
        )
    numerator, denominator = exact_fraction(plan.threshold, int(2 * counts.max() + 2))
    # Bucket members side by side: the comparisons then read memory in order.
    sorted_words, sorted_counts = _gather(words, order), counts[order]
    rule = (numerator, denominator, across, within)
    flags = np.zeros(int(pair_offsets[-1]), dtype=np.uint8)
    kept, compared = _score_buckets(
        sorted_words, sorted_counts, party_of[order], starts, pair_offsets, rule, flags
    )
    if limit is not None and kept > limit:
        raise candidate_limit_error(limit, plan.threshold)
    first, second = _flagged_pairs(starts, pair_offsets, flags, kept)
    a, b = order[first], order[second]
    left, right = np.minimum(a, b), np.maximum(a, b)
    scores = pair_scores(words, counts, left, right)
    return TableResult(left * count + right, scores, compared)


def _sorted_by_key(
    keys: npt.NDArray[np.uint64], bits: int
) -> tuple[Indices, npt.NDArray[np.uint64]]:
    """Row order by key, and the keys in that order.

    Key and row number packed into one word sort several times faster than
    an argsort, when they fit.
    """
    index_bits = max(int(len(keys) - 1).bit_length(), 1)
    if bits + index_bits > 64:
        order = np.argsort(keys).astype(np.int64)
        return order, keys[order]
    packed = (keys << np.uint64(index_bits)) | np.arange(len(keys), dtype=np.uint64)
    packed.sort()
    mask = np.uint64((1 << index_bits) - 1)
    return (packed & mask).astype(np.int64), packed >> np.uint64(index_bits)


@njit(cache=True, parallel=True)
def _keys(words: Words, positions: Indices) -> npt.NDArray[np.uint64]:
    """Each record's sampled bits packed into one word."""
    keys = np.zeros(len(words), dtype=np.uint64)
    for row in prange(len(words)):
        key = np.uint64(0)
        for index in range(len(positions)):
            position = positions[index]
            bit = (words[row, position >> 6] >> np.uint64(position & 63)) & np.uint64(1)
            key |= bit << np.uint64(index)
        keys[row] = key
    return keys


@njit(cache=True, parallel=True)
def _gather(words: Words, order: Indices) -> Words:
    """``words[order]``, in parallel (numpy's fancy indexing is ten times slower)."""
    out = np.empty((len(order), words.shape[1]), dtype=words.dtype)
    for i in prange(len(order)):
        row = order[i]
        for word in range(words.shape[1]):
            out[i, word] = words[row, word]
    return out


@njit(cache=True)
def _bucket_starts(sorted_keys: npt.NDArray[np.uint64]) -> Indices:
    """Where each run of equal keys starts, and the end."""
    starts = [0]
    for i in range(1, len(sorted_keys)):
        if sorted_keys[i] != sorted_keys[i - 1]:
            starts.append(i)
    starts.append(len(sorted_keys))
    return np.array(starts, dtype=np.int64)


@njit(cache=True, parallel=True)
def _score_buckets(
    words: Words,
    counts: npt.NDArray[np.int64],
    party_of: npt.NDArray[np.int64],
    starts: Indices,
    pair_offsets: Indices,
    rule: tuple[int, int, bool, bool],
    flags: npt.NDArray[np.uint8],
) -> tuple[int, int]:
    """Score every allowed pair in every bucket (rows in bucket order), and
    flag those >= the threshold; return how many were flagged and compared.

    Each bucket owns its stretch of ``flags`` (at ``pair_offsets``, one byte
    per pair), so buckets run in parallel without sharing a byte.
    """
    numerator, denominator, across, within = rule
    buckets = len(starts) - 1
    kept = np.zeros(buckets, dtype=np.int64)
    compared = np.zeros(buckets, dtype=np.int64)
    for bucket in prange(buckets):
        at = pair_offsets[bucket]
        for i in range(starts[bucket], starts[bucket + 1]):
            for j in range(i + 1, starts[bucket + 1]):
                same = party_of[i] == party_of[j]
                if (same and within) or (not same and across):
                    compared[bucket] += 1
                    shared = 0
                    for word in range(words.shape[1]):
                        shared += popcount64(words[i, word] & words[j, word])
                    need = numerator * (counts[i] + counts[j])
                    if 2 * shared * denominator >= need:
                        flags[at] = 1
                        kept[bucket] += 1
                at += 1
    return kept.sum(), compared.sum()


@njit(cache=True)
def _flagged_pairs(
    starts: Indices, pair_offsets: Indices, flags: npt.NDArray[np.uint8], kept: int
) -> tuple[Indices, Indices]:
    """The (row, row) positions of the flagged pairs, in bucket order."""
    first = np.empty(kept, dtype=np.int64)
    second = np.empty(kept, dtype=np.int64)
    write = 0
    for bucket in range(len(starts) - 1):
        at = pair_offsets[bucket]
        if flags[at : pair_offsets[bucket + 1]].sum() == 0:
            continue
        for i in range(starts[bucket], starts[bucket + 1]):
            for j in range(i + 1, starts[bucket + 1]):
                if flags[at]:
                    first[write] = i
                    second[write] = j
                    write += 1
                at += 1
    return first, second


@njit(cache=True, parallel=True)
def pair_scores(
    words: Words, counts: npt.NDArray[np.int64], left: Indices, right: Indices
) -> npt.NDArray[np.float64]:
    """The Dice score of each pair ``(left[k], right[k])`` of rows."""
    scores = np.empty(len(left), dtype=np.float64)
    for k in prange(len(left)):
        a, b = left[k], right[k]
        shared = 0
        for word in range(words.shape[1]):
            shared += popcount64(words[a, word] & words[b, word])
        total = counts[a] + counts[b]
        scores[k] = 2.0 * shared / total if total else 0.0
    return scores


# --- All tables -------------------------------------------------------------------


@dataclass(frozen=True)
class LshCandidates(CandidatePairs):
    """Every pair >= the threshold that some table found, once each.

    The fields of :class:`~linkage.matching.candidates.CandidatePairs`, in
    the global record index (``blocking`` is the plan's description), plus
    the ``plan`` that found them.
    """

    plan: LshPlan = field(kw_only=True)


def merge_tables(
    found: Indices, table: TableResult, limit: int, threshold: float
) -> Indices:
    """Add one table's pairs to those found so far: sorted, distinct codes.

    Raises:
        InputError: more than ``limit`` distinct pairs reach the threshold.
    """
    merged = _merge_distinct(found, np.sort(table.codes))
    if len(merged) > limit:
        raise candidate_limit_error(limit, threshold)
    return merged


@njit(cache=True)
def _merge_distinct(first: Indices, second: Indices) -> Indices:
    """Merge two sorted arrays into one sorted array without repeats."""
    out = np.empty(len(first) + len(second), dtype=np.int64)
    i = j = size = 0
    while i < len(first) or j < len(second):
        if j == len(second) or (i < len(first) and first[i] <= second[j]):
            value = first[i]
            i += 1
        else:
            value = second[j]
            j += 1
        if size == 0 or out[size - 1] != value:
            out[size] = value
            size += 1
    return out[:size]


Progress = Callable[[str, int, int], None]


def run_lsh(
    clks: Clks,
    party_of: npt.NDArray[np.int64],
    plan: LshPlan,
    *,
    across: bool,
    within: bool,
    limit: int,
    progress: Progress | None = None,
    tables: Iterator[TableResult] | None = None,
) -> LshCandidates:
    """Run every table of ``plan`` here (or merge ``tables`` computed
    elsewhere, in table order) and return the distinct candidates."""
    words = clks_to_words(clks)
    counts = popcounts(clks).astype(np.int64)
    if tables is None:
        tables = (
            lsh_table(
                words,
                counts,
                party_of,
                plan,
                t,
                across=across,
                within=within,
                limit=limit,
            )
            for t in range(plan.tables)
        )
    found = np.zeros(0, dtype=np.int64)
    compared = 0
    started = time.perf_counter()
    for done, table in enumerate(tables, start=1):
        found = merge_tables(found, table, limit, plan.threshold)
        compared += table.compared
        if progress is not None:
            label = _progress_label(done, plan.tables, compared, started)
            progress(label, done, plan.tables)
    count = max(len(clks), 1)
    left, right = found // count, found % count
    scores = pair_scores(words, counts, left, right)
    estimate = _estimated_completeness(
        scores, counts[left], counts[right], plan, words.shape[1] * 64
    )
    return LshCandidates(
        left,
        right,
        scores,
        compared,
        blocking=plan.describe(),
        estimated_completeness=estimate,
        plan=plan,
    )


def clks_to_words(clks: Clks) -> Words:
    """CLKs as whole uint64 words per row (zero padded)."""
    rows, width = clks.shape
    if width % 8 == 0 and width and clks.flags.c_contiguous:
        return clks.view(np.uint64)  # Whole words already: no copy.
    padded = np.zeros((rows, max(-(-width // 8), 1) * 8), dtype=np.uint8)
    padded[:, :width] = clks
    return padded.view(np.uint64)


def _progress_label(done: int, total: int, compared: int, started: float) -> str:
    elapsed = time.perf_counter() - started
    left = elapsed / done * (total - done)
    return (
        f"{LSH_STEP} (table {done} of {total}, {compared:,} pairs compared, "
        f"about {left:.0f} s left)"
    )


def _estimated_completeness(
    scores: npt.NDArray[np.float64],
    left_counts: npt.NDArray[np.int64],
    right_counts: npt.NDArray[np.int64],
    plan: LshPlan,
    bit_length: int,
) -> float:
    """Found pairs over found plus the estimated missed (Horvitz-Thompson)."""
    if not len(scores):
        return 1.0
    differing = np.rint((left_counts + right_counts) * (1 - scores)).astype(np.int64)
    missed = 0.0
    for value, many in zip(*np.unique(differing, return_counts=True), strict=True):
        hit = _all_agree(bit_length, int(value), plan.bits)
        found = 1 - (1 - hit) ** plan.tables
        missed += many * (1 - found) / max(found, 1e-12)
    return float(len(scores) / (len(scores) + missed))
