"""``linkage serve``: run the linkage service (the neutral operator's side)."""

from __future__ import annotations

import stat
from pathlib import Path

import click

from linkage.reveal.keys import key_id, read_service_public_key
from linkage.reveal.policy import DEFAULT_POLICY, load_policy
from linkage.service.settings import (
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES,
    Settings,
    server_limits,
)


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
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="The reveal policy (YAML, like configs/policy.yaml): approvals needed, "
    "whether one deny ends a request, how long a grant lives. Default: 2 "
    "approvals, one deny ends it, grants live 24 hours.",
)
@click.option(
    "--dask-scheduler",
    default=None,
    metavar="ADDRESS",
    envvar="LINKAGE_DASK_SCHEDULER",
    help="Run the LSH comparisons of every run on this Dask cluster "
    "(tcp://host:8786). Default: the LINKAGE_DASK_SCHEDULER environment "
    "variable, else in the service's own process.",
)
@click.option(
    "--max-upload-bytes",
    default=DEFAULT_MAX_UPLOAD_BYTES,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="BYTES",
    help="Refuse (413) an encodings upload larger than this.",
)
@click.option(
    "--max-json-bytes",
    default=DEFAULT_MAX_JSON_BYTES,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="BYTES",
    help="Refuse (413) any other request body larger than this.",
)
@click.option(
    "--init",
    "init_only",
    is_flag=True,
    help="Only prepare the data folder, database and operator token, then exit.",
)
def serve(
    data_dir: Path,
    host: str,
    port: int,
    database_url: str | None,
    policy_path: Path | None,
    dask_scheduler: str | None,
    max_upload_bytes: int,
    max_json_bytes: int,
    init_only: bool,
) -> None:
    """Run the linkage service: projects, uploads, runs and results over HTTP.

    The first start creates the operator token and writes it to a file of
    mode 0600 in the data folder; the token itself is never printed or logged.
    Give that file to `linkage project create` and `linkage run` with
    --token-file.

    It also creates the service's Ed25519 signing key (service-signing.key,
    mode 0600): it signs reveal grants and the audit log. Agencies and
    oversight bodies pin its public key, service-signing.pub; the key ID
    printed here lets them check it by another channel.
    """
    policy = load_policy(policy_path) if policy_path else DEFAULT_POLICY
    # Here, not at the top: the store behind it imports SQLAlchemy and the
    # matching engine, which `linkage serve --help` does not need.
    from linkage.service.init import initialise

    token_path = initialise(data_dir, database_url=database_url)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        policy=policy,
        dask_scheduler=dask_scheduler,
        max_upload_bytes=max_upload_bytes,
        max_json_bytes=max_json_bytes,
    )
    mode = stat.S_IMODE(token_path.stat().st_mode)
    click.echo(f"Operator token file: {token_path} (mode {mode:04o}).", err=True)
    public_key = read_service_public_key(settings.public_key_path)
    click.echo(
        f"Service public key: {settings.public_key_path} (key ID "
        f"{key_id(public_key)}).",
        err=True,
    )
    if init_only:
        return

    import uvicorn

    from linkage.service import create_app

    app = create_app(settings)
    click.echo(f"Serving on http://{host}:{port} (stop with Ctrl-C).", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", **server_limits())
