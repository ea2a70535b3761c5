"""Alembic's environment: migrations run on the connection they are given.

:func:`linkage.storage.migrations.upgrade_database` passes its connection in
``config.attributes``; there is no ``alembic.ini`` and no URL here.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
