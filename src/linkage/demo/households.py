"""A second synthetic population: households, transliterated names, five agencies.

:mod:`linkage.demo.generator` draws independent people. This generator is
written separately, with other habits, so that linkage rules tuned on the demo
population can be checked on data they were not tuned on:

* **Households.** People live in households of one to six: a single adult, a
  couple, or one or two adults with children. Everyone in a household shares
  the surname, the street address and the postcode. Children are born one to
  four years apart, and some are **twins**: same surname, birth date and
  address, different given names (sometimes as close as Anna and Hanna), often
  of the same sex. Some households moved; agencies with older snapshots hold
  the previous address.
* **Transliterated names.** About a third of households have Arabic, Slavic,
  Chinese or Vietnamese names, each written in several ways (Mohammed,
  Muhammad, Mohamed; Aleksandr, Alexander, Oleksandr; Zhang, Chang, Cheung).
  Every agency has a house spelling it uses about half the time. Vietnamese
  names carry their accents, which ASCII-only agencies strip, and the housing
  register writes Chinese names surname first in its one name column.
* **Five agencies holding different fields** (see the table), each with its
  own share of the population; the school holds children only.
* **Several records per person**: 15 % of the hospital's patients have two to
  four records, each with its own spelling, address snapshot and errors.
* **Dates written in each agency's way**, exported raw.
* **Errors of their own kind**: OCR confusions (``rn``/``m``, ``l``/``1``,
  ``O``/``0``), one part of a double-barrelled surname dropped, given name and
  surname swapped, street types abbreviated (``Street``/``St``), missing values
  at rates that differ by agency and field, and a few wrong birth dates.

================  ==========================================================
agency            columns
================  ==========================================================
hospital          episode_id, surname, forenames, dob ("3 March 1984", or
                  "3 Mar 1984" from an older system), gender
                  (Female/Male/Indeterminate), address (street types mostly
                  abbreviated), town, postcode; accents kept
school            pupil_ref, given_name, family_name, birth_date (ISO),
                  street, locality, post_code; children aged 4 to 17, no sex
housing           tenancy_ref, tenant_name ("Given Surname", Chinese names
                  "Surname Given"), address, suburb, postcode; whole
                  households, current address, no birth date and no sex
court             party_id, NAME ("SURNAME, GIVEN", ASCII upper case), DOB
                  (US month first, two-digit year: "3/17/84"), SEX (M/F/X/U);
                  people aged 14 and over, no address
benefits          claimant_no, first_name, last_name, dob ("03.03.1984"),
                  birth_year (some claimants gave the year only: dob empty),
                  postcode; ASCII, scanned forms (more OCR errors)
================  ==========================================================

Names come from small built-in tables and syllables combined at import, never
from ``linkage/data``, and are drawn with Zipf-like frequencies. Everything is
vectorised with numpy; only the records that get an error are touched one by
one, so 20,000 people take a second or two.

Example:
    >>> data = generate_households(200, seed=3)
    >>> sorted(data.exports)
    ['benefits', 'court', 'hospital', 'housing', 'school']
    >>> list(data.truth.columns)
    ['agency', 'record_id', 'person_id']
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.demo.files import write_exports
from linkage.encoding.normalise import strip_accents

__all__ = [
    "HOUSEHOLD_AGENCIES",
    "HouseholdsData",
    "generate_households",
    "write_households_data",
]

Texts = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: The agencies, in the order :func:`write_households_data` writes them.
HOUSEHOLD_AGENCIES: tuple[str, ...] = (
    "hospital",
    "school",
    "housing",
    "court",
    "benefits",
)

# Every age is measured at this day; it bounds birth dates and the school's
# age range, and with the court's two-digit years it fixes the century window
# (births fall in 1925 to 2024, so "pivot_year: 1925" reads them back).
_SNAPSHOT = np.datetime64("2025-01-01")
_OLDEST = np.datetime64("1926-01-01")
_DAYS_PER_YEAR = 365.25

_MONTHS = np.array(
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    dtype=object,
)

# Name tables ------------------------------------------------------------------
#
# Each entry is a family of spellings of one name; the first is the person's
# own. English names have one spelling (their variation is typing, not
# transliteration), the others several. Lists are ordered from common to rare,
# which the Zipf draw relies on.

_ENGLISH_FEMALE = (
    "Olivia Charlotte Amelia Isla Mia Ava Grace Harper Matilda Chloe Sophie "
    "Ruby Evie Zoe Ella Lucy Hazel Sienna Poppy Ivy Willow Freya Georgia "
    "Violet Alice Scarlett Audrey Madison Abigail Rose Eleanor Frances Heidi "
    "Imogen Jessica Kate Laura Megan Naomi Phoebe Rachel Stella Tessa Una "
    "Vera Wendy Yvonne Beatrice Clara Daisy Edith Fiona Gwen Harriet Iris "
    "Josephine Kirsten Lorna Maeve Nora Orla Penelope Rosalind Sybil Thea"
).split()
_ENGLISH_MALE = (
    "Oliver Jack Noah Henry Leo William Thomas Charlie Lucas Harrison Archie "
    "James Hudson Oscar Ethan Max Samuel Isaac Theodore Harvey Finn Riley "
    "Jacob Edward Alfie Arthur Benjamin Callum Daniel Elliot Felix George "
    "Hamish Ivan Joel Kieran Lewis Marcus Nathan Owen Patrick Quentin Rory "
    "Simon Tobias Vincent Walter Xavier Angus Bernard Cedric Declan Edmund "
    "Fergus Gordon Hugh Ignatius Jasper Kenneth Lionel Murray Neville Percy"
).split()
_ENGLISH_SURNAMES = (
    "Taylor Brown Wilson Thompson White Walker Harris Lewis Robinson Wright "
    "Hughes Edwards Green Hall Wood Clarke Jackson Turner Hill Moore Cooper "
    "Ward Morris King Baker Carter Phillips Parker Evans Bennett Griffiths "
    "Collins Stewart Murphy Cook Rogers Morgan Bell Murray Reid Kelly "
    "Fletcher Dawson Hartley Pemberton Ashworth Whitfield Blackwood "
    "Fairbanks Holloway Kingsley Lockhart Merriweather Northcott Pritchard "
    "Quayle Radcliffe Sutcliffe Thornbury Underhill Vickers Wetherby "
    "Yardley Abernethy Braithwaite Cartwright Dunmore Ellwood Fothergill "
    "Gladstone Hollingsworth Illingworth Jessop Kilbride Longbottom"
).split()

# Syllables for a long tail of rare English-looking names: common names come
# from the lists above, rare ones are made up, so a name's frequency falls off
# smoothly as in a real register.
_ONSETS = ("Br", "C", "D", "El", "G", "Har", "K", "L", "M", "N", "Per", "R", "S")
_MIDDLES = ("a", "e", "i", "o", "ay", "ue", "ea")
_FEMALE_ENDS = ("lla", "na", "ssa", "ra", "lie", "nne", "tte")
_MALE_ENDS = ("n", "rd", "x", "ck", "lton", "mond", "ric")
_SURNAME_STARTS = (
    "Ash Birch Brook Cole Dale Fen Glen Hather Ing Kirk Lang Marsh Oak Pen "
    "Red Stan Thorn Wes Whin"
).split()
_SURNAME_ENDS = (
    "by croft dale field ford gate ham hurst ley mere ton well wick worth".split()
)


_ARABIC_FEMALE = (
    ("Fatima", "Fatimah", "Fatma"),
    ("Aisha", "Aysha", "Ayesha", "Aicha"),
    ("Maryam", "Mariam", "Meriem"),
    ("Zainab", "Zaynab", "Zeinab"),
    ("Nour", "Noor", "Nur"),
    ("Layla", "Leila", "Laila"),
    ("Khadija", "Khadijah", "Khadeeja"),
    ("Yasmin", "Yasmine", "Jasmin"),
    ("Amira", "Ameera"),
    ("Huda", "Hoda"),
)
_ARABIC_MALE = (
    ("Mohammed", "Muhammad", "Mohamed", "Mohammad", "Muhammed"),
    ("Ahmed", "Ahmad", "Ahmet"),
    ("Yusuf", "Youssef", "Yousef", "Yusif"),
    ("Omar", "Umar", "Omer"),
    ("Hussein", "Hussain", "Husain", "Hossein"),
    ("Abdullah", "Abdallah", "Abdulla"),
    ("Khalid", "Khaled", "Chalid"),
    ("Mustafa", "Mustapha", "Moustafa"),
    ("Ibrahim", "Ebrahim", "Ibraheem"),
    ("Hassan", "Hasan"),
    ("Tariq", "Tarek", "Tarik"),
)
_ARABIC_SURNAMES = (
    ("Al-Hassan", "Alhassan", "El-Hassan"),
    ("Haddad", "Hadad"),
    ("Khoury", "Khouri", "El-Khoury"),
    ("Rahman", "Rehman", "Rachman"),
    ("Abdullah", "Abdallah"),
    ("Mansour", "Mansur", "Mansoor"),
    ("Saleh", "Salih", "Saleh"),
    ("Nasser", "Nasir", "Naser"),
    ("Hamdan", "Hamdane"),
    ("Qureshi", "Koreshi", "Kureshi"),
)
_SLAVIC_FEMALE = (
    ("Natalia", "Natalya", "Nataliya"),
    ("Olga", "Olha", "Olgha"),
    ("Yulia", "Julia", "Yuliya", "Iuliia"),
    ("Ekaterina", "Yekaterina", "Katerina", "Kateryna"),
    ("Tatiana", "Tatyana", "Tetiana"),
    ("Svetlana", "Swetlana", "Svitlana"),
    ("Anastasia", "Anastasiya", "Anastasija"),
    ("Ksenia", "Kseniya", "Xenia"),
)
_SLAVIC_MALE = (
    ("Aleksandr", "Alexander", "Oleksandr", "Aleksander"),
    ("Sergei", "Sergey", "Serhiy", "Sergej"),
    ("Dmitri", "Dmitry", "Dmytro", "Dmitrij"),
    ("Yuri", "Yury", "Iurii", "Yuriy"),
    ("Andrei", "Andrey", "Andriy"),
    ("Mikhail", "Mykhailo", "Michail"),
    ("Nikolai", "Nikolay", "Mykola"),
    ("Vladimir", "Volodymyr", "Wladimir"),
)
_SLAVIC_SURNAMES = (
    ("Kuznetsov", "Kouznetsov", "Kuznetsow"),
    ("Ivanov", "Ivanoff", "Iwanow"),
    ("Shevchenko", "Schewtschenko", "Chevtchenko"),
    ("Popov", "Popoff", "Popow"),
    ("Kovalenko", "Kowalenko"),
    ("Smirnov", "Smirnoff", "Smirnow"),
    ("Tkachenko", "Tkatchenko"),
    ("Volkov", "Wolkow", "Volkoff"),
    ("Sokolov", "Sokoloff"),
    ("Bondarenko", "Bondarenco"),
)
_CHINESE_FEMALE = (
    ("Xiuying", "Xiu Ying", "Hsiu-ying"),
    ("Jing", "Ching"),
    ("Li Na", "Lina"),
    ("Mei", "May"),
    ("Xiaoling", "Hsiao-ling", "Siu Ling"),
    ("Yan", "Yen"),
)
_CHINESE_MALE = (
    ("Wei", "Wai"),
    ("Jun", "Chun"),
    ("Zhiwei", "Chih-wei", "Chi Wai"),
    ("Hao", "Ho"),
    ("Jian", "Chien", "Kin"),
    ("Qiang", "Chiang", "Keung"),
)
_CHINESE_SURNAMES = (
    ("Zhang", "Chang", "Cheung"),
    ("Wang", "Wong"),
    ("Li", "Lee", "Lei"),
    ("Chen", "Chan", "Chin"),
    ("Liu", "Lau", "Lao"),
    ("Huang", "Hwang", "Wong"),
    ("Zhou", "Chow", "Chau"),
    ("Lin", "Lam"),
    ("Wu", "Ng", "Woo"),
)
# Vietnamese names keep their accents in the first spelling; agencies that
# store plain ASCII strip them, which is the variation this origin adds.
_VIETNAMESE_FEMALE = (
    ("Thảo", "Thao"),
    ("Ngọc", "Ngoc"),
    ("Hương", "Huong", "Houng"),
    ("Linh",),
    ("Trang",),
    ("Phương", "Phuong"),
)
_VIETNAMESE_MALE = (
    ("Tuấn", "Tuan"),
    ("Đức", "Duc", "Duk"),
    ("Minh",),
    ("Hùng", "Hung"),
    ("Quang",),
    ("Dũng", "Dung"),
)
_VIETNAMESE_SURNAMES = (
    ("Nguyễn", "Nguyen", "Nguyên"),
    ("Trần", "Tran"),
    ("Lê", "Le"),
    ("Phạm", "Pham"),
    ("Huỳnh", "Huynh"),
    ("Võ", "Vo", "Vu"),
    ("Đặng", "Dang"),
)

# Close names parents give twins of the same sex; a twin pair gets one of
# these a third of the time (English households).
_TWIN_NAMES = {
    "f": (
        ("Anna", "Hanna"),
        ("Ella", "Bella"),
        ("Lily", "Lila"),
        ("Mia", "Maya"),
        ("Sara", "Zara"),
        ("Emma", "Gemma"),
        ("Ava", "Eva"),
    ),
    "m": (
        ("Ethan", "Nathan"),
        ("Aiden", "Jayden"),
        ("Noah", "Jonah"),
        ("Leo", "Theo"),
        ("Max", "Alex"),
        ("Mason", "Jason"),
    ),
}

_ORIGINS = ("english", "arabic", "slavic", "chinese", "vietnamese")
_ORIGIN_SHARES = (0.66, 0.10, 0.09, 0.08, 0.07)

# Places -------------------------------------------------------------------------

_STREET_WORDS = (
    "Acacia Banksia Cedar Dunmore Elm Fernhill Gully Heath Ironbark Jubilee "
    "Kurrajong Larch Maple Norfolk Orchard Pine Quarry Railway Station Tannery "
    "Union Valley Wattle Windmill Yarra Albion Bridge Church Canal Dock Forge "
    "Granary Harbour Kiln Lagoon Market Mill Nursery Oval Pottery Reservoir"
).split()
# (full, abbreviation, weight)
_STREET_TYPES = (
    ("Street", "St", 35),
    ("Road", "Rd", 22),
    ("Avenue", "Ave", 12),
    ("Drive", "Dr", 8),
    ("Court", "Ct", 6),
    ("Place", "Pl", 5),
    ("Crescent", "Cres", 4),
    ("Terrace", "Tce", 3),
    ("Parade", "Pde", 3),
    ("Highway", "Hwy", 2),
)
_TOWN_STARTS = (
    "Ash Bell Cray Dun Elder Fair Glen Holm Kings Lind Moss Nor Port Rich".split()
)
_TOWN_ENDS = ("bury", "field", "haven", "mont", "vale", "ton", "wood", "ridge")


@dataclass(frozen=True)
class _Names:
    """Every name family in one padded table, and each origin's rows of it."""

    spellings: Texts  # (families, widest family); "" pads short families
    counts: Ints  # spellings per family
    female: Mapping[str, Ints]
    male: Mapping[str, Ints]
    surnames: Mapping[str, Ints]
    by_name: Mapping[str, int]  # a family's first spelling -> its row


