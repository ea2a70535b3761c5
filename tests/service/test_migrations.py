"""The schema's versions (Alembic), on SQLite and on PostgreSQL: a new
database, one a revision behind, and one made before migrations all reach
the newest version, which is exactly what ``tables.py`` describes."""

from __future__ import annotations

import subprocess
import sys
import time

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from linkage.storage import Store
from linkage.storage.migrations import (
    database_version,
    newest_version,
    upgrade_database,
)
from linkage.storage.tables import metadata
from tests.conftest import RunCli


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url)


def test_a_new_database_is_the_schema_of_tables_py(database_url: str) -> None:
    Store.open(database_url).close()
    engine = _engine(database_url)
    try:
        assert database_version(engine) == newest_version()
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection), metadata
            )
        assert differences == []
    finally:
        engine.dispose()


def test_a_database_a_revision_behind_is_upgraded(database_url: str) -> None:
    engine = _engine(database_url)
    try:
        assert upgrade_database(engine, "0001") == ["upgraded from nothing to 0001"]
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO projects (name, schema_fingerprint, threshold,"
                    " mode, method, allow_clkhash_json, created_at,"
                    " retain_encodings) VALUES ('older', :fp, 'auto', 'link',"
                    " 'clk', false, :now, false)"
                ),
                {"fp": "a" * 64, "now": "2026-01-01 00:00:00"},
            )
        assert database_version(engine) == "0001"
        assert upgrade_database(engine) == [f"upgraded from 0001 to {newest_version()}"]
        assert database_version(engine) == newest_version()
        columns = {c["name"] for c in sa.inspect(engine).get_columns("tokens")}
        assert "expires_at" in columns
        with engine.connect() as connection:
            names = connection.execute(sa.text("SELECT name FROM projects"))
            assert [row[0] for row in names] == ["older"]
    finally:
        engine.dispose()


def test_a_database_made_before_migrations_gets_a_version(database_url: str) -> None:
    engine = _engine(database_url)
    try:
        upgrade_database(engine, "0001")
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))
        assert database_version(engine) is None
        done = upgrade_database(engine)
        assert "added tokens.expires_at" in done
        assert database_version(engine) == newest_version()
        assert upgrade_database(engine) == []  # Nothing left to do.
    finally:
        engine.dispose()


def test_db_commands_say_and_set_the_version(
    run_cli: RunCli, database_url: str
) -> None:
    before = run_cli("db", "version", "--database-url", database_url)
    assert before.exit_code == 0, before.output
    assert "none" in before.output
    upgraded = run_cli("db", "upgrade", "--database-url", database_url)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"at version {newest_version()}" in upgraded.output
    after = run_cli("db", "version", "--database-url", database_url)
    assert f"{newest_version()} (the newest)" in after.output


def test_services_starting_together_on_a_new_database_both_start(
    database_url: str,
) -> None:
    """Three services' processes started at once on one new database: each
    brings it to the newest version or finds it there, and none fails
    half-way (on PostgreSQL they would otherwise create the same tables at
    once)."""
    # Separate processes, as services are: Alembic's context is one per process.
    script = (
        "import sys, time\n"
        "from linkage.storage import Store\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "Store.open(sys.argv[1]).close()\n"
    )
    start_at = str(time.time() + 3.0)  # After every interpreter has started.
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url, start_at],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [start.communicate(timeout=120)[1] for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0], errors
    engine = _engine(database_url)
    try:
        assert database_version(engine) == newest_version()
    finally:
        engine.dispose()
