"""The known-plaintext attack: learn each token's bits from a few known pairs.

Threat model: someone holds the encodings (the linkage operator, or anyone who
copies its storage) and also knows who a few of them are: records of their own,
public persons, identities disclosed through a reveal. No secret is needed.

From the known (encoding, record) pairs the attacker estimates, for every
token (feature, q-gram) and every bit position, the probability that the bit
is set when the token is present. The estimate is a posterior over three
hypotheses: the token sets the bit (almost always 1), clears it (almost
always 0), or leaves it alone (1 at the bit's overall rate). So a token seen
once moves the estimate a little, a token seen often pins it down, and
nothing assumes a bit is the OR of token bits: a token that clears bits
(balancing) or sets them only mostly (BLIP) is learnt the same way. Each token
then scores an encoding by the log-likelihood ratio of its bits, a record
scores the sum over its tokens, and the records are assigned one to one. The
most confident assignments (half as many again as the pairs known so far)
become the known pairs of the next round; growing slowly keeps them right.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from linkage.formats.schema import LinkageSchema
from linkage.privacy.assign import Assignment, assign_one_to_one
from linkage.privacy.bits import Progress, report, unpack_bits
from linkage.privacy.tokens import token_table

Pairs = npt.NDArray[np.int64]

_DRIVEN = 0.03  # Prior share of bits a token sets (and again, that it clears).
_NOISE = 0.02  # How often a bit a token drives still disagrees.
_GROWTH = 1.5  # Known pairs are multiplied by this each round.
_RATE_FLOOR = 0.002  # Keeps logarithms finite for bits that are (almost) never set.


def known_plaintext_attack(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    known: Pairs,
    *,
    rounds: int = 10,
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
            every encoding is in the known pairs and the assignment is stable.
        progress: called with ("Known-plaintext attack", round, rounds).

    Returns:
        An assignment in which the known pairs are assigned to themselves.

    Raises:
        ValueError: ``known`` has a row outside the encodings or population.
        InputError: the population lacks a column the schema encodes.
    """
    known = _checked_pairs(known, len(clks), len(population))
    bits = unpack_bits(clks, schema.clk_length)
    tokens = token_table(schema, population).matrix
    rate = np.clip(bits.mean(axis=0), _RATE_FLOOR, 1 - _RATE_FLOOR)
    pairs = known
    assignment = _with_known(_empty(len(clks)), known)
    for round_number in range(1, rounds + 1):
        report(progress, "Known-plaintext attack", round_number - 1, rounds)
        scores = _scores(bits, tokens, rate, pairs)
        previous = assignment.record
        assignment = _with_known(_assign_rest(scores, known), known)
        if len(pairs) >= assignment.assigned and np.array_equal(
            previous, assignment.record
        ):
            break
        grown = min(len(clks), int(len(pairs) * _GROWTH) + 1)
        more = assignment.most_confident(grown)
        pairs = np.column_stack([more, assignment.record[more]])
    report(progress, "Known-plaintext attack", rounds, rounds)
    return assignment


def _scores(
    bits: npt.NDArray[np.float32],
    tokens: sp.csr_matrix,
    rate: npt.NDArray[np.float32],
    pairs: Pairs,
) -> npt.NDArray[np.float32]:
    """Log-likelihood score of every (encoding, record) pair, float32."""
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


def _assign_rest(scores: npt.NDArray[np.float32], known: Pairs) -> Assignment:
    """Assign every encoding, keeping the known pairs' rows and records out."""
    scores = scores.copy()
    scores[known[:, 0], :] = -np.inf
    scores[:, known[:, 1]] = -np.inf
    return assign_one_to_one(scores)


def _with_known(assignment: Assignment, known: Pairs) -> Assignment:
    record = assignment.record.copy()
    confidence = assignment.confidence.copy()
    record[known[:, 0]] = known[:, 1]
    top = float(confidence.max()) if len(confidence) else 0.0
    confidence[known[:, 0]] = top + 1.0
    return Assignment(record=record, confidence=confidence)


def _empty(count: int) -> Assignment:
    return Assignment(
        record=np.full(count, -1, dtype=np.int64), confidence=np.zeros(count)
    )


def _checked_pairs(known: Pairs, encodings: int, records: int) -> Pairs:
    pairs = np.asarray(known, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("the known-plaintext attack needs at least one known pair")
    if (pairs[:, 0] < 0).any() or (pairs[:, 0] >= encodings).any():
        raise ValueError(f"known pairs must name encodings 0 to {encodings - 1}")
    if (pairs[:, 1] < 0).any() or (pairs[:, 1] >= records).any():
        raise ValueError(f"known pairs must name population rows 0 to {records - 1}")
    return pairs
