"""Tests for linkage.demo.registers: the held-out third population."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.demo import registers
from linkage.demo.registers import (
    REGISTER_AGENCIES,
    RegistersData,
    generate_registers,
    write_registers_data,
)
from linkage.encoding.mapping import MappedRecords
from linkage.encoding.mapping_file import load_mapping

MAPPINGS = Path(__file__).parents[2] / "configs" / "mappings" / "registers"

# Each agency's columns (the module docstring's table), ID column first.
COLUMNS = {
    "population": [
        "register_no", "first_names", "last_name", "birth_date", "sex_code",
        "street_name", "house_no", "floor_door", "post_no", "town",
    ],
    "clinic": ["contact_id", "patient", "dob", "sex", "address"],
    "tax": ["tax_ref", "SURNAME", "FORENAME", "BIRTH_YEAR", "ADDRESS_LINE"],
    "parish": ["entry", "christian_names", "family_name", "born", "sex"],
    "utility": [
        "account_no", "customer", "supply_street", "supply_no",
        "supply_postcode", "supply_city",
    ],
}  # fmt: skip
# The schema fields each agency's mapping fills, and no others.
ALL = {"given_name", "surname", "date_of_birth", "sex", "postcode", "street"}
FIELDS = {
    "population": ALL,
    "clinic": ALL,
    "tax": ALL - {"date_of_birth", "sex"},
    "parish": ALL - {"postcode", "street"},
    "utility": ALL - {"date_of_birth", "sex"},
}
# How each agency writes a birth date, and in which column.
DATES = {
    "population": ("birth_date", r"\d{8}"),
    "clinic": ("dob", r"\d{2}-[A-Z]{3}-\d{2}"),
    "parish": ("born", r"\d{1,2}/\d{1,2}/\d{4}|\d{1,2}/\d{4}"),
    "tax": ("BIRTH_YEAR", r"\d{4}"),
}
# Which noise explains a row the mapping cannot read: a day written as 00, or
# the month written first with a day over 12.
UNREADABLE = {"population": "date_partial", "parish": "date_swapped"}


@pytest.fixture(scope="module")
def data() -> RegistersData:
    """Four thousand people from a fixed seed."""
    return generate_registers(4000, 17)


@pytest.fixture(scope="module")
def mapped(data: RegistersData) -> dict[str, MappedRecords]:
    """Each export mapped with its mapping file."""
    found = {}
    for agency in REGISTER_AGENCIES:
        mapping = load_mapping(MAPPINGS / f"{agency}.yaml")
        found[agency] = mapping.apply(data.exports[agency], source=agency, first_row=1)
    return found


def _of(data: RegistersData, agency: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An agency's truth and noise rows, in the export's order."""
    truth = data.truth[data.truth["agency"] == agency].reset_index(drop=True)
    noise = data.noise[data.noise["agency"] == agency].reset_index(drop=True)
    return truth, noise


def _people_of(data: RegistersData, truth: pd.DataFrame) -> pd.DataFrame:
    return data.people.set_index("person_id").loc[truth["person_id"]]


# Determinism and shape ---------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 4])
def test_a_seed_fixes_the_data(seed: int) -> None:
    """The same seed gives the same data; the next seed gives other data."""
    first, again = generate_registers(400, seed), generate_registers(400, seed)
    assert first.people.equals(again.people)
    assert first.truth.equals(again.truth)
    assert first.noise.equals(again.noise)
    for agency in REGISTER_AGENCIES:
        assert first.exports[agency].equals(again.exports[agency])
    assert not first.people.equals(generate_registers(400, seed + 1).people)


def test_the_same_seed_writes_the_same_files(tmp_path: Path) -> None:
    first = write_registers_data(tmp_path / "a", 300, 5)
    second = write_registers_data(tmp_path / "b", 300, 5)
    assert set(first) == {*REGISTER_AGENCIES, "truth"}
    for name, path in first.items():
        assert path.name == f"{name}.csv"
        assert path.read_bytes() == second[name].read_bytes(), name
    other = write_registers_data(tmp_path / "c", 300, 6)
    assert first["clinic"].read_bytes() != other["clinic"].read_bytes()


