"""Tokens: made, checked (only their hashes are kept) and revoked.

One part of :class:`~linkage.storage.store.Store`.
"""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from linkage.storage.base import (
    AuthenticationError,
    StoreBase,
    _expired,
    hash_token,
)
from linkage.storage.records import (
    Role,
    TokenRecord,
)
from linkage.storage.tables import (
    members,
    parties,
    tokens,
)


class TokensMixin(StoreBase):
    """Tokens: made, checked (only their hashes are kept) and revoked."""

    def create_token(
        self, *, role: Role, project_id: int | None = None, party_id: int | None = None
    ) -> str:
        """Make a token and return its text; only its hash is kept.

        Raises:
            ValueError: ``role`` is unknown, or the scope does not fit it (a
                party token needs its party, other roles none).
            NotFoundError: the party is not one of the project's.
        """
        with self.transaction() as connection:
            return self._create_token(connection, role, project_id, party_id)

    def authenticate(self, *, token: str) -> TokenRecord:
        """Return what ``token`` grants.

        Raises:
            AuthenticationError: the token is unknown or revoked; the message
                does not say which.
        """
        return self.authenticate_hash(token_hash=hash_token(token))

    def authenticate_hash(self, *, token_hash: str) -> TokenRecord:
        """Return what the token stored under ``token_hash`` grants, checked
        like :meth:`authenticate` (revoked and expired tokens fail).

        For a web console session, which keeps the hash of the token it was
        opened with rather than the token itself.

        Raises:
            AuthenticationError: no live token has that hash.
        """
        wanted = token_hash
        with self.reading() as connection:
            row = (
                connection.execute(
                    sa.select(tokens).where(tokens.c.token_hash == wanted)
                )
                .mappings()
                .first()
            )
            name = None if row is None else self._holder_name(connection, row)
        # The lookup already matched; the comparison keeps the rule explicit.
        stored = row["token_hash"] if row is not None else hash_token("")
        if (
            row is None
            or not hmac.compare_digest(stored, wanted)
            or row["revoked_at"] is not None
            or _expired(row["expires_at"], self._clock())
        ):
            raise AuthenticationError("the token is not valid")
        return TokenRecord.from_row(row, name)

    def _holder_name(self, connection: Connection, row: RowMapping) -> str | None:
        if row["party_id"] is not None:
            return connection.scalar(
                sa.select(parties.c.name).where(parties.c.id == row["party_id"])
            )
        if row["member_id"] is not None:
            return connection.scalar(
                sa.select(members.c.name).where(members.c.id == row["member_id"])
            )
        return None
