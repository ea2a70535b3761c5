"""Investigators and approvers, and replacing anyone's token.

One part of :class:`~linkage.storage.store.Store`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linkage.storage.base import (
    MEMBER_ROLES,
    ConflictError,
    StoreBase,
)
from linkage.storage.records import (
    Member,
    Role,
)
from linkage.storage.sql import NotFoundError, insert_row, only_row
from linkage.storage.tables import (
    members,
    tokens,
)


class MembersMixin(StoreBase):
    """Investigators and approvers, and replacing anyone's token."""

    def add_member(
        self, *, project_id: int, name: str, role: Role, public_key: str | None
    ) -> tuple[Member, str]:
        """Register an investigator or approver; return them and their token.

        An investigator gives the X25519 public key identities will be sealed
        to; an approver the Ed25519 key their approvals are signed with (the
        caller checks which kind); an oversight member, who reads the audit
        log, none.

        Raises:
            ValueError: ``role`` is neither, or the key is missing.
            NotFoundError: there is no such project.
            ConflictError: the project has a member of that name and role.
        """
        if role not in MEMBER_ROLES:
            raise ValueError(
                f"a member is an investigator, an approver or oversight, not {role!r}"
            )
        # Oversight reads the audit log only: no key signs or opens anything.
        if (public_key is None) != (role == "oversight"):
            raise ValueError(
                f"an {role} needs a public key"
                if public_key is None
                else "an oversight member has no key"
            )
        with self.transaction() as connection:
            self._project(connection, project_id)
            taken = connection.scalar(
                sa.select(members.c.id).where(
                    members.c.project_id == project_id,
                    members.c.name == name,
                    members.c.role == role,
                )
            )
            if taken is not None:
                raise ConflictError(
                    f"project {project_id} already has an {role} called {name!r}"
                )
            values = {
                "project_id": project_id,
                "name": name,
                "role": role,
                "public_key": public_key,
                "created_at": self._clock(),
            }
            member_id = insert_row(connection, members, values)
            token = self._create_token(connection, role, project_id, None, member_id)
            row = connection.execute(
                sa.select(members).where(members.c.id == member_id)
            ).mappings()
            return Member.from_row(row.one()), token

    def get_member(self, *, project_id: int, member_id: int) -> Member:
        """Return the project's member.

        Raises:
            NotFoundError: the project has no such member.
        """
        query = sa.select(members).where(
            members.c.id == member_id, members.c.project_id == project_id
        )
        with self.reading() as connection:
            row = only_row(
                connection, query, f"project {project_id} has no member {member_id}"
            )
        return Member.from_row(row)

    def revoke_member(self, *, project_id: int, member_id: int) -> Member:
        """Revoke every token of the project's member (they keep their history).

        Raises:
            NotFoundError: the project has no such member.
        """
        with self.transaction() as connection:
            # Joins this transaction: the lookup and the revocation are one.
            member = self.get_member(project_id=project_id, member_id=member_id)
            self._revoke_live_tokens(connection, tokens.c.member_id == member_id)
            return member

    def members_of(self, *, project_id: int) -> list[Member]:
        """Return the project's investigators and approvers, oldest first."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(members)
                .where(members.c.project_id == project_id)
                .order_by(members.c.id)
            ).mappings()
            return [Member.from_row(row) for row in rows]

    def revoke_token(self, *, token_id: int) -> None:
        """Revoke a token; revoking twice keeps the first time.

        Raises:
            NotFoundError: there is no such token.
        """
        with self.transaction() as connection:
            found = connection.execute(
                sa.update(tokens)
                .where(tokens.c.id == token_id)
                .values(revoked_at=sa.func.coalesce(tokens.c.revoked_at, self._clock()))
            )
            if found.rowcount == 0:
                raise NotFoundError(f"there is no token {token_id}")

    def rotate_operator_token(self) -> str:
        """Revoke every live operator token and return a new one's text, in
        one transaction (the service is never left without an operator, nor
        with two)."""
        with self.transaction() as connection:
            self._revoke_live_tokens(connection, tokens.c.role == "operator")
            return self._create_token(connection, "operator", None, None)

    def reissue_member_token(self, *, project_id: int, member_id: int) -> str:
        """Revoke every live token of the member and return a new one's text,
        in one transaction.

        Raises:
            NotFoundError: the project has no such member.
        """
        with self.transaction() as connection:
            member = self.get_member(project_id=project_id, member_id=member_id)
            self._revoke_live_tokens(connection, tokens.c.member_id == member_id)
            return self._create_token(
                connection, member.role, project_id, None, member_id
            )

    def reissue_party_token(self, *, project_id: int, party_id: int) -> str:
        """Revoke every live token of the party and return a new one's text.

        Both happen in one transaction: the party is never left with two live
        tokens, nor with none.

        Raises:
            NotFoundError: the party is not one of the project's.
        """
        with self.transaction() as connection:
            self._party(connection, project_id, party_id)
            self._revoke_live_tokens(
                connection,
                tokens.c.role == "party",
                tokens.c.project_id == project_id,
                tokens.c.party_id == party_id,
            )
            return self._create_token(connection, "party", project_id, party_id)

    def _revoke_live_tokens(
        self, connection: Connection, *which: sa.ColumnElement[bool]
    ) -> None:
        """Revoke, now, the tokens that match ``which`` and are not revoked
        yet (inside the caller's transaction)."""
        connection.execute(
            sa.update(tokens)
            .where(*which, tokens.c.revoked_at.is_(None))
            .values(revoked_at=self._clock())
        )
