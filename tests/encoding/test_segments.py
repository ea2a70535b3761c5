"""Per-field encodings: one Bloom filter per field (schema ``linkage.segments``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.recipe import encode_csv
from linkage.errors import SchemaError
from linkage.formats.clkfile import EncodingHeader, read_encodings
from linkage.formats.schema import LinkageSchema, load_schema, schema_from_dict
from linkage.matching.probabilistic.similarity import field_similarities, random_pairs
from tests.conftest import CONFIGS, FEBRL4_SCHEMA

SECRET = b"segments tests secret"
PLAIN: dict[str, Any] = json.loads(FEBRL4_SCHEMA.read_text())
NAMES = {"name": ["given_name", "surname"]}


def per_field(**layout: Any) -> LinkageSchema:
    document = copy.deepcopy(PLAIN)
    document["linkage"] = {"segments": layout}
    return schema_from_dict(document)


@pytest.fixture(scope="module")
def records(febrl4_frames: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return febrl4_frames[0].head(200).reset_index(drop=True)


def test_each_field_gets_its_own_filter_and_the_layout_is_fingerprinted() -> None:
    schema = per_field(bits=256, groups=NAMES)
    names = [segment.name for segment in schema.segments]
    assert names[0] == "name" and "surname" not in names and "postcode" in names
    assert len(names) == len(schema.encoded_features) - 1
    assert schema.clk_length == 256 * len(names)
    assert schema.fingerprint != schema_from_dict(PLAIN).fingerprint


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ({"bits": 100}, "linkage.segments.bits: must be a multiple of 8"),
        ({"bits": 256, "groups": {"name": []}}, "must be a non-empty list"),
        ({"bits": 256, "groups": {"x": ["nickname"]}}, "no encoded feature"),
        ({"bits": 256, "groups": {"a": ["surname"], "b": ["surname"]}}, "already in"),
        ({"bits": 256, "size": 3}, "linkage.segments.size: unknown key"),
    ],
)
def test_bad_layouts_are_reported_with_their_path(
    layout: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        per_field(**layout)
    assert expected in str(caught.value.problems)


def test_a_changed_field_changes_only_its_own_segment(records: pd.DataFrame) -> None:
    schema = per_field(bits=256)
    changed = records.copy()
    changed["surname"] = "zzyzx"
    before = ClkEncoder(schema, SECRET).encode(records).clks
    after = ClkEncoder(schema, SECRET).encode(changed).clks
    names = [segment.name for segment in schema.segments]
    differs = (before != after).reshape(len(records), len(names), 32).any(axis=2)
    assert differs[:, names.index("surname")].all()
    assert not np.delete(differs, names.index("surname"), axis=1).any()


def test_header_lists_segments_and_a_missing_field_is_nan(
    tmp_path: Path, records: pd.DataFrame
) -> None:
    schema = per_field(bits=512, groups=NAMES)
    export = tmp_path / "export.csv"
    records.assign(address_2="").to_csv(export, index=False)
    encode_csv(export, schema, SECRET, tmp_path / "out.lnk", party="a")
    encodings = read_encodings(tmp_path / "out.lnk")
    assert encodings.header is not None
    segments = encodings.header.segments
    assert segments is not None and segments[0].name == "name"
    assert segments[-1].stop * 8 == encodings.bit_length == schema.clk_length
    pairs = np.arange(len(records), dtype=np.int64)
    same = field_similarities(encodings.clks, segments, pairs, pairs)
    address_2 = [s.name for s in segments].index("address_2")
    assert np.isnan(same[:, address_2]).all()
    others = np.delete(same, address_2, axis=1)
    # FEBRL4 leaves other fields blank too; every field present agrees fully.
    assert (others[~np.isnan(others)] == 1).all() and not np.isnan(others).all()


def test_headers_with_inconsistent_segments_are_refused() -> None:
    with pytest.raises(ValueError, match="add up to 512 bits"):
        EncodingHeader(
            schema_fingerprint="0" * 64,
            bit_length=1024,
            key_check="ab",
            extensions={"segments": [{"name": "a", "bits": 512}]},
        )
    with pytest.raises(ValueError, match="positive multiple of 8"):
        EncodingHeader(
            schema_fingerprint="0" * 64,
            bit_length=1024,
            key_check="ab",
            extensions={"segments": [{"name": "a", "bits": 1020}, {"name": "b"}]},
        )


def test_field_dice_matches_a_direct_count(records: pd.DataFrame) -> None:
    schema = per_field(bits=256)
    clks = ClkEncoder(schema, SECRET).encode(records).clks
    header = EncodingHeader(
        schema_fingerprint=schema.fingerprint,
        bit_length=schema.clk_length,
        key_check="ab",
        extensions={
            "segments": [{"name": s.name, "bits": 256} for s in schema.segments]
        },
    )
    assert header.segments is not None
    rng = np.random.default_rng(5)
    left, right = random_pairs(
        np.zeros(len(clks), dtype=np.int64), 300, rng, across=False, within=True
    )
    scores = field_similarities(clks, header.segments, left, right)
    bits = np.unpackbits(clks, axis=1).reshape(len(clks), -1, 256).astype(int)
    for pair in range(0, len(left), 37):
        a, b = bits[left[pair]], bits[right[pair]]
        total = a.sum(axis=1) + b.sum(axis=1)
        present = (a.sum(axis=1) > 0) & (b.sum(axis=1) > 0)
        expected = np.where(
            present, 2 * (a & b).sum(axis=1) / np.maximum(total, 1), np.nan
        )
        np.testing.assert_allclose(scores[pair], expected, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    parties=st.lists(st.integers(0, 3), min_size=2, max_size=60),
    across=st.booleans(),
    within=st.booleans(),
)
def test_random_pairs_respect_the_linkage_kind(
    parties: list[int], across: bool, within: bool
) -> None:
    party_of = np.array(parties)
    left, right = random_pairs(
        party_of, 50, np.random.default_rng(1), across=across, within=within
    )
    assert (left != right).all()
    same = party_of[left] == party_of[right]
    if not within:
        assert not same.any()
    if not across:
        assert same.all()


def test_hardened_segments_of_missing_fields_stay_empty(records: pd.DataFrame) -> None:
    document = copy.deepcopy(PLAIN)
    document["linkage"] = {
        "segments": {"bits": 256},
        "hardening": {
            "balance": True,
            "diffusion": {"taps": 3, "length": 256},
            "blip": {"flip_probability": 0.05},
        },
    }
    schema = schema_from_dict(document)
    clks = ClkEncoder(schema, SECRET).encode(records.assign(address_2="")).clks
    names = [segment.name for segment in schema.segments]
    segments = clks.reshape(len(records), len(names), 32)
    assert not segments[:, names.index("address_2")].any()
    assert segments[:, names.index("surname")].any(axis=1).all()


@pytest.mark.parametrize("shared", [True, False])
def test_shared_keys_make_swapped_names_encode_alike(
    records: pd.DataFrame, shared: bool
) -> None:
    schema = per_field(bits=512, groups=NAMES, shared_keys=shared)
    swapped = records.assign(
        given_name=records["surname"], surname=records["given_name"]
    )
    clks = ClkEncoder(schema, SECRET).encode(records).clks
    again = ClkEncoder(schema, SECRET).encode(swapped).clks
    names = slice(0, 64)  # The "name" group is the first segment.
    assert np.array_equal(clks[:, names], again[:, names]) == shared


def test_the_shipped_febrl_groups_tolerate_swapped_names(records: pd.DataFrame) -> None:
    """configs/schemas/febrl-groups.json: hardened groups with shared keys, so
    given name and surname the wrong way round leave the name filter as it was
    (and every other filter too)."""
    schema = load_schema(CONFIGS / "schemas" / "febrl-groups.json")
    assert schema.extension.hardening.diffusion is not None
    swapped = records.assign(
        given_name=records["surname"], surname=records["given_name"]
    )
    clks = ClkEncoder(schema, SECRET).encode(records).clks
    again = ClkEncoder(schema, SECRET).encode(swapped).clks
    assert schema.segments[0].name == "name"
    differ = records["given_name"] != records["surname"]
    assert differ.sum() > 150  # The swap changes most records' fields.
    assert np.array_equal(clks, again)
