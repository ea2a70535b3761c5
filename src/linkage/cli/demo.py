"""``linkage demo``: the agency side of a linkage, end to end, on synthetic data.

Four agencies (police, health, social services, tax) export overlapping,
messy records of one synthetic population in their own shapes. Each encodes
its export with its own mapping and vault key under one shared secret. The
demo then shows what the operator will work with: encodings only, in which
records of the same person are far more similar than those of different
people.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.encoding.keyfiles import read_secret, read_vault_key, write_key_file
from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import load_schema

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
    """Generate four agencies' exports and encode each one, as agencies would."""
    from linkage.demo.generator import write_demo_data

    for folder in ("data", "keys", "encodings", "vaults"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    exports = write_demo_data(out / "data", size=people, seed=seed)
    click.echo(f"Synthetic exports of {people} people written to {out / 'data'}.")
    secret_path = _key(out / "keys" / "linkage-secret.key")
    schema = load_schema(configs / "schemas" / "demo.json")
    secret = read_secret(secret_path)
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
        )
        seconds = time.perf_counter() - started
        absent = ", ".join(summary.fields_absent) or "none"
        click.echo(
            f"  {agency:<16} {summary.encoded:>7} records encoded in {seconds:5.2f} s"
            f" (fields it does not hold: {absent})"
        )
    _show_separation(out, exports["truth"])
    click.echo(f"Encodings (for the operator) are in {out / 'encodings'};")
    click.echo(
        f"vaults and keys stay with each agency in {out / 'vaults'}, {out / 'keys'}."
    )


def _key(path: Path) -> Path:
    if not path.exists():
        write_key_file(path)
    return path


def _show_separation(out: Path, truth_path: Path) -> None:
    """Dice similarity of same-person vs different-person pairs, police x health."""
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False)
    police = read_encodings(out / "encodings" / "police.lnk")
    health = read_encodings(out / "encodings" / "health.lnk")
    police_people = _people_by_pseudonym(out, "police", truth)
    health_people = _people_by_pseudonym(out, "health", truth)
    health_row: dict[str, int] = {}
    for row, pseudonym in enumerate(health.pseudonym_strings()):
        health_row.setdefault(health_people[pseudonym], row)
    pairs = [
        (left, health_row[police_people[pseudonym]])
        for left, pseudonym in enumerate(police.pseudonym_strings())
        if police_people[pseudonym] in health_row
    ]
    if not pairs:
        return
    left, right = (list(side) for side in zip(*pairs, strict=True))
    rng = np.random.default_rng(0)
    same = _dice(police.clks[left], health.clks[right])
    different = _dice(
        police.clks[rng.integers(0, len(police), len(pairs))],
        health.clks[rng.integers(0, len(health), len(pairs))],
    )
    low, high = np.percentile(same, 5), np.percentile(different, 95)
    click.echo(
        f"Police x health, Dice similarity of the encodings: {len(pairs)} same-person "
        f"pairs median {np.median(same):.2f} (5th percentile {low:.2f}); random "
        f"pairs median {np.median(different):.2f} (95th percentile {high:.2f})."
    )


def _people_by_pseudonym(out: Path, agency: str, truth: pd.DataFrame) -> dict[str, str]:
    key = read_vault_key(out / "keys" / f"{agency}-vault.key")
    vault = Vault.open(out / "vaults" / f"{agency}.vault", key)
    rows = truth[truth["agency"] == agency]
    person_of_record = dict(zip(rows["record_id"], rows["person_id"], strict=True))
    return {entry.pseudonym: person_of_record[entry.record_id] for entry in vault}


def _dice(
    left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float64]:
    common = np.bitwise_count(left & right).sum(axis=1)
    total = np.bitwise_count(left).sum(axis=1) + np.bitwise_count(right).sum(axis=1)
    return np.where(total > 0, 2 * common / np.maximum(total, 1), 0.0)
