"""Tests for linkage.demo.generator: seeded people and agency exports."""

from __future__ import annotations

from dataclasses import replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.demo import (
    AGENCIES,
    DEFAULT_OVERLAP,
    NoiseRates,
    export_agency,
    generate_population,
    write_demo_data,
)

COLUMNS = {
    "police": ["PERSON_REF", "FULL_NAME", "DOB", "GENDER", "ADDRESS", "SUBURB",
               "POSTCODE"],
    "health": ["patient_id", "first_name", "last_name", "birth_date", "sex",
               "street_address", "suburb", "post_code"],
    "social_services": ["client_no", "name", "date_of_birth", "gender"],
    "tax": ["tfn_ref", "given_names", "family_name", "street", "suburb", "postcode"],
}  # fmt: skip


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    """Two thousand people from a fixed seed."""
    return generate_population(2000, np.random.default_rng(5))


def test_population_is_deterministic_for_a_seed() -> None:
    """The same seed gives the same people; another seed gives others."""
    first = generate_population(300, np.random.default_rng(1))
    pd.testing.assert_frame_equal(
        first, generate_population(300, np.random.default_rng(1))
    )
    assert not first.equals(generate_population(300, np.random.default_rng(2)))


def test_population_values_are_plausible(population: pd.DataFrame) -> None:
    """IDs are 1..n, sexes f/m/x, dates ISO, postcodes four digits."""
    assert population["person_id"].tolist() == list(range(1, len(population) + 1))
    assert set(population["sex"]) <= {"f", "m", "x"}
    assert population["date_of_birth"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert population["postcode"].str.fullmatch(r"\d{4}").all()
    assert (population["given_name"] != "").all()
    assert (population["middle_name"] != "").any()
    assert (population["former_surname"] != "").any()


def test_common_names_repeat(population: pd.DataFrame) -> None:
    """Names are frequency-skewed: the top surname is far above the median."""
    counts = population["surname"].value_counts()
    assert counts.iloc[0] >= 5 * counts.median()


def test_population_has_accents_hyphens_and_apostrophes(
    population: pd.DataFrame,
) -> None:
    """Some names are not plain ASCII letters, as in real registers."""
    names = pd.concat([population["given_name"], population["surname"]])
    assert (~names.map(str.isascii)).any()
    assert names.str.contains("-").any()
    assert names.str.contains("'").any()


@pytest.mark.parametrize("agency", AGENCIES)
def test_export_is_deterministic_for_a_seed(
    population: pd.DataFrame, agency: str
) -> None:
    """The same seed gives the same export and truth."""
    first = export_agency(population, agency, np.random.default_rng(9))
    second = export_agency(population, agency, np.random.default_rng(9))
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


@pytest.mark.parametrize("agency", AGENCIES)
def test_export_has_the_agency_columns_as_text(
    population: pd.DataFrame, agency: str
) -> None:
    """Each agency writes its own columns, every value a str."""
    export, _ = export_agency(population, agency, np.random.default_rng(3))
    assert list(export.columns) == COLUMNS[agency]
    assert all(isinstance(value, str) for value in export.to_numpy().ravel())


@pytest.mark.parametrize("agency", AGENCIES)
def test_overlap_and_duplicates(population: pd.DataFrame, agency: str) -> None:
    """The agency holds the asked share of people, some of them more than once."""
    export, truth = export_agency(
        population, agency, np.random.default_rng(4), overlap=0.5, duplicate_rate=0.1
    )
    people = truth["person_id"].value_counts()
    assert len(people) == 1000
    assert (people > 1).sum() == 100
    assert (people == 3).sum() == 20
    assert len(export) == len(truth) == 1120


@pytest.mark.parametrize("agency", AGENCIES)
def test_truth_matches_the_export(population: pd.DataFrame, agency: str) -> None:
    """Truth rows follow export rows, record IDs are unique, people exist."""
    export, truth = export_agency(population, agency, np.random.default_rng(6))
    assert list(truth.columns) == ["record_id", "person_id"]
    assert truth["record_id"].tolist() == export[COLUMNS[agency][0]].tolist()
    assert truth["record_id"].is_unique
    assert truth["person_id"].isin(population["person_id"]).all()


def test_noise_free_export_copies_the_people(population: pd.DataFrame) -> None:
    """Without noise, health's names and dates are exactly the population's."""
    export, truth = export_agency(
        population, "health", np.random.default_rng(8), noise=NoiseRates.none()
    )
    people = population.set_index("person_id").loc[truth["person_id"]]
    assert export["first_name"].tolist() == people["given_name"].tolist()
    assert export["last_name"].tolist() == people["surname"].tolist()
    assert export["birth_date"].tolist() == people["date_of_birth"].tolist()


def test_default_noise_changes_some_records(population: pd.DataFrame) -> None:
    """With the default noise, some names and dates differ or go missing."""
    export, truth = export_agency(
        population, "health", np.random.default_rng(8), overlap=1.0
    )
    people = population.set_index("person_id").loc[truth["person_id"]]
    changed = export["last_name"].to_numpy() != people["surname"].to_numpy()
    assert 0.02 < changed.mean() < 0.2
    assert (export["birth_date"] == "NULL").any()
    assert (export["birth_date"].to_numpy() != people["date_of_birth"].to_numpy()).any()


def _nickname_table() -> dict[str, set[str]]:
    """The variants of each formal name in the packaged nickname table."""
    text = files("linkage").joinpath("data", "nicknames.txt").read_text("utf-8")
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            formal, variant = line.split(",")
            table.setdefault(formal, set()).add(variant)
    return table


def test_nickname_table_uses_known_given_names() -> None:
    """Every formal name in the nickname table is one the population draws."""
    given = files("linkage").joinpath("data", "given_names.txt")
    names = {
        line.split("\t")[0].lower()
        for line in given.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    table = _nickname_table()
    assert len(table) > 30
    assert set(table) <= names
    assert "bill" in table["william"]


def test_nicknames_replace_some_given_names(population: pd.DataFrame) -> None:
    """With a high nickname rate, names with variants are written as a variant."""
    noise = replace(NoiseRates.none(), nickname=0.5)
    export, truth = export_agency(
        population, "health", np.random.default_rng(8), overlap=1.0, noise=noise
    )
    people = population.set_index("person_id").loc[truth["person_id"]]
    table = _nickname_table()
    true_names = people["given_name"].str.lower().to_numpy()
    written = export["first_name"].str.lower().to_numpy()
    changed = written != true_names
    has_variants = np.array([name in table for name in true_names])
    assert 0.3 < changed[has_variants].mean() < 0.7
    assert not changed[~has_variants].any()
    assert all(
        variant in table[name]
        for name, variant in zip(true_names[changed], written[changed], strict=True)
    )
    assert export["first_name"][changed].str.fullmatch(r"[A-Z][a-z]+").all()


def test_moved_people_are_recorded_at_another_address(
    population: pd.DataFrame,
) -> None:
    """With a high moved rate, some addresses differ while name and birth match."""
    noise = replace(NoiseRates.none(), moved=0.5)
    export, truth = export_agency(
        population, "health", np.random.default_rng(8), overlap=1.0, noise=noise
    )
    people = population.set_index("person_id").loc[truth["person_id"]]
    address = ["street_address", "suburb", "postcode"]
    true_address = people[address].to_numpy()
    written = export[["street_address", "suburb", "post_code"]].to_numpy()
    moved = (written != true_address).any(axis=1)
    assert 0.4 < moved.mean() < 0.6
    assert (written[moved, 0] != true_address[moved, 0]).mean() > 0.9
    assert export["first_name"].tolist() == people["given_name"].tolist()
    assert export["last_name"].tolist() == people["surname"].tolist()
    assert export["birth_date"].tolist() == people["date_of_birth"].tolist()
    suburbs = dict(zip(population["suburb"], population["postcode"], strict=True))
    assert all(suburbs[suburb] == code for _, suburb, code in written[moved])


@pytest.mark.parametrize("agency", ["police", "tax"])
def test_moved_addresses_keep_the_agency_formats(
    population: pd.DataFrame, agency: str
) -> None:
    """A previous address is written in the agency's own address columns."""
    noise = replace(NoiseRates.none(), moved=1.0, nickname=1.0)
    export, _ = export_agency(population, agency, np.random.default_rng(1), noise=noise)
    assert list(export.columns) == COLUMNS[agency]
    assert all(isinstance(value, str) for value in export.to_numpy().ravel())


def test_no_noise_means_no_nicknames_or_moves(population: pd.DataFrame) -> None:
    """With ``NoiseRates.none()`` names and addresses are the population's."""
    export, truth = export_agency(
        population, "health", np.random.default_rng(8), overlap=1.0,
        noise=NoiseRates.none(),
    )  # fmt: skip
    people = population.set_index("person_id").loc[truth["person_id"]]
    assert NoiseRates.none().nickname == NoiseRates.none().moved == 0.0
    assert export["first_name"].tolist() == people["given_name"].tolist()
    assert export["street_address"].tolist() == people["street_address"].tolist()
    assert export["suburb"].tolist() == people["suburb"].tolist()
    assert export["post_code"].tolist() == people["postcode"].tolist()


def test_default_noise_has_nicknames_and_moves() -> None:
    """The default rates are small but above zero, and a seed repeats them."""
    assert 0.0 < NoiseRates().nickname <= 0.1
    assert 0.0 < NoiseRates().moved <= 0.1
    people = generate_population(500, np.random.default_rng(2))
    noise = replace(NoiseRates(), nickname=0.5, moved=0.5)
    first = export_agency(people, "tax", np.random.default_rng(3), noise=noise)
    second = export_agency(people, "tax", np.random.default_rng(3), noise=noise)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


def test_agency_formats(population: pd.DataFrame) -> None:
    """Police writes SURNAME, GIVEN in ASCII capitals and DD/MM/YYYY dates."""
    export, _ = export_agency(
        population, "police", np.random.default_rng(2), noise=NoiseRates.none()
    )
    assert export["FULL_NAME"].str.fullmatch(r"[A-Z' -]+, [A-Z' -]+").all()
    assert export["DOB"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()
    assert set(export["GENDER"]) <= {"F", "M", "X"}


def test_unknown_agency_and_bad_rates_are_refused(population: pd.DataFrame) -> None:
    """A wrong agency name or a rate outside 0..1 raises ValueError."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="police, health"):
        export_agency(population, "customs", rng)
    with pytest.raises(ValueError, match="overlap"):
        export_agency(population, "tax", rng, overlap=1.5)


def test_write_demo_data(tmp_path: Path) -> None:
    """Every agency file and the truth are written, and the same seed repeats them."""
    paths = write_demo_data(tmp_path / "one", size=400, seed=3)
    again = write_demo_data(tmp_path / "two", size=400, seed=3)
    assert set(paths) == {*AGENCIES, "truth"}
    for name, path in paths.items():
        assert path.read_bytes() == again[name].read_bytes()
    truth = pd.read_csv(paths["truth"], dtype=str, keep_default_na=False)
    assert list(truth.columns) == ["agency", "record_id", "person_id"]
    for agency in AGENCIES:
        export = pd.read_csv(paths[agency], dtype=str, keep_default_na=False)
        ids = truth.loc[truth["agency"] == agency, "record_id"]
        assert export[COLUMNS[agency][0]].tolist() == ids.tolist()
        held = truth.loc[truth["agency"] == agency, "person_id"].nunique()
        assert held == round(DEFAULT_OVERLAP[agency] * 400)