def _build_names() -> _Names:
    families: list[tuple[str, ...]] = []

    def rows(entries: Sequence[tuple[str, ...]]) -> Ints:
        start = len(families)
        families.extend(entries)
        return np.arange(start, len(families), dtype=np.int64)

    def single(names: Sequence[str]) -> list[tuple[str, ...]]:
        return [(name,) for name in names]

    made_female = _made_up(_ONSETS, _MIDDLES, _FEMALE_ENDS)[::3]
    made_male = _made_up(_ONSETS, _MIDDLES, _MALE_ENDS)[::3]
    made_surnames = [a + b for a in _SURNAME_STARTS for b in _SURNAME_ENDS]
    female = {
        "english": rows(single([*_ENGLISH_FEMALE, *made_female])),
        "arabic": rows(_ARABIC_FEMALE),
        "slavic": rows(_SLAVIC_FEMALE),
        "chinese": rows(_CHINESE_FEMALE),
        "vietnamese": rows(_VIETNAMESE_FEMALE),
    }
    male = {
        "english": rows(single([*_ENGLISH_MALE, *made_male])),
        "arabic": rows(_ARABIC_MALE),
        "slavic": rows(_SLAVIC_MALE),
        "chinese": rows(_CHINESE_MALE),
        "vietnamese": rows(_VIETNAMESE_MALE),
    }
    surnames = {
        "english": rows(single([*_ENGLISH_SURNAMES, *made_surnames])),
        "arabic": rows(_ARABIC_SURNAMES),
        "slavic": rows(_SLAVIC_SURNAMES),
        "chinese": rows(_CHINESE_SURNAMES),
        "vietnamese": rows(_VIETNAMESE_SURNAMES),
    }
    # Twins' close names are in the table even when no pool draws them.
    known = {family[0] for family in families}
    pairs = (pair for pairs in _TWIN_NAMES.values() for pair in pairs)
    rows(single(sorted({name for pair in pairs for name in pair} - known)))
    by_name: dict[str, int] = {}
    for row, family in enumerate(families):
        by_name.setdefault(family[0], row)
    width = max(len(family) for family in families)
    spellings = np.array(
        [[*family, *[""] * (width - len(family))] for family in families], dtype=object
    )
    counts = np.array([len(family) for family in families], dtype=np.int64)
    return _Names(spellings, counts, female, male, surnames, by_name)


