"""Check an agency's own ledger against the service's audit log.

The agency's ledger (:class:`~linkage.reveal.disclosure.FulfilmentLedger`)
records every grant it answered, written on its own machine before it seals
anything. The service's log records every answer it relayed. The two must
agree: a disclosure the log says the agency made but its ledger lacks was
made by someone else in its name (the operator, say); an answer in the ledger
that the log lacks was never recorded by the service (or never delivered,
when the agency stopped between its ledger and the upload). A refusal in the
log that the ledger lacks is not flagged: an agency does not record refusing
a replay, and a refusal made up in its name discloses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from linkage.audit.chain import AuditEntry
from linkage.reveal.disclosure import LedgerAnswer

__all__ = ["LedgerMismatch", "compare_ledger"]

_ACTIONS = {"fulfilled": "reveal.fulfilled", "refused": "reveal.refused"}


@dataclass(frozen=True)
class LedgerMismatch:
    """One disagreement between the ledger and the log, said plainly."""

    project_id: int | None
    grant_id: int
    message: str


def compare_ledger(
    entries: Sequence[AuditEntry], answers: Sequence[LedgerAnswer], party: str
) -> list[LedgerMismatch]:
    """Every disagreement between ``party``'s ledger ``answers`` and the log."""
    logged = {
        (entry.project_id, _grant(entry), entry.action)
        for entry in entries
        if entry.action in _ACTIONS.values() and entry.details.get("party") == party
    }
    fulfilled = {item for item in logged if item[2] == _ACTIONS["fulfilled"]}
    recorded = {
        (answer.project_id, answer.grant_id, _ACTIONS[answer.outcome])
        for answer in answers
    }
    mismatches = [
        LedgerMismatch(
            project_id,
            grant_id,
            f"the service's log says {party} {action.split('.')[1]} grant "
            f"{grant_id} of project {project_id}, but {party}'s ledger has no "
            "such answer: someone else answered in its name",
        )
        for project_id, grant_id, action in sorted(fulfilled - recorded, key=_order)
        if grant_id is not None
    ]
    mismatches += [
        LedgerMismatch(
            project_id,
            grant_id,
            f"{party}'s ledger says it {action.split('.')[1]} grant {grant_id} of "
            f"project {project_id}, but the service's log does not: the answer "
            "was never recorded (or never delivered, if the agency stopped "
            "before uploading it)",
        )
        for project_id, grant_id, action in sorted(recorded - logged, key=_order)
    ]
    return mismatches


def _grant(entry: AuditEntry) -> int | None:
    value = entry.details.get("grant_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _order(item: tuple[int | None, int | None, str]) -> tuple[int, int, str]:
    project_id, grant_id, action = item
    return (project_id or 0, grant_id or 0, action)
