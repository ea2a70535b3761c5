"""Client commands: talk to a running `linkage serve` with a token.

``linkage project create`` and ``linkage run start`` use the operator's token;
``linkage upload`` and ``linkage results`` a party's. A token is read from
``--token-file`` or the ``LINKAGE_TOKEN`` environment variable, never from the
command line, and no message names what is in it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final, Literal

import click

from linkage.atomic import private_output
from linkage.cli.connection import (
    PROGRESS_MIN_BYTES,
    connect,
    progress_option,
    project_option,
    run_option,
    server_option,
    token_option,
)
from linkage.cli.options import existing_file, output_file, schema_option
from linkage.client import RunStatus
from linkage.formats.schema import load_schema


def _show(progress: bool | None, large: bool = True) -> bool:
    return progress if progress is not None else (large and sys.stderr.isatty())


SERVICE_KEY_FILE: Final = "service-key.pub"

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
    "--method",
    type=click.Choice(["clk", "probabilistic"]),
    default="clk",
    show_default=True,
    help="clk: score pairs by the Dice similarity of whole encodings. "
    "probabilistic: compare per-field encodings field by field, scored by a "
    "Fellegi-Sunter match probability learnt from the data (the schema needs "
    "a linkage.segments block).",
)
@click.option(
    "--allow-clkhash-json",
    is_flag=True,
    help='Accept clkhash {"clks": [...]} uploads as well as linkage files.',
)
@click.option(
    "--keep-encodings",
    is_flag=True,
    help="Keep the encodings on the service after the run, for later runs "
    "(until `linkage project delete-encodings`). By default they are deleted "
    "once the run has completed and every party has downloaded its results: "
    "whoever holds encodings and learns a few identities (say, through a "
    "reveal) can decode everyone else's records. A failed run keeps them "
    "either way, so it can be retried.",
)
@click.option(
    "--tokens-dir",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write each party's token to, as DIR/<party>.token "
    "(mode 0600; the folder is created with mode 0700 if missing).",
)
@server_option
@token_option("the operator's")
def create(
    name: str,
    schema_path: Path,
    parties: tuple[str, ...],
    threshold: str,
    dedup: bool,
    method: str,
    allow_clkhash_json: bool,
    keep_encodings: bool,
    tokens_dir: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """Create project NAME for the given parties, with the operator's token.

    Every upload must carry the fingerprint of the schema given here. Each
    party's token is written to its own file and shown nowhere else: send each
    agency its file over a secure channel. Prints the project ID.

    The service deletes the project's encodings once its run has completed
    and every party has downloaded its results; the results and match IDs
    stay. Pass --keep-encodings only if later runs must reuse them.
    """
    chosen = _threshold(threshold)
    schema = load_schema(schema_path)
    if allow_clkhash_json and schema.raw.get("linkage") is not None:
        raise click.UsageError(
            f"{schema_path} has a linkage block (hardening or per-field filters), "
            "which clkhash ignores: clkhash JSON uploads would hold plain CLKs "
            "that cannot link with the others. Leave out --allow-clkhash-json."
        )
    if method == "probabilistic" and schema.extension.segments is None:
        raise click.UsageError(
            f"--method probabilistic needs per-field encodings, but {schema_path} "
            'has no "linkage": {"segments": ...} block; use a *-fields.json schema '
            "or --method clk."
        )
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
    with connect(server, token_file) as client:
        created = client.create_project(
            name,
            schema_fingerprint=schema.fingerprint,
            parties=parties,
            threshold=chosen,
            dedup=dedup,
            allow_clkhash_json=allow_clkhash_json,
            retain_encodings=keep_encodings,
            method="probabilistic" if method == "probabilistic" else "clk",
        )
        service_key, service_key_id = client.service_key()
    done = f"project {created.id} was created"
    for party, token in created.party_tokens.items():
        path = targets.get(party, tokens_dir / f"{party}.token")
        _write_token(path, token, done)
    key_path = tokens_dir / SERVICE_KEY_FILE
    with private_output(key_path) as out:
        out.write(service_key.encode("ascii"))
    click.echo(created.id)
    written = ", ".join(str(targets[p]) for p in parties if p in targets)
    click.echo(
        f"Created project {created.id} ({created.name!r}); party tokens written "
        f"to {written} (mode 0600). Give each agency its own file only, with "
        f"the service's public key {key_path} (key ID {service_key_id}): "
        "agencies pin it to check reveal grants.",
        err=True,
    )


@project.command("status")
@project_option
@server_option
@token_option("the operator's or a party's")
def project_status(project_id: int, server: str, token_file: Path | None) -> None:
    """Print a project's settings, its retention and who has uploaded."""
    with connect(server, token_file) as client:
        shown = client.project(project_id)
    for key in (
        "id",
        "name",
        "schema_fingerprint",
        "threshold",
        "mode",
        "allow_clkhash_json",
        "created_at",
    ):
        click.echo(f"{key}: {shown.get(key)}")
    deleted = shown.get("encodings_deleted_at")
    if shown.get("retain_encodings"):
        retention = "kept for later runs (--keep-encodings)"
    else:
        retention = "deleted once the run is done and every party has its results"
    click.echo(f"encodings: {retention}")
    if deleted:
        click.echo(f"encodings_deleted_at: {deleted}")
    for party in shown.get("parties") or []:
        if not isinstance(party, dict):
            continue
        state = "uploaded" if party.get("uploaded") else "not uploaded"
        if party.get("record_count") is not None:
            state += (
                f" (version {party.get('upload_version')}, "
                f"{party.get('record_count')} records)"
            )
        click.echo(f"party {party.get('name')}: {state}")


