"""Tests for linkage.demo.households: the second synthetic population."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.demo.households import (
    HOUSEHOLD_AGENCIES,
    HouseholdsData,
    generate_households,
    write_households_data,
)
from linkage.encoding.mapping_file import load_mapping

MAPPINGS = Path(__file__).parents[2] / "configs" / "mappings" / "households"

# The schema fields each agency's mapping must fill, and no others.
FIELDS = {
    "hospital": {"given_name", "surname", "date_of_birth", "sex", "postcode", "street"},
    "school": {"given_name", "surname", "date_of_birth", "postcode", "street"},
    "housing": {"given_name", "surname", "postcode", "street"},
    "court": {"given_name", "surname", "date_of_birth", "sex"},
    "benefits": {"given_name", "surname", "date_of_birth", "postcode"},
}
# How each agency writes a birth date (any one of the patterns).
DATE_PATTERNS = {
    "hospital": r"\d{1,2} [A-Z][a-z]+ \d{4}",
    "school": r"\d{4}-\d{2}-\d{2}",
    "court": r"\d{1,2}/\d{1,2}/\d{2}",
    "benefits": r"\d{2}\.\d{2}\.\d{4}",
}


@pytest.fixture(scope="module")
def data() -> HouseholdsData:
    """Four thousand people from a fixed seed."""
    return generate_households(4000, 11)


def _frames_equal(first: HouseholdsData, second: HouseholdsData) -> bool:
    return (
        first.people.equals(second.people)
        and first.truth.equals(second.truth)
        and first.noise.equals(second.noise)
        and all(first.exports[a].equals(second.exports[a]) for a in HOUSEHOLD_AGENCIES)
    )


@pytest.mark.parametrize("seed", [0, 1, 99])
def test_a_seed_fixes_the_data(seed: int) -> None:
    """The same seed gives the same data; the next seed gives other data."""
    first = generate_households(300, seed)
    assert _frames_equal(first, generate_households(300, seed))
    assert not first.people.equals(generate_households(300, seed + 1).people)


@pytest.mark.parametrize("size", [0, 1, 2, 7, 301])
def test_size_is_the_number_of_people(size: int) -> None:
    """Every size gives exactly that many people, numbered from 1."""
    people = generate_households(size, 3).people
    assert people["person_id"].tolist() == list(range(1, size + 1))


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        generate_households(-1, 0)


def test_households_share_surname_and_address(data: HouseholdsData) -> None:
    """One surname, street and postcode per household; most households are 1-6."""
    per_household = data.people.groupby("household_id")[
        ["surname", "street", "postcode"]
    ].nunique()
    assert (per_household == 1).all().all()
    sizes = data.people.groupby("household_id").size()
    assert sizes.max() <= 6
    assert (sizes >= 3).mean() > 0.2


def test_twins_exist_with_different_names(data: HouseholdsData) -> None:
    """Twins share household and birth date, have different names, often one sex."""
    twins = data.people[data.people["twin"]]
    pairs = twins.groupby(["household_id", "date_of_birth"])
    assert pairs.ngroups >= 20
    assert (pairs.size() >= 2).all()
    assert (pairs["given_name"].nunique() == pairs.size()).all()
    assert (pairs["sex"].nunique() == 1).mean() > 0.5


def test_siblings_are_born_close_together(data: HouseholdsData) -> None:
    """Children of one household are born within a few years of each other."""
    people = data.people.assign(born=pd.to_datetime(data.people["date_of_birth"]))
    children = people[people["born"] > pd.Timestamp("2007-01-01")]
    spread = children.groupby("household_id")["born"].agg(lambda b: b.max() - b.min())
    assert spread.max() < pd.Timedelta(days=366 * 17)
    assert (spread[spread > pd.Timedelta(0)] < pd.Timedelta(days=366 * 6)).mean() > 0.7


def test_transliterated_names_differ_across_agencies(data: HouseholdsData) -> None:
    """A person's name appears in more than one spelling across the exports."""
    spellings: dict[int, set[str]] = {}
    for agency in ("hospital", "school", "benefits"):
        export = data.exports[agency]
        column = {"hospital": "forenames", "school": "given_name"}.get(
            agency, "first_name"
        )
        truth = data.truth[data.truth["agency"] == agency]
        for person, name in zip(truth["person_id"], export[column], strict=True):
            spellings.setdefault(int(person), set()).add(name)
    foreign = set(data.people.loc[data.people["origin"] != "english", "person_id"])
    varied = [p for p, names in spellings.items() if len(names - {""}) > 1]
    assert sum(p in foreign for p in varied) >= 20
    all_names = {name for names in spellings.values() for name in names}
    assert {"Mohammed", "Muhammad"} <= all_names or {"Yusuf", "Youssef"} <= all_names


def test_accents_are_kept_by_one_agency_and_stripped_by_another(
    data: HouseholdsData,
) -> None:
    hospital = "".join(data.exports["hospital"]["surname"])
    benefits = "".join(data.exports["benefits"]["last_name"])
    assert re.search(r"[ễầêạỳõặ]", hospital)
    assert benefits.isascii()


def test_some_people_have_several_hospital_records(data: HouseholdsData) -> None:
    counts = data.truth[data.truth["agency"] == "hospital"]["person_id"].value_counts()
    several = (counts >= 2).mean()
    assert 0.08 < several < 0.25
    assert counts.max() <= 4


