"""Match keys: a keyed hash per combination of fields a record holds whole."""

from __future__ import annotations

import copy
import hmac
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.phonetic import soundex
from linkage.encoding.recipe import encode_csv
from linkage.errors import SchemaError
from linkage.formats.clkfile import MATCH_KEYS_VERSION, read_encodings
from linkage.formats.schema import LinkageSchema, schema_from_dict
from tests.conftest import CONFIGS

SECRET = b"match key tests secret"
SHIPPED_DOCUMENT: dict[str, Any] = json.loads(
    (CONFIGS / "schemas" / "demo.json").read_text()
)
# The match keys alone: unique keys have their own tests
# (test_unique_keys.py, test_unique_key_use.py).
SHIPPED = copy.deepcopy(SHIPPED_DOCUMENT)
del SHIPPED["linkage"]["unique_keys"]
KEYS = [["given_name", "date_of_birth"], ["surname", "date_of_birth"]]


def with_keys(keys: Any) -> LinkageSchema:
    document = copy.deepcopy(SHIPPED)
    document["linkage"]["match_keys"] = keys
    return schema_from_dict(document)


def columns(**changes: list[str]) -> dict[str, list[str]]:
    """Ann Smith, then Ann Jones (married), born the same day, who moved."""
    people = {
        "given_name": ["ann", "ann"],
        "surname": ["smith", "jones"],
        "date_of_birth": ["1980-02-01", "1980-02-01"],
        "sex": ["f", "f"],
        "postcode": ["2000", "2611"],
        "street": ["high street", "lake road"],
    }
    return people | changes


def keys_of(schema: LinkageSchema, records: dict[str, list[str]]) -> np.ndarray:
    """The keys as made, before a whole file's are settled (a person's
    later records would send random stand-ins)."""
    keys = ClkEncoder(schema, SECRET).encode(records, whole_file=False).match_keys
    assert keys is not None
    return keys


def test_the_shipped_schema_keys_names_alike_and_birth_date() -> None:
    """One key, strong enough for a national population (the birth date
    keeps namesakes apart) and measured under the equality attacker
    (benchmarks/README.md, "Match keys")."""
    schema = schema_from_dict(SHIPPED_DOCUMENT)
    assert schema.extension.match_keys == (
        ("soundex(given_name)", "soundex(surname)", "date_of_birth"),
    )
    assert schema.extension.unique_keys[0] == ("given_name", "surname")


def test_records_share_the_key_of_the_fields_they_share() -> None:
    keys = keys_of(with_keys(KEYS), columns())
    assert keys.shape == (2, 32)
    given_name_key, surname_key = keys[:, :16], keys[:, 16:]
    assert np.array_equal(given_name_key[0], given_name_key[1])
    assert not np.array_equal(surname_key[0], surname_key[1])
    assert given_name_key.any(axis=1).all() and surname_key.any(axis=1).all()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (KEYS[0], b"\x00\x00\x00\x03ann\x00\x00\x00\x0819800201"),
        (
            ["soundex(given_name)", "date_of_birth"],
            b"\x00\x00\x00\x04A500\x00\x00\x00\x0819800201",
        ),
    ],
)
def test_a_key_is_the_published_hmac_of_the_prepared_values(
    members: list[str], message: bytes
) -> None:
    """Recomputed with the cryptography package's own HKDF and HMAC: the
    key's secret from the linkage secret under the schema's fingerprint and
    the key's members as written, the message each prepared value
    length-prefixed (the date as the CLK hashes it, YYYYMMDD; a coded
    member's Soundex code in place of its value)."""
    schema = with_keys([members])
    expected = published_key(schema, ",".join(members), message)
    assert keys_of(schema, columns())[0].tobytes() == expected


def published_key(schema: LinkageSchema, members: str, message: bytes) -> bytes:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=bytes.fromhex(schema.fingerprint),
        info=b"linkage/match-key/v1/" + members.encode(),
    ).derive(SECRET)
    mac = crypto_hmac.HMAC(derived, hashes.SHA256())
    mac.update(message)
    return mac.finalize()[:16]


def test_another_secret_makes_unrelated_keys() -> None:
    schema = with_keys(KEYS)
    ours = ClkEncoder(schema, SECRET).encode(columns()).match_keys
    theirs = ClkEncoder(schema, b"another secret").encode(columns()).match_keys
    assert ours is not None and theirs is not None
    assert not (ours == theirs).all(axis=1).any()