def _made_up(
    starts: Sequence[str], middles: Sequence[str], ends: Sequence[str]
) -> list[str]:
    return ["".join(parts) for parts in itertools.product(starts, middles, ends)]


def _build_towns() -> tuple[Texts, Texts]:
    """Towns and their postcodes, fixed (not drawn per seed) like a real map."""
    towns = [a + b for a in _TOWN_STARTS for b in _TOWN_ENDS][::2]
    # A fixed generator: the map is part of the module, not of a population.
    codes = np.random.default_rng(2718).choice(
        np.arange(800, 9999), len(towns), replace=False
    )
    return (
        np.array(towns, dtype=object),
        np.char.zfill(codes.astype(str), 4).astype(object),
    )


_NAMES = _build_names()
_TOWNS, _POSTCODES = _build_towns()
_ABBREVIATIONS = {full: short for full, short, _ in _STREET_TYPES}


# Result -------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdsData:
    """A population in households and what five agencies hold of it.

    Attributes:
        people: One row per person, the truth: ``person_id`` (1 to size),
            ``household_id``, ``origin`` (``english``, ``arabic``, ``slavic``,
            ``chinese`` or ``vietnamese``), ``given_name`` and ``surname`` in
            the person's own spelling, ``sex`` (``f``, ``m`` or ``x``),
            ``date_of_birth`` (ISO), ``twin`` (shares a birth date with a
            sibling), ``street``, ``town``, ``postcode`` (current) and
            ``previous_street``, ``previous_town``, ``previous_postcode``
            (``""`` unless the household moved).
        exports: Each agency's raw export, every value text, ``""`` for none.
        truth: ``agency``, ``record_id``, ``person_id``: who each record is.
        noise: ``agency``, ``record_id`` and what was done to the record, each
            a bool: ``date_error`` (the birth date written is wrong),
            ``names_swapped``, ``old_address`` (the previous address),
            ``respelt`` (a name in another spelling than the person's own),
            ``ocr``, ``typo`` and ``hyphen_dropped``.
    """

    people: pd.DataFrame
    exports: Mapping[str, pd.DataFrame]
    truth: pd.DataFrame
    noise: pd.DataFrame


