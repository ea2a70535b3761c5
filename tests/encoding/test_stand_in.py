"""An agency whose fields all lie in one view, or that holds too few for the
CLK's taps, sends a view's CLK in place of its CLK of every field, and views
it holds too little of empty (linkage.encoding.stand_in)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.recipe import encode_csv
from linkage.encoding.stand_in import SentViews, sent_views
from linkage.formats.clkfile import EncodingHeader, read_encodings
from linkage.formats.schema import load_schema, schema_from_dict
from linkage.matching.parties import load_parties
from linkage.matching.views import ViewPlan
from tests.conftest import CONFIGS, encode_demo_agencies

SECRET = b"stand-in tests secret 0123456789"
SHIPPED = load_schema(CONFIGS / "schemas" / "demo.json")
FINGERPRINT = "0" * 64


@pytest.mark.parametrize(
    ("absent", "expected"),
    [
        ((), SentViews()),  # Holds every field: everything as it is.
        # Social services and tax: the view of all they hold stands in; the
        # other view would hold only their names.
        (("postcode", "street"), SentViews("without_address", ("without_birth",))),
        (("date_of_birth", "sex"), SentViews("without_birth", ("without_address",))),
        (
            ("postcode", "street", "sex"),
            SentViews("without_address", ("without_birth",)),
        ),
        # Five identifying fields are enough for the CLK's 4 taps.
        (("sex",), SentViews()),
        # Four are not: the view it holds whole stands in; the other keeps
        # three identifying fields (given name, surname, postcode), or only
        # the names and sex, and is then left empty.
        (("street",), SentViews("without_address")),
        (("date_of_birth",), SentViews("without_birth", ("without_address",))),
        # Four, but no view held whole: as it is (0.5-0.9 %, benchmarks).
        (("sex", "street"), SentViews()),
    ],
)
def test_what_an_agency_sends_follows_what_it_holds(
    absent: tuple[str, ...], expected: SentViews
) -> None:
    assert sent_views(SHIPPED, absent) == expected


def test_plain_views_are_all_sent() -> None:
    """Plain CLKs are asked for on purpose: no stand-in for too few fields,
    and a plain view one side holds in part still compares, so none is left
    empty; a view holding all an agency holds still stands in."""
    document = json.loads((CONFIGS / "schemas" / "demo.json").read_text())
    document["linkage"].pop("hardening")
    document["linkage"].pop("view_taps")
    plain = schema_from_dict(document)
    assert sent_views(plain, ("date_of_birth",)) == SentViews()
    tax = sent_views(plain, ("date_of_birth", "sex"))
    assert tax == SentViews("without_birth")


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stand-in")
    agencies = ("police", "social_services", "tax")
    return encode_demo_agencies(root, agencies, SHIPPED, SECRET, size=300, seed=3)


def test_an_agency_without_some_fields_sends_the_view_in_place(
    encoded: dict[str, Path],
) -> None:
    """Social services' and tax's first CLK is their view's, byte for byte,
    the other view (their names alone) is zero bytes, and their headers say
    which; police, holding every field, keeps its own and sends every view."""
    for agency, view, empty in (
        ("social_services", "without_address", "without_birth"),
        ("tax", "without_birth", "without_address"),
    ):
        encodings = read_encodings(encoded[agency])
        header = encodings.header
        assert header is not None and header.clk_same_as == view
        assert header.views_left_empty == (empty,)
        places = {v.name: v for v in header.views}
        whole, same, left = places["clk"], places[view], places[empty]
        clks = encodings.clks
        assert np.array_equal(
            clks[:, whole.start : whole.stop], clks[:, same.start : same.stop]
        )
        assert not clks[:, left.start : left.stop].any()
        assert clks[:, same.start : same.stop].any(axis=1).all()
    police = read_encodings(encoded["police"])
    assert police.header is not None and police.header.clk_same_as is None
    assert police.header.views_left_empty == ()
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


def test_the_header_lists_views_it_has_as_left_empty() -> None:
    listed = [
        {"name": "clk", "fields": ["a", "b", "c"]},
        {"name": "ab", "fields": ["a", "b"]},
        {"name": "bc", "fields": ["b", "c"]},
    ]
    extensions = {"views": listed, "clk_same_as": "ab", "views_left_empty": ["bc"]}
    header = EncodingHeader(FINGERPRINT, 3072, "ab", extensions=extensions)
    assert header.views_left_empty == ("bc",)
    for bad in (["clk"], ["ab"], ["cd"], "bc", [3]):
        with pytest.raises(ValueError, match=r"extensions\.views_left_empty"):
            EncodingHeader(
                FINGERPRINT,
                3072,
                "ab",
                extensions={**extensions, "views_left_empty": bad},
            )


def test_agencies_sharing_only_what_one_sends_empty_are_not_compared(
    encoded: dict[str, Path],
) -> None:
    """Social services and tax hold only the names in common, which each
    sends only inside a view the other leaves empty: their pair is compared
    on nothing (no candidates) and not marked as partially compared, so a
    merge that puts two records of one of them together finds no support
    there; each is compared with police on the view it sends."""
    parties = load_parties(list(encoded.values()))
    plan = ViewPlan(parties)
    number = {party.name: n for n, party in enumerate(parties.parties)}
    police, social, tax = (number[a] for a in ("police", "social_services", "tax"))
    assert not plan.compared(social, tax) and not plan.compared(tax, social)
    assert not plan.partially_compared()[social, tax]
    assert plan.compared(police, social) and plan.compared(police, tax)
    assert plan.view_of(police, social) == "without_address"
    assert plan.view_of(police, tax) == "without_birth"
    assert plan.views_in_use() == sorted(plan.views_in_use())  # Both, once.
    assert set(plan.views_in_use()) == {"without_address", "without_birth"}


def test_an_agency_without_birth_dates_is_compared_on_the_view_it_sends(
    tmp_path: Path,
) -> None:
    """Without birth dates its CLK of every field is its view of names and
    address (four identifying fields are too few for the CLK's 4 taps): the
    operator compares it with police on that view, and its own records
    with each other on it too."""
    root = tmp_path
    paths = encode_demo_agencies(root, ("police",), SHIPPED, SECRET, size=200, seed=5)
    export = root / "data" / "police.csv"
    mapping = load_mapping(CONFIGS / "mappings" / "police.yaml")
    held = replace(
        mapping,
        fields=tuple(f for f in mapping.fields if f.name != "date_of_birth"),
    )
    paths["no_births"] = root / "no_births.lnk"
    encode_csv(export, SHIPPED, SECRET, paths["no_births"], mapping=held)
    header = read_encodings(paths["no_births"]).header
    assert header is not None
    assert header.clk_same_as == "without_birth"
    assert header.views_left_empty == ("without_address",)
    plan = ViewPlan(load_parties([paths["police"], paths["no_births"]]))
    assert plan.view_of(0, 1) == "without_birth" and plan.compared(0, 1)
    assert not plan.partially_compared()[0, 1]


def test_the_operator_sees_which_agencies_sent_a_view_in_place(
    encoded: dict[str, Path],
) -> None:
    plan = ViewPlan(load_parties(list(encoded.values())))
    described = plan.describe()
    assert described.endswith(
        "in place of the CLK of every field: "
        "social_services without_address, tax without_birth; "
        "sent empty: social_services without_birth, tax without_address"
    )
    assert "social_services with tax: nothing" in described


@pytest.mark.parametrize("dates", [["", ""], ["", "1970-01-02"]])
def test_a_mapped_field_no_record_holds_is_noted(
    tmp_path: Path, dates: list[str]
) -> None:
    """Without a mapping (Arrow columns): a birth date empty in every row is
    noted with what leaving it out would send; one date anywhere, nothing."""
    export = tmp_path / "people.csv"
    export.write_text(
        "given_name,surname,date_of_birth,sex,postcode,street\n"
        f"ann,smith,{dates[0]},f,2000,high street\n"
        f"bo,lee,{dates[1]},m,2611,lake road\n"
    )
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    summary = encode_csv(export, schema, b"s" * 32, tmp_path / "out.lnk")
    if any(dates):
        assert summary.fields_empty == []
    else:
        assert summary.fields_empty == ["date_of_birth"]
        assert summary.views_if_left_out == sent_views(schema, ["date_of_birth"])
        assert summary.views_if_left_out.stand_in == "without_birth"
