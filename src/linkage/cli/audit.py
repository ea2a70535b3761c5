"""``linkage audit``: export the service's audit log, verify it, summarise it,
and check an agency's own ledger against it.

``export`` asks a running service (operator token). ``verify``, ``report``
and ``ledger`` work offline on an export, or on the service's database
itself, with the service's public key pinned by whoever checks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linkage.audit.chain import (
    AuditEntry,
    SignedHead,
    verify_against_earlier,
    verify_log,
)
from linkage.audit.export import read_export
from linkage.audit.report import transparency_report
from linkage.cli.connection import connect, server_option, token_option
from linkage.cli.options import existing_file, output_file
from linkage.reveal.keys import read_service_public_key
from linkage.service.settings import Settings


@click.group()
def audit() -> None:
    """The tamper-evident audit log: export, verify, report, ledger."""


@audit.command("export")
@click.option(
    "--out",
    required=True,
    type=output_file,
    metavar="FILE",
    help="Where to write the log as JSON Lines (mode 0600).",
)
@server_option
@token_option("the operator's")
def export(out: Path, server: str, token_file: Path | None) -> None:
    """Save the whole audit log, with its signed heads, for an oversight body."""
    with connect(server, token_file) as client:
        lines = client.export_audit(out)
    click.echo(
        f"Wrote the audit log ({lines} lines) to {out}; check it with "
        f"`linkage audit verify {out} --service-key FILE`.",
        err=True,
    )


def _log_source(
    export_file: Path | None, data_dir: Path | None, database_url: str | None
) -> tuple[list[AuditEntry], list[SignedHead], str]:
    """The entries and heads of an export file, or of the service's database."""
    chosen = [x for x in (export_file, data_dir, database_url) if x is not None]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one log: an EXPORT file, --data-dir DIR or --database-url"
        )
    if export_file is not None:
        exported = read_export(export_file)
        return list(exported.entries), list(exported.heads), str(export_file)
    if data_dir is not None and not (data_dir / "linkage.db").is_file():
        raise click.UsageError(f"{data_dir} holds no service database (linkage.db)")
    # Here, not at the top: the database layer (SQLAlchemy) is only needed for
    # this source, and `linkage audit verify EXPORT` should start at once.
    from linkage.storage import Store
    from linkage.storage.audit_log import read_audit_log

    url = database_url or Settings(data_dir=data_dir or Path()).database
    store = Store.open(url)
    try:
        entries, heads = read_audit_log(store)
    finally:
        store.close()
    return entries, heads, "the service's database"


_SOURCE_OPTIONS = [
    click.argument("export_file", required=False, type=existing_file, metavar="EXPORT"),
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        default=None,
        help="Read the log from the service's SQLite database in DIR instead.",
    ),
    click.option(
        "--database-url",
        default=None,
        envvar="LINKAGE_DATABASE_URL",
        help="Read the log from this database instead (e.g. PostgreSQL).",
    ),
    click.option(
        "--service-key",
        "service_key_paths",
        required=True,
        multiple=True,
        type=existing_file,
        metavar="FILE",
        help="The service's public key, pinned beforehand (service-signing.pub); "
        "after a key rotation, give every key the log was signed with.",
    ),
]


def _verified_log(
    export_file: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    service_key_paths: tuple[Path, ...],
    consequence: str,
) -> tuple[list[AuditEntry], str]:
    """The log's entries and where they came from, once it verifies."""
    entries, heads, where = _log_source(export_file, data_dir, database_url)
    result = verify_log(entries, heads, _keys(service_key_paths))
    if result.problem is not None:
        raise click.ClickException(
            f"the audit log in {where} fails verification, so {consequence}: "
            f"{result.problem.message}"
        )
    return entries, where


def _keys(paths: tuple[Path, ...]) -> list[Ed25519PublicKey]:
    return [read_service_public_key(path) for path in paths]


def _with_source(function: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_SOURCE_OPTIONS):
        function = option(function)
    return function


@audit.command("verify")
@_with_source
@click.option(
    "--earlier",
    "earlier_path",
    type=existing_file,
    default=None,
    metavar="EXPORT",
    help="An earlier export you kept: the log must still hold every entry of "
    "it, unchanged (catches a cut-short or wholly rewritten log).",
)
def verify(
    export_file: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    service_key_paths: tuple[Path, ...],
    earlier_path: Path | None,
) -> None:
    """Check every entry's hash, the chain and the signed heads.

    Reports the first entry that was changed, removed, inserted or reordered,
    and exits with status 1 if there is one.
    """
    entries, heads, where = _log_source(export_file, data_dir, database_url)
    keys = _keys(service_key_paths)
    result = verify_log(entries, heads, keys)
    problem = result.problem
    if problem is None and earlier_path is not None:
        earlier = read_export(earlier_path)
        found = verify_against_earlier(entries, earlier.entries, earlier.heads, keys)
        if found is not None and found.in_copy:
            raise click.ClickException(
                f"the earlier export {earlier_path} itself fails verification: "
                f"{found.problem.message}; compare with an export the service "
                "signed"
            )
        problem = None if found is None else found.problem
    if problem is not None:
        raise click.ClickException(
            f"the audit log in {where} fails verification: {problem.message}"
        )
    click.echo(
        f"The audit log in {where} is intact: {result.entries} entries, "
        f"{result.heads} signed heads, all verified with the service key."
    )


@audit.command("report")
@_with_source
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Count events from this UTC date or time on.",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Count events before this UTC date or time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def report(
    export_file: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    service_key_paths: tuple[Path, ...],
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """Summarise reveals for transparency: requested, approved, denied,
    fulfilled and refused, per agency and per purpose, over a period.

    The log is verified first; a log that fails verification is not reported on.
    """
    entries, _ = _verified_log(
        export_file, data_dir, database_url, service_key_paths, "no report is made"
    )
    summary = transparency_report(
        entries,
        since=since.replace(tzinfo=UTC) if since else None,
        until=until.replace(tzinfo=UTC) if until else None,
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo(summary.to_text())


@audit.command("ledger")
@_with_source
@click.option(
    "--ledger",
    "ledger_path",
    required=True,
    type=existing_file,
    metavar="FILE",
    help="Your agency's ledger of answered grants (`reveal fulfil --ledger`).",
)
@click.option(
    "--party", required=True, metavar="NAME", help="Your agency's party name."
)
def ledger(
    export_file: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    service_key_paths: tuple[Path, ...],
    ledger_path: Path,
    party: str,
) -> None:
    """Check your agency's ledger against the service's audit log.

    The log is verified first. Then every answer the log says your agency
    gave must be in your ledger (else someone answered in your name), and
    every answer in your ledger must be in the log. Exits with status 1 on
    any disagreement, listing each.
    """
    from linkage.audit.ledger import compare_ledger
    from linkage.reveal.disclosure import FulfilmentLedger

    entries, where = _verified_log(
        export_file,
        data_dir,
        database_url,
        service_key_paths,
        "it cannot vouch for anything",
    )
    answers = FulfilmentLedger(ledger_path).answers()
    mismatches = compare_ledger(entries, answers, party)
    for mismatch in mismatches:
        click.echo(mismatch.message)
    if mismatches:
        raise click.ClickException(
            f"{len(mismatches)} disagreement(s) between {ledger_path} and the "
            f"audit log in {where}"
        )
    click.echo(
        f"{ledger_path} and the audit log in {where} agree: {len(answers)} "
        f"answers of {party}, each in both."
    )