def generate_households(size: int, seed: int) -> HouseholdsData:
    """Draw ``size`` people in households and play the five agencies.

    The same ``size`` and ``seed`` always give the same data.

    Raises:
        ValueError: ``size`` is negative.
    """
    if size < 0:
        raise ValueError(f"'size' must be zero or more (got {size})")
    people_rng, *agency_rngs = np.random.default_rng(seed).spawn(
        1 + len(HOUSEHOLD_AGENCIES)
    )
    people = _population(size, people_rng)
    exports: dict[str, pd.DataFrame] = {}
    truths, noises = [], []
    for agency, rng in zip(HOUSEHOLD_AGENCIES, agency_rngs, strict=True):
        export, truth, noise = _export(people, _AGENCIES[agency], rng)
        exports[agency] = export
        truths.append(truth)
        noises.append(noise)
    return HouseholdsData(
        people=people.frame(),
        exports=exports,
        truth=pd.concat(truths, ignore_index=True),
        noise=pd.concat(noises, ignore_index=True),
    )


def write_households_data(folder: Path, size: int, seed: int) -> dict[str, Path]:
    """Write each agency's export as ``<agency>.csv`` and the truth as ``truth.csv``.

    ``truth.csv`` has the columns ``agency``, ``record_id`` and ``person_id``,
    as :func:`linkage.demo.write_demo_data` writes it. The same ``size`` and
    ``seed`` always write the same files.

    Returns:
        The path of each file, keyed by agency and ``"truth"``.
    """
    data = generate_households(size, seed)
    return write_exports(folder, data.exports, data.truth)


# Population -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Population:
    """People as columns; names are rows of the name table, not yet spelt."""

    household: Ints
    origin: Texts
    given: Ints
    surname: Ints
    second_surname: Ints  # a double-barrelled surname's second part, or -1
    sex: Texts
    birth: npt.NDArray[np.datetime64]
    twin: Bools
    street: Texts
    town: Texts
    postcode: Texts
    moved: Bools
    previous_street: Texts
    previous_town: Texts
    previous_postcode: Texts

    def __len__(self) -> int:
        return len(self.household)

    def frame(self) -> pd.DataFrame:
        first = np.zeros(len(self), dtype=np.int64)
        surname = _NAMES.spellings[self.surname, 0]
        second = _NAMES.spellings[np.maximum(self.second_surname, 0), 0]
        return pd.DataFrame(
            {
                "person_id": np.arange(1, len(self) + 1, dtype=np.int64),
                "household_id": self.household + 1,
                "origin": self.origin,
                "given_name": _NAMES.spellings[self.given, first],
                "surname": np.where(
                    self.second_surname >= 0, surname + "-" + second, surname
                ),
                "sex": self.sex,
                "date_of_birth": _iso(self.birth),
                "twin": self.twin,
                "street": self.street,
                "town": self.town,
                "postcode": self.postcode,
                "previous_street": np.where(self.moved, self.previous_street, ""),
                "previous_town": np.where(self.moved, self.previous_town, ""),
                "previous_postcode": np.where(self.moved, self.previous_postcode, ""),
            }
        )


def _iso(days: npt.NDArray[np.datetime64]) -> Texts:
    return np.datetime_as_string(days, unit="D").astype(object)


def _zipf_pick(pool: Ints, count: int, rng: np.random.Generator, skew: float) -> Ints:
    """Draw ``count`` entries of ``pool``, the first ones far more often."""
    weights = 1.0 / np.arange(1, len(pool) + 1, dtype=np.float64) ** skew
    picked: Ints = pool[rng.choice(len(pool), count, p=weights / weights.sum())]
    return picked


