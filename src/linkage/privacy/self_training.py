"""Attacks that start from known pairs and grow them: the rounds they share.

An attacker who knows who a few encodings are learns something from those
pairs, scores every (encoding, record) pair, and assigns one to one. The most
confident assignments (half as many again as the pairs used so far) become the
pairs of the next round; growing slowly keeps them right, and after a few
rounds they cover most encodings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from linkage.privacy.assign import Assignment, Scores, assign_one_to_one
from linkage.privacy.bits import Progress, report

Pairs = npt.NDArray[np.int64]

_GROWTH = 1.5  # Pairs are multiplied by this each round.


def checked_pairs(known: Pairs, encodings: int, records: int, attack: str) -> Pairs:
    """``known`` as a ``(k, 2)`` int64 array of (encoding row, population row).

    Raises:
        ValueError: no pairs, or a row outside the encodings or population.
    """
    pairs = np.asarray(known, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError(f"the {attack} needs at least one known pair")
    if (pairs[:, 0] < 0).any() or (pairs[:, 0] >= encodings).any():
        raise ValueError(f"known pairs must name encodings 0 to {encodings - 1}")
    if (pairs[:, 1] < 0).any() or (pairs[:, 1] >= records).any():
        raise ValueError(f"known pairs must name population rows 0 to {records - 1}")
    return pairs


def self_train(
    scores_of: Callable[[Pairs], Scores],
    known: Pairs,
    encodings: int,
    *,
    step: str,
    rounds: int,
    progress: Progress | None = None,
) -> Assignment:
    """Rounds of score, assign, and grow the pairs from the most confident.

    Args:
        scores_of: the ``(encodings, records)`` scores learnt from some pairs.
        known: the pairs the attacker was given; always assigned to themselves.
        encodings: how many encodings there are.
        step: the progress label.
        rounds: the most rounds; they stop early once the assignment no
            longer changes.
        progress: called with (step, round, rounds).
    """
    pairs = known
    assignment = _with_known(_empty(encodings), known)
    for round_number in range(1, rounds + 1):
        report(progress, step, round_number - 1, rounds)
        previous = assignment.record
        assignment = _with_known(_assign_rest(scores_of(pairs), known), known)
        if round_number > 1 and np.array_equal(previous, assignment.record):
            break
        grown = min(encodings, int(len(pairs) * _GROWTH) + 1)
        more = assignment.most_confident(grown)
        pairs = np.column_stack([more, assignment.record[more]])
    report(progress, step, rounds, rounds)
    return assignment


def _assign_rest(scores: Scores, known: Pairs) -> Assignment:
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
