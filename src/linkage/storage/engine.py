"""The SQLAlchemy engine every part of linkage opens a database with.

One place, so that the service, ``linkage db`` and the migrations meet the
same database the same way: on SQLite, foreign keys on, a busy timeout, and
every writing transaction taking the write lock up front; on PostgreSQL, the
URL as given.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = ["READ_ONLY", "open_engine"]

#: Set in a connection's ``info`` for a transaction that only reads: on SQLite
#: it then begins without the write lock.
READ_ONLY = "read_only"


def open_engine(database_url: str) -> Engine:
    """An engine for ``database_url``, set up as the store expects."""
    engine = sa.create_engine(database_url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _configure_sqlite)
        sa.event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event start transactions, not the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # SQLite's default deferred transactions fail with "database is locked"
    # when two readers both try to write; taking the write lock up front makes
    # concurrent transactions wait their turn (up to the busy timeout). It also
    # makes two processes upgrading one new database take turns: the second
    # then finds the first's version. A transaction that only reads
    # (Store.reading) needs no write lock.
    if connection.info.get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
