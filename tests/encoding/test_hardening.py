"""Hardening steps in the encoder, declared in the schema's ``linkage`` block."""

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
from linkage.encoding.hardening import KeyStream, derive_key
from linkage.encoding.recipe import encode_csv
from linkage.errors import SchemaError
from linkage.formats.schema import LinkageSchema, schema_from_dict
from tests.conftest import CONFIGS, FEBRL4_SCHEMA, RunCli

SECRET = b"hardening tests secret"
PLAIN: dict[str, Any] = json.loads(FEBRL4_SCHEMA.read_text())
SURNAME_BY_BIRTH = {"features": ["surname"], "with": "date_of_birth"}


def hardened(hardening: dict[str, Any]) -> LinkageSchema:
    document = copy.deepcopy(PLAIN)
    document["linkage"] = {"hardening": hardening}
    return schema_from_dict(document)


@pytest.fixture(scope="module")
def records(febrl4_frames: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return febrl4_frames[0].head(300)


def dice_matrix(left: Any, right: Any) -> Any:
    """Dice coefficient of every left encoding with every right one."""
    a = np.unpackbits(left, axis=1).astype(np.float64)
    b = np.unpackbits(right, axis=1).astype(np.float64)
    return 2 * (a @ b.T) / (a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :])


def encode(schema: LinkageSchema, frame: pd.DataFrame, secret: bytes = SECRET) -> Any:
    return ClkEncoder(schema, secret).encode(frame).clks


def test_plain_schema_has_no_hardening_and_keeps_its_length() -> None:
    schema = schema_from_dict(PLAIN)
    assert schema.extension.hardening.is_plain
    assert schema.clk_length == schema.l == 1024


def test_hardening_is_part_of_the_fingerprint() -> None:
    plain = schema_from_dict(PLAIN)
    balanced = hardened({"balance": True})
    blip = hardened({"blip": {"flip_probability": 0.05}})
    assert len({plain.fingerprint, balanced.fingerprint, blip.fingerprint}) == 3