def test_written_files_read_back_as_the_exports(tmp_path: Path) -> None:
    paths = write_registers_data(tmp_path, 300, 5)
    data = generate_registers(300, 5)
    truth = pd.read_csv(paths["truth"], dtype=str, keep_default_na=False)
    assert list(truth.columns) == ["agency", "record_id", "person_id"]
    for agency in REGISTER_AGENCIES:
        export = pd.read_csv(paths[agency], dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(export, data.exports[agency].astype(str))


@settings(max_examples=15, deadline=None)
@given(size=st.integers(0, 60), seed=st.integers(0, 2**32 - 1))
def test_every_truth_row_names_an_exported_record(size: int, seed: int) -> None:
    """Record IDs are unique per agency, and the truth and exports agree."""
    data = generate_registers(size, seed)
    assert data.people["person_id"].tolist() == list(range(1, size + 1))
    for agency in REGISTER_AGENCIES:
        ids = data.exports[agency][COLUMNS[agency][0]]
        truth, noise = _of(data, agency)
        assert ids.is_unique
        assert truth["record_id"].tolist() == ids.tolist()
        assert noise["record_id"].tolist() == ids.tolist()
        assert truth["person_id"].between(1, size).all()


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        generate_registers(-1, 0)


# What each agency holds ------------------------------------------------------------


@pytest.mark.parametrize("agency", REGISTER_AGENCIES)
def test_each_agency_holds_exactly_its_fields(
    data: RegistersData, mapped: dict[str, MappedRecords], agency: str
) -> None:
    """The export has the table's columns; the mapping fills the fields they
    can give, each for most records."""
    assert list(data.exports[agency].columns) == COLUMNS[agency]
    fields = mapped[agency].fields
    assert set(fields.columns) == FIELDS[agency]
    for field in FIELDS[agency]:
        assert (fields[field] != "").mean() > 0.9, field


@pytest.mark.parametrize("agency", ["population", "clinic", "parish", "tax"])
def test_each_agency_writes_dates_its_way(data: RegistersData, agency: str) -> None:
    column, pattern = DATES[agency]
    dates = data.exports[agency][column]
    assert dates[dates != ""].str.fullmatch(pattern).all()


def test_agencies_cover_whom_they_should(data: RegistersData) -> None:
    """Tax and utility hold adults only; the register nearly everyone."""
    people = data.people.set_index("person_id")
    adult_from = pd.Timestamp("2025-06-30") - pd.DateOffset(years=18)
    for agency in ("tax", "utility"):
        truth, _ = _of(data, agency)
        born = pd.to_datetime(people.loc[truth["person_id"], "date_of_birth"])
        assert (born <= adult_from + pd.Timedelta(days=1)).all(), agency
    population, _ = _of(data, "population")
    assert population["person_id"].nunique() > 0.9 * len(people)


def test_several_records_per_person_at_the_clinic_and_utility(
    data: RegistersData,
) -> None:
    counts = {
        agency: data.truth[data.truth["agency"] == agency]["person_id"].value_counts()
        for agency in REGISTER_AGENCIES
    }
    clinic = counts["clinic"]
    assert 0.15 < (clinic >= 2).mean() < 0.35
    assert clinic.max() <= 5
    assert 0.05 < (counts["utility"] >= 2).mean() < 0.3
    for agency in ("population", "tax", "parish"):
        assert counts[agency].max() == 1, agency


def test_a_persons_clinic_records_differ(data: RegistersData) -> None:
    """Repeat contacts are not copies: names or addresses are written otherwise."""
    truth, _ = _of(data, "clinic")
    export = data.exports["clinic"].assign(person=truth["person_id"])
    several = export.groupby("person").filter(lambda group: len(group) > 1)
    varied = several.groupby("person")[["patient", "dob", "address"]].nunique()
    assert (varied.max(axis=1) > 1).mean() > 0.3
    # ... and the utility's closed accounts are at the previous address.
    utility_truth, noise = _of(data, "utility")
    people = _people_of(data, utility_truth)
    old = noise["old_address"].to_numpy()
    streets = data.exports["utility"]["supply_street"].to_numpy()
    assert old.sum() > 20
    assert (streets[old] != people["street"].to_numpy()[old]).mean() > 0.5


# Mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize("agency", REGISTER_AGENCIES)
def test_every_row_maps_but_a_few_explained_dates(
    data: RegistersData, mapped: dict[str, MappedRecords], agency: str
) -> None:
    """Rows fail only on a birth date the data says is unreadable, and rarely."""
    result = mapped[agency]
    _, noise = _of(data, agency)
    failed = result.invalid
    assert failed.mean() < 0.02
    assert {problem.field for problem in result.problems} <= {"date_of_birth"}
    if agency in UNREADABLE:
        explained = noise[UNREADABLE[agency]].to_numpy()
        assert failed.any()
        assert not (failed & ~explained).any()
    else:
        assert not failed.any()


@pytest.mark.parametrize("agency", ["population", "clinic", "parish"])
def test_birth_dates_map_to_the_truth_unless_noised(
    data: RegistersData, mapped: dict[str, MappedRecords], agency: str
) -> None:
    truth, noise = _of(data, agency)
    born = _people_of(data, truth)["date_of_birth"].to_numpy()
    dates = mapped[agency].fields["date_of_birth"].to_numpy()
    noised = noise[
        ["date_swapped", "date_placeholder", "date_partial", "date_wrong_year"]
    ].any(axis=1)
    clean = (dates != "") & ~noised.to_numpy()
    assert clean.mean() > 0.9
    assert (dates[clean] == born[clean]).all()
    placeholder = noise["date_placeholder"].to_numpy() & (dates != "")
    assert all(date.endswith("-01-01") for date in dates[placeholder])


def test_the_street_maps_alike_from_lines_and_columns(
    data: RegistersData, mapped: dict[str, MappedRecords]
) -> None:
    """The clinic's one-line address gives the register's street and postcode."""
    found = {}
    for agency in ("population", "clinic"):
        truth, noise = _of(data, agency)
        fields = mapped[agency].fields.assign(person=truth["person_id"].to_numpy())
        plain = ~noise[["old_address", "po_box"]].any(axis=1).to_numpy()
        found[agency] = fields[plain & (fields["street"] != "").to_numpy()]
    both = found["clinic"].merge(
        found["population"], on="person", suffixes=("_clinic", "_register")
    )
    assert len(both) > 500
    assert (both["postcode_clinic"] == both["postcode_register"]).mean() > 0.98
    # Abbreviated street prefixes (Gl. Kongevej) are the only difference.
    assert (both["street_clinic"] == both["street_register"]).mean() > 0.95


# The world's features ---------------------------------------------------------------


def test_lookalikes_exist(data: RegistersData) -> None:
    """Twins share surname, birth date and address; namesake cousins share
    given name, surname, sex and birth year, not the day."""
    people = data.people.set_index("person_id")
    twins = people[people["lookalike"] == "twin"]
    sibling = people.loc[twins["lookalike_of"]]
    assert len(twins) >= 20
    for column in ("birth_surname", "date_of_birth", "street", "postcode"):
        assert (twins[column].to_numpy() == sibling[column].to_numpy()).all(), column
    assert (twins["given_name"].to_numpy() != sibling["given_name"].to_numpy()).all()

    cousins = people[people["lookalike"] == "namesake"]
    original = people.loc[cousins["lookalike_of"]]
    assert len(cousins) >= 20
    for column in ("given_name", "birth_surname", "sex"):
        assert (cousins[column].to_numpy() == original[column].to_numpy()).all()
    assert (
        cousins["date_of_birth"].str[:4].to_numpy()
        == original["date_of_birth"].str[:4].to_numpy()
    ).all()
    assert (
        cousins["date_of_birth"].to_numpy() != original["date_of_birth"].to_numpy()
    ).all()


def test_lookalikes_look_alike_after_mapping(
    data: RegistersData, mapped: dict[str, MappedRecords]
) -> None:
    """In the mapped register, different people share name and birth year."""
    truth, _ = _of(data, "population")
    fields = mapped["population"].fields.assign(person=truth["person_id"].to_numpy())
    fields = fields[fields["date_of_birth"] != ""]
    key = [fields["given_name"], fields["surname"], fields["date_of_birth"].str[:4]]
    people_per_key = fields.groupby(key)["person"].nunique()
    assert (people_per_key >= 2).sum() >= 20


def test_married_names_differ_between_parish_and_register(
    data: RegistersData,
) -> None:
    """The parish holds the name at birth, the register the name now."""
    parish, parish_noise = _of(data, "parish")
    register, register_noise = _of(data, "population")
    people = data.people.set_index("person_id")
    changed = set(people.index[people["surname"] != people["birth_surname"]])
    errors = parish_noise[["typo", "transposed", "misheard"]].any(axis=1)
    on_parish = parish.assign(
        name=data.exports["parish"]["family_name"], clean=~errors
    ).set_index("person_id")
    on_register = register.assign(
        name=data.exports["population"]["last_name"]
    ).set_index("person_id")
    both = sorted(changed & set(on_parish.index) & set(on_register.index))
    assert len(both) > 200
    rows = on_parish.loc[both]
    clean = rows["clean"] & ~rows.index.isin(
        people.index[people["date_of_birth"] < "1948-01-01"]
    )
    at_birth = people.loc[rows.index[clean], "birth_surname"]
    assert (rows["name"][clean] == at_birth).mean() > 0.95
    assert (on_register.loc[both, "name"] != rows["name"]).mean() > 0.95
    assert register_noise["maiden_name"].sum() == 0


def test_writing_habits_differ_by_agency(data: RegistersData) -> None:
    exports = data.exports
    tax = " ".join(exports["tax"]["SURNAME"]) + " ".join(exports["tax"]["ADDRESS_LINE"])
    assert tax.isascii() and tax == tax.upper()
    assert "OE" in tax and "DK-" in tax and "POSTBOKS" in tax
    utility = " ".join(exports["utility"]["customer"])
    assert utility.isascii() and re.search(r"\b[A-Z]\. ", utility)
    register = " ".join(exports["population"]["last_name"])
    assert re.search(r"[øåæüé]", register) and "Garc" in register
    clinic = exports["clinic"]
    assert clinic["address"].str.contains("Postboks").any()
    assert clinic["patient"].str.contains("Ã").any()  # mojibake
    parish = " ".join(exports["parish"]["family_name"])
    assert "Aagaard" in parish or "Haakansson" in parish
    # Particles run together, and double surnames hyphenated, at the tax office.
    assert re.search(r"\bVANDER|VANDEN|DEVRIES\b", tax)
    assert re.search(r"[A-Z]-[A-Z]", " ".join(exports["tax"]["SURNAME"]))


def test_short_forms_are_used(data: RegistersData) -> None:
    """Some clinic patients go by a short form of their registered name."""
    truth, noise = _of(data, "clinic")
    given = data.exports["clinic"]["patient"].str.split(", ").str[1]
    formal = _people_of(data, truth)["given_name"].to_numpy()
    short = noise["short_name"].to_numpy()
    assert 0.05 < short.mean() < 0.25
    first_word = given.str.split(" ").str[0].to_numpy()
    assert (first_word[short] != formal[short]).mean() > 0.9
    known = {"Bill", "Paco", "Hans", "Kees", "Mette", "Lola", "Fritz", "Wim"}
    assert len(known & set(first_word[short])) >= 3


def test_noise_is_there_and_rare(data: RegistersData) -> None:
    noise = data.noise.drop(columns=["agency", "record_id"])
    rare = noise.drop(columns=["repeat", "initials", "old_address", "short_name"])
    assert noise.any().all(), noise.columns[~noise.any()].tolist()
    assert (rare.mean() < 0.05).all(), rare.mean()


# Error model -------------------------------------------------------------------------

LETTERS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzøåæüöäßéñABCDÆØÅÜ' -", min_size=1, max_size=20
)
UNITS = st.floats(0, 1, exclude_max=True)


