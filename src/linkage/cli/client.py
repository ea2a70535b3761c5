"""Client commands: talk to a running `linkage serve` with a token.

``linkage project create`` and ``linkage run start`` use the operator's token;
``linkage upload`` and ``linkage results`` a party's. A token is read from
``--token-file`` or the ``LINKAGE_TOKEN`` environment variable, never from the
command line, and no message names what is in it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import click

from linkage.atomic import private_output
from linkage.cli.options import existing_file, output_file, schema_option
from linkage.client import DEFAULT_SERVER, RunStatus, ServiceClient, ServiceError
from linkage.formats.schema import load_schema

F = TypeVar("F", bound=Callable[..., Any])

TOKEN_ENV: Final = "LINKAGE_TOKEN"
SERVER_ENV: Final = "LINKAGE_SERVER"
_PROGRESS_MIN_BYTES: Final = 16 * 1024 * 1024


def _server_option(function: F) -> F:
    return click.option(
        "--server",
        metavar="URL",
        envvar=SERVER_ENV,
        default=DEFAULT_SERVER,
        show_default=True,
        help=f"The linkage service's URL. Default: the {SERVER_ENV} "
        "environment variable, else the local default.",
    )(function)


def _token_option(whose: str) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        return click.option(
            "--token-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            metavar="FILE",
            help=f"File holding {whose} token. Default: the {TOKEN_ENV} "
            "environment variable. Tokens are never taken on the command line.",
        )(function)

    return decorate


def _project_option(function: F) -> F:
    return click.option(
        "--project",
        "project_id",
        required=True,
        type=click.IntRange(min=1),
        metavar="ID",
        help="The project ID `linkage project create` printed.",
    )(function)


def _run_option(function: F) -> F:
    return click.option(
        "--run",
        "run_id",
        required=True,
        type=click.IntRange(min=1),
        metavar="RUN",
        help="The run ID `linkage run start` printed.",
    )(function)


def _progress_option(function: F) -> F:
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Show progress on stderr (default: on a terminal only, and for "
        "uploads only for large files).",
    )(function)


def read_token(path: Path | None, env_var: str = TOKEN_ENV) -> str:
    """The token from ``path``, else from ``env_var``; whitespace stripped.

    Raises:
        ServiceError: there is no token, or it cannot be read. The message
            names the file or variable, never the token.
    """
    if path is None:
        value = os.environ.get(env_var, "").strip()
        if not value:
            raise ServiceError(
                f"no token given: pass --token-file FILE or set the environment "
                f"variable {env_var}"
            )
        return value
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ServiceError(f"the token file {path} does not exist") from None
    except OSError as error:
        raise ServiceError(
            f"the token file {path} cannot be read ({error.strerror})"
        ) from None
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ServiceError(f"the token file {path} does not hold a token") from None
    if not text:
        raise ServiceError(f"the token file {path} is empty")
    return text


@contextmanager
def _connect(server: str, token_file: Path | None) -> Iterator[ServiceClient]:
    with ServiceClient(server, read_token(token_file)) as client:
        yield client


def _show(progress: bool | None, large: bool = True) -> bool:
    return progress if progress is not None else (large and sys.stderr.isatty())


# linkage project ---------------------------------------------------------------


@click.group()
def project() -> None:
    """Create linkage projects on the service (operator)."""


def _threshold(value: str) -> Literal["auto"] | float:
    if value == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(
            f"expected 'auto' or a number in (0, 1], got {value!r}"
        ) from None


@project.command("create")
@click.argument("name")
@schema_option
@click.option(
    "--party",
    "parties",
    multiple=True,
    required=True,
    metavar="NAME",
    help="An agency taking part; repeat for each (letters, digits, . _ -).",
)
@click.option(
    "--threshold",
    default="auto",
    show_default=True,
    metavar="auto|T",
    help="Match threshold: 'auto' (chosen from the scores) or a fixed Dice "
    "similarity in (0, 1].",
)
@click.option(
    "--dedup",
    is_flag=True,
    help="Also find duplicates within each agency, not only across agencies.",
)
@click.option(
    "--allow-clkhash-json",
    is_flag=True,
    help='Accept clkhash {"clks": [...]} uploads as well as linkage files.',
)
@click.option(
    "--tokens-dir",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write each party's token to, as DIR/<party>.token "
    "(mode 0600; the folder is created with mode 0700 if missing).",
)
@_server_option
@_token_option("the operator's")
def create(
    name: str,
    schema_path: Path,
    parties: tuple[str, ...],
    threshold: str,
    dedup: bool,
    allow_clkhash_json: bool,
    tokens_dir: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """Create project NAME for the given parties, with the operator's token.

    Every upload must carry the fingerprint of the schema given here. Each
    party's token is written to its own file and shown nowhere else: send each
    agency its file over a secure channel. Prints the project ID.
    """
    chosen = _threshold(threshold)
    schema = load_schema(schema_path)
    try:
        tokens_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise click.ClickException(
            f"cannot create the tokens folder {tokens_dir}: {error.strerror}"
        ) from None
    targets = {party: tokens_dir / f"{party}.token" for party in parties}
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing:
        raise click.UsageError(
            "token files already exist (move them away or choose another "
            f"--tokens-dir): {', '.join(existing)}"
        )
    with _connect(server, token_file) as client:
        created = client.create_project(
            name,
            schema_fingerprint=schema.fingerprint,
            parties=parties,
            threshold=chosen,
            dedup=dedup,
            allow_clkhash_json=allow_clkhash_json,
        )
    for party, token in created.party_tokens.items():
        path = targets.get(party, tokens_dir / f"{party}.token")
        try:
            with private_output(path, overwrite=False) as out:
                out.write(token.encode("ascii") + b"\n")
        except OSError as error:
            raise click.ClickException(
                f"project {created.id} was created, but the token file {path} "
                f"could not be written ({error.strerror or error}); its token is "
                "lost: create the project again under another name"
            ) from None
    click.echo(created.id)
    written = ", ".join(str(targets[p]) for p in parties if p in targets)
    click.echo(
        f"Created project {created.id} ({created.name!r}); party tokens written "
        f"to {written} (mode 0600). Give each agency its own file only.",
        err=True,
    )


# linkage upload ----------------------------------------------------------------


@click.command()
@click.argument("encodings", metavar="ENCODINGS", type=existing_file)
@_project_option
@click.option(
    "--party",
    required=True,
    metavar="NAME",
    help="Your agency's party name in the project.",
)
@_server_option
@_token_option("your party's")
@_progress_option
def upload(
    encodings: Path,
    project_id: int,
    party: str,
    server: str,
    token_file: Path | None,
    progress: bool | None,
) -> None:
    """Upload your ENCODINGS file (from `linkage encode`) with your party token.

    The file is streamed; the service checks its format, schema fingerprint,
    bit length and key check before accepting it. A re-upload before a run
    replaces the previous one.
    """
    size = encodings.stat().st_size
    show = _show(progress, size >= _PROGRESS_MIN_BYTES)
    with (
        _connect(server, token_file) as client,
        click.progressbar(
            length=size, label="Uploading", file=sys.stderr, hidden=not show
        ) as bar,
    ):
        sent = [0]

        def advance(done: int, _total: int) -> None:
            bar.update(done - sent[0])
            sent[0] = done

        accepted = client.upload(project_id, party, encodings, progress=advance)
    click.echo(
        f"Uploaded {accepted.record_count} records for party {accepted.party!r} "
        f"to project {accepted.project_id} (version {accepted.version}).",
        err=True,
    )


# linkage run -------------------------------------------------------------------


@click.group()
def run() -> None:
    """Start matching runs and follow them."""


@run.command("start")
@_project_option
@_server_option
@_token_option("the operator's")
def run_start(project_id: int, server: str, token_file: Path | None) -> None:
    """Start matching the project's uploads (operator token); prints the run ID."""
    with _connect(server, token_file) as client:
        started = client.start_run(project_id)
    click.echo(started.run_id)
    click.echo(
        f"Run {started.run_id} of project {started.project_id} is {started.state}; "
        f"follow it with `linkage run wait --project {started.project_id} "
        f"--run {started.run_id}`.",
        err=True,
    )


