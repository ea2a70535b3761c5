"""Tests for given-name variants and surname parts, alone and in mapping files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import latin_words, name_words

from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.name_variants import (
    VariantTable,
    builtin_table,
    load_variant_table,
    read_variant_file,
)
from linkage.encoding.normalise import split_name_parts
from linkage.errors import MappingError
from tests.conftest import map_column, one_field_mapping

NICKNAMES = Path(__file__).parents[2] / "src" / "linkage" / "data" / "nicknames.txt"


def _table(tmp_path: Path, text: str, name: str = "ours.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _mapping_file(tmp_path: Path, steps: str, field: str = "given_name") -> Path:
    return one_field_mapping(tmp_path, steps, field, "NAME")


def _apply(mapping_path: Path, names: list[str]) -> list[str]:
    return map_column(mapping_path, "NAME", names)


# The table ------------------------------------------------------------------


def test_builtin_table_maps_common_nicknames() -> None:
    """Bill, Bob, Liz and Peggy get their formal names; others stay."""
    table = builtin_table()
    assert len(table.canonical) >= 300
    pairs = {"bill": "william", "bob": "robert", "liz": "elizabeth"}
    for variant, canonical in {**pairs, "peggy": "margaret"}.items():
        assert table.canonicalise(variant) == canonical
    assert table.canonicalise("zebedee") == "zebedee"


def test_builtin_table_leaves_ambiguous_nicknames_alone() -> None:
    """Nicknames of several formal names (Chris, Alex, Sam) are not mapped."""
    table = builtin_table()
    for name in ("chris", "alex", "sam", "pat", "jo", "terry"):
        assert name not in table.canonical


def test_builtin_table_is_closed() -> None:
    """No canonical name is itself a variant, so one pass is enough."""
    table = builtin_table().canonical
    assert not set(table.values()) & set(table)


def test_case_style_and_whitespace_are_kept() -> None:
    """A replaced word keeps its case style; spaces between words are kept."""
    table = builtin_table()
    assert table.canonicalise("BILL  Smith") == "WILLIAM  Smith"
    assert table.canonicalise("Liz") == "Elizabeth"


def test_user_table_is_added_and_wins(tmp_path: Path) -> None:
    """An extra table adds rows and replaces built-in rows for its variants."""
    path = _table(tmp_path, "# ours\nvariant,canonical\nBaz,Barry\nted,theodore\n\n")
    table = load_variant_table(extra=[path])
    assert table.canonicalise("baz") == "barry"
    assert table.canonicalise("ted") == "theodore"
    assert table.canonicalise("bill") == "william"
    assert table.sources[-1] == str(path)


def test_user_table_alone(tmp_path: Path) -> None:
    """With builtin=False only the agency's rows apply."""
    path = _table(tmp_path, "variant,canonical\nbaz,barry\n")
    table = load_variant_table(builtin=False, extra=[path])
    assert dict(table.canonical) == {"baz": "barry"}


def test_chains_are_followed(tmp_path: Path) -> None:
    """A user row mapping to a built-in variant ends at its canonical form."""
    path = _table(tmp_path, "variant,canonical\nbilly-bob,bill\n")
    assert load_variant_table(extra=[path]).canonicalise("billy-bob") == "william"


