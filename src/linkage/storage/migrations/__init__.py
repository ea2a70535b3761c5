"""The database schema's versions, with Alembic, and how a database reaches
the newest one.

Each change to the tables is a revision in ``versions/`` (0001 is the schema
of the last release before migrations), and the database records the one it
is at (Alembic's ``alembic_version`` table). :func:`upgrade_database` runs on
every start of the service and by ``linkage db upgrade``:

- a new, empty database gets every revision in turn;
- a versioned one gets the revisions it lacks;
- one made before migrations (tables but no version) gets the columns and
  tables it lacks, as earlier releases did on start (only columns that are
  nullable or have a constant default were ever added), and then records the
  newest version.

Services started together on one database upgrade it one at a time: on
PostgreSQL under an advisory lock, on SQLite under its write lock (engines
from :func:`linkage.storage.engine.open_engine` take it as each transaction
begins); whoever comes second finds the version the first recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from linkage.storage.tables import metadata
from linkage.storage.upgrade import add_missing_columns

__all__ = ["database_version", "newest_version", "upgrade_database"]

_HERE = Path(__file__).parent
# PostgreSQL advisory lock key of schema upgrades (any constant of our own).
_UPGRADE_LOCK = 0x6C696E6B  # "link"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = connection
    return config


def newest_version() -> str:
    """The newest revision this linkage knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def database_version(engine: Engine) -> str | None:
    """The revision the database records (None: none, or no tables yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(engine: Engine, revision: str = "head") -> list[str]:
    """Bring the database to ``revision`` (the newest by default); say what
    was done.

    Raises:
        StoreError: a database made before migrations lacks a column that
            cannot be added in place (nothing is changed then).
    """
    with _one_upgrade_at_a_time(engine):
        return _upgrade(engine, revision)


@contextmanager
def _one_upgrade_at_a_time(engine: Engine) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock of upgrades on a connection of its own
    (SQLite's write lock serves there; see the module's docstring)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    key = {"key": _UPGRADE_LOCK}
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), key)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), key)
            connection.commit()


def _upgrade(engine: Engine, revision: str) -> list[str]:
    before = database_version(engine)
    if before is None and sa.inspect(engine).has_table("projects"):
        added = add_missing_columns(engine)
        metadata.create_all(engine)  # Tables added since that release.
        with engine.begin() as connection:
            command.stamp(_config(connection), "head")
        return [f"added {column}" for column in added] + [
            f"recorded version {newest_version()}"
        ]
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    after = database_version(engine)
    return (
        [] if before == after else [f"upgraded from {before or 'nothing'} to {after}"]
    )
