"""The equality-structure attacker: who shares an identical filter with whom."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from privacy_data import (
    CONFIGS,
    FIXED_SECRET,
    demo_schema,
    encode,
    people,
    truth_by_id,
)

from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import LinkageSchema, load_schema, schema_from_dict
from linkage.privacy.assign import correct_share
from linkage.privacy.equality import equality_attack, value_classes


def _share(
    schema: LinkageSchema, encoded: pd.DataFrame, population: pd.DataFrame
) -> float:
    features = [f.identifier for f in schema.encoded_features]
    found = equality_attack(encode(schema, encoded), population[features], schema)
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    correct, scored = correct_share(found, truth)
    return correct / scored


@pytest.fixture(scope="module")
def encoded() -> pd.DataFrame:
    return people(1000, seed=11)


def test_per_field_filters_give_almost_everyone_away(encoded: pd.DataFrame) -> None:
    """One filter per field: the values shared (surnames, postcodes, sexes,
    birth dates) make nearly every record's pattern unique."""
    schema = load_schema(CONFIGS / "schemas" / "demo-fields.json")
    shuffled = encoded.sample(frac=1, random_state=4).reset_index(drop=True)
    assert _share(schema, encoded, shuffled) >= 0.95


def test_one_clk_per_record_shows_no_pattern(encoded: pd.DataFrame) -> None:
    """With one filter per record only duplicates are equal; records are
    paired at random, so even a list in the victims' own order gives chance."""
    assert _share(demo_schema(), encoded, encoded) <= 0.01


def test_only_the_pattern_counts_not_the_values(encoded: pd.DataFrame) -> None:
    """Any change that keeps who-equals-whom (every surname altered alike)
    leaves the attack as strong; typing errors in some records break it."""
    schema = load_schema(CONFIGS / "schemas" / "demo-fields.json")
    consistent = encoded.assign(surname=encoded["surname"] + "x")
    exact = _share(schema, encoded, encoded)
    assert _share(schema, encoded, consistent) == pytest.approx(exact, abs=0.01)
    typos = encoded.copy()
    touched = np.random.default_rng(3).random(len(typos)) < 0.5
    for column in ("surname", "given_name", "street"):
        typos.loc[touched, column] = typos.loc[touched, column] + "x"
    assert _share(schema, encoded, typos) < exact - 0.2


def test_value_classes_code_equal_filters_alike_and_empty_ones_missing() -> None:
    schema = load_schema(CONFIGS / "schemas" / "demo-groups.json")
    records = pd.DataFrame(
        {
            "given_name": ["ann", "ann", "bob"],
            "surname": ["lee", "lee", "lee"],
            "date_of_birth": ["1980-01-02", "1980-01-02", ""],
            "sex": ["f", "f", ""],
            "postcode": ["2000", "3000", "2000"],
            "street": ["1 main st", "2 side rd", "1 main st"],
        }
    )
    classes = value_classes(encode(schema, records), schema)
    name, birth, address = classes.T
    assert name[0] == name[1] != name[2]
    assert birth[0] == birth[1] and birth[2] == -1
    assert address[0] == address[2] != address[1]
    assert np.all(classes[:2, :2] >= 0)


def _keyed(keys: list[list[str]]) -> LinkageSchema:
    document = json.loads((CONFIGS / "schemas" / "demo.json").read_text())
    document["linkage"]["match_keys"] = keys
    return schema_from_dict(document)


def _share_with_keys(
    schema: LinkageSchema, encoded: pd.DataFrame, population: pd.DataFrame
) -> float:
    features = [f.identifier for f in schema.encoded_features]
    sent = ClkEncoder(schema, FIXED_SECRET).encode(encoded[features])
    found = equality_attack(
        sent.clks, population[features], schema, match_keys=sent.match_keys
    )
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    correct, scored = correct_share(found, truth)
    return correct / scored


def test_match_keys_of_common_values_give_people_away(encoded: pd.DataFrame) -> None:
    """Keys of fields many people share (a surname and a postcode, a given
    name and a sex) draw the pattern per-field filters draw; the shipped key
    (both names' Soundex codes and the birth date) is shared by nobody in a
    list of distinct people, so it shows none."""
    shuffled = encoded.sample(frac=1, random_state=4).reset_index(drop=True)
    leaky = _keyed([["surname", "postcode"], ["given_name", "sex"]])
    assert _share_with_keys(leaky, encoded, shuffled) >= 0.1
    shipped = load_schema(CONFIGS / "schemas" / "demo.json")
    assert _share_with_keys(shipped, encoded, shuffled) <= 0.01