@pytest.mark.parametrize(
    ("hardening", "expected"),
    [
        ({"balance": "yes"}, "linkage.hardening.balance: must be true or false"),
        ({"pepper": 1}, "linkage.hardening.pepper: unknown key"),
        ({"diffusion": {"taps": 1, "length": 1024}}, "diffusion.taps: must be"),
        ({"diffusion": {"taps": 3, "length": 1001}}, "multiple of 8"),
        ({"blip": {"flip_probability": 0.7}}, "flip_probability: must be between"),
        ({"salt": {"features": ["nickname"], "with": "date_of_birth"}}, "'nickname'"),
        ({"salt": {"features": ["surname"], "with": "surname"}}, "with itself"),
        (
            {"salt": {**SURNAME_BY_BIRTH, "characters": [4, 2]}},
            "characters: must be [first, stop]",
        ),
    ],
)  # fmt: skip
def test_bad_hardening_is_reported_with_its_path(
    hardening: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        hardened(hardening)
    assert expected in str(caught.value.problems)


def test_balanced_encodings_set_exactly_half_their_bits(records: pd.DataFrame) -> None:
    schema = hardened({"balance": True})
    clks = encode(schema, records)
    assert schema.clk_length == 2048 and clks.shape == (300, 256)
    counts = np.unpackbits(clks, axis=1).sum(axis=1)
    assert set(counts.tolist()) == {1024}


def test_secret_derived_steps_agree_across_agencies_and_differ_across_secrets(
    records: pd.DataFrame,
) -> None:
    schema = hardened({"balance": True, "diffusion": {"taps": 3, "length": 2048}})
    first, again = encode(schema, records), encode(schema, records)
    other = encode(schema, records, b"another secret")
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_diffusion_keeps_duplicates_closer_than_strangers(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    schema = hardened({"balance": True, "diffusion": {"taps": 3, "length": 4096}})
    originals, duplicates = febrl4_frames
    by_entity = duplicates.assign(
        entity=duplicates.rec_id.str.split("-").str[1]
    ).set_index("entity")
    left = originals.head(200)
    right = by_entity.loc[left.rec_id.str.split("-").str[1]].reset_index()
    scores = dice_matrix(encode(schema, left), encode(schema, right))
    same = np.diag(scores)
    strangers = scores[~np.eye(len(left), dtype=bool)]
    assert np.median(same) > 0.8
    assert np.quantile(strangers, 0.999) < np.median(same)
    assert schema.clk_length == 4096


def test_blip_flips_about_the_configured_share_of_bits(records: pd.DataFrame) -> None:
    plain = encode(schema_from_dict(PLAIN), records)
    flipped = encode(hardened({"blip": {"flip_probability": 0.05}}), records)
    share = np.unpackbits(plain ^ flipped).mean()
    # 300 x 1024 Bernoulli(0.05) draws: a standard deviation of 0.0004.
    assert 0.045 < share < 0.055
    again = encode(hardened({"blip": {"flip_probability": 0.05}}), records)
    assert not np.array_equal(flipped, again)


def test_salting_separates_equal_names_with_different_salts(
    records: pd.DataFrame,
) -> None:
    salt = {"features": ["given_name", "surname"], "with": "date_of_birth"}
    schema = hardened({"salt": {**salt, "characters": [0, 4]}})
    twins = pd.concat([records.head(1)] * 3, ignore_index=True)
    twins.loc[1, "date_of_birth"] = twins.loc[0, "date_of_birth"][:4] + "0101"
    twins.loc[2, "date_of_birth"] = "1899" + twins.loc[0, "date_of_birth"][4:]
    clks = encode(schema, twins)
    scores = dice_matrix(clks, clks)
    # Same year: only the birth date's own bits differ. Another year: the names
    # no longer share bits at all.
    assert scores[0, 1] > 0.85
    assert scores[0, 2] < scores[0, 1] - 0.1


def test_salted_encoding_reports_invalid_values_at_their_own_rows(
    tmp_path: Path, run_cli: RunCli, secret_file: Path
) -> None:
    document = json.loads((FEBRL4_SCHEMA.parent / "demo.json").read_text())
    salt = {**SURNAME_BY_BIRTH, "characters": [0, 4]}
    document["linkage"] = {"hardening": {"salt": salt}}
    schema = tmp_path / "salted.json"
    schema.write_text(json.dumps(document))
    export = tmp_path / "export.csv"
    export.write_text(
        "given_name,surname,date_of_birth,sex,postcode,street\n"
        "ann,lee,1970-01-02,f,2600,main st\n"
        "bob,KING,1980-03-04,m,2601,high st\n"
        "cat,day,1970-05-06,f,2602,low st\n"
    )
    result = run_cli(
        "encode", export, "--schema", schema, "--secret-file", secret_file,
        "--out", tmp_path / "out.lnk",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "row 2, field 'surname': must be lower case" in result.output
    assert not (tmp_path / "out.lnk").exists()


def test_schema_check_lists_the_hardening(tmp_path: Path, run_cli: RunCli) -> None:
    document = copy.deepcopy(PLAIN)
    blip = {"flip_probability": 0.01}
    document["linkage"] = {"hardening": {"balance": True, "blip": blip}}
    path = tmp_path / "hardened.json"
    path.write_text(json.dumps(document))
    result = run_cli("schema", "check", path)
    assert result.exit_code == 0, result.output
    assert "Hardening (the CLK; 2048-bit encodings)" in result.output
    assert "BLIP: each bit flipped with probability 0.01" in result.output


def test_schema_check_lists_the_filters_of_field_groups(run_cli: RunCli) -> None:
    result = run_cli("schema", "check", CONFIGS / "schemas" / "demo-groups.json")
    assert result.exit_code == 0, result.output
    listed = "Per-field encodings (1536 bits), one filter per group; a group's"
    assert listed in result.output
    assert "  birth: date_of_birth, sex (512 bits)" in result.output
    assert "Hardening (each filter; 1536-bit encodings):" in result.output
    assert "diffusion: 512 bits, each the XOR of 5" in result.output


def test_schema_check_lists_the_views_and_match_keys(run_cli: RunCli) -> None:
    """What each record carries besides its CLK: the operator sees it all."""
    result = run_cli("schema", "check", CONFIGS / "schemas" / "demo.json")
    assert result.exit_code == 0, result.output
    assert "Views (each one more CLK per record, diffused with 10 taps):" in (
        result.output
    )
    assert "  without_birth: given_name, surname, postcode, street" in result.output
    assert "  soundex(given_name) + soundex(surname) + date_of_birth" in result.output
    assert "given_name and surname in either order" in result.output
    assert "Unique keys (written once per person where no other person in" in (
        result.output
    )
    assert "  given_name + surname\n" in result.output
    assert "  surname + date_of_birth (beside a match key)\n" in result.output
    plain = run_cli("schema", "check", FEBRL4_SCHEMA)
    assert "Views" not in plain.output and "Match keys" not in plain.output


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=3000),
    seed=st.binary(min_size=1, max_size=16),
)
def test_keystream_permutations_are_permutations(size: int, seed: bytes) -> None:
    permutation = KeyStream(derive_key(seed, b"test")).permutation(size)
    assert sorted(permutation.tolist()) == list(range(size))


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(min_value=1, max_value=200),
    width=st.integers(min_value=2, max_value=8),
    bound=st.integers(min_value=8, max_value=70000),
)
def test_diffusion_taps_are_distinct_and_in_range(
    rows: int, width: int, bound: int
) -> None:
    taps = KeyStream(derive_key(b"seed", b"test")).distinct_rows(rows, width, bound)
    assert taps.shape == (rows, width)
    assert taps.min() >= 0 and taps.max() < bound
    assert all(len(set(row)) == width for row in taps.tolist())


