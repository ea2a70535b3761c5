"""The frequency / pattern-mining attack (after Christen, Vidanage, Ranbaduge,
Schnell, PAKDD 2018).

Threat model: someone holds the encodings but not the secret, knows the
(public) schema, and holds a plaintext list of the population the encoded
records were drawn from, so the list's q-gram frequencies are the encodings'.

Every encoding that holds a token (a q-gram of a feature) has all of that
token's bit positions set. So the positions of a frequent token form a
frequent bit pattern: a set of positions that are all 1 in about as many
encodings as the population has records with the token. The attack

1. mines such patterns: from each bit position it grows the pattern whose
   support stays largest, one position at a time, and then peels off the
   encodings explained by patterns already found, so less frequent patterns
   hidden under frequent ones surface too;
2. aligns patterns with tokens: a first pair among the most frequent
   patterns and tokens (each candidate pair is tried and the one that
   explains the most is kept), then pair after pair by frequency and by how
   often each pattern co-occurs with the patterns already aligned, compared
   with how often each token co-occurs with their tokens (encodings where a
   pattern has a 0 rule the token out);
3. re-identifies each encoding as the population record whose token set best
   agrees with the tokens found present and absent in it, one to one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from numba import njit

import linkage.jit  # noqa: F401  (numba without its BLAS probe)
from linkage.formats.schema import BitsPerFeature, BitsPerToken, LinkageSchema
from linkage.popcount import popcount64
from linkage.privacy.assign import Assignment, assign_one_to_one
from linkage.privacy.bits import Progress, report, unpack_bits
from linkage.privacy.tokens import TokenTable, token_owners, token_table

Words = npt.NDArray[np.uint64]
Floats = npt.NDArray[np.float32]

_STEP = "Frequency attack"
_MINING = 8  # Progress steps of mining; aligning and assigning take one each.
_PEELS = 6  # Patterns mined from one seed position at most.
_STEADY = 0.8  # Least share of its support a token's pattern keeps as it grows.
_CONTAINED = 0.8  # A pattern mostly inside a known one's encodings is part of it.
_CORE_SHARE = 0.97  # A position belongs to a pattern if set in this share of it.
_MISS = 0.02  # A token present, yet its pattern is not complete (noise).
_CHANCE = 0.01  # A token absent, yet its pattern is complete (collisions).
_MAX_COST = 6.0  # Refuse pairs that fit worse than this (mean z^2) ...
_MARGIN = 10.0  # ... or beat their runner-up by less (sum of z^2).
_FIRST = 6  # The first pair is one of this many most frequent of each side.
_TRIAL = 80  # Pairs a first-pair hypothesis is extended to before choosing.
_SINGLY = 40  # Below this many pairs, pairs are added one at a time.
_SPREAD = 0.05  # Relative error of a pattern's rates, beyond sampling.


def frequency_attack(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    *,
    min_support: float = 0.005,
    progress: Progress | None = None,
) -> Assignment:
    """Re-identify encodings by aligning frequent bit patterns with tokens.

    Args:
        clks: the encodings, one packed CLK per row.
        population: the attacker's plaintext list, a column per encoded feature.
        schema: the (public) linkage schema.
        min_support: the least share of encodings a pattern (and of records a
            token) must reach to be used.
        progress: called with ("Frequency attack", done, total).

    Raises:
        InputError: the population lacks a column the schema encodes.
    """
    tokens = token_table(schema, population)
    bits = unpack_bits(clks, schema.clk_length) > 0
    least = max(3, int(np.ceil(min_support * len(bits))))
    length, widest = _pattern_length(schema, tokens)
    patterns = _mine(bits, length, least, widest, progress)
    report(progress, _STEP, _MINING + 1, _MINING + 2)
    present = _presence(bits, patterns)
    aligned_patterns, aligned_tokens = _align(present, tokens, min_support)
    report(progress, _STEP, _MINING + 2, _MINING + 2)
    if not len(aligned_patterns):
        return Assignment(
            record=np.full(len(bits), -1, dtype=np.int64),
            confidence=np.zeros(len(bits)),
        )
    observed = present[:, aligned_patterns]
    expected = tokens.matrix[:, aligned_tokens].toarray().astype(np.float32)
    return assign_one_to_one(_agreement(observed, expected))


def _pattern_length(schema: LinkageSchema, tokens: TokenTable) -> tuple[int, int]:
    """Positions per mined pattern, and the most a token's core may have.

    A pattern must be long enough that chance cannot complete it and short
    enough that every occurrence of a token (long values set fewer bits per
    token) has it. A core wider than the most bits a token sets is several
    tokens that always occur together.
    """
    fewest: list[float] = []
    most: list[float] = []
    for owner in token_owners(schema):
        lengths = _token_counts(tokens, owner.name)
        if isinstance(owner.strategy, BitsPerToken):
            fewest.append(owner.strategy.k)
            most.append(owner.strategy.k)
        elif isinstance(owner.strategy, BitsPerFeature) and len(lengths):
            bits = owner.strategy.bits
            fewest.append(bits / max(float(np.quantile(lengths, 0.9)), 1.0))
            most.append(bits / max(float(np.quantile(lengths, 0.1)), 1.0))
    length = int(np.clip(min(fewest, default=8) * 0.6, 4, 12))
    widest = int(max(most, default=64) * 1.5)
    return length, widest


def _token_counts(tokens: TokenTable, feature: str) -> npt.NDArray[np.float64]:
    """How many distinct tokens of ``feature`` each record has (0s left out)."""
    columns = [i for i, (name, _) in enumerate(tokens.vocabulary) if name == feature]
    counts = np.asarray(tokens.matrix[:, columns].sum(axis=1)).ravel()
    result: npt.NDArray[np.float64] = counts[counts > 0].astype(np.float64)
    return result


def _columns(bits: npt.NDArray[np.bool_]) -> Words:
    """Each bit position's encodings as a bitset of 64-bit words."""
    rows = len(bits)
    padded = np.zeros((-(-rows // 64) * 64, bits.shape[1]), dtype=np.bool_)
    padded[:rows] = bits
    packed = np.packbits(padded.T, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view(np.uint64)


def _mine(
    bits: npt.NDArray[np.bool_],
    length: int,
    least: int,
    widest: int,
    progress: Progress | None,
) -> list[npt.NDArray[np.int64]]:
    """Frequent token-like patterns of ``length`` positions, each once."""
    columns = _columns(bits)
    width = bits.shape[1]
    support = np.bitwise_count(columns).sum(axis=1, dtype=np.int64)
    patterns: list[npt.NDArray[np.int64]] = []
    found = np.zeros((0, columns.shape[1]), dtype=np.uint64)  # Their encodings.
    holds = np.zeros((0, width), dtype=np.bool_)  # Pattern x its core positions.
    seeds = np.argsort(-support, kind="stable")
    for done, seed in enumerate(seeds):
        if done % 64 == 0:
            report(progress, _STEP, _MINING * done // len(seeds), _MINING + 2)
        if support[seed] < least:
            break
        rows = columns[seed].copy()
        for index in np.flatnonzero(holds[:, seed]):
            rows &= ~found[index]  # Peel: what known patterns explain.
        for _ in range(_PEELS):
            pattern, covered, stable = _grow(columns, rows, seed, length, least)
            if pattern is None:
                break
            rows &= ~covered
            if not stable or holds[:, pattern].sum(axis=1).max(initial=0) >= (
                length / 2
            ):
                continue  # Mixed, or the positions of a token already found.
            full = np.bitwise_and.reduce(columns[pattern], axis=0)
            if _contained(full, found):
                continue  # Part of a token found already (its longer values).
            core = _core(columns, full, width)
            if core.sum() > widest:
                continue  # Several tokens that always co-occur: a whole value.
            patterns.append(pattern)
            found = np.vstack([found, full[None, :]])
            holds = np.vstack([holds, core[None, :]])
    report(progress, _STEP, _MINING, _MINING + 2)
    return patterns


def _contained(rows: Words, found: Words) -> bool:
    """Whether most of ``rows`` lie in the encodings of one known pattern."""
    if not len(found):
        return False
    size = int(np.bitwise_count(rows).sum())
    shared = np.bitwise_count(found & rows[None, :]).sum(axis=1)
    return bool(shared.max() >= _CONTAINED * max(size, 1))


def _grow(
    columns: Words, rows: Words, seed: int, length: int, least: int
) -> tuple[npt.NDArray[np.int64] | None, Words, bool]:
    """Greedily extend ``[seed]`` by the position that keeps most support.

    Returns the pattern (None if support ran out), its encodings, and whether
    the support held steady over the second half of the pattern, as it does
    for the positions of one token and does not for a mixture of tokens (by
    then chance no longer adds encodings).
    """
    pattern, rows, complete, stable = _grow_kernel(
        columns, rows, seed, length, least, _STEADY
    )
    if not complete:
        return None, rows, False
    return np.sort(pattern), rows, stable


def warm_kernel() -> None:
    """Compile (or load from numba's cache) the attack's kernel on a tiny
    input, so that the first ``linkage privacy-check`` after install does
    not (``python -m linkage.matching.warmup`` calls this)."""
    columns = np.full((4, 1), 0b1111, dtype=np.uint64)
    _grow(columns, columns[0].copy(), 0, 2, 1)


@njit(cache=True)
def _grow_kernel(  # pragma: no cover - compiled; run through _grow
    columns: Words,
    rows: Words,
    seed: int,
    length: int,
    least: int,
    steady: float,
) -> tuple[npt.NDArray[np.int64], Words, bool, bool]:
    """:func:`_grow` in one compiled loop: each step counts, for every
    position, the encodings of ``rows`` that also set it (numpy spent most of
    the attack on these small arrays), and takes the first with most."""
    positions, words = columns.shape
    pattern = np.empty(length, dtype=np.int64)
    pattern[0] = seed
    taken = np.zeros(positions, dtype=np.bool_)
    taken[seed] = True
    rows = rows.copy()
    halfway = 0
    for step in range(1, length):
        best, most = -1, -1
        for position in range(positions):
            if taken[position]:
                continue
            count = 0
            for word in range(words):
                count += int(popcount64(columns[position, word] & rows[word]))
            if count > most:
                best, most = position, count
        if most < least:
            return pattern[:step], rows, False, False
        if step == length // 2:
            halfway = most
        pattern[step] = best
        taken[best] = True
        for word in range(words):
            rows[word] &= columns[best, word]
    final = 0
    for word in range(words):
        final += int(popcount64(rows[word]))
    return pattern, rows, True, final >= steady * halfway


def _core(columns: Words, rows: Words, width: int) -> npt.NDArray[np.bool_]:
    """Positions set in nearly every encoding of a pattern."""
    size = int(np.bitwise_count(rows).sum())
    counts = np.bitwise_count(columns & rows).sum(axis=1, dtype=np.int64)
    core: npt.NDArray[np.bool_] = counts >= _CORE_SHARE * max(size, 1)
    return core[:width]


def _presence(
    bits: npt.NDArray[np.bool_], patterns: list[npt.NDArray[np.int64]]
) -> Floats:
    """1 where an encoding has every position of a pattern, else 0."""
    present = np.zeros((len(bits), len(patterns)), dtype=np.float32)
    for index, pattern in enumerate(patterns):
        present[:, index] = bits[:, pattern].all(axis=1)
    return present


@dataclass(frozen=True)
class _Rates:
    """Frequencies and joint frequencies of patterns (in the encodings) and
    tokens (in the population)."""

    joint_patterns: Floats
    joint_tokens: Floats
    sample: int

    @property
    def pattern_rate(self) -> Floats:
        return np.diag(self.joint_patterns).copy()

    @property
    def token_rate(self) -> Floats:
        return np.diag(self.joint_tokens).copy()


def _align(
    present: Floats, tokens: TokenTable, min_support: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Pairs (pattern, token), found by frequency and co-occurrence.

    Frequency alone cannot tell tokens of similar frequency apart, so the
    first pair is a hypothesis: each pairing of the most frequent patterns
    and tokens is extended a little, and the one that explains the most
    pairs is kept and extended to the end.
    """
    frequent = np.flatnonzero(tokens.frequencies >= min_support)
    if not len(frequent) or not present.shape[1]:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    matrix = tokens.matrix[:, frequent]
    records = max(matrix.shape[0], 1)
    rates = _Rates(
        joint_patterns=((present.T @ present) / len(present)).astype(np.float32),
        joint_tokens=np.asarray((matrix.T @ matrix).toarray(), dtype=np.float32)
        / records,
        sample=len(present),
    )
    top_p = np.argsort(-rates.pattern_rate)[:_FIRST]
    top_t = np.argsort(-rates.token_rate)[:_FIRST]
    trials = [_extend(rates, [(int(p), int(t))], _TRIAL) for p in top_p for t in top_t]
    best = max(trials, key=lambda trial: (len(trial[0]), -trial[1]))
    pairs, _ = _extend(rates, best[0], None)
    aligned = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return aligned[:, 0], frequent[aligned[:, 1]]


def _extend(
    rates: _Rates, pairs: list[tuple[int, int]], limit: int | None
) -> tuple[list[tuple[int, int]], float]:
    """Add confident pairs until none is left (or ``limit`` pairs are held).

    Returns the pairs and the mean cost of the pairs added.
    """
    costs = _Costs(rates)
    for p, t in pairs:
        costs.add(p, t)
    pairs = list(pairs)
    added: list[float] = []
    while limit is None or len(pairs) < limit:
        mean = costs.mean()
        chosen = _confident_pairs(mean, costs.terms, _MARGIN)
        if not chosen:
            # Stuck: take the single clearest pair on a weaker margin.
            chosen = _confident_pairs(mean, costs.terms, _MARGIN / 4)[:1]
        if not chosen:
            break
        if len(pairs) < _SINGLY:
            chosen = chosen[:1]  # Few pairs: each one added sharpens the rest.
        for p, t in chosen:
            added.append(float(mean[p, t]))
            pairs.append((p, t))
            costs.add(p, t)
    return pairs, float(np.mean(added)) if added else np.inf


class _Costs:
    """Squared z-scores of each (pattern, token) pair, summed as pairs are added.

    The first term compares frequencies, each further term the co-occurrence
    with one aligned pair: a pattern that is a token's comes as often as the
    token does, and with the other aligned patterns as often as the token
    comes with their tokens. The variance is the sampling error of the
    encodings plus a share for imperfect patterns. Aligned patterns and
    tokens get an infinite cost, so they are not chosen again.
    """

    def __init__(self, rates: _Rates) -> None:
        self._rates = rates
        token_rate = rates.token_rate
        difference = rates.pattern_rate[:, None] - token_rate[None, :]
        weight = 1.0 / _variance(token_rate, rates.sample)
        self._total: Floats = (difference**2 * weight[None, :]).astype(np.float32)
        self.terms = 1

    def add(self, pattern: int, token: int) -> None:
        """Count the co-occurrence with a newly aligned pair."""
        seen = self._rates.joint_patterns[:, pattern]
        expected = self._rates.joint_tokens[:, token]
        weight = 1.0 / _variance(expected, self._rates.sample)
        self._total += (seen[:, None] - expected[None, :]) ** 2 * weight[None, :]
        self._total[pattern, :] = np.inf
        self._total[:, token] = np.inf
        self.terms += 1

    def mean(self) -> Floats:
        """The mean squared z-score of every pair."""
        result: Floats = self._total / np.float32(self.terms)
        return result


def _variance(rate: Floats, sample: int) -> Floats:
    variance = rate * (1 - rate) / sample + (_SPREAD * rate) ** 2 + 1.0 / sample**2
    result: Floats = variance.astype(np.float32)
    return result


def _confident_pairs(cost: Floats, terms: int, margin: float) -> list[tuple[int, int]]:
    """Mutual best pairs, clearly better than the runner-up, cheapest first.

    ``cost`` is a mean over ``terms`` squared z-scores; the margin is judged
    on their sum, the evidence in all. The runner-up of a pair is the next
    best token for its pattern or the next best pattern for its token.
    """
    if cost.shape[0] < 2 or cost.shape[1] < 2:
        return []
    best_t = cost.argmin(axis=1)
    best_p = cost.argmin(axis=0)
    rows = np.arange(len(cost))
    value = cost[rows, best_t]
    mutual = best_p[best_t] == rows
    second_in_row = np.partition(cost, 1, axis=1)[:, 1]
    second_in_column = np.partition(cost, 1, axis=0)[1, :]
    runner_up = np.minimum(second_in_row, second_in_column[best_t])
    finite = np.isfinite(value)
    gap = np.subtract(runner_up, value, out=np.full_like(value, -np.inf), where=finite)
    clear = (value <= _MAX_COST) & (gap * terms >= margin)
    chosen = np.flatnonzero(mutual & clear)
    chosen = chosen[np.argsort(value[chosen], kind="stable")]
    chosen = chosen[: max(1, len(chosen) // 4)]
    return [(int(p), int(best_t[p])) for p in chosen]


def _agreement(observed: Floats, expected: Floats) -> Floats:
    """Log-likelihood of each encoding's patterns given each record's tokens."""
    when_present = expected * np.log(1 - _MISS) + (1 - expected) * np.log(_CHANCE)
    when_absent = expected * np.log(_MISS) + (1 - expected) * np.log(1 - _CHANCE)
    scores: Floats = observed @ when_present.T + (1 - observed) @ when_absent.T
    return scores
