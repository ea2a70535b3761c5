"""The service's tables, in portable SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "metadata",
    "parties",
    "projects",
    "run_results",
    "runs",
    "tokens",
    "uploads",
]

metadata = sa.MetaData()

_timestamp = sa.DateTime(timezone=True)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("schema_fingerprint", sa.String(64), nullable=False),
    sa.Column("threshold", sa.String(32), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("allow_clkhash_json", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", _timestamp, nullable=False),
)

parties = sa.Table(
    "parties",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.UniqueConstraint("project_id", "name"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=True),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("revoked_at", _timestamp, nullable=True),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("bit_length", sa.Integer, nullable=False),
    # Null for clkhash JSON, which carries no header.
    sa.Column("key_check", sa.String(64), nullable=True),
    sa.Column("schema_fingerprint", sa.String(64), nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("superseded", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("project_id", "party_id", "version"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.ForeignKey("projects.id"), nullable=False),
    # queued, running, completed or failed.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    # Aggregate figures as JSON text; never a pseudonym.
    sa.Column("stats", sa.Text, nullable=True),
    sa.Column("created_at", _timestamp, nullable=False),
    sa.Column("started_at", _timestamp, nullable=True),
    sa.Column("finished_at", _timestamp, nullable=True),
    # Relative to the data folder; set when the run starts.
    sa.Column("result_dir", sa.String(1024), nullable=True),
    sa.Index("ix_runs_project_state", "project_id", "state"),
)

run_results = sa.Table(
    "run_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("party_id", sa.ForeignKey("parties.id"), nullable=False),
    # The upload the party's records came from, and its results file
    # (relative to the data folder).
    sa.Column("upload_id", sa.ForeignKey("uploads.id"), nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.UniqueConstraint("run_id", "party_id"),
)
