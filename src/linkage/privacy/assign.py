"""One-to-one assignment of encodings to population records, with confidences.

Every attack ends the same way: a score for each (encoding, record) pair, from
which each encoding gets at most one record and each record at most one
encoding. Mutual best pairs are taken first, round after round, because they
are cheap to find on a dense score matrix and rarely wrong; what is left is
solved optimally when small enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

Scores = npt.NDArray[np.float32] | npt.NDArray[np.float64]

_EXACT_LIMIT = 1500  # Rows left over that are solved optimally.
_ROUNDS = 30


@dataclass(frozen=True)
class Assignment:
    """What an attack concluded about each encoding.

    Attributes:
        record: the population row each encoding is assigned to, or -1.
        confidence: the assigned score minus the best other score of the
            encoding: negative where a better record went to another encoding,
            0 where no assignment was made. Only the order matters, not the
            scale.
    """

    record: npt.NDArray[np.int64]
    confidence: npt.NDArray[np.float64]

    @property
    def assigned(self) -> int:
        """How many encodings were assigned a record."""
        return int((self.record >= 0).sum())

    def most_confident(self, count: int) -> npt.NDArray[np.int64]:
        """Indices of the ``count`` assigned encodings with the highest confidence."""
        assigned = np.flatnonzero(self.record >= 0)
        order = np.argsort(-self.confidence[assigned], kind="stable")
        return assigned[order[:count]].astype(np.int64)


def assign_one_to_one(scores: Scores) -> Assignment:
    """Assign rows (encodings) to columns (records) one to one, higher is better.

    Non-finite scores mark pairs that may not be assigned.
    """
    rows, cols = scores.shape
    record = np.full(rows, -1, dtype=np.int64)
    work = np.where(np.isfinite(scores), scores, -np.inf).astype(np.float64)
    free_rows = np.arange(rows)
    free_cols = np.arange(cols)
    for _ in range(_ROUNDS):
        if not len(free_rows) or not len(free_cols):
            break
        block = work[np.ix_(free_rows, free_cols)]
        best_col = block.argmax(axis=1)
        best_row = block.argmax(axis=0)
        mutual = best_row[best_col] == np.arange(len(free_rows))
        mutual &= np.isfinite(block[np.arange(len(free_rows)), best_col])
        if not mutual.any():
            break
        record[free_rows[mutual]] = free_cols[best_col[mutual]]
        free_cols = np.setdiff1d(free_cols, free_cols[best_col[mutual]])
        free_rows = free_rows[~mutual]
    if len(free_rows) and len(free_cols) and len(free_rows) <= _EXACT_LIMIT:
        block = work[np.ix_(free_rows, free_cols)]
        finite = np.isfinite(block)
        floor = block[finite].min() - 1.0 if finite.any() else 0.0
        solved_rows, solved_cols = linear_sum_assignment(
            np.where(finite, block, floor), maximize=True
        )
        ok = finite[solved_rows, solved_cols]
        record[free_rows[solved_rows[ok]]] = free_cols[solved_cols[ok]]
    return Assignment(record=record, confidence=_margins(work, record))


def _margins(
    scores: npt.NDArray[np.float64], record: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Assigned score minus the best other score of the row (0 if unassigned)."""
    confidence = np.zeros(len(record))
    rows = np.flatnonzero(record >= 0)
    if not len(rows) or scores.shape[1] < 2:
        return confidence
    chosen = scores[rows, record[rows]]
    others = scores[rows].copy()
    others[np.arange(len(rows)), record[rows]] = -np.inf
    runner_up = others.max(axis=1)
    margin = np.where(np.isfinite(runner_up), chosen - runner_up, chosen)
    confidence[rows] = np.nan_to_num(margin, nan=0.0, posinf=0.0, neginf=0.0)
    return confidence


def correct_share(
    assignment: Assignment, truth: npt.NDArray[np.int64]
) -> tuple[int, int]:
    """(correct assignments, encodings with a true counterpart).

    ``truth`` holds each encoding's true population row, or -1 where the
    population does not hold the person.
    """
    has_truth = truth >= 0
    correct = int(((assignment.record == truth) & has_truth).sum())
    return correct, int(has_truth.sum())