def test_cycle_is_refused(tmp_path: Path) -> None:
    """A user row reversing a built-in one makes a cycle, named in the error."""
    path = _table(tmp_path, "variant,canonical\nwilliam,bill\n")
    with pytest.raises(MappingError, match="cycle") as error:
        load_variant_table(extra=[path])
    assert "bill -> william -> bill" in str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,formal\nbill,william\n", "the header must be `variant,canonical`"),
        ("variant,canonical\nbill\n", "row 2: must be two names"),
        ("variant,canonical\nbill,\n", "row 2: must be two names"),
        ("variant,canonical\nbilly bob,william\n", "row 2: names must be one word"),
        ("variant,canonical\nbill,bill\n", "row 2: 'bill' maps to itself"),
        (
            "variant,canonical\nbill,william\nbill,wilbur\n",
            "row 3: variant 'bill' maps to 'william' on an earlier line",
        ),
        ("", "the header must be `variant,canonical` (got 'no rows')"),
    ],
)
def test_bad_table_file_gives_a_clear_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Each malformed table names the file, the line and what to do."""
    path = _table(tmp_path, text)
    with pytest.raises(MappingError) as error:
        read_variant_file(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_unreadable_table_file(tmp_path: Path) -> None:
    """A missing table file says so and where relative paths are read from."""
    with pytest.raises(MappingError, match="Cannot read the name variant table"):
        read_variant_file(tmp_path / "absent.csv")


def test_overlap_with_the_demo_nicknames_is_partial() -> None:
    """Our table is not the generator's: it misses some of its variants."""
    rows = [
        line.split(",")
        for line in NICKNAMES.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    table = builtin_table()
    found = sum(table.canonicalise(variant) == formal for formal, variant in rows)
    assert 0 < found < len(rows)


# The mapping steps ------------------------------------------------------------


def test_variants_step_through_a_mapping_file(tmp_path: Path) -> None:
    """`given_name_variants` after lower makes Bill and William encode alike."""
    path = _mapping_file(tmp_path, "[lower, given_name_variants]")
    assert _apply(path, ["Bill", "WILLIAM", "Peggy", "Zed"]) == [
        "william",
        "william",
        "margaret",
        "zed",
    ]


def test_variants_step_with_extra_table(tmp_path: Path) -> None:
    """`extra` is read relative to the mapping file and adds its rows."""
    _table(tmp_path, "variant,canonical\nbaz,barry\n", name="our_variants.csv")
    steps = "[lower, {given_name_variants: {table: builtin, extra: our_variants.csv}}]"
    path = _mapping_file(tmp_path, steps)
    assert _apply(path, ["Baz", "Bob"]) == ["barry", "robert"]
    step = load_mapping(path).fields[0].steps[1]
    assert (
        step.name == "given_name_variants: {table: builtin, extra: [our_variants.csv]}"
    )


def test_variants_step_short_form(tmp_path: Path) -> None:
    """`given_name_variants: builtin` is the same as the bare step."""
    path = _mapping_file(tmp_path, "[lower, {given_name_variants: builtin}]")
    assert _apply(path, ["liz"]) == ["elizabeth"]


@pytest.mark.parametrize(
    ("steps", "key", "message"),
    [
        (
            "[{given_name_variants: builtn}]",
            "given_name_variants",
            "must be one of builtin, international, none (got 'builtn')",
        ),
        (
            "[{given_name_variants: {table: none}}]",
            "given_name_variants",
            "uses no table",
        ),
        (
            "[{given_name_variants: {tabel: builtin}}]",
            "given_name_variants.tabel",
            "did you mean 'table'?",
        ),
        (
            "[{given_name_variants: {extra: absent.csv}}]",
            "given_name_variants.extra",
            "Cannot read the name variant table",
        ),
        (
            "[{surname_parts: {order: random}}]",
            "surname_parts.order",
            "must be one of keep, sort (got 'random')",
        ),
        ("[{surname_parts: sort}]", "surname_parts", "must be a mapping"),
    ],
)
def test_bad_step_options_name_the_file_and_key(
    tmp_path: Path, steps: str, key: str, message: str
) -> None:
    """Bad options are errors naming the mapping file and the key path."""
    path = _mapping_file(tmp_path, steps)
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    problems = [f"{p.source} | {p.field}: {p.message}" for p in error.value.problems]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path} | fields.given_name.steps[0].{key}:")
    assert message in problems[0]


