"""The shipped default's taps for a schema of any fields, `linkage schema
harden`, and the warning `linkage schema check` gives a CLK of few fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from linkage.encoding.default_hardening import (
    default_block,
    default_taps,
    few_field_warnings,
    identifying,
)
from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import load_schema, schema_from_dict
from tests.conftest import CONFIGS, FEBRL4_SCHEMA, RunCli

DEMO = CONFIGS / "schemas" / "demo.json"


def plain_demo(fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """demo.json without its linkage block, keeping ``fields`` (all if none)."""
    document: dict[str, Any] = json.loads(DEMO.read_text())
    document.pop("linkage")
    if fields:
        document["features"] = [
            f for f in document["features"] if f["identifier"] in fields
        ]
    return document


def test_fewer_than_five_identifying_fields_get_eight_taps() -> None:
    assert [default_taps(n) for n in (1, 3, 4, 5, 11)] == [8, 8, 8, 4, 4]
    demo = schema_from_dict(plain_demo())
    assert identifying(demo.encoded_features) == 5  # Sex is an enum.
    without_street = schema_from_dict(
        plain_demo(("given_name", "surname", "date_of_birth", "sex", "postcode"))
    )
    assert default_block(without_street)["hardening"]["diffusion"]["taps"] == 8


def test_the_shipped_schema_follows_the_rule_it_documents() -> None:
    """demo.json's CLK (six fields) has the 5 taps a CLK beside views gets,
    its views (four fields) 10: the linear attacker adds up their
    measurements of the same person (a clean list of the demo's six fields:
    0.99 % on average with the CLK at 4 taps, 0.47 % at 5;
    benchmarks/README.md). Check finds nothing to warn of."""
    shipped = load_schema(DEMO)
    plain = schema_from_dict(plain_demo())
    assert default_block(plain) == shipped.raw["linkage"]
    assert shipped.extension.view_taps == 10
    assert few_field_warnings(shipped) == []


SHIPPED_KEYS = [["soundex(given_name)", "soundex(surname)", "date_of_birth"]]
# The shipped unique keys a schema of names and birth dates (no address) has.
NAME_AND_BIRTH_KEYS = [
    ["given_name", "surname"],
    ["given_name", "date_of_birth"],
    ["surname", "date_of_birth"],
]


def test_a_schema_gets_the_views_and_keys_whose_fields_it_has() -> None:
    """Names and birth date only: the key (names in either order), no view
    (each shipped view holds a field it lacks). FEBRL's ten fields: 4 taps
    and the key, no view (it has no sex nor street); the demo's fields
    without sex: the view without the birth date only."""
    names_and_birth = schema_from_dict(
        plain_demo(("given_name", "surname", "date_of_birth"))
    )
    assert default_block(names_and_birth) == {
        "hardening": {"diffusion": {"taps": 8, "length": 1024}},
        "match_keys": SHIPPED_KEYS,
        "unique_keys": NAME_AND_BIRTH_KEYS,
        "either_order": ["given_name", "surname"],
    }
    febrl = load_schema(FEBRL4_SCHEMA)
    assert default_block(febrl) == {
        "hardening": {"diffusion": {"taps": 4, "length": febrl.l}},
        "match_keys": SHIPPED_KEYS,
        "unique_keys": NAME_AND_BIRTH_KEYS,
        "either_order": ["given_name", "surname"],
    }
    no_sex = ("given_name", "surname", "date_of_birth", "postcode", "street")
    block = default_block(schema_from_dict(plain_demo(no_sex)))
    assert list(block["views"]) == ["without_birth"] and block["view_taps"] == 10
    assert set(default_block(schema_from_dict(plain_demo(no_sex)), views=False)) == {
        "hardening",
        "match_keys",
        "unique_keys",
        "either_order",
    }
    surname_only = schema_from_dict(plain_demo(("surname", "postcode")))
    assert set(default_block(surname_only)) == {"hardening"}
    # Names without a birth date: no match key, so no unique key either.
    names = schema_from_dict(plain_demo(("given_name", "surname", "postcode")))
    assert "unique_keys" not in default_block(names)


def test_harden_names_the_fields_the_shipped_key_needs(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Given name and birth date without a surname: the Soundex key needs
    all three, so there is none, and harden says which fields it needs."""
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(plain_demo(("given_name", "date_of_birth", "sex"))))
    result = run_cli("schema", "harden", plain, "--out", tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    assert (
        "no match key (it lacks one of given_name, surname, date_of_birth)"
        in result.output
    )


def test_a_clk_beside_views_under_five_taps_is_warned_of() -> None:
    """The shipped block with the CLK at 4 taps, as shipped until the clean
    six-field list showed the linear attacker at 1 % beside the views."""
    document = plain_demo()
    document["linkage"] = default_block(schema_from_dict(plain_demo()))
    document["linkage"]["hardening"]["diffusion"]["taps"] = 4
    (warning,) = few_field_warnings(schema_from_dict(document))
    assert warning.startswith("the CLK is diffused with 4 taps beside views")
    del document["linkage"]["views"], document["linkage"]["view_taps"]
    assert few_field_warnings(schema_from_dict(document)) == []


def test_a_few_field_clk_under_four_taps_is_warned_of() -> None:
    document = plain_demo(("given_name", "surname", "date_of_birth"))
    document["linkage"] = {"hardening": {"diffusion": {"taps": 4, "length": 1024}}}
    (warning,) = few_field_warnings(schema_from_dict(document))
    assert "the CLK holds 3 fields that tell people apart" in warning
    assert "8 taps" in warning
    # A plain CLK is asked for on purpose (clkhash files); no taps to raise.
    assert few_field_warnings(schema_from_dict(plain_demo(("surname",)))) == []


def test_harden_writes_the_default_block_and_the_schema_still_encodes(
    run_cli: RunCli, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(plain_demo(("given_name", "surname", "date_of_birth"))))
    out = tmp_path / "hardened.json"
    result = run_cli("schema", "harden", plain, "--out", out)
    assert result.exit_code == 0, result.output
    hardened = load_schema(out)
    assert hardened.extension.hardening.diffusion is not None
    assert hardened.extension.hardening.diffusion.taps == 8
    assert hardened.fingerprint in result.output
    assert "no view" in result.output
    assert (
        "match key soundex(given_name) + soundex(surname) + date_of_birth; "
        "unique keys given_name + surname, given_name + date_of_birth, "
        "surname + date_of_birth; given_name and surname in either order "
        "(one hashing key for both in the CLKs" in result.output
    )
    assert hardened.extension.either_order == ("given_name", "surname")
    assert hardened.extension.match_keys == tuple(map(tuple, SHIPPED_KEYS))
    assert hardened.extension.unique_keys == tuple(map(tuple, NAME_AND_BIRTH_KEYS))
    assert few_field_warnings(hardened) == []
    columns = {
        "given_name": ["ann"],
        "surname": ["lee"],
        "date_of_birth": ["1980-02-29"],
    }
    clks = ClkEncoder(hardened, b"a test secret of some length").encode(columns).clks
    assert clks.shape == (1, 128) and np.count_nonzero(clks)
    check = run_cli("schema", "check", out)
    assert check.exit_code == 0 and "Warning" not in check.stderr


@pytest.mark.parametrize("schema", [FEBRL4_SCHEMA, DEMO])
def test_harden_keeps_four_taps_for_many_fields_and_refuses_a_hardened_schema(
    run_cli: RunCli, tmp_path: Path, schema: Path
) -> None:
    out = tmp_path / "out.json"
    result = run_cli("schema", "harden", schema, "--out", out)
    if "linkage" in json.loads(schema.read_text()):
        assert result.exit_code == 1
        assert "already has a 'linkage' block" in result.output
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    assert load_schema(out).raw["linkage"]["hardening"]["diffusion"]["taps"] == 4


def test_check_warns_of_a_few_field_clk_on_stderr(
    run_cli: RunCli, tmp_path: Path
) -> None:
    document = plain_demo(("given_name", "surname", "date_of_birth", "sex"))
    document["linkage"] = {"hardening": {"diffusion": {"taps": 4, "length": 1024}}}
    path = tmp_path / "four.json"
    path.write_text(json.dumps(document))
    result = run_cli("schema", "check", path)
    assert result.exit_code == 0
    # Four fields, of which sex is an enum: three tell people apart.
    assert "Warning: the CLK holds 3 fields that tell people apart" in result.stderr
    assert "diffused with 4 taps" in result.stderr
    assert "Warning" not in result.stdout


def test_an_identifier_gets_a_key_with_each_partner_the_schema_has() -> None:
    febrl = load_schema(CONFIGS / "schemas" / "febrl-linkage.json")
    block = default_block(febrl, identifiers=("soc_sec_id",))
    assert block["match_keys"] == [
        *SHIPPED_KEYS,
        ["soc_sec_id", "date_of_birth"],
        ["soc_sec_id", "surname"],
        ["soc_sec_id", "postcode"],
    ]
    with pytest.raises(ValueError, match="'ssn' is not one of the schema's"):
        default_block(febrl, identifiers=("ssn",))
    with pytest.raises(ValueError, match="named twice"):
        default_block(febrl, identifiers=("soc_sec_id", "soc_sec_id"))


def test_harden_adds_identifier_keys_and_names_a_wrong_field(
    run_cli: RunCli, tmp_path: Path
) -> None:
    schema = CONFIGS / "schemas" / "febrl-linkage.json"
    out = tmp_path / "hardened.json"
    result = run_cli(
        "schema", "harden", schema, "--out", out, "--identifier", "soc_sec_id"
    )
    assert result.exit_code == 0, result.output
    assert "soc_sec_id + date_of_birth; soc_sec_id + surname" in result.output
    # The schema lists a key's fields in its own order.
    assert ("postcode", "soc_sec_id") in load_schema(out).extension.match_keys
    out.unlink()
    wrong = run_cli("schema", "harden", schema, "--out", out, "--identifier", "ssn")
    assert wrong.exit_code == 1
    assert "--identifier: the identifier 'ssn' is not one of" in wrong.output
    assert not out.exists()
