"""A database made by an earlier linkage, opened by this one (real SQLite)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from linkage.storage import Store
from linkage.storage.sql import StoreError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# Columns added since the first service release, as an older file lacks them.
ADDED_SINCE = [
    ("projects", "method"),
    ("projects", "retain_encodings"),
    ("projects", "encodings_deleted_at"),
    ("projects", "encodings_deleted_after_run"),
]


def earlier_database(path: Path, dropped: list[tuple[str, str]]) -> int:
    """A database with one project, then without ``dropped`` columns and
    without a schema version, as releases before migrations made them."""
    store = Store.open(f"sqlite:///{path}", clock=lambda: NOW)
    project_id = store.create_project(
        name="older", schema_fingerprint="a" * 64, threshold="auto",
        mode="link", parties=("a", "b"),
    ).project.id  # fmt: skip
    store.close()
    with sqlite3.connect(path) as connection:
        for table, column in dropped:
            connection.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        connection.execute("DROP TABLE alembic_version")
    return project_id


def columns(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def test_missing_columns_are_added_with_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "linkage.db"
    project_id = earlier_database(path, ADDED_SINCE)
    assert not {name for _, name in ADDED_SINCE} & columns(path, "projects")
    store = Store.open(f"sqlite:///{path}", clock=lambda: NOW)
    project = store.get_project(project_id=project_id)
    store.close()
    assert {name for _, name in ADDED_SINCE} <= columns(path, "projects")
    assert project.method == "clk"
    assert project.retain_encodings is False
    assert project.encodings_deleted_at is None


def test_a_column_that_cannot_be_added_is_refused_and_nothing_changes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "linkage.db"
    earlier_database(path, [("projects", "method"), ("projects", "mode")])
    with pytest.raises(StoreError, match=r"lacks column 'mode'.*back the database"):
        Store.open(f"sqlite:///{path}")
    assert "method" not in columns(path, "projects")