def _population(size: int, rng: np.random.Generator) -> _Population:
    # Household sizes, drawn until they hold everyone; the last one is cut.
    sizes = rng.choice(
        np.arange(1, 7, dtype=np.int64),
        size // 2 + 8,
        p=[0.27, 0.31, 0.17, 0.15, 0.07, 0.03],
    )
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), size)) + 1]
    sizes[-1] -= int(sizes.sum()) - size
    sizes = sizes[sizes > 0]
    households = len(sizes)
    household = np.repeat(np.arange(households, dtype=np.int64), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    position = np.arange(size, dtype=np.int64) - starts[household]

    # A single adult, a couple, or one or two parents with their children.
    single_parent = (sizes >= 2) & (rng.random(households) < 0.22)
    adults = np.where((sizes == 1) | single_parent, 1, 2)
    adult = position < adults[household]
    child_rank = position - adults[household]  # 0 is the eldest child
    birth, later_twin = _birth_dates(
        household, position, child_rank, sizes > adults, rng
    )
    sex = _sexes(adult, position, later_twin, rng)
    twin = later_twin | np.append(later_twin[1:], False)

    origin_of = rng.choice(
        np.array(_ORIGINS, dtype=object), households, p=_ORIGIN_SHARES
    )
    origin = origin_of[household]
    surname_of = np.empty(households, dtype=np.int64)
    for name in _ORIGINS:
        where = np.flatnonzero(origin_of == name)
        surname_of[where] = _zipf_pick(_NAMES.surnames[name], len(where), rng, 1.05)
    # Some English households carry a double-barrelled surname.
    second = _zipf_pick(_NAMES.surnames["english"], households, rng, 1.05)
    barrelled = (
        (origin_of == "english")
        & (rng.random(households) < 0.07)
        & (second != surname_of)
    )
    given = _given_names(origin, sex, rng)
    given = _twin_names(given, later_twin, sex, origin, rng)

    street, town, postcode = _addresses(households, rng)
    moved = rng.random(households) < 0.2
    old_street, old_town, old_postcode = _addresses(households, rng)
    return _Population(
        household=household,
        origin=origin,
        given=given,
        surname=surname_of[household],
        second_surname=np.where(barrelled, second, -1)[household],
        sex=sex,
        birth=birth,
        twin=twin,
        street=street[household],
        town=town[household],
        postcode=postcode[household],
        moved=moved[household],
        previous_street=old_street[household],
        previous_town=old_town[household],
        previous_postcode=old_postcode[household],
    )


def _days(years: float) -> int:
    return round(years * _DAYS_PER_YEAR)


def _birth_dates(
    household: Ints,
    position: Ints,
    child_rank: Ints,
    has_children: Bools,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.datetime64], Bools]:
    """Partners near each other's age; children 1 to 4 years apart, some twins.

    Returns:
        The birth dates, and which people are the later-born of a twin pair
        (born on the same day as the sibling just before them).
    """
    households, size = len(has_children), len(household)
    span = int((_SNAPSHOT - _OLDEST).astype(np.int64))
    # Parents are young enough to have had all their children by the snapshot;
    # other adults are 18 or older.
    parent_low = int((np.datetime64("1955-01-01") - _OLDEST).astype(np.int64))
    parent_high = int((np.datetime64("1999-01-01") - _OLDEST).astype(np.int64))
    base = np.where(
        has_children,
        rng.integers(parent_low, parent_high, households),
        rng.integers(0, span - _days(18), households),
    )
    partner = np.clip(
        base[household] + np.round(rng.normal(0, 900, size)).astype(np.int64),
        0,
        span - _days(18),
    )
    offset = np.where(position == 0, base[household], partner)

    # The youngest child is born when the first parent is 24 to 42, before the
    # snapshot; each elder sibling 1 to 4 years earlier, or the same day (twin).
    low = base + _days(24)
    high = np.minimum(base + _days(42), span - 30)
    youngest = low + (rng.random(households) * (high - low)).astype(np.int64)
    child = child_rank >= 0
    later_twin = child & (child_rank > 0) & (rng.random(size) < 0.09)
    gap = np.where(
        child & (child_rank > 0) & ~later_twin,
        rng.integers(_days(1.1), _days(4), size),
        0,
    )
    # A child is born ``youngest`` minus the gaps of every younger sibling: a
    # cumulative sum per household from the youngest back, without its own gap.
    from_youngest = pd.Series(gap[::-1]).groupby(household[::-1]).cumsum()
    younger_gaps = from_youngest.to_numpy()[::-1] - gap
    offset = np.where(child, youngest[household] - younger_gaps, offset)
    birth = _OLDEST + offset.astype("timedelta64[D]")
    return birth, later_twin


def _sexes(
    adult: Bools, position: Ints, later_twin: Bools, rng: np.random.Generator
) -> Texts:
    size = len(adult)
    codes = np.array(["f", "m", "x"], dtype=object)
    sex: Texts = codes[rng.choice(3, size, p=[0.495, 0.495, 0.01])]
    # Most couples are a woman and a man: the second adult follows the first.
    partner = adult & (position == 1) & (rng.random(size) < 0.93)
    before = np.roll(sex, 1)
    sex = np.where(partner & (before != "x"), np.where(before == "f", "m", "f"), sex)
    # Identical twins share their sex and half the others do by chance, so
    # about two thirds of twin pairs are of one sex. In order, so triplets chain.
    for index in np.flatnonzero(later_twin & (rng.random(size) < 0.35)):
        sex[index] = sex[index - 1]
    return sex


def _given_names(origin: Texts, sex: Texts, rng: np.random.Generator) -> Ints:
    given = np.empty(len(origin), dtype=np.int64)
    female = (sex == "f") | ((sex == "x") & (rng.random(len(sex)) < 0.5))
    for name in _ORIGINS:
        for pool, chosen in (
            (_NAMES.female[name], female),
            (_NAMES.male[name], ~female),
        ):
            where = np.flatnonzero((origin == name) & chosen)
            given[where] = _zipf_pick(pool, len(where), rng, 0.95)
    return given