def test_school_holds_children_only(data: HouseholdsData) -> None:
    school = data.truth[data.truth["agency"] == "school"]
    born = data.people.set_index("person_id").loc[school["person_id"], "date_of_birth"]
    assert (born > "2006-12-31").all() and (born < "2021-01-02").all()


@pytest.mark.parametrize("agency", HOUSEHOLD_AGENCIES)
def test_each_agency_writes_its_own_date_format(
    data: HouseholdsData, agency: str
) -> None:
    """The raw birth dates are in the agency's format; housing holds none."""
    export = data.exports[agency]
    date_columns = [c for c in export.columns if c.lower() in {"dob", "birth_date"}]
    if agency == "housing":
        assert date_columns == []
        return
    (column,) = date_columns
    dates = export[column][export[column] != ""]
    assert dates.str.fullmatch(DATE_PATTERNS[agency]).all()


def test_there_are_at_least_three_date_formats_besides_iso(
    data: HouseholdsData,
) -> None:
    assert len(set(DATE_PATTERNS) - {"school"}) >= 3


def test_benefits_holds_the_year_only_for_some(data: HouseholdsData) -> None:
    export = data.exports["benefits"]
    year_only = (export["dob"] == "") & (export["birth_year"] != "")
    assert 0.05 < year_only.mean() < 0.2


def test_agencies_lack_the_fields_they_do_not_hold(data: HouseholdsData) -> None:
    columns = {agency: set(frame.columns) for agency, frame in data.exports.items()}
    assert not {"sex", "gender", "SEX"} & columns["school"]
    assert not {"dob", "birth_date", "DOB", "gender", "SEX"} & columns["housing"]
    assert not {"address", "street", "postcode", "town"} & columns["court"]
    assert not {"address", "street", "gender", "SEX"} & columns["benefits"]


def test_errors_of_their_own_kind_occur(data: HouseholdsData) -> None:
    """Every kind of noise is there, at a few percent at most."""
    noise = data.noise
    for kind in ("date_error", "names_swapped", "old_address", "ocr", "typo"):
        assert noise[kind].any(), kind
        assert noise[kind].mean() < 0.1, kind
    assert noise["hyphen_dropped"].any()
    streets = " ".join(data.exports["hospital"]["address"])
    assert re.search(r" St\b", streets) and re.search(r" Street\b", streets)
    court_names = data.exports["court"]["NAME"]
    assert (court_names == court_names.str.upper()).all()


def test_housing_writes_chinese_names_surname_first(data: HouseholdsData) -> None:
    truth = data.truth[data.truth["agency"] == "housing"].reset_index(drop=True)
    people = data.people.set_index("person_id").loc[truth["person_id"]]
    chinese = (people["origin"] == "chinese").to_numpy()
    names = data.exports["housing"]["tenant_name"].to_numpy()
    assert chinese.any()
    first_words = np.array([name.split(" ")[0] for name in names[chinese]])
    # The house spelling often differs from the person's own, so compare loosely:
    # the first word is far more often a surname than a given name.
    surnames = {"Zhang", "Chang", "Cheung", "Wang", "Wong", "Li", "Lee", "Lei",
                "Chen", "Chan", "Chin", "Liu", "Lau", "Lao", "Huang", "Hwang",
                "Zhou", "Chow", "Chau", "Lin", "Lam", "Wu", "Ng", "Woo"}  # fmt: skip
    assert np.isin(first_words, list(surnames)).mean() > 0.8


@pytest.mark.parametrize("agency", HOUSEHOLD_AGENCIES)
def test_mapping_maps_the_export_without_problems(
    data: HouseholdsData, agency: str
) -> None:
    """Each mapping reads its export; correct dates map to the true birth date."""
    mapping = load_mapping(MAPPINGS / f"{agency}.yaml")
    export = data.exports[agency]
    mapping.check_columns(list(export.columns), agency)
    mapped = mapping.apply(export, source=agency, first_row=1)
    assert mapped.problems == []
    assert set(mapped.fields.columns) == FIELDS[agency]
    if "date_of_birth" not in FIELDS[agency]:
        return
    truth = data.truth[data.truth["agency"] == agency]
    noise = data.noise[data.noise["agency"] == agency]
    born = data.people.set_index("person_id").loc[truth["person_id"], "date_of_birth"]
    dates = mapped.fields["date_of_birth"].to_numpy()
    held = dates != ""
    correct = held & ~noise["date_error"].to_numpy()
    assert held.mean() > 0.8
    assert (dates[correct] == born.to_numpy()[correct]).all()
    assert (dates[held] != born.to_numpy()[held]).sum() == (
        held & noise["date_error"].to_numpy()
    ).sum()


def test_write_households_data(tmp_path: Path) -> None:
    """Each agency's CSV and the truth; the CSVs read back as the exports."""
    paths = write_households_data(tmp_path / "out", 300, 5)
    assert set(paths) == {*HOUSEHOLD_AGENCIES, "truth"}
    truth = pd.read_csv(paths["truth"], dtype=str, keep_default_na=False)
    assert list(truth.columns) == ["agency", "record_id", "person_id"]
    data = generate_households(300, 5)
    for agency in HOUSEHOLD_AGENCIES:
        export = pd.read_csv(paths[agency], dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(export, data.exports[agency].astype(str))
        assert len(export) == (truth["agency"] == agency).sum()
