"""``linkage demo``: a whole linkage, end to end, on synthetic data.

Four agencies (police, health, social services, tax) export overlapping,
messy records of one synthetic population in their own shapes, with
duplicates. Each encodes its export with its own mapping and vault key under
one shared secret; the operator links the encodings (across agencies and
within them); each agency resolves its own results; and the demo, which alone
knows the truth, scores the result.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd

from linkage.encoding.keyfiles import read_secret, read_vault_key, write_key_file
from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.resolve import resolve_results
from linkage.encoding.vault import Vault
from linkage.formats.schema import load_schema
from linkage.matching.evaluation import evaluate
from linkage.matching.matcher import Matcher, MatchResult, MatchSettings
from linkage.matching.parties import load_parties
from linkage.matching.report import write_report

AGENCIES = ("police", "health", "social_services", "tax")


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Directory for the demo's data, keys, encodings and vaults.",
)
@click.option(
    "--people",
    type=click.IntRange(min=100),
    default=20_000,
    show_default=True,
    help="Size of the synthetic population the agencies draw from.",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option(
    "--configs",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("configs"),
    show_default=True,
    help="Directory with schemas/demo.json and mappings/<agency>.yaml.",
)
def demo(out: Path, people: int, seed: int, configs: Path) -> None:
    """Run a linkage end to end on four synthetic agencies.

    \b
    1. Each agency maps and encodes its own export (keys and vault stay home).
    2. The operator links the encodings, with the threshold chosen automatically.
    3. Each agency resolves its own results from its vault.
    4. The demo, which knows the truth, scores the linkage.
    """
    from linkage.demo.generator import write_demo_data

    for folder in ("data", "keys", "encodings", "vaults", "results", "resolved"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    exports = write_demo_data(out / "data", size=people, seed=seed)
    click.echo(f"Synthetic exports of {people} people written to {out / 'data'}.")
    click.echo("1. Agencies encode their exports:")
    _encode_agencies(out, exports, configs)
    click.echo("2. The operator links the encodings:")
    result = _link(out)
    click.echo("3. Each agency resolves its own results from its vault:")
    _resolve(out)
    click.echo("4. Scored against the truth (only the demo knows it):")
    _score(out, exports["truth"], result.matches)


def _encode_agencies(out: Path, exports: dict[str, Path], configs: Path) -> None:
    schema = load_schema(configs / "schemas" / "demo.json")
    secret = read_secret(_key(out / "keys" / "linkage-secret.key"))
    for agency in AGENCIES:
        vault_key = read_vault_key(_key(out / "keys" / f"{agency}-vault.key"))
        started = time.perf_counter()
        summary = encode_csv(
            exports[agency],
            schema,
            secret,
            out / "encodings" / f"{agency}.lnk",
            mapping=load_mapping(configs / "mappings" / f"{agency}.yaml"),
            vault=VaultTarget(out / "vaults" / f"{agency}.vault", vault_key),
            party=agency,
        )
        seconds = time.perf_counter() - started
        absent = ", ".join(summary.fields_absent) or "none"
        click.echo(
            f"   {agency:<16} {summary.encoded:>7} records in {seconds:5.2f} s"
            f" (fields it does not hold: {absent})"
        )


def _link(out: Path) -> MatchResult:
    paths = [out / "encodings" / f"{agency}.lnk" for agency in AGENCIES]
    result = Matcher(load_parties(paths), MatchSettings(dedup=True)).run()
    result.matches.to_csv(out / "matches.csv", index=False)
    for agency in AGENCIES:
        result.for_party(agency).to_csv(out / "results" / f"{agency}.csv", index=False)
    write_report(
        out / "report.html",
        best=result.best,
        choice=result.choice,
        summary=result.stats,
    )
    click.echo(f"   {result.choice.explanation}")
    click.echo(
        f"   {result.stats['groups']} groups of {result.stats['records matched']} "
        f"records in {result.stats['seconds']} s; each agency gets only its own "
        f"rows in {out / 'results'}; report: {out / 'report.html'}"
    )
    return result


def _resolve(out: Path) -> None:
    for agency in AGENCIES:
        key = read_vault_key(out / "keys" / f"{agency}-vault.key")
        vault = Vault.open(out / "vaults" / f"{agency}.vault", key)
        target = out / "resolved" / f"{agency}.csv"
        summary = resolve_results(out / "results" / f"{agency}.csv", vault, target)
        click.echo(f"   {agency:<16} {summary.rows:>7} own records in {target}")


def _score(out: Path, truth_path: Path, matches: pd.DataFrame) -> None:
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False)
    rows: list[tuple[str, str, str]] = []
    for agency in AGENCIES:
        key = read_vault_key(out / "keys" / f"{agency}-vault.key")
        person = truth[truth["agency"] == agency].set_index("record_id")["person_id"]
        vault = Vault.open(out / "vaults" / f"{agency}.vault", key)
        rows.extend((agency, e.pseudonym, person[e.record_id]) for e in vault)
    evaluation = evaluate(
        matches, pd.DataFrame(rows, columns=["party", "id", "entity"])
    )
    for line in evaluation.to_text().splitlines():
        click.echo(f"   {line}")


def _key(path: Path) -> Path:
    if not path.exists():
        write_key_file(path)
    return path