@pytest.mark.parametrize("field", ["given_name", "date_of_birth"])
def test_a_record_lacking_a_field_has_no_key_of_it(field: str) -> None:
    records = columns(**{field: ["", columns()[field][1]]})
    keys = keys_of(with_keys(KEYS), records)
    assert not keys[0, :16].any()
    assert keys[1, :16].any()
    assert keys[0, 16:].any() == (field != "date_of_birth")


def test_an_invalid_record_has_no_keys() -> None:
    encoded = ClkEncoder(with_keys(KEYS), SECRET).encode(
        columns(date_of_birth=["1980-02-31", "1980-02-01"])
    )
    assert encoded.invalid.tolist() == [True, False]
    assert encoded.match_keys is not None and not encoded.match_keys[0].any()


def test_a_missing_value_sentinel_makes_no_key() -> None:
    """A sentinel stands in for "unknown" in the CLK; it says nothing of the
    person, so two records with it share no key."""
    document = copy.deepcopy(SHIPPED)
    document["linkage"]["match_keys"] = KEYS
    for feature in document["features"]:
        if feature["identifier"] == "given_name":
            feature["hashing"]["missingValue"] = {
                "sentinel": "unknown",
                "replaceWith": "",
            }
    keys = keys_of(
        schema_from_dict(document), columns(given_name=["unknown", "unknown"])
    )
    assert not keys[:, :16].any()


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([["given_name"]], "at least 2 distinct fields"),
        ([["given_name", "given_name"]], "names a field twice"),
        ([["soundex(given_name)", "given_name"]], "names a field twice"),
        ([["soundex(nickname)", "sex"]], "no encoded feature is called 'nickname'"),
        ([["metaphone(surname)", "sex"]], "no phonetic code is called 'metaphone'"),
        ([["soundex(date_of_birth)", "sex"]], "'date_of_birth' is not a string"),
        (
            [["soundex(given_name)", "surname", "sex"]],
            "coded differently; code both alike or neither",
        ),
        ([["given_name", "nickname"]], "no encoded feature is called 'nickname'"),
        ([["surname", "sex"], ["sex", "surname"]], "same fields as key 0"),
        ({"a": ["given_name", "sex"]}, "must list the fields of each key"),
        ([["given_name", "sex"]] * 9, "at most 8 keys"),
    ],
)
def test_bad_keys_are_refused_by_path(keys: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as raised:
        with_keys(keys)
    assert "linkage.match_keys" in str(raised.value)


texts = st.text(alphabet="abc", max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    first=st.tuples(texts, texts),
    second=st.tuples(texts, texts),
    either_order=st.booleans(),
    coded=st.booleans(),
)
def test_two_records_share_a_key_exactly_when_both_hold_the_same_values(
    first: tuple[str, str],
    second: tuple[str, str],
    either_order: bool,
    coded: bool,
) -> None:
    """Equal non-empty values, equal keys; anything else, no shared key
    (length prefixes keep "ab"+"c" apart from "a"+"bc"). With the two fields
    in ``either_order``, the same values swapped share the key too. Keyed
    on their Soundex codes, the same holds of the codes."""
    document = copy.deepcopy(SHIPPED)
    members = ["given_name", "surname"]
    document["linkage"]["match_keys"] = [
        [f"soundex({m})" for m in members] if coded else members
    ]
    if not either_order:
        document["linkage"].pop("either_order")
    records = columns(given_name=[first[0], second[0]], surname=[first[1], second[1]])
    keys = keys_of(schema_from_dict(document), records)
    if coded:
        first, second = (tuple(map(soundex, names)) for names in (first, second))
    held = all(first) and all(second)
    shared = bool(keys[0].any()) and np.array_equal(keys[0], keys[1])
    same = sorted(first) == sorted(second) if either_order else first == second
    assert shared == (held and same)
    assert bool(keys[0].any()) == all(first)


def test_a_coded_member_is_written_one_way_whatever_its_case_and_spacing() -> None:
    """``SOUNDEX( given_name )`` reads as ``soundex(given_name)``, in the
    schema's keys and in the key's own secret."""
    loose = with_keys([["date_of_birth", "SOUNDEX( given_name )"]])
    assert loose.extension.match_keys == (("soundex(given_name)", "date_of_birth"),)
    message = b"\x00\x00\x00\x04A500\x00\x00\x00\x0819800201"
    expected = published_key(loose, "soundex(given_name),date_of_birth", message)
    assert keys_of(loose, columns())[0].tobytes() == expected


def test_names_swapped_or_sounding_alike_keep_a_key_of_names_and_birth_date() -> None:
    """The shipped first key, and the same on the names' Soundex codes:
    "ann smith" and "smith ann" born the same day share both, "anne smyth"
    the coded one only; born another day, or another name, neither."""
    records = columns(
        given_name=["ann", "smith", "anne", "smith", "ann"],
        surname=["smith", "ann", "smyth", "ann", "jones"],
        date_of_birth=["1970-01-02"] * 3 + ["1970-01-03", "1970-01-02"],
        sex=["f"] * 5,
        postcode=["2000"] * 5,
        street=["high street"] * 5,
    )
    coded = ["soundex(given_name)", "soundex(surname)", "date_of_birth"]
    schema = with_keys([["given_name", "surname", "date_of_birth"], coded])
    keys = keys_of(schema, records)
    names_key, coded_key = keys[:, :16], keys[:, 16:]
    assert np.array_equal(names_key[0], names_key[1])
    assert len({row.tobytes() for row in names_key}) == 4
    assert np.array_equal(coded_key[0], coded_key[1])
    assert np.array_equal(coded_key[0], coded_key[2])
    assert len({row.tobytes() for row in coded_key}) == 3
    assert keys.any(axis=1).all()


def test_a_name_without_a_letter_has_no_coded_key() -> None:
    schema = with_keys([["soundex(given_name)", "date_of_birth"]])
    keys = keys_of(schema, columns(given_name=["ann", "--"]))
    assert keys[0].any() and not keys[1].any()


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (["given_name"], "two different fields"),
        (["surname", "surname"], "two different fields"),
        ("given_name,surname", "two different fields"),
        (["given_name", "nickname"], "no encoded feature is called 'nickname'"),
    ],
)
def test_a_bad_either_order_is_refused_by_path(pair: Any, message: str) -> None:
    document = copy.deepcopy(SHIPPED)
    document["linkage"]["either_order"] = pair
    with pytest.raises(SchemaError, match=message) as raised:
        schema_from_dict(document)
    assert "linkage.either_order" in str(raised.value)