def with_length(length: int, hardening: dict[str, Any], **linkage: Any) -> Any:
    """The FEBRL4 schema at CLK length ``length``, with this hardening."""
    document = copy.deepcopy(PLAIN)
    document["clkConfig"]["l"] = length
    document["linkage"] = {"hardening": hardening, **linkage}
    return schema_from_dict(document)


@pytest.mark.parametrize(
    ("length", "hardening", "linkage", "allowed"),
    [
        (8, {"diffusion": {"taps": 9, "length": 8}}, {}, "2"),
        (8, {"diffusion": {"taps": 3, "length": 8}}, {}, "2"),
        (64, {"diffusion": {"taps": 9, "length": 64}}, {}, "2 to 8"),
        (2048, {"diffusion": {"taps": 9, "length": 64}}, {"segments": {"bits": 64}},
         "2 to 8"),
        (32, {"balance": True, "diffusion": {"taps": 9, "length": 64}}, {}, "2 to 8"),
    ],
)  # fmt: skip
def test_diffusion_taps_not_well_below_the_filter_are_refused(
    length: int, hardening: dict[str, Any], linkage: dict[str, Any], allowed: str
) -> None:
    """Taps above the filter's length hung the encoder; now the schema is
    refused with the range allowed (up to the square root of the bits)."""
    with pytest.raises(SchemaError) as caught:
        with_length(length, hardening, **linkage)
    message = str(caught.value)
    assert "linkage.hardening.diffusion.taps" in message
    assert f"the allowed taps here are: {allowed}." in message


def test_diffusion_on_too_short_a_filter_is_refused() -> None:
    with pytest.raises(SchemaError, match="too short for diffusion"):
        with_length(2, {"diffusion": {"taps": 2, "length": 8}})


def test_keystream_refuses_more_distinct_draws_than_values() -> None:
    """Drawing 9 distinct taps from 8 bits used to loop for ever."""
    with pytest.raises(ValueError, match="cannot draw 9 distinct"):
        KeyStream(derive_key(b"seed", b"test")).distinct_rows(1, 9, 8)


@settings(max_examples=25, deadline=None)
@given(length=st.integers(min_value=1, max_value=300), taps=st.integers(2, 16))
def test_accepted_diffusion_builds_an_encoder(length: int, taps: int) -> None:
    """Any diffusion the schema check accepts, the encoder sets up at once."""
    try:
        schema = with_length(length, {"diffusion": {"taps": taps, "length": 64}})
    except SchemaError as error:
        assert "the allowed taps here are" in str(error)
        assert taps * taps > length
        return
    assert taps * taps <= length
    assert ClkEncoder(schema, SECRET).clk_bytes == 8


def test_matcher_refuses_encodings_with_different_hardening(
    tmp_path: Path, run_cli: RunCli, records: pd.DataFrame
) -> None:
    export = tmp_path / "export.csv"
    records.to_csv(export, index=False)
    outputs = []
    for name, schema in [
        ("plain", schema_from_dict(PLAIN)),
        ("blip", hardened({"blip": {"flip_probability": 0.02}})),
    ]:
        outputs.append(tmp_path / f"{name}.lnk")
        encode_csv(export, schema, SECRET, outputs[-1], party=name)
    result = run_cli("match", *outputs, "--out", tmp_path / "matches.csv")
    assert result.exit_code != 0
    assert "schema fingerprint" in result.output
    assert not (tmp_path / "matches.csv").exists()
