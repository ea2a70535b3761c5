"""Views: after the CLK of every field, one CLK per named subset of them."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from linkage.encoding.encoder import ClkEncoder
from linkage.errors import SchemaError
from linkage.formats.clkfile import EncodingHeader
from linkage.formats.schema import LinkageSchema, schema_from_dict
from tests.conftest import CONFIGS

SECRET = b"views encoding tests secret"
VIEWS_SCHEMA = CONFIGS / "schemas" / "demo.json"
SHIPPED: dict[str, Any] = json.loads(VIEWS_SCHEMA.read_text())
FINGERPRINT = "0" * 64


def with_views(views: Any, **block: Any) -> LinkageSchema:
    document = copy.deepcopy(SHIPPED)
    document["linkage"] = {"views": views, **block}
    return schema_from_dict(document)


def columns(**changes: list[str]) -> dict[str, list[str]]:
    people = {
        "given_name": ["ann", "ann"],
        "surname": ["smith", "smith"],
        "date_of_birth": ["1980-02-01", "1980-02-01"],
        "sex": ["f", "f"],
        "postcode": ["2000", "2611"],
        "street": ["high street", "lake road"],
    }
    return people | changes


def test_the_first_clk_is_the_one_a_schema_without_views_makes() -> None:
    plain = copy.deepcopy(SHIPPED)
    for key in ("views", "view_taps"):
        del plain["linkage"][key]
    whole = ClkEncoder(schema_from_dict(plain), SECRET).encode(columns()).clks
    viewed = ClkEncoder(schema_from_dict(SHIPPED), SECRET).encode(columns()).clks
    assert viewed.shape == (2, 3 * whole.shape[1])
    assert np.array_equal(viewed[:, : whole.shape[1]], whole)


def test_a_view_leaves_out_what_it_does_not_hold() -> None:
    """Two records of one person who moved: their CLKs of every field differ,
    their CLKs without the address are the same."""
    schema = schema_from_dict(SHIPPED)
    clks = ClkEncoder(schema, SECRET).encode(columns()).clks
    size = clks.shape[1] // 3
    whole, without_address, without_birth = (
        clks[:, part * size : (part + 1) * size] for part in range(3)
    )
    assert not np.array_equal(whole[0], whole[1])
    assert np.array_equal(without_address[0], without_address[1])
    assert not np.array_equal(without_birth[0], without_birth[1])
    # Each CLK is hardened under its own label: no two are alike.
    assert not np.array_equal(whole[0], without_address[0])


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        ({"names": ["given_name"]}, "at least 2 distinct fields"),
        ({"x": ["given_name", "nickname"]}, "no encoded feature is called 'nickname'"),
        ({"clk": ["given_name", "surname"]}, "'clk' is the name of the CLK"),
        ({"all": [f["identifier"] for f in SHIPPED["features"]]}, "holds every field"),
        (
            {"a": ["given_name", "surname"], "b": ["surname", "given_name"]},
            "holds the same fields as 'a'",
        ),
        (["given_name", "surname"], "must map a view name to its fields"),
    ],
)
def test_bad_views_are_reported_with_their_path(views: Any, expected: str) -> None:
    with pytest.raises(SchemaError) as raised:
        with_views(views)
    assert "linkage.views" in str(raised.value)
    assert expected in str(raised.value)


def test_views_and_per_field_segments_do_not_mix() -> None:
    with pytest.raises(SchemaError, match="cannot be combined with 'segments'"):
        with_views({"names": ["given_name", "surname"]}, segments={"bits": 256})


def test_the_header_says_where_each_view_lies() -> None:
    listed = [
        {"name": "clk", "fields": ["a", "b", "c"]},
        {"name": "ab", "fields": ["a", "b"]},
    ]
    header = EncodingHeader(
        FINGERPRINT, bit_length=2048, key_check="ab", extensions={"views": listed}
    )
    assert [(v.name, v.start, v.stop) for v in header.views] == [
        ("clk", 0, 128),
        ("ab", 128, 256),
    ]
    for bad, bits in ((listed[:1], 2048), (listed, 1032), ([{"name": "x"}] * 2, 2048)):
        with pytest.raises(ValueError, match=r"extensions\.views"):
            EncodingHeader(
                FINGERPRINT, bit_length=bits, key_check="ab", extensions={"views": bad}
            )


def test_view_taps_diffuse_the_views_alone() -> None:
    """``view_taps`` changes the views' CLKs, never the CLK of every field."""
    other = copy.deepcopy(SHIPPED)
    other["linkage"]["view_taps"] = 3
    shipped, changed = (
        ClkEncoder(schema_from_dict(document), SECRET).encode(columns()).clks
        for document in (SHIPPED, other)
    )
    size = shipped.shape[1] // 3
    assert np.array_equal(shipped[:, :size], changed[:, :size])
    assert not np.array_equal(shipped[:, size:], changed[:, size:])
    schema = schema_from_dict(other)
    diffusion = schema.segments[1].hardening
    assert diffusion is not None and diffusion.diffusion is not None
    assert diffusion.diffusion.taps == 3


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"view_taps": 5}, "applies only with 'views'"),
        (
            {"views": {"names": ["given_name", "surname"]}, "view_taps": 5},
            "applies only with 'views' and 'hardening.diffusion'",
        ),
        (
            {
                "views": {"names": ["given_name", "surname"]},
                "hardening": {"diffusion": {"taps": 4, "length": 1024}},
                "view_taps": 0,
            },
            "must be a whole number from 1",
        ),
    ],
)
def test_bad_view_taps_are_reported(block: dict[str, Any], expected: str) -> None:
    document = copy.deepcopy(SHIPPED)
    document["linkage"] = block
    with pytest.raises(SchemaError) as raised:
        schema_from_dict(document)
    assert "linkage.view_taps" in str(raised.value)
    assert expected in str(raised.value)


def test_a_bad_value_in_several_filters_is_reported_once() -> None:
    """The birth date is in the CLK and in a view: its problem is one."""
    encoded = ClkEncoder(schema_from_dict(SHIPPED), SECRET).encode(
        columns(date_of_birth=["1980-02-01", "not a date"]), source="export.csv"
    )
    assert list(encoded.invalid) == [False, True]
    assert [(p.row, p.field) for p in encoded.problems] == [(2, "date_of_birth")]
