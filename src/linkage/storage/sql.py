"""Small SQL helpers the store's modules share, each inside a caller's transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from linkage.errors import LinkageError

__all__ = ["NotFoundError", "insert_row", "only_row"]


class StoreError(LinkageError):
    """Base class of the errors the store raises for a caller's mistake."""


class NotFoundError(StoreError, LookupError):
    """The project, party, token or request asked for does not exist."""


def insert_row(connection: Connection, table: sa.Table, values: dict[str, Any]) -> int:
    """Insert one row and return its integer primary key."""
    result = connection.execute(sa.insert(table).values(values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def only_row(connection: Connection, query: sa.Select[Any], missing: str) -> RowMapping:
    """The first row ``query`` selects, or :class:`NotFoundError` saying ``missing``."""
    row = connection.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(missing)
    return row
