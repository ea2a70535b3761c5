"""``linkage db``: the service database's schema version, and upgrading it.

The service upgrades its database itself when it starts; run ``linkage db
upgrade`` first when several ``linkage serve`` processes share one
PostgreSQL database, so that they do not all try at once, or to see what an
upgrade does before starting the service.
"""

from __future__ import annotations

from pathlib import Path

import click

from linkage.service.settings import Settings


def _database_options(function: click.decorators.FC) -> click.decorators.FC:
    function = click.option(
        "--database-url",
        default=None,
        envvar="LINKAGE_DATABASE_URL",
        metavar="URL",
        help="The database (e.g. postgresql+psycopg://...); default: the "
        "LINKAGE_DATABASE_URL environment variable.",
    )(function)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        default=None,
        metavar="DIR",
        help="Or the service's data folder, for its SQLite database.",
    )(function)


def _url(data_dir: Path | None, database_url: str | None) -> str:
    if (data_dir is None) == (database_url is None):
        raise click.UsageError("give --data-dir DIR or --database-url URL (one)")
    if database_url is not None:
        return database_url
    assert data_dir is not None
    return Settings(data_dir=data_dir).database


@click.group()
def db() -> None:
    """The service's database schema: its version, and upgrading it."""


@db.command("version")
@_database_options
def version(data_dir: Path | None, database_url: str | None) -> None:
    """Print the schema version the database is at, and the newest one."""
    from linkage.storage.engine import open_engine
    from linkage.storage.migrations import database_version, newest_version

    engine = open_engine(_url(data_dir, database_url))
    try:
        current = database_version(engine)
    finally:
        engine.dispose()
    newest = newest_version()
    if current == newest:
        click.echo(f"{current} (the newest)")
    else:
        click.echo(
            f"{current or 'none'} (the newest is {newest}: `linkage db upgrade`)"
        )


@db.command("upgrade")
@_database_options
def upgrade(data_dir: Path | None, database_url: str | None) -> None:
    """Bring the database's schema to the newest version (in one transaction
    on PostgreSQL); print each step."""
    from linkage.storage.engine import open_engine
    from linkage.storage.migrations import newest_version, upgrade_database

    engine = open_engine(_url(data_dir, database_url))
    try:
        steps = upgrade_database(engine)
    finally:
        engine.dispose()
    for step in steps:
        click.echo(step)
    click.echo(f"The database is at version {newest_version()}.", err=True)
