"""Linkage that keeps running (issue 23).

- ``runs.kind``: ``full`` (every run before this version) or ``update``;
- ``change_sets``: agencies' staged and applied change sets.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "runs",
        sa.Column("kind", sa.String(16), nullable=False, server_default="full"),
    )
    op.create_table(
        "change_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_change_sets_project_run", "change_sets", ["project_id", "run_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_change_sets_project_run", table_name="change_sets")
    op.drop_table("change_sets")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("kind")
