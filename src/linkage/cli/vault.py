"""``linkage vault``: use the agency's pseudonym vault."""

from __future__ import annotations

from pathlib import Path

import click

from linkage.cli.changes import read_pseudonyms
from linkage.cli.options import existing_file, vault_key_option
from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.resolve import resolve_results
from linkage.encoding.vault import Vault

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group()
def vault() -> None:
    """Use your agency's pseudonym vault (it never leaves the agency)."""


@vault.command()
@click.argument("results", metavar="RESULTS.csv", type=_FILE)
@click.option(
    "--vault",
    "vault_path",
    required=True,
    metavar="FILE",
    type=_FILE,
    help="The vault written when your agency encoded its records.",
)
@vault_key_option
@click.option(
    "--out",
    "out_path",
    required=True,
    metavar="FILE",
    type=_FILE,
    help="Where to write the CSV file record_id,match_id (mode 0600).",
)
@click.option(
    "--withdrawn",
    "withdrawn_path",
    metavar="FILE",
    type=existing_file,
    help="Pseudonyms you withdrew from the linkage, one a line (as for "
    "`linkage changes withdraw`): never joined to a group.",
)
@click.option(
    "--with-identity",
    is_flag=True,
    help="Also write the identity fields stored in the vault. The output then "
    "holds personal data: handle it accordingly.",
)
def resolve(
    results: Path,
    vault_path: Path,
    vault_key_file: Path | None,
    out_path: Path,
    withdrawn_path: Path | None,
    with_identity: bool,
) -> None:
    """Turn the operator's RESULTS.csv into your own record IDs.

    RESULTS.csv has the columns pseudonym,match_id (other columns are carried
    through). Every pseudonym must be in your vault; otherwise nothing is
    written. A person you recorded more than once sent the match keys on one
    record only, so that nobody else learns of it; the vault remembers, and
    each such person's records are written in the group most of them are in
    (or, if the operator grouped none of them, in a group of their own).
    """
    key = read_vault_key(vault_key_file)
    opened = Vault.open(vault_path, key)
    withdrawn = []
    if withdrawn_path is not None:
        withdrawn = read_pseudonyms(withdrawn_path, "'--withdrawn'")
    summary = resolve_results(
        results,
        opened,
        out_path,
        include_identity=with_identity,
        withdrawn=withdrawn,
    )
    click.echo(
        f"Resolved {summary.rows} rows into {summary.match_ids} match IDs; "
        f"wrote {out_path}.",
        err=True,
    )