@given(text=LETTERS)
def test_ascii_habits_leave_ascii(text: str) -> None:
    assert registers._spelt_out(text).isascii()
    assert registers._accents_dropped(text).isascii()
    assert "'" not in registers._spelt_out(text)


@given(text=LETTERS, which=UNITS, where=UNITS)
def test_slips_and_transpositions_change_little(
    text: str, which: float, where: float
) -> None:
    slipped = registers._slip(text, which, where)
    assert len(slipped) == len(text)
    assert sum(a != b for a, b in zip(slipped, text, strict=True)) <= 1
    transposed = registers._transpose(text, which, where)
    assert sorted(transposed) == sorted(text) and transposed[:1] == text[:1]
    misheard = registers._misheard(text, which, where)
    assert abs(len(misheard) - len(text)) <= 1


def test_mojibake_is_what_latin_1_makes_of_utf_8() -> None:
    assert registers._mojibake("Søren", 0, 0) == "SÃ¸ren"
    assert registers._mojibake("Hansen", 0, 0) == "Hansen"
    assert unicodedata.is_normalized("NFC", registers._spelt_out("Jørgen"))
    assert registers._spelt_out("Jørgen Müller") == "JOERGEN MUELLER"
    assert registers._accents_dropped("Jørgen O'Brien") == "Jorgen O Brien"
    assert np.array_equal(
        registers._per_value(np.array(["a b", "a b"], dtype=object), str.upper),
        np.array(["A B", "A B"], dtype=object),
    )
