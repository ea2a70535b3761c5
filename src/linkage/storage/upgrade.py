"""Bring a database made by an earlier linkage up to the current tables.

``metadata.create_all`` creates missing tables but leaves existing ones as
they are, so a service upgraded in place would fail on its first query of a
column added since (a project's ``method``, its retention settings). The
columns added so far are nullable or have a constant default, which an
``ALTER TABLE ... ADD COLUMN`` can fill in for the rows already there; a
column that cannot be added that way is refused with a clear error rather
than half-migrated.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from linkage.storage.sql import StoreError
from linkage.storage.tables import metadata

__all__ = ["add_missing_columns"]


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the columns older tables lack, in one transaction; return them.

    Raises:
        StoreError: a missing column has no constant default and may not be
            null, or takes part in a key; nothing is changed then.
    """
    inspector = sa.inspect(engine)
    missing: list[tuple[sa.Table, sa.Column[Any]]] = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue  # create_all has just made it whole.
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing.extend((table, c) for c in table.columns if c.name not in present)
    for table, column in missing:
        _check_addable(table, column)
    with engine.begin() as connection:
        for table, column in missing:
            connection.execute(sa.text(_add_column(connection, table, column)))
    return [f"{table.name}.{column.name}" for table, column in missing]


def _check_addable(table: sa.Table, column: sa.Column[Any]) -> None:
    keyed = column.primary_key or column.foreign_keys or column.unique
    if keyed or (not column.nullable and _constant_default(column) is None):
        raise StoreError(
            f"the database's table {table.name!r} was made by an earlier "
            f"linkage and lacks column {column.name!r}, which cannot be added "
            "in place: back the database up, then start the service on a new "
            "data folder, or migrate the table by hand"
        )


def _constant_default(column: sa.Column[Any]) -> object | None:
    default = column.default
    if isinstance(default, sa.ColumnDefault) and default.is_scalar:
        value: object = default.arg
        return value
    return None


def _add_column(connection: Connection, table: sa.Table, column: sa.Column[Any]) -> str:
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    parts = [
        f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)}",
        column.type.compile(dialect=dialect),
    ]
    value = _constant_default(column)
    if value is not None:
        literal = sa.literal(value, type_=column.type).compile(
            dialect=dialect, compile_kwargs={"literal_binds": True}
        )
        parts.append(f"DEFAULT {literal}")
    if not column.nullable:
        parts.append("NOT NULL")
    return " ".join(parts)
