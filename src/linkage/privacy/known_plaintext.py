"""The known-plaintext attack: learn each token's bits from a few known pairs.

Threat model: someone holds the encodings (the linkage operator, or anyone who
copies its storage) and also knows who a few of them are: records of their own,
public persons, identities disclosed through a reveal. No secret is needed.

From the known (encoding, record) pairs the attacker estimates, for every
token (feature, q-gram) and every bit position, the probability that the token
sets the bit. Unless the schema balances, a bit is the OR of the bits its
record's tokens set (a noisy OR: BLIP and typing errors flip a few), so:

* a known record whose bit is 0 rules the bit out for each of its tokens;
* a known record whose bit is 1 credits its tokens only as far as the record's
  other tokens do not already explain it ("explaining away"), so a rare token
  learns its bits from a single record;
* each record predicts each bit's probability from all its tokens, tokens the
  known pairs never showed setting a bit at the prior rate, and each encoding
  scores the Bernoulli log-likelihood of its bits.

The records are assigned one to one, and the most confident assignments (half
as many again as the pairs used so far) become the pairs of the next round:
after a few rounds they cover most encodings, and 20 known pairs suffice
where a model of each token on its own needed about 50 (benchmarks/README.md).

Balancing adds each bit's complement, which a token clears: no OR model fits,
so balanced encodings are scored token by token instead, from a posterior over
three hypotheses (the token sets the bit, clears it, or leaves it alone).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from numba import njit, prange

import linkage.jit  # noqa: F401  (numba without its BLAS probe)
from linkage.formats.schema import LinkageSchema
from linkage.privacy.assign import Assignment
from linkage.privacy.bits import Progress, unpack_bits
from linkage.privacy.self_training import Pairs, checked_pairs, self_train
from linkage.privacy.tokens import token_table

Floats = npt.NDArray[np.float32]

_DRIVEN = 0.03  # Prior share of bits a token sets (and again, that it clears).
_NOISE = 0.02  # How often a bit a token drives still disagrees.
_RATE_FLOOR = 0.002  # Keeps logarithms finite for bits that are (almost) never set.
# The noisy OR: a bit a token sets is still 0 this often (a typing error in
# the attacker's list, a token that sets fewer bits in a longer value), and a
# bit no token sets is 1 this often. BLIP raises both to its flip rate.
_MISSED = 0.05
_SPURIOUS = 0.01
# Explaining away trusts the other tokens' estimates this much; the rest of a
# bit's chance of being set by them is its overall rate, as the estimates are
# themselves uncertain.
_TRUST = 0.8
_EXPLAIN_ROUNDS = 2
# A token's fits are multiplied this many records at a time before one
# logarithm: each is at least min(missed, spurious) = 0.01, so the product
# stays far from float32's smallest normal number (1e-38).
_LOG_EVERY = 8


def known_plaintext_attack(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    known: Pairs,
    *,
    rounds: int = 20,
    progress: Progress | None = None,
) -> Assignment:
    """Re-identify encodings from a few known (encoding, population row) pairs.

    Args:
        clks: the encodings, one packed CLK per row.
        population: the attacker's plaintext list, a column per encoded feature.
        schema: the (public) linkage schema the encodings were made with.
        known: ``(k, 2)`` array of (encoding row, population row) pairs.
        rounds: the most learning rounds; each takes the most confident
            assignments as the known pairs of the next. Rounds stop early once
            the assignment no longer changes.
        progress: called with ("Known-plaintext attack", round, rounds).

    Returns:
        An assignment in which the known pairs are assigned to themselves.

    Raises:
        ValueError: ``known`` has a row outside the encodings or population.
        InputError: the population lacks a column the schema encodes.
    """
    known = checked_pairs(known, len(clks), len(population), "known-plaintext attack")
    bits = unpack_bits(clks, schema.clk_length)
    tokens = token_table(schema, population).matrix
    rate = np.clip(bits.mean(axis=0), _RATE_FLOOR, 1 - _RATE_FLOOR)
    hardening = schema.extension.hardening
    noise = (max(_MISSED, hardening.blip), max(_SPURIOUS, hardening.blip))

    def scores_of(pairs: Pairs) -> Floats:
        if hardening.balance:
            return _token_scores(bits, tokens, rate, pairs)
        return _noisy_or_scores(bits, tokens, rate, pairs, noise)

    return self_train(
        scores_of,
        known,
        len(clks),
        step="Known-plaintext attack",
        rounds=rounds,
        progress=progress,
    )


def _noisy_or_scores(
    bits: Floats,
    tokens: sp.csr_matrix,
    rate: Floats,
    pairs: Pairs,
    noise: tuple[float, float],
) -> Floats:
    """Bernoulli log-likelihood of every (encoding, record) pair, float32.

    ``noise`` is (missed, spurious): how often a set bit reads 0, a bit no
    token sets reads 1.
    """
    seen, sets = _learn_noisy_or(bits, tokens, rate, pairs, noise)
    missed, spurious = noise
    unset = np.log1p(-np.minimum(sets, 1 - missed))
    present = tokens[:, seen]
    unseen = np.asarray(tokens.sum(axis=1) - present.sum(axis=1)).ravel()
    # log P(no token of the record sets the bit): (records, bits).
    none = np.asarray(present @ unset) + unseen[:, None] * np.log1p(-_DRIVEN)
    one = spurious + (1 - spurious - missed) * -np.expm1(none)
    when_set = np.log(one) - np.log1p(-one)
    scores = bits @ when_set.T.astype(np.float32)
    scores += np.log1p(-one).sum(axis=1).astype(np.float32)[None, :]
    return np.ascontiguousarray(scores, dtype=np.float32)


def _learn_noisy_or(
    bits: Floats,
    tokens: sp.csr_matrix,
    rate: Floats,
    pairs: Pairs,
    noise: tuple[float, float],
) -> tuple[npt.NDArray[np.intp], Floats]:
    """(tokens seen in the pairs, P(token sets bit) for each of them).

    Starts from the bit's overall rate as what else sets it, then explains
    away with the estimates of the record's other tokens.
    """
    missed, _ = noise
    known_bits = bits[pairs[:, 0]]
    known_tokens = tokens[pairs[:, 1]]
    seen = np.flatnonzero(np.asarray(known_tokens.sum(axis=0)).ravel() > 0)
    occurs = sp.csr_matrix(known_tokens[:, seen])
    count = np.asarray(occurs.sum(axis=0), dtype=np.float32).reshape(-1, 1)
    ones = np.asarray(occurs.T @ known_bits, dtype=np.float32)
    # Log-likelihood of the token's records if it sets the bit, with its prior.
    if_sets = ones * np.log1p(-missed) + (count - ones) * np.log(missed)
    if_sets += np.log(_DRIVEN)
    if_not = ones * np.log(rate) + (count - ones) * np.log1p(-rate)
    sets = _posterior(if_sets, if_not + np.log1p(-_DRIVEN))
    for _ in range(_EXPLAIN_ROUNDS):
        if_not = _explained(occurs, known_bits, sets, rate, noise)
        sets = _posterior(if_sets, if_not + np.log1p(-_DRIVEN))
    return seen, sets


def _explained(
    occurs: sp.csr_matrix,
    known_bits: Floats,
    sets: Floats,
    rate: Floats,
    noise: tuple[float, float],
) -> Floats:
    """Log-likelihood of each token's records if it does not set the bit.

    The bit is then set by the record's other tokens, at the chance their
    current estimates give (mixed with the bit's rate).
    """
    missed, spurious = noise
    unset = np.log1p(-np.minimum(sets, 1 - missed)).astype(np.float32)
    # P(none of the record's tokens sets the bit), and for each token the
    # factor that takes it out: their product is P(none of the *other*
    # tokens sets it), one multiplication per (record, token, bit) instead of
    # an exponential (the chance is clipped to at least ``spurious``, so the
    # rounding of a product near 1 does not show).
    none = np.exp(np.asarray(occurs @ unset, dtype=np.float32))  # (records, bits)
    # 1 / P(the token leaves the bit), times what a change in P moves 1 - chance.
    without = np.exp(-unset) * np.float32(_TRUST * (1 - spurious))
    unlikely = (1 - (_TRUST + (1 - _TRUST) * rate)).astype(np.float32)
    by_token = sp.csc_matrix(occurs)
    return _explained_kernel(
        by_token.indptr.astype(np.int64),
        by_token.indices.astype(np.int64),
        none,
        np.ascontiguousarray(without, dtype=np.float32),
        unlikely,
        np.ascontiguousarray(known_bits, dtype=np.float32),
        np.float32(missed),
        np.float32(1 - spurious),
    )


@njit(cache=True, parallel=True)
def _explained_kernel(  # pragma: no cover - compiled; run through _explained
    starts: npt.NDArray[np.int64],
    records: npt.NDArray[np.int64],
    none: Floats,
    without: Floats,
    unlikely: Floats,
    known_bits: Floats,
    low: np.float32,
    high: np.float32,
) -> Floats:
    """:func:`_explained`'s sum, one token at a time (its records are
    ``records[starts[t]:starts[t + 1]]``) in one pass over each (record,
    bit): ``1 - chance = clip(none * without + unlikely, low, high)``, and
    the fit ``log |bit - (1 - chance)|`` (``log chance`` where the bit is
    set, else ``log(1 - chance)``), summed over the token's records. numpy
    took seven passes and a sparse product for it, most of the attack."""
    tokens = len(starts) - 1
    bits = none.shape[1]
    result = np.zeros((tokens, bits), dtype=np.float32)
    for token in prange(tokens):
        total = np.zeros(bits, dtype=np.float32)
        product = np.ones(bits, dtype=np.float32)
        factor = without[token]
        pending = 0
        for at in range(starts[token], starts[token + 1]):
            chances = none[records[at]]
            observed = known_bits[records[at]]
            for bit in range(bits):
                work = min(max(chances[bit] * factor[bit] + unlikely[bit], low), high)
                product[bit] *= abs(observed[bit] - work)
            pending += 1
            if pending == _LOG_EVERY or at == starts[token + 1] - 1:
                for bit in range(bits):
                    total[bit] += np.log(product[bit])
                    product[bit] = 1.0
                pending = 0
        result[token] = total
    return result


def warm_kernel() -> None:
    """Compile (or load from numba's cache) the attack's kernel on a tiny
    input, so that the first ``linkage privacy-check`` after install does
    not (``python -m linkage.matching.warmup`` calls this)."""
    floats = np.full((2, 8), 0.5, dtype=np.float32)
    starts = np.array([0, 1, 2], dtype=np.int64)
    records = np.array([0, 1], dtype=np.int64)
    low, high = np.float32(_MISSED), np.float32(1 - _SPURIOUS)
    _explained_kernel(starts, records, floats, floats, floats[0], floats, low, high)


def _posterior(if_sets: Floats, if_not: Floats) -> Floats:
    """P(sets) from the two log-likelihoods (priors included)."""
    odds = np.clip(if_not - if_sets, -50.0, 50.0)
    result: Floats = (1.0 / (1.0 + np.exp(odds))).astype(np.float32)
    return result


def _token_scores(
    bits: Floats,
    tokens: sp.csr_matrix,
    rate: Floats,
    pairs: Pairs,
) -> Floats:
    """Log-likelihood score of every (encoding, record) pair, token by token."""
    known_bits = bits[pairs[:, 0]]
    known_tokens = tokens[pairs[:, 1]]
    seen = np.flatnonzero(np.asarray(known_tokens.sum(axis=0)).ravel() > 0)
    known_tokens = known_tokens[:, seen]
    counts = np.asarray(known_tokens.sum(axis=0), dtype=np.float32).ravel()
    together = np.asarray(known_tokens.T @ known_bits, dtype=np.float32)
    present = _posterior_rate(together, counts[:, None], rate[None, :])
    when_set = np.log(present / rate)
    when_clear = np.log((1 - present) / (1 - rate))
    # Each token's log-likelihood ratio for each encoding: (encodings, tokens).
    per_token = bits @ (when_set - when_clear).T + when_clear.sum(axis=1)
    per_record = tokens[:, seen] @ per_token.T
    return np.ascontiguousarray(np.asarray(per_record, dtype=np.float32).T)


def _posterior_rate(
    ones: npt.NDArray[np.float32],
    seen: npt.NDArray[np.float32],
    rate: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """P(bit set | token present), averaged over the three hypotheses.

    ``ones`` of ``seen`` known records with the token had the bit set.
    """
    zeros = seen - ones
    high, low = np.log1p(-_NOISE), np.log(_NOISE)
    sets = ones * high + zeros * low + np.log(_DRIVEN)
    clears = ones * low + zeros * high + np.log(_DRIVEN)
    alone = ones * np.log(rate) + zeros * np.log1p(-rate) + np.log1p(-2 * _DRIVEN)
    top = np.maximum(np.maximum(sets, clears), alone)
    w_sets, w_clears, w_alone = (np.exp(x - top) for x in (sets, clears, alone))
    mixed = w_sets * (1 - _NOISE) + w_clears * _NOISE + w_alone * rate
    result: npt.NDArray[np.float32] = (mixed / (w_sets + w_clears + w_alone)).astype(
        np.float32
    )
    return result
