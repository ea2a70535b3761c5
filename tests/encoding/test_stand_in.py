"""An agency whose fields all lie in one view sends that view's CLK in place
of its CLK of every field (linkage.encoding.stand_in)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from linkage.encoding.stand_in import stand_in_view
from linkage.formats.clkfile import EncodingHeader, read_encodings
from linkage.formats.schema import load_schema
from linkage.matching.parties import load_parties
from linkage.matching.views import ViewPlan
from tests.conftest import CONFIGS, encode_demo_agencies

SECRET = b"stand-in tests secret 0123456789"
SHIPPED = load_schema(CONFIGS / "schemas" / "demo.json")
FINGERPRINT = "0" * 64


@pytest.mark.parametrize(
    ("absent", "expected"),
    [
        ((), None),  # Holds every field: its own CLK.
        (("postcode", "street"), "without_address"),  # Social services.
        (("date_of_birth", "sex"), "without_birth"),  # Tax.
        (("sex",), None),  # Holds birth date and address: no view has both.
        (("postcode", "street", "sex"), "without_address"),
    ],
)
def test_the_smallest_view_holding_every_field_held_stands_in(
    absent: tuple[str, ...], expected: str | None
) -> None:
    assert stand_in_view(SHIPPED.segments, absent) == expected


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stand-in")
    agencies = ("police", "social_services", "tax")
    return encode_demo_agencies(root, agencies, SHIPPED, SECRET, size=300, seed=3)


def test_an_agency_without_some_fields_sends_the_view_in_place(
    encoded: dict[str, Path],
) -> None:
    """Social services' and tax's first CLK is their view's, byte for byte,
    and their headers say which; police, holding every field, keeps its own."""
    for agency, view in (
        ("social_services", "without_address"),
        ("tax", "without_birth"),
    ):
        encodings = read_encodings(encoded[agency])
        header = encodings.header
        assert header is not None and header.clk_same_as == view
        places = {v.name: v for v in header.views}
        whole, same = places["clk"], places[view]
        clks = encodings.clks
        assert np.array_equal(
            clks[:, whole.start : whole.stop], clks[:, same.start : same.stop]
        )
    police = read_encodings(encoded["police"])
    assert police.header is not None and police.header.clk_same_as is None
    size = police.clks.shape[1] // 3
    assert not np.array_equal(police.clks[:, :size], police.clks[:, size : 2 * size])


def test_the_header_names_a_view_it_has() -> None:
    listed = [
        {"name": "clk", "fields": ["a", "b", "c"]},
        {"name": "ab", "fields": ["a", "b"]},
    ]
    extensions = {"views": listed, "clk_same_as": "ab"}
    header = EncodingHeader(FINGERPRINT, 2048, "ab", extensions=extensions)
    assert header.clk_same_as == "ab"
    for bad in ("clk", "ac", 3):
        with pytest.raises(ValueError, match=r"extensions\.clk_same_as"):
            EncodingHeader(
                FINGERPRINT,
                2048,
                "ab",
                extensions={"views": listed, "clk_same_as": bad},
            )


def test_the_operator_sees_which_agencies_sent_a_view_in_place(
    encoded: dict[str, Path],
) -> None:
    plan = ViewPlan(load_parties(list(encoded.values())))
    described = plan.describe()
    assert described.endswith(
        "in place of the CLK of every field: "
        "social_services without_address, tax without_birth"
    )
