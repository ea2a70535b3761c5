"""Reveal requests, approvers' decisions and per-agency grants, as stored.

This module only keeps the rows; the rules (who may approve, when a grant is
issued, what it says) live in :mod:`linkage.service.reveals`, which calls
these methods inside one :meth:`Store.transaction` so a decision, the grants
it triggers and their audit entries are committed together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linkage.storage.records import (
    RevealDecision,
    RevealRequest,
    RevealState,
    RevealTarget,
)
from linkage.storage.sql import NotFoundError, insert_row, only_row
from linkage.storage.store import ConflictError, Store
from linkage.storage.tables import (
    members,
    parties,
    reveal_decisions,
    reveal_requests,
    reveal_targets,
)

__all__ = ["RevealStore"]


class RevealStore:
    """The reveal tables of one :class:`Store`. Every method is keyword-only
    and runs in the caller's transaction when one is open, else in its own."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _connection(self, for_update: bool) -> AbstractContextManager[Connection]:
        # A read that locks rows for an update is part of a write.
        return self._store.transaction() if for_update else self._store.reading()

    def create_request(
        self,
        *,
        project_id: int,
        run_id: int,
        match_id: str,
        investigator_id: int,
        investigator_key: str,
        purpose: str,
        legal_basis: str,
        case_reference: str | None,
        policy: Mapping[str, Any],
        targets: Mapping[int, Sequence[str]],
    ) -> RevealRequest:
        """Record a pending request and one awaiting target per party id,
        with the party's pseudonyms in the match (perhaps none)."""
        with self._store.transaction() as connection:
            request_id = insert_row(
                connection,
                reveal_requests,
                {
                    "project_id": project_id,
                    "run_id": run_id,
                    "match_id": match_id,
                    "investigator_id": investigator_id,
                    "investigator_key": investigator_key,
                    "purpose": purpose,
                    "legal_basis": legal_basis,
                    "case_reference": case_reference,
                    "state": "pending",
                    "policy": json.dumps(dict(policy), sort_keys=True),
                    "created_at": self._store.now(),
                },
            )
            for party_id, pseudonyms in targets.items():
                insert_row(
                    connection,
                    reveal_targets,
                    {
                        "request_id": request_id,
                        "party_id": party_id,
                        "pseudonyms": json.dumps(list(pseudonyms)),
                        "state": "awaiting",
                    },
                )
            return _request(connection, project_id, request_id)

    def get_request(
        self, *, project_id: int, request_id: int, for_update: bool = False
    ) -> RevealRequest:
        """Return the request with its decisions and targets.

        ``for_update`` locks its row (where the database can) until the
        transaction ends, so two approvals are counted one after the other.

        Raises:
            NotFoundError: the project has no such request.
        """
        with self._connection(for_update) as connection:
            return _request(connection, project_id, request_id, for_update=for_update)

    def requests_of(
        self, *, project_id: int, investigator_id: int | None = None
    ) -> list[RevealRequest]:
        """The project's requests (or one investigator's), newest first."""
        query = sa.select(reveal_requests.c.id).where(
            reveal_requests.c.project_id == project_id
        )
        if investigator_id is not None:
            query = query.where(reveal_requests.c.investigator_id == investigator_id)
        with self._store.reading() as connection:
            ids = connection.scalars(query.order_by(reveal_requests.c.id.desc()))
            return [_request(connection, project_id, int(i)) for i in ids]

    def add_decision(
        self,
        *,
        request_id: int,
        member_id: int,
        decision: Literal["approve", "deny"],
        reason: str,
        approvals: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """Record an approver's decision, with their signed approvals by party.

        Raises:
            ConflictError: this approver already decided on the request.
        """
        with self._store.transaction() as connection:
            earlier = connection.scalar(
                sa.select(reveal_decisions.c.decision).where(
                    reveal_decisions.c.request_id == request_id,
                    reveal_decisions.c.member_id == member_id,
                )
            )
            if earlier is not None:
                raise ConflictError(
                    f"you already decided on request {request_id} ({earlier}); "
                    "a decision cannot be changed"
                )
            insert_row(
                connection,
                reveal_decisions,
                {
                    "request_id": request_id,
                    "member_id": member_id,
                    "decision": decision,
                    "reason": reason,
                    "approvals": None
                    if approvals is None
                    else json.dumps(
                        [
                            {"party": party, **signed}
                            for party, signed in sorted(approvals.items())
                        ]
                    ),
                    "created_at": self._store.now(),
                },
            )

    def decide_request(self, *, request_id: int, state: RevealState) -> None:
        """Close a pending request as approved or denied."""
        with self._store.transaction() as connection:
            connection.execute(
                sa.update(reveal_requests)
                .where(reveal_requests.c.id == request_id)
                .values(state=state, decided_at=self._store.now())
            )
            if state == "denied":
                connection.execute(
                    sa.update(reveal_targets)
                    .where(
                        reveal_targets.c.request_id == request_id,
                        reveal_targets.c.state == "awaiting",
                    )
                    .values(state="withdrawn")
                )

    def mark_empty(self, *, grant_id: int) -> None:
        """Close an awaiting target whose agency holds no record in the match."""
        self._update_in_state(grant_id, "awaiting", state="empty")

    def _update_in_state(
        self, grant_id: int, current: str, /, **values: object
    ) -> bool:
        """Set ``values`` on the grant if it is (still) in state ``current``;
        whether it was."""
        with self._store.transaction() as connection:
            done = connection.execute(
                sa.update(reveal_targets)
                .where(
                    reveal_targets.c.id == grant_id,
                    reveal_targets.c.state == current,
                )
                .values(**values)
            )
        return bool(done.rowcount == 1)

    def issue_grant(
        self,
        *,
        grant_id: int,
        payload: bytes,
        signature: bytes,
        expires_at: datetime,
    ) -> None:
        """Attach the signed grant to an awaiting target and mark it issued."""
        self._update_in_state(
            grant_id,
            "awaiting",
            state="issued",
            grant_payload=payload,
            grant_signature=signature,
            expires_at=expires_at,
        )

    def find_grant(
        self, *, project_id: int, grant_id: int, for_update: bool = False
    ) -> tuple[RevealRequest, RevealTarget]:
        """Return a grant (target) of the project and its request.

        Raises:
            NotFoundError: the project has no such grant.
        """
        query = (
            sa.select(reveal_targets.c.request_id)
            .join(reveal_requests, reveal_requests.c.id == reveal_targets.c.request_id)
            .where(
                reveal_targets.c.id == grant_id,
                reveal_requests.c.project_id == project_id,
            )
        )
        with self._connection(for_update) as connection:
            request_id = connection.scalar(query)
            if request_id is None:
                raise NotFoundError(f"project {project_id} has no grant {grant_id}")
            request = _request(
                connection, project_id, int(request_id), for_update=for_update
            )
        target = next(t for t in request.targets if t.id == grant_id)
        return request, target

    def grants_for(
        self, *, project_id: int, party_id: int
    ) -> list[tuple[RevealRequest, RevealTarget]]:
        """The party's issued (not yet answered) grants, oldest first."""
        query = (
            sa.select(reveal_targets.c.id)
            .join(reveal_requests, reveal_requests.c.id == reveal_targets.c.request_id)
            .where(
                reveal_requests.c.project_id == project_id,
                reveal_targets.c.party_id == party_id,
                reveal_targets.c.state == "issued",
            )
            .order_by(reveal_targets.c.id)
        )
        with self._store.reading() as connection:
            ids = list(connection.scalars(query))
        return [self.find_grant(project_id=project_id, grant_id=int(i)) for i in ids]

    def issued_grants(self) -> list[tuple[int, bytes]]:
        """Every issued grant not yet answered, of every project: its ID and
        signed payload, oldest first."""
        query = (
            sa.select(reveal_targets.c.id, reveal_targets.c.grant_payload)
            .where(reveal_targets.c.state == "issued")
            .order_by(reveal_targets.c.id)
        )
        with self._store.reading() as connection:
            rows = connection.execute(query).all()
        return [(int(row.id), bytes(row.grant_payload)) for row in rows]

    def resign_grant(self, *, grant_id: int, payload: bytes, signature: bytes) -> bool:
        """Replace an issued grant's signed payload (after the service key
        was rotated); False if it was answered in the meantime."""
        return self._update_in_state(
            grant_id, "issued", grant_payload=payload, grant_signature=signature
        )

    def refuse_naming(
        self, *, project_id: int, party_id: int, pseudonyms: set[str], reason: str
    ) -> list[tuple[int, int]]:
        """Refuse every open grant (awaiting approval, or issued and not yet
        answered) of the party that names one of ``pseudonyms``, with
        ``reason``; return their (request id, grant id) pairs.

        An approval is signed over the exact pseudonyms, so a grant cannot
        just drop one: it is refused whole, and a new request names the rest.
        """
        query = (
            sa.select(
                reveal_targets.c.id,
                reveal_targets.c.request_id,
                reveal_targets.c.state,
                reveal_targets.c.pseudonyms,
            )
            .join(reveal_requests, reveal_requests.c.id == reveal_targets.c.request_id)
            .where(
                reveal_requests.c.project_id == project_id,
                reveal_targets.c.party_id == party_id,
                reveal_targets.c.state.in_(("awaiting", "issued")),
            )
            .order_by(reveal_targets.c.id)
        )
        refused = []
        with self._store.transaction() as connection:
            for row in connection.execute(query).all():
                if not pseudonyms & set(json.loads(row.pseudonyms)):
                    continue
                if self._update_in_state(
                    int(row.id),
                    str(row.state),
                    state="refused",
                    refusal_reason=reason,
                    answered_at=self._store.now(),
                ):
                    refused.append((int(row.request_id), int(row.id)))
        return refused

    def answer_grant(
        self,
        *,
        grant_id: int,
        state: Literal["fulfilled", "refused"],
        sealed: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record the agency's answer to an issued grant, once.

        Raises:
            ConflictError: the grant is no longer issued (answered before).
        """
        answered = self._update_in_state(
            grant_id,
            "issued",
            state=state,
            sealed=sealed,
            refusal_reason=reason,
            answered_at=self._store.now(),
        )
        if not answered:
            raise ConflictError(
                f"grant {grant_id} was already answered; a grant is used once"
            )


def _request(
    connection: Connection,
    project_id: int,
    request_id: int,
    *,
    for_update: bool = False,
) -> RevealRequest:
    query = (
        sa.select(reveal_requests, members.c.name.label("investigator"))
        .join(members, members.c.id == reveal_requests.c.investigator_id)
        .where(
            reveal_requests.c.id == request_id,
            reveal_requests.c.project_id == project_id,
        )
    )
    if for_update:
        query = query.with_for_update(of=reveal_requests)
    row = only_row(
        connection, query, f"project {project_id} has no reveal request {request_id}"
    )
    return RevealRequest.from_row(
        row, _decisions(connection, request_id), _targets(connection, request_id)
    )


def _decisions(connection: Connection, request_id: int) -> tuple[RevealDecision, ...]:
    rows = connection.execute(
        sa.select(reveal_decisions, members.c.name.label("approver"))
        .join(members, members.c.id == reveal_decisions.c.member_id)
        .where(reveal_decisions.c.request_id == request_id)
        .order_by(reveal_decisions.c.id)
    ).mappings()
    return tuple(RevealDecision.from_row(row) for row in rows)


def _targets(connection: Connection, request_id: int) -> tuple[RevealTarget, ...]:
    rows = connection.execute(
        sa.select(reveal_targets, parties.c.name.label("party_name"))
        .join(parties, parties.c.id == reveal_targets.c.party_id)
        .where(reveal_targets.c.request_id == request_id)
        .order_by(reveal_targets.c.id)
    ).mappings()
    return tuple(RevealTarget.from_row(row, row["party_name"]) for row in rows)
