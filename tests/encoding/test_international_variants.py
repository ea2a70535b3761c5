"""The international given-name table: short forms beyond English."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from strategies import latin_words

from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.name_variants import (
    INTERNATIONAL_TABLE,
    builtin_table,
    international_table,
    parse_variant_text,
)

#: Forms of several names (or of names of either sex) that both tables leave
#: alone; the international table's header says so.
AMBIGUOUS = (
    "chris", "alex", "pat", "sam", "jo", "terry", "max", "al", "jan", "toni",
    "dani", "fran", "gabi", "nico", "manu", "fede", "beto", "sasha", "lena",
    "ira", "andi", "gigi",
)  # fmt: skip

STEPS = "[nfkc, strip_accents, lower, remove_punctuation, {given_name_variants: %s}]"


def _rows() -> dict[str, str]:
    text = files("linkage").joinpath("data", INTERNATIONAL_TABLE).read_text("utf-8")
    return parse_variant_text(text, INTERNATIONAL_TABLE)


def _given_names(folder: Path, table: str, names: list[str]) -> list[str]:
    path = folder / "agency.yaml"
    path.write_text(
        "version: 1\nfields:\n  given_name:\n    column: NAME\n"
        f"    name_part: given\n    steps: {STEPS % table}\n",
        encoding="utf-8",
    )
    frame = pd.DataFrame({"NAME": names}, dtype=object)
    mapped = load_mapping(path).apply(frame, source="export.csv", first_row=1)
    return [str(value) for value in mapped.fields["given_name"]]


def test_short_forms_in_several_languages_get_their_formal_name() -> None:
    table = international_table()
    expected = {
        "pepe": "jose", "paco": "francisco", "nacho": "ignacio",  # Spanish
        "ze": "jose", "quim": "joaquim",  # Portuguese
        "beppe": "giuseppe", "gianni": "giovanni",  # Italian
        "jeannot": "jean", "pierrot": "pierre",  # French
        "hans": "johannes", "sepp": "josef", "liesel": "elizabeth",  # German
        "kees": "cornelis", "wim": "willem",  # Dutch
        "kasia": "katarzyna", "staszek": "stanislaw",  # Polish
        "misha": "mikhail", "vanya": "ivan",  # Russian
    }  # fmt: skip
    assert {name: table.canonicalise(name) for name in expected} == expected
    assert len(_rows()) >= 150


def test_a_mapping_asks_for_it_and_the_default_stays_english(tmp_path: Path) -> None:
    """`table: international` maps accented exports after strip_accents;
    the default table leaves them as they were (so existing CLKs stay)."""
    names = ["Pepe García", "KOWALSKA, Kasia", "Staszek Łój", "Bill Jones"]
    assert _given_names(tmp_path, "international", names) == [
        "jose",
        "katarzyna",
        "stanislaw",
        "william",
    ]
    assert _given_names(tmp_path, "builtin", names) == [
        "pepe",
        "kasia",
        "staszek",
        "william",
    ]


def test_every_english_row_keeps_its_canonical_form() -> None:
    """Adding the international table never changes what an English name becomes."""
    english, merged = builtin_table().canonical, international_table().canonical
    assert {variant: merged[variant] for variant in english} == dict(english)


def test_ambiguous_forms_are_left_alone() -> None:
    table = international_table().canonical
    assert [name for name in AMBIGUOUS if name in table] == []
    header = files("linkage").joinpath("data", INTERNATIONAL_TABLE).read_text("utf-8")
    for name in AMBIGUOUS:
        assert f" {name}" in header.split("\nvariant,canonical\n")[0], name


def test_the_table_is_plain_lower_case_ascii_and_closed() -> None:
    """Rows are written as strip_accents and lower leave names, and no
    canonical form is itself a variant, so one pass is enough."""
    rows = _rows()
    for variant, canonical in rows.items():
        assert variant.isascii() and variant.isalpha() and variant.islower()
        assert canonical.isascii() and canonical.isalpha() and canonical.islower()
    merged = international_table().canonical
    assert not set(merged.values()) & set(merged)


_NAMES = st.lists(
    st.one_of(st.sampled_from(sorted(_rows())), latin_words()), min_size=1, max_size=4
).map(" ".join)


@given(_NAMES)
def test_canonicalising_twice_is_once(value: str) -> None:
    table = international_table()
    once = table.canonicalise(value)
    assert table.canonicalise(once) == once
    assert len(once.split()) == len(value.split())


def test_the_agency_table_example_in_the_docs_works(tmp_path: Path) -> None:
    """docs/mappings.md's own-table example: its CSV and its step, as written."""
    docs = (Path(__file__).parents[2] / "docs" / "mappings.md").read_text("utf-8")
    section = docs.split("**An agency's own table.**", 1)[1]
    table = section.split("```text\n", 1)[1].split("```", 1)[0]
    field = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "our_variants.csv").write_text(table, encoding="utf-8")
    path = tmp_path / "agency.yaml"
    path.write_text(f"version: 1\nfields:\n{field}", encoding="utf-8")
    frame = pd.DataFrame({"GIVEN": ["Chris", "MICK", "Pepe", "Neto"]}, dtype=object)
    mapped = load_mapping(path).apply(frame, source="export.csv", first_row=1)
    assert mapped.fields["given_name"].tolist() == [
        "christopher",
        "michael",
        "jose",
        "ernesto",
    ]
