"""``linkage changes``: an agency's change sets and what changed (party token).

Continuing linkage, for a project that keeps its encodings: ``send`` stages
new and corrected records (an encodings file from `linkage encode`, with the
project's schema and secret), ``withdraw`` stages withdrawals (a file of
pseudonyms, one a line), ``status`` shows what is staged, ``discard`` drops
it; the operator's ``linkage run start --update`` links them in, and
``download`` writes what changed in your rows since your last download.
Tokens come from ``--token-file`` or ``LINKAGE_TOKEN``, never the command line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from linkage.cli.connection import connect, project_option, server_option, token_option
from linkage.cli.options import existing_file, output_file

_PSEUDONYM = re.compile(r"[0-9a-f]{32}")


@click.group()
def changes() -> None:
    """Send changes to a linked project, and read what changed (party)."""


def _summary(staged: dict[str, Any]) -> str:
    return (
        f"Staged for party {staged.get('party')!r} in project "
        f"{staged.get('project_id')}: {staged.get('additions', 0)} new and "
        f"{staged.get('corrections', 0)} corrected records, "
        f"{staged.get('withdrawn', 0)} withdrawals; they are linked in at the "
        "operator's next update run."
    )


@changes.command("send")
@click.argument("encodings", metavar="ENCODINGS", type=existing_file)
@project_option
@server_option
@token_option("your party's")
def send(
    encodings: Path, project_id: int, server: str, token_file: Path | None
) -> None:
    """Stage ENCODINGS: new records (new pseudonyms) and corrected ones (a
    pseudonym already linked, with its new encoding).

    Replaces the records you staged before; staged withdrawals stay.
    """
    with connect(server, token_file) as client:
        staged = client.send_changes(project_id, encodings)
    click.echo(_summary(staged), err=True)


def read_pseudonyms(path: Path, param_hint: str = "PSEUDONYMS") -> list[str]:
    """The pseudonyms in ``path``, one a line (blank lines and a ``pseudonym``
    header skipped); every other line must be 32 lowercase hex digits."""
    found, bad = [], []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        text = line.strip().split(",")[0]
        if not text or (number == 1 and text == "pseudonym"):
            continue
        if _PSEUDONYM.fullmatch(text):
            found.append(text)
        else:
            bad.append(number)
    if bad:
        raise click.BadParameter(
            f"line {bad[0]} of {path} is not a pseudonym (32 lowercase hex "
            f"digits){f' and {len(bad) - 1} more lines' if len(bad) > 1 else ''}",
            param_hint=param_hint,
        )
    if not found:
        raise click.BadParameter(f"{path} lists no pseudonym", param_hint=param_hint)
    return found


@changes.command("withdraw")
@click.argument("pseudonyms", metavar="PSEUDONYMS", type=existing_file)
@project_option
@server_option
@token_option("your party's")
def withdraw(
    pseudonyms: Path, project_id: int, server: str, token_file: Path | None
) -> None:
    """Stage the withdrawal of the records whose pseudonyms PSEUDONYMS lists
    (one a line, or the first column of a CSV with a `pseudonym` header).

    From now on no reveal names them; the next update run removes them and
    every result row naming them.
    """
    listed = read_pseudonyms(pseudonyms)
    with connect(server, token_file) as client:
        staged = client.withdraw(project_id, listed)
    click.echo(_summary(staged), err=True)


@changes.command("status")
@project_option
@server_option
@token_option("your party's")
def status(project_id: int, server: str, token_file: Path | None) -> None:
    """Show your staged change set, as counts."""
    with connect(server, token_file) as client:
        staged = client.staged_changes(project_id)
    click.echo(_summary(staged))


@changes.command("discard")
@project_option
@server_option
@token_option("your party's")
def discard(project_id: int, server: str, token_file: Path | None) -> None:
    """Discard your staged change set (records and withdrawals)."""
    with connect(server, token_file) as client:
        staged = client.discard_changes(project_id)
    click.echo(_summary(staged), err=True)


@changes.command("download")
@project_option
@click.option(
    "--out",
    required=True,
    metavar="FILE",
    type=output_file,
    help="Where to write the CSV pseudonym,kind,match_id_before,match_id_after "
    "(mode 0600).",
)
@server_option
@token_option("your party's")
def download(project_id: int, out: Path, server: str, token_file: Path | None) -> None:
    """Write what changed in your rows since the results you last downloaded:
    each pseudonym added to a group, moved to another, left (in no group) or
    withdrawn. Counts as a download of the latest results; the full table is
    `linkage results`."""
    with connect(server, token_file) as client:
        try:
            rows = client.result_changes(project_id, out)
        except OSError as error:
            raise click.ClickException(
                f"cannot write {out}: {error.strerror or error}"
            ) from None
    click.echo(f"Wrote {rows} changed rows to {out}.", err=True)