@project.command("delete-encodings")
@project_option
@server_option
@token_option("the operator's")
def delete_encodings(project_id: int, server: str, token_file: Path | None) -> None:
    """Delete every encodings upload of a project now (operator).

    For a project created with --keep-encodings once later runs no longer
    need them, or when a party never downloads its results (which would keep
    them otherwise). Results and match IDs stay; the project then takes no
    new uploads or runs. The deletion is recorded in the audit log.
    """
    with connect(server, token_file) as client:
        deleted = client.delete_encodings(project_id)
    click.echo(
        f"Deleted the encodings of project {project_id}: "
        f"{deleted.get('uploads')} upload(s), {deleted.get('records')} records.",
        err=True,
    )


# linkage upload ----------------------------------------------------------------


@click.command()
@click.argument("encodings", metavar="ENCODINGS", type=existing_file)
@project_option
@click.option(
    "--party",
    required=True,
    metavar="NAME",
    help="Your agency's party name in the project.",
)
@server_option
@token_option("your party's")
@progress_option
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
    replaces the previous one. Once the project's encodings were deleted
    after its run, uploads are refused.
    """
    size = encodings.stat().st_size
    show = _show(progress, size >= PROGRESS_MIN_BYTES)
    with (
        connect(server, token_file) as client,
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
@project_option
@click.option(
    "--update",
    is_flag=True,
    help="Link the agencies' staged change sets into the latest completed "
    "run's groups (unchanged groups keep their match IDs) instead of linking "
    "every upload from scratch.",
)
@server_option
@token_option("the operator's")
def run_start(
    project_id: int, update: bool, server: str, token_file: Path | None
) -> None:
    """Start matching the project's uploads (operator token); prints the run ID."""
    with connect(server, token_file) as client:
        started = client.start_run(project_id, "update" if update else "full")
    click.echo(started.run_id)
    click.echo(
        f"Run {started.run_id} of project {started.project_id} is {started.state}; "
        f"follow it with `linkage run wait --project {started.project_id} "
        f"--run {started.run_id}`.",
        err=True,
    )


@run.command("status")
@project_option
@run_option
@server_option
@token_option("the operator's or a party's")
def run_status(
    project_id: int, run_id: int, server: str, token_file: Path | None
) -> None:
    """Print a run's state, progress and (for the operator) its statistics."""
    with connect(server, token_file) as client:
        status = client.run_status(project_id, run_id)
    _print_status(status)


@run.command("wait")
@project_option
@run_option
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
@server_option
@token_option("the operator's or a party's")
@progress_option
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
        connect(server, token_file) as client,
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
        if key == "model" and isinstance(value, dict):
            # The whole document (m, u, waterfalls) is for the web console
            # and `linkage match --model-out`; here, what it holds.
            value = (
                f"{len(value.get('levels', []))} levels of "
                f"{len(value.get('fields', []))} fields, "
                f"{len(value.get('closest_calls', []))} closest calls "
                "(drawn in the web console)"
            )
        click.echo(f"stats.{key}: {value}")


# linkage results ---------------------------------------------------------------


@click.command()
@project_option
@click.option(
    "--out",
    required=True,
    metavar="FILE",
    type=output_file,
    help="Where to write the CSV pseudonym,match_id,score (mode 0600).",
)
@server_option
@token_option("your party's")
def results(project_id: int, out: Path, server: str, token_file: Path | None) -> None:
    """Download your party's results from the project's completed run.

    The file lists your pseudonyms with their match IDs; turn it into your
    own record IDs with `linkage vault resolve FILE`. Once every party has
    downloaded its results, the service deletes the project's encodings
    (unless the project keeps them); the results can still be downloaded.
    """
    with connect(server, token_file) as client:
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


# linkage project add-member ------------------------------------------------------


