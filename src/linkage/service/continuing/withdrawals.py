"""Withdrawn records are never revealed.

From the moment an agency stages a withdrawal, every open grant (awaiting
approval, or issued and not yet answered) naming one of its withdrawn
pseudonyms is refused, and a new reveal request leaves them out; a request
whose match, in the agencies it names, holds only withdrawn records is
refused (409). That refusal tells the investigator that the match once held
records it will not see, no more: not which agency, nor how many.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from linkage.service.continuing.folders import changes_file
from linkage.storage import Party, Store
from linkage.storage.audit_log import AuditLog
from linkage.storage.reveals import RevealStore

__all__ = ["WITHDRAWN_REASON", "held_by_withdrawn", "refuse_withdrawn_grants"]

WITHDRAWN_REASON: Final = (
    "the agency withdrew a record this grant names; a new request may name "
    "the records that remain"
)


def refuse_withdrawn_grants(
    store: Store, audit: AuditLog, project_id: int, party: Party, pseudonyms: set[str]
) -> int:
    """Refuse the party's open grants naming ``pseudonyms``, each audited;
    return how many. Call in the transaction that stages the withdrawal."""
    refused = RevealStore(store).refuse_naming(
        project_id=project_id,
        party_id=party.id,
        pseudonyms=pseudonyms,
        reason=WITHDRAWN_REASON,
    )
    for request_id, grant_id in refused:
        audit.append(
            actor="service",
            action="reveal.refused",
            project_id=project_id,
            details={
                "request_id": request_id,
                "grant_id": grant_id,
                "party": party.name,
                "reason": WITHDRAWN_REASON,
            },
        )
    return len(refused)


def held_by_withdrawn(
    store: Store, data_dir: Path, project_id: int, parties: Sequence[str], match_id: str
) -> bool:
    """Whether an update run withdrew a record of one of ``parties`` that
    was in match ``match_id`` (read from the runs' changes files)."""
    for run in store.runs_of(project_id=project_id):
        if run.kind != "update" or run.state != "completed" or not run.result_dir:
            continue
        for party in parties:
            path = changes_file(data_dir / run.result_dir, party)
            if path.is_file() and _withdrew_from(path, match_id):
                return True
    return False


def _withdrew_from(path: Path, match_id: str) -> bool:
    with path.open(encoding="utf-8", newline="") as changes:
        return any(
            row["kind"] == "withdrawn" and row["match_id_before"] == match_id
            for row in csv.DictReader(changes)
        )