@run.command("status")
@_project_option
@_run_option
@_server_option
@_token_option("the operator's or a party's")
def run_status(
    project_id: int, run_id: int, server: str, token_file: Path | None
) -> None:
    """Print a run's state, progress and (for the operator) its statistics."""
    with _connect(server, token_file) as client:
        status = client.run_status(project_id, run_id)
    _print_status(status)


@run.command("wait")
@_project_option
@_run_option
@click.option(
    "--timeout",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Give up waiting after this long (the run itself goes on).",
)
@click.option(
    "--poll",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    metavar="SECONDS",
    help="How often to ask the service for the run's state.",
)
@_server_option
@_token_option("the operator's or a party's")
@_progress_option
def run_wait(
    project_id: int,
    run_id: int,
    timeout: float,
    poll: float,
    server: str,
    token_file: Path | None,
    progress: bool | None,
) -> None:
    """Wait until a run completes or fails, showing its progress on stderr.

    Exits with status 1 if the run failed (printing why) or is still going
    when --timeout passes.
    """
    show = _show(progress)
    with (
        _connect(server, token_file) as client,
        click.progressbar(
            length=1000, label="Matching", file=sys.stderr, hidden=not show
        ) as bar,
    ):
        shown = [0]

        def advance(status: RunStatus) -> None:
            done = 1000 if status.state == "completed" else int(status.progress * 1000)
            done = max(0, min(1000, done))
            if done > shown[0]:
                bar.update(done - shown[0])
                shown[0] = done

        status = client.wait_for_run(
            project_id, run_id, timeout=timeout, poll=poll, progress=advance
        )
    _print_status(status)
    if status.state == "failed":
        raise click.ClickException(
            f"run {run_id} failed: {status.message or 'the service gave no reason'}"
        )


def _print_status(status: RunStatus) -> None:
    click.echo(f"run: {status.run_id}")
    click.echo(f"project: {status.project_id}")
    click.echo(f"state: {status.state}")
    click.echo(f"progress: {status.progress:.0%}")
    if status.message:
        click.echo(f"message: {status.message}")
    for label, value in (
        ("created", status.created_at),
        ("started", status.started_at),
        ("finished", status.finished_at),
    ):
        if value:
            click.echo(f"{label}: {value}")
    for key, value in status.stats.items():
        click.echo(f"stats.{key}: {value}")


# linkage results ---------------------------------------------------------------


@click.command()
@_project_option
@click.option(
    "--out",
    required=True,
    metavar="FILE",
    type=output_file,
    help="Where to write the CSV pseudonym,match_id,score (mode 0600).",
)
@_server_option
@_token_option("your party's")
def results(project_id: int, out: Path, server: str, token_file: Path | None) -> None:
    """Download your party's results from the project's completed run.

    The file lists your pseudonyms with their match IDs; turn it into your
    own record IDs with `linkage vault resolve FILE`.
    """
    with _connect(server, token_file) as client:
        try:
            rows = client.results(project_id, out)
        except OSError as error:
            raise click.ClickException(
                f"cannot write {out}: {error.strerror or error}"
            ) from None
    click.echo(
        f"Wrote {rows} rows to {out}; resolve them with "
        f"`linkage vault resolve {out} --vault ... --out ...`.",
        err=True,
    )
