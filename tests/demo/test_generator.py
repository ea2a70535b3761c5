"""Tests for linkage.demo.generator: seeded people and agency exports."""

from __future__ import annotations

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
