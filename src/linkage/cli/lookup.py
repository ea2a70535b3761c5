"""``linkage lookup``: is this person known, and under which match ID?

An agency encodes the person (or a few people) as it encodes an export, then
asks the service with its party token. The answer names the match ID and the
agency's own pseudonyms in that group, and says whether another agency holds
the person: never another agency's pseudonyms, scores or counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from linkage.cli.connection import connect, project_option, server_option, token_option
from linkage.cli.options import existing_file


@click.command()
@click.argument("encodings", metavar="ENCODINGS", type=existing_file)
@project_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the service's JSON answer."
)
@server_option
@token_option("your party's")
def lookup(
    encodings: Path,
    project_id: int,
    as_json: bool,
    server: str,
    token_file: Path | None,
) -> None:
    """Look up the 1 to 100 records of ENCODINGS (from `linkage encode`, with
    the project's schema and secret and your agency's mapping) in the
    project's latest completed run.

    For each record it prints whether the person is known, the match ID and
    your own pseudonyms in that group (resolve them with `linkage vault
    resolve`), and whether another agency holds the person. Lookups are
    audited and rate-limited per agency; the project must keep its encodings.
    """
    with connect(server, token_file) as client:
        answer = client.lookup(project_id, encodings)
    if as_json:
        click.echo(json.dumps(answer, indent=2, sort_keys=True))
        return
    click.echo(f"Run {answer.get('run_id')} of project {answer.get('project_id')}:")
    for item in answer["results"]:
        click.echo(_line(item))


def _line(item: dict[str, Any]) -> str:
    where = f"record {item.get('record')} ({item.get('pseudonym')}):"
    if not item.get("known"):
        return f"{where} not known"
    match_id = item.get("match_id") or "none (the run left the record unlinked)"
    own = ", ".join(item.get("own_pseudonyms") or []) or "none"
    elsewhere = "yes" if item.get("known_elsewhere") else "no"
    agencies = item.get("agencies")
    if agencies:
        elsewhere += f" ({', '.join(agencies)})"
    return (
        f"{where} known; match ID {match_id}; your pseudonyms: {own}; "
        f"known elsewhere: {elsewhere}"
    )