@project.command("add-member")
@project_option
@click.option("--name", required=True, metavar="NAME", help="The person's name.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["investigator", "approver", "oversight"]),
    help="investigator: may request reveals; approver: approves or denies them; "
    "oversight: reads the project's audit trail (in the web console).",
)
@click.option(
    "--public-key",
    "public_key_path",
    type=existing_file,
    default=None,
    metavar="FILE",
    help="The member's public key: an investigator's .pub file of "
    "`linkage keygen --investigator`, an approver's of `linkage keygen "
    "--signing`.",
)
@click.option(
    "--token-out",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the member's token (mode 0600; must not exist).",
)
@server_option
@token_option("the operator's")
def add_member(
    project_id: int,
    name: str,
    role: str,
    public_key_path: Path | None,
    token_out: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """Register an investigator, approver or oversight member in a project
    (operator).

    Their token is written to --token-out only: hand it to them over a secure
    channel. Someone who is both investigator and approver gets two tokens,
    and can never approve their own request.
    """
    if role == "oversight":
        if public_key_path is not None:
            raise click.UsageError(
                "an oversight member has no key; leave out --public-key"
            )
    elif public_key_path is None:
        made_by = "--investigator" if role == "investigator" else "--signing"
        raise click.UsageError(
            f"an {role} needs --public-key FILE.pub (from `linkage keygen {made_by}`)"
        )
    if token_out.exists():
        raise click.UsageError(f"{token_out} exists; choose another --token-out")
    public_key = (
        None
        if public_key_path is None
        else public_key_path.read_text(encoding="ascii", errors="replace")
    )
    with connect(server, token_file) as client:
        member = client.add_member(project_id, name, role, public_key)
        service_key, service_key_id = client.service_key()
    _write_token(token_out, member.token, f"{role} {name!r} was registered")
    key_path = token_out.parent / SERVICE_KEY_FILE
    if not key_path.exists():
        with private_output(key_path) as out:
            out.write(service_key.encode("ascii"))
    click.echo(member.member_id)
    click.echo(
        f"Registered {role} {name!r} in project {project_id} (member "
        f"{member.member_id}); token written to {token_out} (mode 0600). Hand "
        f"it over with the service's public key {key_path} (key ID "
        f"{service_key_id}).",
        err=True,
    )


def _write_token(path: Path, token: str, done: str) -> None:
    """Write a token file (0600, never over another); say what was lost if not."""
    try:
        with private_output(path, overwrite=False) as out:
            out.write(token.encode("ascii") + b"\n")
    except OSError as error:
        raise click.ClickException(
            f"{done}, but the token file {path} could not be written "
            f"({error.strerror or error}); its token is lost: ask the operator "
            "for a new one"
        ) from None


@project.command("remove-member")
@project_option
@click.option(
    "--member",
    "member_id",
    required=True,
    type=click.IntRange(min=1),
    metavar="ID",
    help="The member ID `linkage project add-member` printed.",
)
@server_option
@token_option("the operator's")
def remove_member(
    project_id: int, member_id: int, server: str, token_file: Path | None
) -> None:
    """Revoke an investigator's or approver's token (operator).

    Their requests and decisions stay on record and in the audit log.
    """
    with connect(server, token_file) as client:
        client.revoke_member(project_id, member_id)
    click.echo(f"Member {member_id} of project {project_id} revoked.", err=True)


@project.command("reissue-token")
@project_option
@click.option(
    "--party", default=None, metavar="NAME", help="Reissue this party's token."
)
@click.option(
    "--member",
    "member_id",
    default=None,
    type=click.IntRange(min=1),
    metavar="ID",
    help="Reissue this investigator's or approver's token.",
)
@click.option(
    "--token-out",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new token (mode 0600; must not exist).",
)
@server_option
@token_option("the operator's")
def reissue_token(
    project_id: int,
    party: str | None,
    member_id: int | None,
    token_out: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """Revoke a party's or member's token and issue a new one (operator).

    For a token that leaked, expired or left with someone: from now on the
    old token gets the same 401 as an unknown one. Hand the new file over a
    secure channel.
    """
    if (party is None) == (member_id is None):
        raise click.UsageError("give --party NAME or --member ID (one of them)")
    if token_out.exists():
        raise click.UsageError(f"{token_out} exists; choose another --token-out")
    with connect(server, token_file) as client:
        if party is not None:
            token = client.reissue_party_token(project_id, party)
            whose = f"party {party!r}"
        else:
            assert member_id is not None
            token = client.reissue_member_token(project_id, member_id)
            whose = f"member {member_id}"
    _write_token(token_out, token, f"{whose}'s token was reissued")
    click.echo(
        f"Reissued {whose}'s token in project {project_id}: written to "
        f"{token_out} (mode 0600); the old one no longer works.",
        err=True,
    )
