"""Loading, validating and fingerprinting linkage schemas."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkage.encoding import hardening, keys
from linkage.errors import SchemaError
from linkage.formats.schema import (
    INTERNAL_INFO_LABELS,
    BitsPerFeature,
    canonical_json,
    load_schema,
    schema_fingerprint,
    schema_from_dict,
)

CONFIGS = Path(__file__).parents[2] / "configs" / "schemas"


def base_schema() -> dict[str, Any]:
    return {
        "version": 3,
        "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
        "features": [
            {"identifier": "id", "ignored": True},
            {
                "identifier": "name",
                "format": {"type": "string"},
                "hashing": {
                    "comparison": {"type": "ngram", "n": 2},
                    "strategy": {"bitsPerFeature": 100},
                },
            },
        ],
    }


def problems_of(document: Any) -> str:
    with pytest.raises(SchemaError) as raised:
        schema_from_dict(document, source="test.json")
    return str(raised.value)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.json")), ids=lambda p: p.stem)
def test_shipped_schemas_are_valid(path: Path) -> None:
    """Every schema shipped in configs/schemas loads."""
    schema = load_schema(path)
    assert schema.encoded_features
    assert len(schema.fingerprint) == 64


def test_camel_case_xor_folds_is_refused_with_the_fix() -> None:
    """clkhash silently ignores xorFolds; we name it and the key that works."""
    document = base_schema()
    document["clkConfig"]["xorFolds"] = 1
    message = problems_of(document)
    assert "clkConfig.xorFolds" in message
    assert "rename it to 'xor_folds'" in message


def test_snake_case_xor_folds_doubles_the_hash_length() -> None:
    """xor_folds is honoured: the filter is hashed at l * 2**folds bits."""
    document = base_schema()
    document["clkConfig"]["xor_folds"] = 2
    schema = schema_from_dict(document)
    assert schema.hash_length == 4096
    assert schema.l == 1024


def test_every_problem_is_reported_at_once() -> None:
    """Several mistakes give one error listing each with its JSON path."""
    document = base_schema()
    document["features"][1]["hashing"]["strategy"] = {"bitsPerFeture": 100}
    document["features"][1]["format"]["casing"] = "upper"
    document["clkConfig"]["kdf"]["hash"] = "MD5"
    message = problems_of(document)
    assert "features[1].hashing.strategy" in message
    assert "features[1].format.casing" in message
    assert "clkConfig.kdf.hash" in message
    assert "3 problems" in message


def test_settings_on_an_ignored_feature_are_refused() -> None:
    """format/hashing on an ignored feature would silently do nothing."""
    document = base_schema()
    document["features"][0]["format"] = {"type": "string"}
    assert "features[0].format" in problems_of(document)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["clkConfig"].update(l=1000), "power of two"),
        (lambda d: d["clkConfig"]["kdf"].update(keySize=128), "at most 64 bytes"),
        (
            lambda d: d["features"][1]["hashing"].update(
                hash={"type": "blakeHash", "prevent_singularity": True}
            ),
            "applies to doubleHash only",
        ),
        (
            lambda d: d["features"][1]["format"].update(pattern="a+", case="upper"),
            "format.case",
        ),
        (lambda d: d["features"][1]["format"].update(type="float"), "format.type"),
        (lambda d: d["features"][1]["hashing"]["comparison"].update(n=0), "at least 1"),
        (lambda d: d.update(version=1), "version"),
        (lambda d: d.update(extra=True), "extra: unknown key"),
        (
            lambda d: d["features"].append(copy.deepcopy(d["features"][1])),
            "identifiers must be unique",
        ),
        (lambda d: d["features"][1]["format"].update(pattern="("), "regular expr"),
        (lambda d: d["clkConfig"]["kdf"].update(salt="not base64!"), "base64"),
    ],
)
def test_invalid_schemas_name_the_problem(change: Any, expected: str) -> None:
    """Each kind of invalid schema is refused with a message that locates it."""
    document = base_schema()
    change(document)
    assert expected in problems_of(document)


def test_hkdf_output_limit_is_checked_up_front() -> None:
    """Too many features x keySize for HKDF is a schema error, not a crash."""
    document = base_schema()
    document["clkConfig"]["kdf"]["keySize"] = 128
    document["features"][1]["hashing"]["hash"] = {"type": "doubleHash"}
    for index in range(40):
        document["features"].append({"identifier": f"x{index}", "ignored": True})
    assert "HKDF-SHA256 can derive" in problems_of(document)


def test_version_2_schema_is_upgraded() -> None:
    """v2 ngram/numBits keys become v3 comparison/bitsPerFeature."""
    document = {
        "version": 2,
        "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
        "features": [
            {
                "identifier": "name",
                "format": {"type": "string"},
                "hashing": {
                    "ngram": 2,
                    "positional": False,
                    "strategy": {"numBits": 50},
                },
            }
        ],
    }
    schema = schema_from_dict(document)
    assert schema.features[0].strategy == BitsPerFeature(50)
    assert schema.raw["version"] == 3


def test_integral_floats_count_as_integers() -> None:
    """JSON Schema (and so clkhash) reads 2.0 as the integer 2."""
    document = base_schema()
    document["features"][1]["hashing"]["strategy"] = {"bitsPerToken": 2.0}
    schema_from_dict(document)


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    """Missing file, invalid JSON and JSON nested too deeply name the file."""
    with pytest.raises(SchemaError, match="does not exist"):
        load_schema(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema(broken)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    with pytest.raises(SchemaError, match="nested too deeply"):
        load_schema(deep)


@given(st.permutations(["version", "clkConfig", "features"]))
def test_fingerprint_ignores_key_order(order: list[str]) -> None:
    """The fingerprint is over canonical JSON: key order does not matter."""
    document = base_schema()
    reordered = {key: document[key] for key in order}
    again = json.loads(json.dumps(reordered))
    assert schema_from_dict(again).fingerprint == schema_from_dict(document).fingerprint


def test_a_plain_schema_s_fingerprint_is_its_canonical_json_s() -> None:
    """Plain clkhash: SHA-256 of the canonical JSON, whatever this version
    makes of ``linkage`` blocks. With a block, what this version makes of it
    counts too: encodings from encoders that read it differently never mix."""
    document = base_schema()
    plain = schema_from_dict(document).fingerprint
    assert plain == hashlib.sha256(canonical_json(document)).hexdigest()
    document["linkage"] = {"hardening": {"diffusion": {"taps": 4, "length": 1024}}}
    hardened = schema_from_dict(document).fingerprint
    assert hardened != hashlib.sha256(canonical_json(document)).hexdigest()
    assert hardened == schema_fingerprint(document)


def test_fingerprint_changes_with_any_setting() -> None:
    """A different strategy gives a different fingerprint."""
    document = base_schema()
    changed = copy.deepcopy(document)
    changed["features"][1]["hashing"]["strategy"] = {"bitsPerFeature": 101}
    assert (
        schema_from_dict(changed).fingerprint != schema_from_dict(document).fingerprint
    )


def _with_info(info: bytes) -> dict[str, Any]:
    document = base_schema()
    document["clkConfig"]["kdf"]["info"] = base64.b64encode(info).decode()
    return document


@pytest.mark.parametrize(
    "info",
    [b"linkage/key-check-value/v1", b"linkage/key-check-value/v2",
     b"linkage/hardening/v1/diffusion", b"linkage/hardening/v1/balance/segment/1"],
)  # fmt: skip
def test_info_of_an_internal_label_is_refused(info: bytes) -> None:
    """A crafted info could make a feature's key equal the public key-check
    value or a hardening key: refused, naming the key and what to do."""
    message = problems_of(_with_info(info))
    assert "clkConfig.kdf.info: starts with 'linkage/" in message
    assert "reserves for its own keys" in message
    assert "Choose another info" in message


@pytest.mark.parametrize("info", [b"linkage-demo", b"linkage/test-vectors/v1", b""])
def test_other_info_is_accepted(info: bytes) -> None:
    """Project names, the shipped schemas' and the test vectors' infos load."""
    assert schema_from_dict(_with_info(info)).kdf_info == info


def test_every_internal_label_is_refused_as_info() -> None:
    """The labels the key-check value and hardening derive under are covered."""
    labels = [keys._KEY_CHECK_INFO, keys._LEGACY_KEY_CHECK_INFO, hardening._LABEL]
    for label in labels:
        assert label.startswith(INTERNAL_INFO_LABELS), label
        with pytest.raises(SchemaError, match="reserves for its own keys"):
            schema_from_dict(_with_info(label))
