"""``linkage serve``: run the linkage service (the neutral operator's side)."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import click

from linkage.hosts import is_loopback_host
from linkage.reveal.keys import key_id, read_service_public_key
from linkage.reveal.policy import (
    DEFAULT_POLICY,
    PolicyError,
    load_policy,
    parse_duration,
)
from linkage.service.lookup.policy import DEFAULT_LOOKUP_POLICY, load_lookup_policy
from linkage.service.lookup.ratelimit import LookupRate
from linkage.service.settings import (
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES,
    Settings,
    check_dask_address,
    server_limits,
)


def _read_config(
    ctx: click.Context, _param: click.Parameter, path: Path | None
) -> None:
    # Eager: the file's values become the defaults the other options then read.
    if path is None:
        return
    from linkage.service.config_file import load_service_config

    names = [p.name for p in ctx.command.params if p.name and p.name != "config"]
    ctx.default_map = {**(ctx.default_map or {}), **load_service_config(path, names)}


@click.command()
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    is_eager=True,
    expose_value=False,
    callback=_read_config,
    help='Read any of these options from a TOML file (`data-dir = "/srv"`); '
    "options on the command line win over it.",
)
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
    help="The reveal and lookup policy (YAML, like configs/policy.yaml): "
    "approvals needed, whether one deny ends a request, how long a grant "
    "lives, whether lookups name other agencies. Default: 2 approvals, one "
    "deny ends it, grants live 24 hours, lookups name no agency.",
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
    "--ssl-certfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Serve HTTPS with this certificate chain (PEM); give --ssl-keyfile too.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="The certificate's private key (PEM, keep it 0600).",
)
@click.option(
    "--token-lifetime",
    default=None,
    metavar="DURATION",
    help="Tokens the service issues expire after this long (90d, 12h); then "
    "they get 401 like an unknown token and the operator reissues them. "
    "Default: valid until revoked.",
)
@click.option(
    "--rotate-operator-token",
    is_flag=True,
    help="Revoke the operator token, write a new one to the data folder's "
    "operator.token, record it in the audit log, then exit.",
)
@click.option(
    "--rotate-signing-key",
    is_flag=True,
    help="Replace the service's signing key (the old one signs the hand-over "
    "in the audit log; its public key stays as service-signing-<id>.pub), "
    "then exit. Agencies and oversight then pin the new service-signing.pub.",
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
    "--lookups-per-minute",
    default=LookupRate().per_minute,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="N",
    help="Records each agency may look up a minute, on average (then 429).",
)
@click.option(
    "--lookup-burst",
    default=LookupRate().burst,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="N",
    help="Records each agency may look up at once after a quiet spell.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text, or as one JSON object each (for log collectors).",
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
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    token_lifetime: str | None,
    rotate_operator_token: bool,
    rotate_signing_key: bool,
    max_upload_bytes: int,
    max_json_bytes: int,
    lookups_per_minute: float,
    lookup_burst: int,
    log_format: str,
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
    if dask_scheduler is not None:
        try:
            check_dask_address(dask_scheduler)
        except ValueError as error:
            raise click.BadParameter(
                str(error), param_hint="--dask-scheduler"
            ) from None
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    policy = load_policy(policy_path) if policy_path else DEFAULT_POLICY
    lookup_policy = (
        load_lookup_policy(policy_path) if policy_path else DEFAULT_LOOKUP_POLICY
    )
    lifetime = _lifetime(token_lifetime)
    # Here, not at the top: the store behind it imports SQLAlchemy and the
    # matching engine, which `linkage serve --help` does not need.
    from linkage.service import init

    # Each rotation prepares the data folder itself: it runs instead of
    # initialise, not after it.
    if rotate_signing_key:
        old_id, new_id = init.rotate_signing_key(data_dir, database_url=database_url)
        click.echo(
            f"The service signing key was rotated: {old_id} -> {new_id}. Give "
            f"agencies and oversight the new {data_dir / 'service-signing.pub'}; "
            "verify the audit log with both keys (--service-key twice).",
            err=True,
        )
        return
    if rotate_operator_token:
        token_path = init.rotate_operator_token(
            data_dir, database_url=database_url, token_lifetime=lifetime
        )
        click.echo(
            f"The operator token was rotated: the new one is in {token_path} "
            "(mode 0600); the old one no longer works.",
            err=True,
        )
        return
    token_path = init.initialise(
        data_dir, database_url=database_url, token_lifetime=lifetime
    )
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        policy=policy,
        dask_scheduler=dask_scheduler,
        token_lifetime=lifetime,
        max_upload_bytes=max_upload_bytes,
        max_json_bytes=max_json_bytes,
        lookup_rate=LookupRate(per_minute=lookups_per_minute, burst=lookup_burst),
        lookup_policy=lookup_policy,
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
    from linkage.service.json_logs import log_config

    app = create_app(settings)
    scheme = "http" if ssl_certfile is None else "https"
    if scheme == "http" and not is_loopback_host(host):
        click.echo(
            f"Warning: plain http on {host}: tokens cross the network in clear "
            "unless a TLS proxy sits in front. Give --ssl-certfile and "
            "--ssl-keyfile to serve https.",
            err=True,
        )
    click.echo(f"Serving on {scheme}://{host}:{port} (stop with Ctrl-C).", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=log_config(log_format),
        **server_limits(),
        ssl_certfile=None if ssl_certfile is None else str(ssl_certfile),
        ssl_keyfile=None if ssl_keyfile is None else str(ssl_keyfile),
    )


def _lifetime(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        lifetime = parse_duration(text)
    except PolicyError as error:
        raise click.BadParameter(str(error), param_hint="--token-lifetime") from None
    if lifetime <= timedelta(0):
        raise click.BadParameter(
            "must be more than zero", param_hint="--token-lifetime"
        )
    return lifetime