def test_encode_writes_them_after_each_clk(tmp_path: Path) -> None:
    """A file with match keys is version 2 and lists them; clkhash JSON has
    no place for them and keeps the CLKs alone, byte for byte."""
    export = tmp_path / "records.csv"
    pd.DataFrame(columns()).to_csv(export, index=False)
    schema = with_keys(KEYS)
    encode_csv(export, schema, SECRET, tmp_path / "out.lnk")
    encodings = read_encodings(tmp_path / "out.lnk")
    assert encodings.header is not None
    assert encodings.header.format_version == MATCH_KEYS_VERSION
    assert encodings.header.match_keys == tuple(tuple(key) for key in KEYS)
    assert encodings.match_keys is not None
    assert np.array_equal(encodings.match_keys, keys_of(schema, columns()))
    encode_csv(export, schema, SECRET, tmp_path / "out.json", fmt="clkhash-json")
    assert np.array_equal(read_encodings(tmp_path / "out.json").clks, encodings.clks)


def test_the_clks_do_not_change_with_keys() -> None:
    without = copy.deepcopy(SHIPPED)
    del without["linkage"]["match_keys"]
    plain = ClkEncoder(schema_from_dict(without), SECRET).encode(columns())
    keyed = ClkEncoder(with_keys(KEYS), SECRET).encode(columns())
    assert plain.match_keys is None
    # The keys are part of the schema, so of its fingerprint; the CLKs' keys
    # come from the secret and the features alone.
    assert np.array_equal(plain.clks, keyed.clks)


def test_keys_use_a_secret_no_feature_can_reach() -> None:
    """A schema may not take the match keys' HKDF label as its own info."""
    document = copy.deepcopy(SHIPPED)
    document["clkConfig"]["kdf"]["info"] = "bGlua2FnZS9tYXRjaC1rZXkv"
    with pytest.raises(SchemaError, match="match-key"):
        schema_from_dict(document)


def test_hmac_digest_agrees_with_the_cryptography_package() -> None:
    """The encoder hashes with the standard library's HMAC (OpenSSL); the
    vector test above pins it to the cryptography package's."""
    mac = crypto_hmac.HMAC(b"k" * 32, hashes.SHA256())
    mac.update(b"message")
    assert hmac.digest(b"k" * 32, b"message", "sha256") == mac.finalize()
