"""Signed approvals, the investigator's key kept with each request, and
token expiry.

- ``reveal_requests.investigator_key``: the key approvers sign and grants name;
- ``reveal_decisions.approvals``: the approvers' signed statements;
- ``tokens.expires_at``: when a token stops working (null: never).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ADDED = (
    ("reveal_requests", "investigator_key", sa.Text()),
    ("reveal_decisions", "approvals", sa.Text()),
    ("tokens", "expires_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for table, column, kind in _ADDED:
        op.add_column(table, sa.Column(column, kind, nullable=True))


def downgrade() -> None:
    for table, column, _ in reversed(_ADDED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
