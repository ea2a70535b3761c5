"""Hardening: re-identification by four attackers against linkage quality.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/privacy_vs_quality.py [--victims 1000]
        [--data FEBRL4 --data demo] [--config NAME ...] [--json OUT]

For each encoding configuration (the plain schema, or the plain schema with a
``linkage`` block: hardening steps, per-field segments; "hardened field
groups" takes the block of the data set's shipped ``*-groups.json``) and each
data set:

* **quality**: the whole data set encoded and linked as in
  ``benchmarks/quality.py`` (``--method clk`` at its automatic threshold, or
  ``probabilistic`` for per-field configurations); F1 over record pairs;
* **privacy**: :func:`linkage.privacy.privacy_check` plays the attacker on
  ``--victims`` encodings of one source (FEBRL4: A; demo: health). Its
  population list is, with ``--population same`` (the default), exactly the
  encoded records: the strongest case for every attack, and what an agency
  checking its own export sees; with ``other``, another source's records
  (FEBRL4: B, A's people with errors; demo: police, partly the same people).
  The known-plaintext and linear attackers get 50 known pairs, and again 20.
  Re-identified = correct one-to-one assignments over the encodings whose
  person is in the list. The fakename-like list (given name, surname and
  date of birth of distinct people, as in the published attack's data) and
  the wide list (eight fields of the same people) are attacked only, not
  linked.

The secret is random for each configuration: the attacker never has it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import quality_reference as ref
from quality import (
    SCHEMAS,
    as_resolved,
    encode_sources,
    schema_with,
    shipped_hardening,
)

from linkage.demo.generator import generate_population
from linkage.evaluation import evaluate
from linkage.formats.schema import LinkageSchema
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.privacy.check import ATTACKS as ALL_ATTACKS
from linkage.privacy.check import AttackName, privacy_check
from linkage.privacy.mirror import encode_as_sent

VAULT_KEY = bytes(32)
FAKENAME = ("given_name", "surname", "date_of_birth")
# demo.json's fields, a middle name and a suburb (benchmarks/wide-list.json).
WIDE = (*FAKENAME, "sex", "postcode", "street", "middle_name", "suburb")
WIDE_LIST = Path(__file__).resolve().parent / "wide-list.json"
# Every attack that re-identifies records (secret-guess needs a file header),
# and those given known pairs, which also run with 20 of them.
ATTACKS: tuple[AttackName, ...] = tuple(a for a in ALL_ATTACKS if a != "secret-guess")
FROM_PAIRS: tuple[AttackName, ...] = ("known-plaintext", "linear")
COLUMNS = (
    "frequency",
    "equality",
    "graph",
    "known-plaintext (20)",
    "known-plaintext",
    "linear (20)",
    "linear",
)
NAMES = ["given_name", "surname"]
GROUPS = "hardened field groups"  # The data set's shipped *-groups.json.
GROUPS_T4 = "hardened field groups, t=4"  # The same groups, 4 taps, 1,024 bits.
SHIPPED = "shipped default"  # demo.json's block, with its views that fit.


@dataclass(frozen=True)
class DataSet:
    """Records to link, and who attacks whom."""

    data: ref.ReferenceData | None  # None: attacked only, not linked.
    base_schema: str
    groups_schema: str  # The shipped hardened field groups for this data.
    victim: str
    population: str
    fields: tuple[str, ...] = ()  # The base schema's features kept (all if none).
    records: pd.DataFrame | None = None  # Attacked records when not linked.


def configurations(length: int) -> dict[str, dict[str, Any] | None]:
    """The ``linkage`` blocks tried, by name, for a schema of ``length`` bits."""
    salt = {"features": NAMES, "with": "date_of_birth", "characters": [0, 4]}
    double = 2 * length
    return {
        "plain": None,
        "balance": {"hardening": {"balance": True}},
        "blip 0.05": {"hardening": {"blip": {"flip_probability": 0.05}}},
        "salt names with birth year": {"hardening": {"salt": salt}},
        "diffusion t=3": {"hardening": {"diffusion": {"taps": 3, "length": double}}},
        "balance + diffusion t=3": {
            "hardening": {
                "balance": True,
                "diffusion": {"taps": 3, "length": double},
            }
        },
        "balance + diffusion t=4": {
            "hardening": {
                "balance": True,
                "diffusion": {"taps": 4, "length": double},
            }
        },
        "per-field": {"segments": {"bits": 512}},
        "per-field 256, diffusion t=3": {
            "segments": {"bits": 256},
            "hardening": {"diffusion": {"taps": 3, "length": 512}},
        },
        "per-field 256, diffusion t=5": {
            "segments": {"bits": 256},
            "hardening": {"diffusion": {"taps": 5, "length": 512}},
        },
        "per-field 1024, diffusion t=4": {
            "segments": {"bits": 1024},
            "hardening": {"diffusion": {"taps": 4, "length": 1024}},
        },
        "per-field 512, diffusion t=5": {
            "segments": {"bits": 512},
            "hardening": {"diffusion": {"taps": 5, "length": 512}},
        },
        "per-field 256, diffusion t=3, blip 0.05": {
            "segments": {"bits": 256},
            "hardening": {
                "diffusion": {"taps": 3, "length": 512},
                "blip": {"flip_probability": 0.05},
            },
        },
        "diffusion t=3, blip 0.02": {
            "hardening": {
                "diffusion": {"taps": 3, "length": double},
                "blip": {"flip_probability": 0.02},
            }
        },
        **{
            f"diffusion t={taps}, length l": {
                "hardening": {"diffusion": {"taps": taps, "length": length}}
            }
            for taps in range(2, 9)
        },
        **{
            f"diffusion t={taps}, length {times}l": {
                "hardening": {"diffusion": {"taps": taps, "length": times * length}}
            }
            for taps in (3, 4)
            for times in (2, 4)
        },
        "diffusion t=5, length 4l": {
            "hardening": {"diffusion": {"taps": 5, "length": 4 * length}}
        },
        "diffusion t=6, length 8l": {
            "hardening": {"diffusion": {"taps": 6, "length": 8 * length}}
        },
        GROUPS: None,  # Read from the data set's *-groups.json.
        GROUPS_T4: None,
        SHIPPED: None,  # Read from configs/schemas/demo.json.
    }


def groups_block(data_set: DataSet, four_taps: bool = False) -> dict[str, Any]:
    """The ``linkage`` block of the data set's shipped field-groups schema;
    with ``four_taps``, each group 1,024 bits diffused with 4 taps."""
    document = json.loads((SCHEMAS / data_set.groups_schema).read_text())
    block: dict[str, Any] = document["linkage"]
    if four_taps:
        block["segments"]["bits"] = 1024
        block["hardening"]["diffusion"] = {"taps": 4, "length": 1024}
    return block


def data_sets(victims: int) -> dict[str, DataSet]:
    """FEBRL4, the demo population and a fakename-like list, with the attack's
    two sides."""
    return {
        "FEBRL4": DataSet(
            ref.febrl4(), "febrl-linkage.json", "febrl-groups.json", "A", "B"
        ),
        "demo": DataSet(
            ref.demo(5000, 7), "demo.json", "demo-groups.json", "health", "police"
        ),
        "fakename-like": DataSet(
            None,
            "demo.json",
            "demo-groups.json",
            "people",
            "people",
            fields=FAKENAME,
            records=fakename_like(victims),
        ),
        # The same people with one and two fields more: how many fields a CLK
        # needs before 4 taps keep the attackers at bay.
        "fakename-like, 4 fields": DataSet(
            None,
            "demo.json",
            "demo-groups.json",
            "people",
            "people",
            fields=(*FAKENAME, "sex"),
            records=fakename_like(victims, ("sex",)),
        ),
        "fakename-like, 5 fields": DataSet(
            None,
            "demo.json",
            "demo-groups.json",
            "people",
            "people",
            fields=(*FAKENAME, "sex", "postcode"),
            records=fakename_like(victims, ("sex", "postcode")),
        ),
        "fakename-like, 6 fields": DataSet(
            None,
            "demo.json",
            "demo-groups.json",
            "people",
            "people",
            fields=(*FAKENAME, "sex", "postcode", "street"),
            records=fakename_like(victims, ("sex", "postcode", "street")),
        ),
        # Eight fields (seven identifying), from the demo generator: where a
        # wide schema's bar for fewer taps or a longer output lies.
        "wide list, 8 fields": DataSet(
            None,
            str(WIDE_LIST),
            "demo-groups.json",
            "people",
            "people",
            fields=WIDE,
            records=fakename_like(victims, WIDE[3:]),
        ),
    }


def fakename_like(size: int, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """A list like the published attack's fakename data: given name, surname
    and date of birth of distinct people (the demo generator's names), and
    the ``extra`` columns of the generator asked for."""
    people = generate_population(size, np.random.default_rng(20))
    for column in ("given_name", "surname", "middle_name", "suburb"):
        people[column] = people[column].fillna("").str.lower()
    people["entity"] = people["person_id"]
    people["source"] = "people"
    people["street"] = people["street_address"].str.lower()
    return people[["source", "entity", *FAKENAME, *extra]]


def link_f1(data: ref.ReferenceData, schema: LinkageSchema, secret: bytes) -> float:
    """F1 over record pairs of the whole data set, no threshold from the truth."""
    with tempfile.TemporaryDirectory() as folder:
        paths, truth = encode_sources(data, schema, secret, Path(folder))
        method = "probabilistic" if schema.extension.segments else "clk"
        settings = MatchSettings(dedup=data.link_type != "link_only", method=method)
        result = Matcher(load_parties(paths), settings).run()
        return evaluate(as_resolved(result.matches, paths), truth).all_pairs.f1 or 0.0


def attack(
    data_set: DataSet,
    schema: LinkageSchema,
    secret: bytes,
    victims: int,
    same: bool,
    only: tuple[str, ...] = (),
) -> dict[str, float | None]:
    """Share re-identified by each attacker.

    With ``same``, the attacker's list holds exactly the encoded records (the
    strongest case, and what an agency checking its own export sees);
    otherwise it is another source's records of partly the same people.
    ``only`` names the attacks to run (all when empty).
    """
    records = data_set.records
    if data_set.data is not None:
        records = data_set.data.records
    assert records is not None
    features = [f.identifier for f in schema.encoded_features]
    victim = records[records["source"] == data_set.victim].head(victims)
    population = records[records["source"] == data_set.population]
    if same:
        population = victim
    population = population.reset_index(drop=True)
    sent = encode_as_sent(schema, secret, victim[features])
    row_of = {entity: row for row, entity in enumerate(population["entity"])}
    truth = np.array([row_of.get(e, -1) for e in victim["entity"]], dtype=np.int64)
    shares: dict[str, float | None] = {}
    for known, every in ((50, ATTACKS), (20, FROM_PAIRS)):
        attacks = [name for name in every if not only or name in only]
        if not attacks:
            continue
        report = privacy_check(
            sent.clks, population[features], schema, truth=truth, attacks=attacks,
            known=known, match_keys=sent.match_keys,
        )  # fmt: skip
        for result in report.results:
            name = result.attack if known == 50 else f"{result.attack} (20)"
            shares[name] = result.share
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victims", type=int, default=1000)
    parser.add_argument("--data", action="append", default=None)
    parser.add_argument("--config", action="append", default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--attack", action="append", default=[], help="run only this attack"
    )
    parser.add_argument(
        "--population",
        choices=["same", "other"],
        default="same",
        help="same: the attacker's list holds exactly the encoded records "
        "(strongest); other: another source's records (FEBRL4 B, demo police)",
    )
    parser.add_argument(
        "--no-f1", action="store_true", help="attack only, do not link (F1 '-')"
    )
    options = parser.parse_args()
    rows = []
    for name, data_set in data_sets(options.victims).items():
        if options.data and name not in options.data:
            continue
        base = schema_with(data_set.base_schema, None)
        for config, block in configurations(base.l).items():
            if options.config and config not in options.config:
                continue
            if config in (GROUPS, GROUPS_T4):
                block = groups_block(data_set, four_taps=config == GROUPS_T4)
                if data_set.fields:
                    continue  # Groups are laid out for the whole schema.
            if config == SHIPPED:
                fields = schema_with(data_set.base_schema, None, data_set.fields)
                identifiers = data_set.data.identifiers if data_set.data else ()
                block = shipped_hardening(
                    base.l, fields.encoded_features, identifiers=identifiers
                )
            schema = schema_with(data_set.base_schema, block, data_set.fields)
            secret = os.urandom(32)
            started = time.perf_counter()
            same = options.population == "same"
            shares = attack(
                data_set, schema, secret, options.victims, same, tuple(options.attack)
            )
            f1 = None
            if data_set.data is not None and not options.no_f1:
                f1 = link_f1(data_set.data, schema, secret)
            row = {"data": name, "config": config, "F1": f1, **shares}
            row["seconds"] = time.perf_counter() - started
            rows.append(row)
            print(json.dumps(row), flush=True)
    print_table(rows)
    if options.json is not None:
        options.json.write_text(json.dumps(rows, indent=1))


def print_table(rows: list[dict[str, Any]]) -> None:
    """Markdown: re-identified share per attack, and F1 against plain."""
    plain = {row["data"]: row["F1"] for row in rows if row["config"] == "plain"}
    named = [
        c if "(" in c or c in ("frequency", "equality", "graph") else f"{c} (50)"
        for c in COLUMNS
    ]
    print("| data | configuration | " + " | ".join(named), end="")
    print(" | F1 | F1 vs plain (points) |")
    print("|---|---|" + "---:|" * (len(COLUMNS) + 2))
    for row in rows:
        shares = [row.get(column) for column in COLUMNS]
        cells = " | ".join("-" if s is None else f"{100 * s:.1f} %" for s in shares)
        base, f1 = plain.get(row["data"]), row["F1"]
        delta = "" if base is None or f1 is None else f"{100 * (f1 - base):+.2f}"
        shown = "-" if f1 is None else f"{f1:.4f}"
        print(f"| {row['data']} | {row['config']} | {cells} | {shown} | {delta} |")


if __name__ == "__main__":
    main()
