"""The shipped default's unique keys (the names; one name and the address;
beside the match key, one name and the birth date): what they add and cost.

Two thirds of the pairs the shipped default missed on the demo shared
nothing but the names: the tax office holds no birth date, so a person who
moved, or whose other agency holds no address, has only the names in common
with the tax record, and the views diffused with 10 taps score such a pair
like two strangers; a typo in one name leaves the other and the address.
The shipped schema's ``unique_keys`` (keys of both names, of the given name
and the address, of the surname and the address, and beside the match key
of each name with the birth date, each written only where no other person
in the agency's file holds the values, once per person, random bytes
elsewhere; :mod:`linkage.matching.unique_keys` decides where each counts)
finds them. This script measures, in one run:

- quality: all-pairs F1 of the shipped default without unique keys, with
  the names' alone, and as shipped, on several populations, and what the
  linkage said about each key;
- privacy: the equality attacker of ``linkage privacy-check`` over several
  secrets and pairings (1,000 records, full overlap) on the demo's agencies,
  each export as ``linkage encode`` sends it with the agency's mapping (its
  absent fields empty, views in place or sent empty), without unique keys,
  as shipped, and with the names as an ordinary match key (written for
  every record) for comparison.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import quality as q
import quality_reference as ref
from households_data import households
from registers_data import registers

from linkage.encoding.default_hardening import fitted_block
from linkage.encoding.mapping_file import load_mapping
from linkage.evaluation import evaluate
from linkage.formats.schema import LinkageSchema, schema_from_dict
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.privacy.check import privacy_check
from linkage.privacy.mirror import encode_as_sent

SHIPPED: dict[str, Any] = json.loads((q.SCHEMAS / "demo.json").read_text())
VARIANTS = (
    "without unique keys",
    "the names' unique key alone",
    "shipped",
    "names as a match key",
)
# Quality is measured on the first three; privacy on all but the second
# (the address keys' values are unique in a file, like the names').
QUALITY, PRIVACY = VARIANTS[:3], (VARIANTS[0], *VARIANTS[2:])


def variant(name: str) -> dict[str, Any]:
    """The shipped schema's document as ``name`` says."""
    document = copy.deepcopy(SHIPPED)
    keys = document["linkage"].pop("unique_keys")
    names = [key for key in keys if key == ["given_name", "surname"]]
    if name == "shipped":
        document["linkage"]["unique_keys"] = keys
    elif name == "the names' unique key alone":
        document["linkage"]["unique_keys"] = names
    elif name == "names as a match key":
        document["linkage"]["match_keys"] += names
    return document


def linked(data: ref.ReferenceData, schema: LinkageSchema) -> tuple[Any, str]:
    """All-pairs scores of the shipped engine's run under ``schema``, and
    what it said of the unique keys."""
    with tempfile.TemporaryDirectory() as folder:
        paths, truth = q.encode_sources(data, schema, q.SECRET, Path(folder))
        settings = MatchSettings(dedup=data.link_type != "link_only")
        result = Matcher(load_parties(paths), settings).run()
        return evaluate(q.as_resolved(result.matches, paths), truth).all_pairs, str(
            result.stats["unique keys"]
        )


def schema_for(data: ref.ReferenceData, document: dict[str, Any]) -> LinkageSchema:
    """``document``'s block fitted to ``data``'s schema (FEBRL's fields)."""
    if not data.name.startswith("FEBRL"):
        return schema_from_dict(document)
    febrl = json.loads((q.SCHEMAS / "febrl-linkage.json").read_text())
    features = schema_from_dict(febrl).encoded_features
    febrl["linkage"] = fitted_block(
        document["linkage"], febrl["clkConfig"]["l"], features,
        identifiers=data.identifiers,
    )  # fmt: skip
    return schema_from_dict(febrl)


def quality_rows(populations: list[tuple[str, ref.ReferenceData]]) -> None:
    for label, data in populations:
        for name in QUALITY:
            scores, said = linked(data, schema_for(data, variant(name)))
            print(
                f"{label}, {name}: F1 {scores.f1:.4f} (P {scores.precision:.4f}, "
                f"R {scores.recall:.4f})" + (f"; {said}" if name == "shipped" else ""),
                flush=True,
            )


def absent_at(agency: str, schema: LinkageSchema) -> tuple[str, ...]:
    """The schema's fields the agency's mapping file does not fill."""
    mapped = set(
        load_mapping(q.ROOT / "configs" / "mappings" / f"{agency}.yaml").field_names
    )
    return tuple(
        f.identifier for f in schema.encoded_features if f.identifier not in mapped
    )


def equality_shares(
    victim: pd.DataFrame, agency: str, name: str, draws: int
) -> list[float]:
    """The equality attacker's share over ``draws`` secrets and pairings."""
    schema = schema_from_dict(variant(name))
    features = [f.identifier for f in schema.encoded_features]
    absent = absent_at(agency, schema)
    shares = []
    for draw in range(draws):
        secret = f"unique key draw {draw}".encode()
        sent = encode_as_sent(schema, secret, victim[features], absent)
        report = privacy_check(
            sent.clks, victim[features], schema, truth=np.arange(len(victim)),
            attacks=["equality"], seed=draw, match_keys=sent.match_keys,
            absent=absent,
        )  # fmt: skip
        shares.append(report.results[0].share)
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--victims", type=int, default=1000)
    parser.add_argument("--large", action="store_true", help="also 20,000 people")
    parser.add_argument(
        "--privacy-only", action="store_true", help="only the attacker's shares"
    )
    options = parser.parse_args()
    populations = [
        ("demo, 5,000 people, seed 7", ref.demo(5000, 7)),
        ("demo, 5,000 people, seed 3", ref.demo(5000, 3)),
        ("households, 5,000 people, seed 11", households(5000, 11)),
        ("registers, seed 23", registers(seed=23)),
        ("FEBRL4", ref.febrl4()),
    ]
    if options.large:
        populations.insert(2, ("demo, 20,000 people, seed 7", ref.demo(20000, 7)))
    if not options.privacy_only:
        quality_rows(populations)
    records = ref.demo(5000, 7).records
    for agency in ("health", "police", "social_services", "tax"):
        victim = records[records["source"] == agency].head(options.victims)
        victim = victim.reset_index(drop=True)
        for name in PRIVACY:
            shares = 100 * np.array(
                equality_shares(victim, agency, name, options.draws)
            )
            print(
                f"equality attacker, demo {agency} records, {name}: mean "
                f"{shares.mean():.2f} % ({shares.min():.1f}-{shares.max():.1f}) "
                f"over {options.draws} draws",
                flush=True,
            )


if __name__ == "__main__":
    main()