def test_bad_extra_table_rows_reach_the_mapping_error(tmp_path: Path) -> None:
    """A malformed user table names the mapping key, the table and the line."""
    _table(tmp_path, "variant,canonical\nbill\n", name="ours.csv")
    path = _mapping_file(tmp_path, "[{given_name_variants: {extra: ours.csv}}]")
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    (problem,) = error.value.problems
    assert problem.field == "fields.given_name.steps[0].given_name_variants.extra"
    assert f"{tmp_path / 'ours.csv'}, row 2: must be two names" in problem.message


def test_surname_parts_step_through_a_mapping_file(tmp_path: Path) -> None:
    """Hyphenated, spaced and reversed double surnames all come out alike."""
    path = _mapping_file(tmp_path, "[lower, surname_parts]", field="surname")
    assert _apply(path, ["Smith-Jones", "JONES SMITH", "smith – jones", "Lee"]) == [
        "jones smith",
        "jones smith",
        "jones smith",
        "lee",
    ]


def test_surname_parts_keep_order(tmp_path: Path) -> None:
    """`order: keep` splits without reordering."""
    path = _mapping_file(
        tmp_path, "[lower, {surname_parts: {order: keep}}]", field="surname"
    )
    assert _apply(path, ["Smith-Jones"]) == ["smith jones"]


def test_spaced_parts_have_the_bigrams_of_each_part() -> None:
    """Why a space: the padded bigrams equal the union of each part's bigrams."""

    def bigrams(value: str) -> set[str]:
        padded = f" {value} "
        return {padded[i : i + 2] for i in range(len(padded) - 1)}

    joined = split_name_parts("smith-jones")
    assert bigrams(joined) == bigrams("smith") | bigrams("jones")
    assert bigrams(split_name_parts("jones-smith", order="keep")) == bigrams(
        split_name_parts("smith-jones", order="keep")
    )


# Properties -----------------------------------------------------------------

_names = st.lists(
    st.one_of(st.sampled_from(sorted(builtin_table().canonical)), latin_words()),
    min_size=1,
    max_size=4,
).map(" ".join)


@given(value=st.one_of(_names, st.text(max_size=20)))
def test_canonicalising_twice_is_once(value: str) -> None:
    """Canonical forms are never variants, so a second pass changes nothing."""
    table = builtin_table()
    once = table.canonicalise(value)
    assert table.canonicalise(once) == once


@given(value=st.one_of(_names, st.text(min_size=1, max_size=20)))
def test_canonicalised_is_never_empty(value: str) -> None:
    """Non-empty input gives non-empty output, with as many words."""
    table = builtin_table()
    result = table.canonicalise(value)
    assert result
    assert len(result.split()) == len(value.split())


@given(
    rows=st.dictionaries(latin_words(6), latin_words(6), max_size=8),
    value=_names,
)
def test_user_tables_stay_idempotent_or_are_refused(
    tmp_path_factory: pytest.TempPathFactory, rows: dict[str, str], value: str
) -> None:
    """Any user table either loads into an idempotent mapping or is refused."""
    folder = tmp_path_factory.mktemp("tables")
    body = "".join(f"{key},{target}\n" for key, target in rows.items())
    path = _table(folder, "variant,canonical\n" + body)
    try:
        table = load_variant_table(extra=[path])
    except MappingError:
        return
    once = table.canonicalise(value)
    assert table.canonicalise(once) == once


@given(words=st.lists(name_words(), min_size=1, max_size=3))
def test_surname_parts_idempotent_and_hyphen_free(words: list[str]) -> None:
    """Splitting twice is once; no hyphen remains; letters are never lost."""
    value = "-".join(words)
    once = split_name_parts(value)
    assert split_name_parts(once) == once
    assert "-" not in once and "–" not in once
    letters = sorted(char for char in value if char.isalpha())
    assert sorted(char for char in once if char.isalpha()) == letters


def test_empty_table_changes_nothing() -> None:
    """An empty table is the identity."""
    assert VariantTable().canonicalise("Bill Smith") == "Bill Smith"