def _twin_names(
    given: Ints,
    later_twin: Bools,
    sex: Texts,
    origin: Texts,
    rng: np.random.Generator,
) -> Ints:
    """Give twins different names, and a third of same-sex English pairs close ones."""
    given = given.copy()
    for index in np.flatnonzero(later_twin):
        elder = index - 1
        pairs = _TWIN_NAMES.get(str(sex[index]), ())
        close = sex[elder] == sex[index] and origin[index] == "english"
        if pairs and close and rng.random() < 0.35:
            first, second = pairs[int(rng.integers(len(pairs)))]
            given[elder] = _NAMES.by_name[first]
            given[index] = _NAMES.by_name[second]
        elif given[index] == given[elder]:
            # Parents do not give twins one name: take the next in the pool.
            pools = _NAMES.female if sex[index] == "f" else _NAMES.male
            pool = pools[str(origin[index])]
            spot = np.flatnonzero(pool == given[index])
            given[index] = pool[(int(spot[0]) + 1 if len(spot) else 0) % len(pool)]
    return given


def _addresses(count: int, rng: np.random.Generator) -> tuple[Texts, Texts, Texts]:
    """Street addresses (full street type), towns and their postcodes."""
    numbers = np.minimum(rng.zipf(1.6, count), 300).astype(str).astype(object)
    words = np.array(_STREET_WORDS, dtype=object)
    names = words[_zipf_pick(np.arange(len(words)), count, rng, 0.7)]
    kinds = np.array([full for full, _, _ in _STREET_TYPES], dtype=object)
    weights = np.array([weight for _, _, weight in _STREET_TYPES], dtype=np.float64)
    kind = kinds[rng.choice(len(kinds), count, p=weights / weights.sum())]
    town = _zipf_pick(np.arange(len(_TOWNS)), count, rng, 0.6)
    street: Texts = numbers + " " + names + " " + kind
    return street, _TOWNS[town], _POSTCODES[town]


# Agencies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Records:
    """One agency's records, as columns; ``""`` is a missing value."""

    origin: Texts
    given: Texts
    surname: Texts
    sex: Texts
    year: Ints
    month: Ints
    day: Ints
    has_birth: Bools
    street: Texts
    town: Texts
    postcode: Texts
    names_swapped: Bools


@dataclass(frozen=True)
class _Agency:
    """How one agency holds people and what it gets wrong.

    Rates are per record. ``missing`` gives the share of records without each
    field; ``stale`` the share of a moved household's records that still hold
    the previous address; ``house_spelling`` the spelling (index into a name
    family) the agency writes about half the time.
    """

    name: str
    id_column: str
    id_prefix: str
    share: float
    eligible: Callable[[_Population], Bools]
    render: Callable[[_Records, np.random.Generator], dict[str, Texts]]
    whole_households: bool = False
    repeats: float = 0.0  # share of its people with 2 to 4 records
    house_spelling: int = 0
    ascii_only: bool = False
    stale: float = 0.3
    typo: float = 0.01
    ocr: float = 0.005
    swap: float = 0.0
    hyphen_dropped: float = 0.1
    date_error: float = 0.01
    missing: Mapping[str, float] = field(default_factory=dict)


