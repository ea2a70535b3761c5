"""The audit log's rows: append an entry, sign the new head, read it all back.

The chain itself (hashes, signed heads, verification) is defined in
:mod:`linkage.audit.chain`; this module only stores it. Every append runs in
the caller's transaction when one is open, so an action and the entry that
records it are committed together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection, RowMapping

from linkage.audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    SignedHead,
    next_entry,
    sign_head,
)
from linkage.batching import Combiner
from linkage.storage.store import ConflictError, Store
from linkage.storage.tables import audit_entries, audit_heads, audit_state

__all__ = ["AuditLog", "read_audit_log"]

_STATE_ROW: Final = 1


@dataclass(frozen=True)
class _Record:
    """An entry to append: what :func:`~linkage.audit.chain.next_entry` takes."""

    actor: str
    action: str
    project_id: int | None
    details: Mapping[str, Any] | None


class AuditLog:
    """The append-only audit log of one :class:`Store`, signed with the
    service's Ed25519 key after every entry."""

    def __init__(self, store: Store, signing_key: Ed25519PrivateKey) -> None:
        self._store = store
        self._key = signing_key
        self._batched: Combiner[_Record, AuditEntry] = Combiner(self._append_all)
        try:
            self._ensure_state_row()
        except ConflictError:
            pass  # Another process created it at the same moment.

    def append(
        self,
        *,
        actor: str,
        action: str,
        project_id: int | None = None,
        details: Mapping[str, Any] | None = None,
        batched: bool = False,
    ) -> AuditEntry:
        """Add an entry after the last one and sign the new head.

        ``details`` must be JSON-able and must never hold a token, a secret or
        an identity: the log is exported to oversight bodies.

        ``batched`` shares one transaction and one signed head with the
        entries other threads append at the same moment (a commit each was
        the longest wait of a busy lookup desk). For entries that record
        nothing else: never inside a transaction of the caller's.
        """
        record = _Record(actor, action, project_id, details)
        if batched:
            return self._batched.run(record)
        return self._append_all([record])[0]

    def _append_all(self, records: Sequence[_Record]) -> list[AuditEntry]:
        """Append ``records`` in order in one transaction; sign the last."""
        with self._store.transaction() as connection:
            previous = self._lock_last(connection)
            now = self._store.now()
            entries = []
            for record in records:
                previous = next_entry(
                    previous,
                    at=now,
                    actor=record.actor,
                    action=record.action,
                    project_id=record.project_id,
                    details=dict(record.details or {}),
                )
                entries.append(previous)
            connection.execute(
                sa.insert(audit_entries), [_entry_values(entry) for entry in entries]
            )
            last = entries[-1]
            head = sign_head(self._key, last, now)
            connection.execute(sa.insert(audit_heads).values(head.to_json()))
            connection.execute(
                sa.update(audit_state)
                .where(audit_state.c.id == _STATE_ROW)
                .values(seq=last.seq, hash=last.hash)
            )
            return entries

    def read(self) -> tuple[list[AuditEntry], list[SignedHead]]:
        """Every entry (in sequence order) and every signed head (oldest
        first), read in one transaction."""
        return read_audit_log(self._store)

    def _ensure_state_row(self) -> None:
        with self._store.transaction() as connection:
            present = connection.scalar(
                sa.select(audit_state.c.id).where(audit_state.c.id == _STATE_ROW)
            )
            if present is None:
                connection.execute(
                    sa.insert(audit_state).values(
                        id=_STATE_ROW, seq=0, hash=GENESIS_HASH
                    )
                )

    def _lock_last(self, connection: Connection) -> AuditEntry | None:
        """The last entry, read once the state row is locked: until the
        transaction ends no other writer can append."""
        connection.execute(
            sa.select(audit_state.c.id)
            .where(audit_state.c.id == _STATE_ROW)
            .with_for_update()
        )
        row = (
            connection.execute(
                sa.select(audit_entries).order_by(audit_entries.c.seq.desc()).limit(1)
            )
            .mappings()
            .first()
        )
        return None if row is None else _entry_from_row(row)


def read_audit_log(store: Store) -> tuple[list[AuditEntry], list[SignedHead]]:
    """The whole log as stored: entries in sequence order, heads oldest first.

    Needs no key, so an oversight body can read a copy of the database.
    """
    with store.transaction() as connection:
        entry_rows = connection.execute(
            sa.select(audit_entries).order_by(audit_entries.c.seq)
        ).mappings()
        entries = [_entry_from_row(row) for row in entry_rows]
        head_rows = connection.execute(
            sa.select(audit_heads).order_by(audit_heads.c.id)
        ).mappings()
        heads = [
            SignedHead(
                seq=row["seq"],
                hash=row["hash"],
                signed_at=row["signed_at"],
                signature=row["signature"],
            )
            for row in head_rows
        ]
    return entries, heads


def _entry_values(entry: AuditEntry) -> dict[str, Any]:
    values = entry.to_json()
    values["details"] = json.dumps(entry.details, sort_keys=True, ensure_ascii=False)
    return values


def _entry_from_row(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        project_id=row["project_id"],
        details=json.loads(row["details"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
