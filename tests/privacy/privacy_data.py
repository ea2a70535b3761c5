"""Real data for the privacy tests: generator populations and FEBRL4 subsets."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.demo.generator import generate_population
from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import LinkageSchema, schema_from_dict
from linkage.privacy.check import PrivacyReport, privacy_check

CONFIGS = Path(__file__).parents[2] / "configs"
FIXED_SECRET = bytes(range(32))  # The agencies' secret; never the attacker's.
# The graph attacker's own secret, fixed so that its result is repeatable (its
# success varies a little with the collisions of the secret it picks).
ATTACKER_SECRET = bytes(range(32, 64))


def _feature(
    identifier: str,
    value_format: dict,
    comparison: dict,
    strategy: dict,
    missing: bool = False,
) -> dict:
    """One feature of a schema document, hashed with keyed BLAKE2b."""
    hashing = {
        "comparison": comparison,
        "strategy": strategy,
        "hash": {"type": "blakeHash"},
    }
    if missing:
        hashing["missingValue"] = {"sentinel": ""}
    return {"identifier": identifier, "format": value_format, "hashing": hashing}


_TEXT = {"type": "string", "encoding": "utf-8", "case": "lower", "maxLength": 64}
_BIGRAMS = {"type": "ngram", "n": 2}
_DIGITS = {"type": "ngram", "n": 1, "positional": True}

#: The demo schema's features (configs/schemas/demo.json) as plain clkhash, kept
#: here so that the attacks are shown against unhardened CLKs whatever the
#: shipped demo schema turns on.
PLAIN_DEMO_SCHEMA = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {
            "type": "HKDF",
            "hash": "SHA256",
            "keySize": 64,
            "salt": "cHJpdmFjeSB0ZXN0cw==",
            "info": "cHJpdmFjeQ==",
        },
    },
    "features": [
        _feature("given_name", _TEXT, _BIGRAMS, {"bitsPerFeature": 200}),
        _feature("surname", _TEXT, _BIGRAMS, {"bitsPerFeature": 200}),
        _feature(
            "date_of_birth",
            {"type": "date", "format": "%Y-%m-%d"},
            _DIGITS,
            {"bitsPerFeature": 200},
            missing=True,
        ),
        _feature(
            "sex",
            {"type": "enum", "values": ["f", "m", "x"]},
            {"type": "exact"},
            {"bitsPerToken": 50},
            missing=True,
        ),
        _feature(
            "postcode",
            {"type": "string", "pattern": "[0-9]{4}|"},
            _DIGITS,
            {"bitsPerFeature": 100},
        ),
        _feature(
            "street", dict(_TEXT, maxLength=128), _BIGRAMS, {"bitsPerFeature": 100}
        ),
    ],
}


def demo_schema(*fields: str) -> LinkageSchema:
    """The plain demo schema, keeping only ``fields`` (all when none are given)."""
    document = copy.deepcopy(PLAIN_DEMO_SCHEMA)
    if fields:
        document["features"] = [
            f for f in document["features"] if f["identifier"] in fields
        ]
    return schema_from_dict(document)


def febrl4_schema(*fields: str) -> LinkageSchema:
    """The FEBRL4 schema, keeping only ``fields`` (all when none are given)."""
    document = json.loads((CONFIGS / "schemas" / "febrl4.json").read_text())
    if fields:
        document["features"] = [
            f for f in document["features"] if f["identifier"] in fields
        ]
    return schema_from_dict(document)


def people(size: int, seed: int = 5) -> pd.DataFrame:
    """A generator population with the demo schema's columns, lower case."""
    frame = generate_population(size, np.random.default_rng(seed))
    frame = frame.rename(columns={"street_address": "street"})
    for column in ("given_name", "surname", "street"):
        frame[column] = frame[column].str.lower()
    return frame


def encode(schema: LinkageSchema, records: pd.DataFrame) -> npt.NDArray[np.uint8]:
    """The CLKs the agencies would send, under their secret."""
    return ClkEncoder(schema, FIXED_SECRET).encode(records).clks


def truth_by_id(encoded: pd.Series, population: pd.Series) -> npt.NDArray[np.int64]:
    """Each encoded record's row in the population (-1 where it has none)."""
    row_of = {value: row for row, value in enumerate(population)}
    return np.array([row_of.get(value, -1) for value in encoded], dtype=np.int64)


def attacked(schema: LinkageSchema) -> PrivacyReport:
    """1,000 people encoded; the attacker's list holds exactly them, shuffled."""
    encoded = people(1000, seed=11)
    population = encoded.sample(frac=1, random_state=4).reset_index(drop=True)
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    features = [f.identifier for f in schema.encoded_features]
    sent = ClkEncoder(schema, FIXED_SECRET).encode(encoded)
    return privacy_check(
        sent.clks,
        population[features],
        schema,
        truth=truth,
        match_keys=sent.match_keys,
    )


def shares(report: PrivacyReport) -> dict[str, float]:
    """The share each attack re-identified."""
    return {r.attack: r.share for r in report.results if r.share is not None}