def _export(
    people: _Population, agency: _Agency, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One agency's export, its truth and what was done to each record."""
    rows = _held(people, agency, rng)
    count = len(rows)

    def chance(rate: float) -> Bools:
        return rng.random(count) < rate

    given, given_respelt = _spelt(people.given[rows], agency, rng)
    surname, surname_respelt = _spelt(people.surname[rows], agency, rng)
    second = people.second_surname[rows]
    second_text, second_respelt = _spelt(np.maximum(second, 0), agency, rng)
    barrelled = second >= 0
    # A register whose surname field is short, or a clerk in a hurry, keeps
    # one part of a double-barrelled surname, either one.
    dropped = barrelled & chance(agency.hyphen_dropped)
    keep_second = dropped & chance(0.4)
    surname = np.where(
        barrelled & ~dropped,
        surname + "-" + second_text,
        np.where(keep_second, second_text, surname),
    )
    respelt = given_respelt | surname_respelt | (barrelled & second_respelt)
    if agency.ascii_only:
        given, surname = (
            _per_unique(given, strip_accents),
            _per_unique(surname, strip_accents),
        )

    old = people.moved[rows] & chance(agency.stale)
    street = np.where(old, people.previous_street[rows], people.street[rows])
    town = np.where(old, people.previous_town[rows], people.town[rows])
    postcode = np.where(old, people.previous_postcode[rows], people.postcode[rows])

    ocr = chance(agency.ocr)
    given = _garbled(given, ocr & chance(0.5), _ocr, rng)
    surname = _garbled(surname, ocr & chance(0.6), _ocr, rng)
    street = _garbled(street, ocr & chance(0.4), _ocr, rng)
    typo = chance(agency.typo)
    given = _garbled(given, typo & chance(0.5), _typo, rng)
    surname = _garbled(surname, typo & chance(0.5), _typo, rng)

    swapped = chance(agency.swap) & (given != "") & (surname != "")
    given, surname = (
        np.where(swapped, surname, given),
        np.where(swapped, given, surname),
    )

    birth = people.birth[rows]
    year, month, day, date_error = _date_errors(birth, chance(agency.date_error), rng)

    def blank(values: Texts, field: str) -> Texts:
        return np.where(chance(agency.missing.get(field, 0.0)), "", values)

    records = _Records(
        origin=people.origin[rows],
        given=blank(given, "given"),
        surname=blank(surname, "surname"),
        sex=blank(people.sex[rows], "sex"),
        year=year,
        month=month,
        day=day,
        has_birth=~chance(agency.missing.get("birth", 0.0)),
        street=blank(street, "street"),
        town=blank(town, "town"),
        postcode=blank(postcode, "postcode"),
        names_swapped=swapped,
    )
    record_ids = np.array(
        [f"{agency.id_prefix}{number:07d}" for number in range(1, count + 1)],
        dtype=object,
    )
    export = pd.DataFrame({agency.id_column: record_ids, **agency.render(records, rng)})
    truth = pd.DataFrame(
        {"agency": agency.name, "record_id": record_ids, "person_id": rows + 1}
    )
    noise = pd.DataFrame(
        {
            "agency": agency.name,
            "record_id": record_ids,
            "date_error": date_error & records.has_birth,
            "names_swapped": swapped,
            "old_address": old,
            "respelt": respelt,
            "ocr": ocr,
            "typo": typo,
            "hyphen_dropped": dropped,
        }
    )
    return export, truth, noise


def _held(people: _Population, agency: _Agency, rng: np.random.Generator) -> Ints:
    """The population rows of the agency's records, repeats included, shuffled."""
    eligible = agency.eligible(people)
    if agency.whole_households:
        households = int(people.household.max()) + 1 if len(people) else 0
        chosen = rng.random(households) < agency.share
        held = np.flatnonzero(eligible & chosen[people.household])
    else:
        held = np.flatnonzero(eligible & (rng.random(len(people)) < agency.share))
    # Some people have 2, 3 or 4 records: a record per hospital stay, say.
    repeated = held[rng.random(len(held)) < agency.repeats]
    extra = rng.choice(
        np.array([1, 2, 3], dtype=np.int64), len(repeated), p=[0.6, 0.3, 0.1]
    )
    rows = np.concatenate([held, np.repeat(repeated, extra)]).astype(np.int64)
    rng.shuffle(rows)
    return rows


def _spelt(
    families: Ints, agency: _Agency, rng: np.random.Generator
) -> tuple[Texts, Bools]:
    """Write names in the agency's house spelling half the time, else any.

    Returns:
        The names, and which are not in the family's first (the person's own)
        spelling.
    """
    counts = _NAMES.counts[families]
    house = agency.house_spelling % counts
    pick = np.where(
        rng.random(len(families)) < 0.5,
        house,
        rng.integers(0, 1 << 30, len(families)) % counts,
    )
    spelt: Texts = _NAMES.spellings[families, pick]
    return spelt, pick != 0


def _per_unique(values: Texts, function: Callable[[str], str]) -> Texts:
    codes, uniques = pd.factorize(values)
    mapped: Texts = np.array([function(str(value)) for value in uniques], dtype=object)
    return mapped[codes] if len(codes) else values.copy()


def _garbled(
    values: Texts,
    chosen: Bools,
    garble: Callable[[str, float, float], str],
    rng: np.random.Generator,
) -> Texts:
    """Apply ``garble`` to the chosen non-empty values, one by one."""
    where = np.flatnonzero(chosen & (values != ""))
    result = values.copy()
    for index, first, second in zip(
        where, rng.random(len(where)), rng.random(len(where)), strict=True
    ):
        result[index] = garble(str(values[index]), float(first), float(second))
    return result


# What a scanner misreads: each pair (printed, read) applies in both directions.
_OCR_CONFUSIONS = (
    ("rn", "m"),
    ("l", "1"),
    ("I", "l"),
    ("O", "0"),
    ("o", "0"),
    ("cl", "d"),
    ("e", "c"),
    ("h", "b"),
    ("S", "5"),
    ("B", "8"),
    ("vv", "w"),
)


def _ocr(text: str, which: float, where: float) -> str:
    """One OCR confusion at one place in ``text`` (unchanged if none applies)."""
    options = [
        (read, printed)
        for pair in _OCR_CONFUSIONS
        for read, printed in (pair, pair[::-1])
        if read in text
    ]
    if not options:
        return text
    read, printed = options[int(which * len(options))]
    spots = [i for i in range(len(text)) if text.startswith(read, i)]
    at = spots[int(where * len(spots))]
    return text[:at] + printed + text[at + len(read) :]


_NEIGHBOURS = {
    "a": "qsz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh",
    "h": "gj", "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm",
    "o": "ip", "p": "o", "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi",
    "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}  # fmt: skip


def _typo(text: str, kind: float, where: float) -> str:
    """A keyboard slip: a neighbouring key, a doubled or a dropped letter."""
    at = int(where * len(text))
    letter = text[at]
    if kind < 0.5 and letter.lower() in _NEIGHBOURS:
        keys = _NEIGHBOURS[letter.lower()]
        new = keys[int(kind * 2 * len(keys))]
        return text[:at] + (new.upper() if letter.isupper() else new) + text[at + 1 :]
    if kind < 0.75 or len(text) < 3:
        return text[: at + 1] + letter.lower() + text[at + 1 :]
    return text[:at] + text[at + 1 :]


def _date_errors(
    birth: npt.NDArray[np.datetime64], chosen: Bools, rng: np.random.Generator
) -> tuple[Ints, Ints, Ints, Bools]:
    """Year, month and day, a chosen few wrong; wrong dates are real dates.

    The errors: day and month swapped (read in the other convention), another
    day of the month, or the year one off.
    """
    months = birth.astype("datetime64[M]")
    years = birth.astype("datetime64[Y]")
    year = years.astype(np.int64) + 1970
    month = (months - years).astype(np.int64) + 1
    day = (birth - months).astype(np.int64) + 1
    kind = rng.integers(0, 3, len(birth))
    swap = chosen & (kind == 0) & (day <= 12) & (day != month)
    new_day = chosen & (kind == 1)
    shifted = rng.integers(1, 29, len(birth))
    new_day &= shifted != day
    leap_day = (month == 2) & (day == 29)
    new_year = chosen & (kind == 2) & ~leap_day
    return (
        np.where(new_year, year + rng.choice([-1, 1], len(birth)), year),
        np.where(swap, day, month),
        np.where(swap, month, np.where(new_day, shifted, day)),
        swap | new_day | new_year,
    )


def _text(numbers: Ints, width: int = 0) -> Texts:
    if width == 0 or len(numbers) == 0:
        return numbers.astype(str).astype(object)
    return np.char.zfill(numbers.astype(str), width).astype(object)


def _dates(records: _Records, render: Callable[[Ints, Ints, Ints], Texts]) -> Texts:
    return np.where(
        records.has_birth, render(records.year, records.month, records.day), ""
    )


def _abbreviated(streets: Texts, chosen: Bools) -> Texts:
    """Write the street type of the chosen streets short: Street -> St."""

    def short(street: str) -> str:
        head, _, kind = street.rpartition(" ")
        return f"{head} {_ABBREVIATIONS.get(kind, kind)}" if head else street

    return np.where(chosen, _per_unique(streets, short), streets)


def _hospital(records: _Records, rng: np.random.Generator) -> dict[str, Texts]:
    count = len(records.given)
    # Records from the old patient system name the month short: "3 Mar 1984".
    short_month = rng.random(count) < 0.2
    months = np.where(
        short_month,
        _per_unique(_MONTHS[records.month - 1], lambda name: name[:3]),
        _MONTHS[records.month - 1],
    )
    dates = _text(records.day) + " " + months + " " + _text(records.year)
    gender = {"f": "Female", "m": "Male", "x": "Indeterminate", "": ""}
    return {
        "surname": records.surname,
        "forenames": records.given,
        "dob": np.where(records.has_birth, dates, ""),
        "gender": _per_unique(records.sex, gender.__getitem__),
        "address": _abbreviated(records.street, rng.random(count) < 0.7),
        "town": records.town,
        "postcode": records.postcode,
    }


def _school(records: _Records, rng: np.random.Generator) -> dict[str, Texts]:
    def iso(year: Ints, month: Ints, day: Ints) -> Texts:
        text: Texts = _text(year, 4) + "-" + _text(month, 2) + "-" + _text(day, 2)
        return text

    return {
        "given_name": records.given,
        "family_name": records.surname,
        "birth_date": _dates(records, iso),
        "street": _abbreviated(records.street, rng.random(len(records.given)) < 0.25),
        "locality": records.town,
        "post_code": records.postcode,
    }


def _housing(records: _Records, rng: np.random.Generator) -> dict[str, Texts]:
    # One name column, given name first, except that the housing officers write
    # Chinese names in their own order, surname first. (Swapped records already
    # have the two names exchanged, so they come out in the wrong order.)
    given, surname = records.given, records.surname
    name = np.where(
        records.origin == "chinese", surname + " " + given, given + " " + surname
    )
    name = np.where(given == "", surname, np.where(surname == "", given, name))
    streets = _abbreviated(records.street, rng.random(len(given)) < 0.1)
    return {
        "tenant_name": name,
        "address": streets,
        "suburb": records.town,
        "postcode": records.postcode,
    }


def _court(records: _Records, rng: np.random.Generator) -> dict[str, Texts]:
    def us_short(year: Ints, month: Ints, day: Ints) -> Texts:
        text: Texts = _text(month) + "/" + _text(day) + "/" + _text(year % 100, 2)
        return text

    surname = _per_unique(records.surname, str.upper)
    given = _per_unique(records.given, str.upper)
    sex = {"f": "F", "m": "M", "x": "X", "": "U"}
    return {
        "NAME": np.where(given == "", surname, surname + ", " + given),
        "DOB": _dates(records, us_short),
        "SEX": _per_unique(records.sex, sex.__getitem__),
    }


def _benefits(records: _Records, rng: np.random.Generator) -> dict[str, Texts]:
    def dotted(year: Ints, month: Ints, day: Ints) -> Texts:
        text: Texts = _text(day, 2) + "." + _text(month, 2) + "." + _text(year, 4)
        return text

    # Some claimants gave only the year of birth; the form has a box for it.
    year_only = rng.random(len(records.given)) < 0.12
    return {
        "first_name": records.given,
        "last_name": records.surname,
        "dob": np.where(year_only, "", _dates(records, dotted)),
        "birth_year": np.where(records.has_birth, _text(records.year), ""),
        "postcode": records.postcode,
    }


def _age_at_least(years: float) -> Callable[[_Population], Bools]:
    def eligible(people: _Population) -> Bools:
        age: Bools = (_SNAPSHOT - people.birth).astype(np.int64) >= _days(years)
        return age

    return eligible


def _school_age(people: _Population) -> Bools:
    age = (_SNAPSHOT - people.birth).astype(np.int64)
    school: Bools = (age >= _days(4)) & (age < _days(18))
    return school


_AGENCIES: dict[str, _Agency] = {
    agency.name: agency
    for agency in (
        _Agency(
            "hospital", "episode_id", "EP", 0.6, _age_at_least(0), _hospital,
            repeats=0.15, house_spelling=0, stale=0.5, typo=0.03, ocr=0.01,
            swap=0.01, hyphen_dropped=0.15, date_error=0.015,
            missing={"given": 0.01, "surname": 0.005, "birth": 0.01, "sex": 0.03,
                     "street": 0.04, "town": 0.04, "postcode": 0.05},
        ),
        _Agency(
            "school", "pupil_ref", "S", 0.85, _school_age, _school,
            house_spelling=1, stale=0.15, typo=0.02, ocr=0.0, swap=0.005,
            hyphen_dropped=0.1, date_error=0.005,
            missing={"birth": 0.005, "street": 0.02, "postcode": 0.03},
        ),
        _Agency(
            "housing", "tenancy_ref", "HT", 0.3, _age_at_least(0), _housing,
            whole_households=True, house_spelling=2, ascii_only=True, stale=0.05,
            typo=0.02, ocr=0.01, swap=0.02, hyphen_dropped=0.25,
            missing={"given": 0.03, "postcode": 0.01},
        ),
        _Agency(
            "court", "party_id", "CT", 0.12, _age_at_least(14), _court,
            house_spelling=1, ascii_only=True, typo=0.02, ocr=0.02, swap=0.0,
            hyphen_dropped=0.4, date_error=0.02,
            missing={"given": 0.02, "birth": 0.06, "sex": 0.08},
        ),
        _Agency(
            "benefits", "claimant_no", "B", 0.4, _age_at_least(16), _benefits,
            repeats=0.04, house_spelling=3, ascii_only=True, stale=0.6, typo=0.02,
            ocr=0.05, swap=0.03, hyphen_dropped=0.2, date_error=0.01,
            missing={"given": 0.02, "surname": 0.005, "birth": 0.04,
                     "postcode": 0.07},
        ),
    )
}  # fmt: skip
