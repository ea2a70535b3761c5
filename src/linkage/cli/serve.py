"""``linkage serve``: run the linkage service (the neutral operator's side)."""

from __future__ import annotations

import stat
from pathlib import Path

import click

from linkage.service.init import initialise


@click.command()
@click.option(
    "--data-dir",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the database, the uploads and the operator token file "
    "(created with mode 0700 if missing).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep the loopback default unless a TLS proxy "
    "sits in front: tokens travel in every request.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port to listen on.",
)
@click.option(
    "--database-url",
    default=None,
    metavar="URL",
    envvar="LINKAGE_DATABASE_URL",
    help="SQLAlchemy database URL, e.g. postgresql+psycopg://... "
    "Default: the LINKAGE_DATABASE_URL environment variable, else SQLite in "
    "the data folder. Prefer the variable when the URL holds a password.",
)
@click.option(
    "--init",
    "init_only",
    is_flag=True,
    help="Only prepare the data folder, database and operator token, then exit.",
)
def serve(
    data_dir: Path, host: str, port: int, database_url: str | None, init_only: bool
) -> None:
    """Run the linkage service: projects, uploads, runs and results over HTTP.

    The first start creates the operator token and writes it to a file of
    mode 0600 in the data folder; the token itself is never printed or logged.
    Give that file to `linkage project create` and `linkage run` with
    --token-file.
    """
    token_path = initialise(data_dir, database_url=database_url)
    mode = stat.S_IMODE(token_path.stat().st_mode)
    click.echo(f"Operator token file: {token_path} (mode {mode:04o}).", err=True)
    if init_only:
        return

    import uvicorn

    from linkage.service import Settings, create_app

    app = create_app(Settings(data_dir=data_dir, database_url=database_url))
    click.echo(f"Serving on http://{host}:{port} (stop with Ctrl-C).", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", ws="none")
