"""Street types written alike (linkage.encoding.street_types): the built-in
table, and the mapping step ``street_types``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.street_types import builtin_street_types, load_street_types
from linkage.errors import MappingError
from tests.conftest import map_column, one_field_mapping

TABLE = builtin_street_types()
WORDS = sorted({*TABLE.canonical, *TABLE.canonical.values(), "railway", "12", "kew"})


def _mapping_file(tmp_path: Path, steps: str) -> Path:
    return one_field_mapping(tmp_path, steps, "street", "ADDRESS")


def _apply(mapping_path: Path, streets: list[str]) -> list[str]:
    return map_column(mapping_path, "ADDRESS", streets)


def test_full_and_abbreviated_types_come_out_alike() -> None:
    """What the households population's agencies write either way."""
    for full, short in [
        ("1 railway place", "1 railway pl"),
        ("10 elm drive", "10 elm dr"),
        ("1 cedar court", "1 cedar ct"),
        ("4 nursery street", "4 nursery st"),
        ("2 acacia crescent", "2 acacia cres"),
        ("7 beach parade", "7 beach pde"),
        ("3 ocean terrace", "3 ocean tce"),
        ("9 pacific highway", "9 pacific hwy"),
        ("5 banksia avenue", "5 banksia ave"),
    ]:
        assert TABLE.canonicalise(full) == TABLE.canonicalise(short) == short


def test_every_canonical_form_is_left_as_it_is() -> None:
    """No abbreviation is itself a variant, so the step changes it no more."""
    canonical = set(TABLE.canonical.values())
    assert not canonical & set(TABLE.canonical)
    assert len(TABLE.canonical) >= 30


@given(st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join))
def test_twice_is_once(street: str) -> None:
    once = TABLE.canonicalise(street)
    assert TABLE.canonicalise(once) == once
    assert len(once.split()) == len(street.split())


def test_the_step_through_a_mapping_file(tmp_path: Path) -> None:
    """After lower and remove_punctuation, "Railway Pl." and "RAILWAY PLACE"
    are one street; a word that is no type is left alone."""
    path = _mapping_file(tmp_path, "[lower, remove_punctuation, street_types]")
    assert _apply(path, ["12 Railway Pl.", "12 RAILWAY PLACE", "3 Kew Walk"]) == [
        "12 railway pl",
        "12 railway pl",
        "3 kew walk",
    ]
    assert load_mapping(path).fields[0].steps[-1].name == "street_types: builtin"


def test_an_agencys_own_types_are_added(tmp_path: Path) -> None:
    """`extra` rows, read relative to the mapping file, add to the table."""
    (tmp_path / "our_types.csv").write_text(
        "variant,canonical\nwalk,wlk\n", encoding="utf-8"
    )
    steps = "[lower, {street_types: {extra: our_types.csv}}]"
    path = _mapping_file(tmp_path, steps)
    assert _apply(path, ["3 Kew Walk", "3 Kew Street"]) == ["3 kew wlk", "3 kew st"]
    own = load_street_types(builtin=False, extra=[tmp_path / "our_types.csv"])
    assert own.canonicalise("kew street walk") == "kew street wlk"


@pytest.mark.parametrize(
    ("steps", "key", "message"),
    [
        (
            "[{street_types: international}]",
            "street_types",
            "must be one of builtin, none (got 'international')",
        ),
        ("[{street_types: none}]", "street_types", "uses no table"),
        (
            "[{street_types: {extra: absent.csv}}]",
            "street_types.extra",
            "Cannot read the street type table",
        ),
    ],
)
def test_bad_options_name_the_file_and_key(
    tmp_path: Path, steps: str, key: str, message: str
) -> None:
    path = _mapping_file(tmp_path, steps)
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    (problem,) = error.value.problems
    assert problem.field == f"fields.street.steps[0].{key}"
    assert message in problem.message


def test_a_table_in_a_circle_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "loop.csv"
    table.write_text("variant,canonical\nst,street\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"street type tables .* in a circle"):
        load_street_types(extra=[table])
