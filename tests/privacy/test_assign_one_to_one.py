"""One-to-one assignment and scoring."""

from __future__ import annotations

import numpy as np

from linkage.privacy.assign import Assignment, assign_one_to_one, correct_share


def test_each_record_is_assigned_at_most_once() -> None:
    """Mutual best pairs first; a row left without a column stays unassigned."""
    scores = np.array([[5.0, 4.0], [4.5, 1.0], [0.0, 0.0]])
    assignment = assign_one_to_one(scores)
    assert assignment.record.tolist() == [0, 1, -1]
    # Row 1 lost column 0 to row 0: its margin is negative.
    assert assignment.confidence.tolist() == [1.0, -3.5, 0.0]


def test_forbidden_pairs_are_never_assigned() -> None:
    """-inf marks a pair that may not be assigned."""
    scores = np.array([[-np.inf, 1.0], [-np.inf, 2.0]])
    assignment = assign_one_to_one(scores)
    assert 0 not in assignment.record.tolist()
    assert assignment.assigned == 1


def test_correct_share_ignores_encodings_without_a_counterpart() -> None:
    """Encodings whose person is not in the population are left out."""
    assignment = Assignment(record=np.array([0, 1, 2, -1]), confidence=np.zeros(4))
    truth = np.array([0, 5, -1, 3])
    assert correct_share(assignment, truth) == (1, 3)


def test_most_confident_orders_by_confidence() -> None:
    """Unassigned encodings are never among the most confident."""
    assignment = Assignment(
        record=np.array([3, -1, 4, 5]), confidence=np.array([0.5, 9.0, 2.0, 1.0])
    )
    assert assignment.most_confident(2).tolist() == [2, 3]
