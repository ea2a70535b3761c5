"""A seeded synthetic population and the exports four agencies make of it.

:func:`generate_population` draws people (name, sex, date of birth, address)
from the word lists in ``linkage/data``, with popular names drawn more often so
that common names repeat as they do in real registers. :func:`export_agency`
then plays one agency: it holds a share of the population, has several records
for some people, makes the mistakes real registers make (typing errors,
missing values, day and month swapped, a former surname after marriage, a
nickname for the given name, a previous address, a dropped middle name, stray
spaces) and writes its own columns in its own
format. Each export comes with the ground truth: which person each record is.

The four agencies match the mapping files in ``configs/mappings``:

================  ==========================================================
agency            columns
================  ==========================================================
police            PERSON_REF, FULL_NAME ("SMITH, JOHN PAUL", plain ASCII),
                  DOB (DD/MM/YYYY), GENDER (M/F/X), ADDRESS, SUBURB,
                  POSTCODE (leading zero lost, as after a spreadsheet)
health            patient_id, first_name, last_name, birth_date (ISO),
                  sex (female/male/other), street_address, suburb, post_code
social_services   client_no, name ("Given Middle Surname", curly
                  apostrophes), date_of_birth (YYYYMMDD), gender (F/M/X/U);
                  no address
tax               tfn_ref, given_names, family_name (upper case, hyphen
                  written as a space), street, suburb, postcode; no birth
                  date and no sex
================  ==========================================================

Everything is vectorised with numpy; only the records that get a typing error
are touched one by one, so a million people take seconds.

Example:
    >>> rng = np.random.default_rng(7)
    >>> people = generate_population(100, rng)
    >>> export, truth = export_agency(people, "tax", rng, overlap=0.5)
    >>> list(export.columns)
    ['tfn_ref', 'given_names', 'family_name', 'street', 'suburb', 'postcode']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.demo.files import write_exports
from linkage.encoding.normalise import strip_accents

__all__ = [
    "AGENCIES",
    "DEFAULT_OVERLAP",
    "NoiseRates",
    "export_agency",
    "generate_population",
    "write_demo_data",
]

Texts = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]

#: The demo agencies, in the order :func:`write_demo_data` writes them.
AGENCIES: tuple[str, ...] = ("police", "health", "social_services", "tax")

#: The share of the population each demo agency holds in :func:`write_demo_data`.
DEFAULT_OVERLAP: Mapping[str, float] = {
    "police": 0.35,
    "health": 0.85,
    "social_services": 0.3,
    "tax": 0.7,
}

_FIRST_BIRTH_DATE = np.datetime64("1930-01-01")
_LAST_BIRTH_DATE = np.datetime64("2008-12-31")
_MARRIED_BEFORE = np.datetime64("1998-01-01")
_STREET_TYPES = (
    ("Street", 40),
    ("Road", 20),
    ("Avenue", 10),
    ("Drive", 7),
    ("Place", 5),
    ("Court", 5),
    ("Crescent", 4),
    ("Lane", 3),
    ("Parade", 2),
    ("Close", 2),
    ("Way", 2),
    ("Terrace", 1),
)


@dataclass(frozen=True)
class NoiseRates:
    """How often an agency's records differ from the truth, per value.

    Attributes:
        typo: A name or street has one typing error (a letter substituted,
            transposed, deleted or inserted).
        missing: An optional value (birth date, sex, address) is left out; given
            names go missing a quarter as often, middle names three times as often.
        date_error: The birth date has a wrong day, month or year.
        swap_day_month: The birth date has day and month swapped (where that is
            still a date: registers check dates on entry, so exports hold only
            real dates).
        former_surname: A person who changed surname on marriage is recorded
            under the former one.
        whitespace: A name has a stray space (harmless after mapping).
        nickname: A given name that has common variants (``data/nicknames.txt``,
            such as William: Bill, Will) is recorded as one of them, chosen
            evenly.
        moved: The agency holds a previous address: another street address,
            suburb and postcode drawn as the population's are (this only shows
            in the exports of agencies that hold an address).
    """

    typo: float = 0.04
    missing: float = 0.03
    date_error: float = 0.01
    swap_day_month: float = 0.005
    former_surname: float = 0.5
    whitespace: float = 0.02
    nickname: float = 0.05
    moved: float = 0.08

    @classmethod
    def none(cls) -> NoiseRates:
        """No noise: every record is a faithful copy of the person."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def generate_population(size: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw ``size`` synthetic people.

    Returns:
        One row per person with the text columns ``given_name``,
        ``middle_name`` (often ``""``), ``surname``, ``former_surname`` (the
        surname before marriage, or ``""``), ``sex`` (``f``, ``m`` or ``x``),
        ``date_of_birth`` (``YYYY-MM-DD``), ``street_address``, ``suburb`` and
        ``postcode``, and the ground truth ``person_id`` (1 to ``size``).

    Raises:
        ValueError: ``size`` is negative.
    """
    if size < 0:
        raise ValueError(f"'size' must be zero or more (got {size})")
    words = _word_lists()
    sex = rng.choice(
        np.array(["f", "m", "x"], dtype=object), size, p=[0.496, 0.496, 0.008]
    )
    given = _given_names(sex, rng)
    middle = np.where(rng.random(size) < 0.4, _given_names(sex, rng), "")
    middle = np.where(middle == given, "", middle)
    days = rng.integers(0, (_LAST_BIRTH_DATE - _FIRST_BIRTH_DATE).astype(int) + 1, size)
    birth = _FIRST_BIRTH_DATE + days
    surname = _draw(words.surnames, size, rng, skew=0.9)
    married = (sex == "f") & (birth < _MARRIED_BEFORE) & (rng.random(size) < 0.1)
    former = np.where(married, _draw(words.surnames, size, rng, skew=0.9), "")
    suburb_index = _draw_index(len(words.suburbs), size, rng, skew=0.5)
    return pd.DataFrame(
        {
            "person_id": np.arange(1, size + 1, dtype=np.int64),
            "given_name": given,
            "middle_name": middle,
            "surname": surname,
            "former_surname": np.where(former == surname, "", former),
            "sex": sex,
            "date_of_birth": np.datetime_as_string(birth, unit="D").astype(object),
            "street_address": _street_addresses(size, rng),
            "suburb": words.suburbs[suburb_index],
            "postcode": words.postcodes[suburb_index],
        }
    )


def export_agency(
    population: pd.DataFrame,
    agency: str,
    rng: np.random.Generator,
    overlap: float = 0.6,
    duplicate_rate: float = 0.07,
    *,
    noise: NoiseRates | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Make one agency's export of a population.

    Args:
        population: People from :func:`generate_population`.
        agency: One of :data:`AGENCIES`.
        rng: The source of every random choice.
        overlap: The share of the population the agency holds.
        duplicate_rate: The share of its people with more than one record (a
            fifth of those have three).
        noise: How often records differ from the truth; ``NoiseRates()`` when
            not given, ``NoiseRates.none()`` for faithful copies.

    Returns:
        The export, in the agency's own columns, every value text, rows in
        random order; and the truth, with columns ``record_id`` and
        ``person_id``, row for row.

    Raises:
        ValueError: Unknown agency, or a rate outside 0 to 1.
    """
    if agency not in _LAYOUTS:
        raise ValueError(
            f"'agency' must be one of {', '.join(AGENCIES)} (got {agency!r})"
        )
    _check_rate("overlap", overlap)
    _check_rate("duplicate_rate", duplicate_rate)
    layout = _LAYOUTS[agency]
    rows = _sample_rows(len(population), overlap, duplicate_rate, rng)
    people = _noisy(_People.take(population, rows), noise or NoiseRates(), rng)
    record_ids = _numbered(layout.id_prefix, len(rows))
    export = pd.DataFrame({layout.id_column: record_ids, **layout.render(people)})
    person_ids = population["person_id"].to_numpy()[rows]
    truth = pd.DataFrame({"record_id": record_ids, "person_id": person_ids})
    return export, truth


def write_demo_data(out_dir: Path, size: int, seed: int) -> dict[str, Path]:
    """Write a population's exports for every agency, and the truth, as CSV.

    Writes ``<agency>.csv`` for each of :data:`AGENCIES` (holding the shares in
    :data:`DEFAULT_OVERLAP`) and ``truth.csv`` with columns ``agency``,
    ``record_id`` and ``person_id``. The same ``size`` and ``seed`` always
    write the same files.

    Returns:
        The path of each file, keyed by agency and ``"truth"``.
    """
    population_rng, *agency_rngs = np.random.default_rng(seed).spawn(1 + len(AGENCIES))
    population = generate_population(size, population_rng)
    exports: dict[str, pd.DataFrame] = {}
    truths = []
    for agency, rng in zip(AGENCIES, agency_rngs, strict=True):
        export, truth = export_agency(population, agency, rng, DEFAULT_OVERLAP[agency])
        exports[agency] = export
        truths.append(truth.assign(agency=agency)[["agency", "record_id", "person_id"]])
    return write_exports(out_dir, exports, pd.concat(truths))


@dataclass(frozen=True)
class _WordLists:
    female: Texts
    male: Texts
    surnames: Texts
    streets: Texts
    suburbs: Texts
    postcodes: Texts


@cache
def _word_lists() -> _WordLists:
    given = _read_rows("given_names.txt")
    suburbs = _read_rows("suburbs.txt")
    return _WordLists(
        female=_texts(name for name, sex in given if sex == "f"),
        male=_texts(name for name, sex in given if sex == "m"),
        surnames=_texts(row[0] for row in _read_rows("surnames.txt")),
        streets=_texts(row[0] for row in _read_rows("streets.txt")),
        suburbs=_texts(suburb for suburb, _ in suburbs),
        postcodes=_texts(postcode for _, postcode in suburbs),
    )


def _read_rows(name: str, separator: str = "\t") -> list[list[str]]:
    text = files("linkage").joinpath("data", name).read_text(encoding="utf-8")
    lines = (line for line in text.splitlines() if line and not line.startswith("#"))
    return [line.split(separator) for line in lines]


@cache
def _nicknames() -> dict[str, tuple[str, ...]]:
    """Each formal given name (lower case) and its variants, capitalised."""
    variants: dict[str, list[str]] = {}
    for formal, variant in _read_rows("nicknames.txt", ","):
        variants.setdefault(formal, []).append(variant.capitalize())
    return {formal: tuple(names) for formal, names in variants.items()}


def _texts(values: Iterable[str]) -> Texts:
    return np.array(list(values), dtype=np.object_)


def _zipf(count: int, skew: float) -> npt.NDArray[np.float64]:
    weights = 1.0 / np.arange(2, count + 2, dtype=np.float64) ** skew
    share: npt.NDArray[np.float64] = weights / weights.sum()
    return share


def _draw_index(count: int, size: int, rng: np.random.Generator, skew: float) -> Ints:
    return rng.choice(count, size, p=_zipf(count, skew)).astype(np.int64)


def _draw(words: Texts, size: int, rng: np.random.Generator, skew: float) -> Texts:
    return words[_draw_index(len(words), size, rng, skew)]


def _given_names(sex: Texts, rng: np.random.Generator) -> Texts:
    words = _word_lists()
    names = np.empty(len(sex), dtype=object)
    pools = {
        "f": words.female,
        "m": words.male,
        "x": np.concatenate([words.female, words.male]),
    }
    for code, pool in pools.items():
        where = np.flatnonzero(sex == code)
        names[where] = _draw(pool, len(where), rng, skew=1.0)
    return names


def _street_addresses(size: int, rng: np.random.Generator) -> Texts:
    words = _word_lists()
    numbers = _as_text(np.minimum(rng.geometric(0.03, size), 400))
    units = _as_text(rng.integers(1, 25, size)) + "/"
    numbers = np.where(rng.random(size) < 0.15, units + numbers, numbers)
    names, weights = zip(*_STREET_TYPES, strict=True)
    kinds = rng.choice(_texts(names), size, p=np.array(weights) / sum(weights))
    streets: Texts = numbers + " " + _draw(words.streets, size, rng, skew=0.8)
    addresses: Texts = streets + " " + kinds
    return addresses


def _as_text(numbers: npt.NDArray[np.integer]) -> Texts:
    return numbers.astype(str).astype(object)


def _padded(numbers: Ints, width: int) -> Texts:
    return np.char.zfill(numbers.astype(str), width).astype(object)


def _numbered(prefix: str, count: int) -> Texts:
    numbered: Texts = prefix + _padded(np.arange(1, count + 1, dtype=np.int64), 8)
    return numbered


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name!r} must be from 0 to 1 (got {value!r})")


def _sample_rows(
    size: int, overlap: float, duplicate_rate: float, rng: np.random.Generator
) -> Ints:
    held = rng.choice(size, round(overlap * size), replace=False)
    twice = rng.choice(held, round(duplicate_rate * len(held)), replace=False)
    rows = np.concatenate([held, twice, twice[: len(twice) // 5]]).astype(np.int64)
    rng.shuffle(rows)
    return rows


@dataclass(frozen=True)
class _People:
    """One agency's view of its people, as columns; ``""`` is a missing value."""

    given: Texts
    middle: Texts
    surname: Texts
    former_surname: Texts
    sex: Texts
    year: Ints
    month: Ints
    day: Ints
    has_birth_date: npt.NDArray[np.bool_]
    street: Texts
    suburb: Texts
    postcode: Texts

    @classmethod
    def take(cls, population: pd.DataFrame, rows: Ints) -> _People:
        def column(name: str) -> Texts:
            return population[name].to_numpy(dtype=object)[rows]

        birth = column("date_of_birth").astype("datetime64[D]")
        months = birth.astype("datetime64[M]")
        years = birth.astype("datetime64[Y]")
        return cls(
            given=column("given_name"),
            middle=column("middle_name"),
            surname=column("surname"),
            former_surname=column("former_surname"),
            sex=column("sex"),
            year=years.astype(np.int64) + 1970,
            month=(months - years).astype(np.int64) + 1,
            day=(birth - months).astype(np.int64) + 1,
            has_birth_date=np.ones(len(rows), dtype=np.bool_),
            street=column("street_address"),
            suburb=column("suburb"),
            postcode=column("postcode"),
        )


def _noisy(people: _People, noise: NoiseRates, rng: np.random.Generator) -> _People:
    size = len(people.given)

    def chance(rate: float) -> npt.NDArray[np.bool_]:
        return rng.random(size) < rate

    def blank(values: Texts, rate: float) -> Texts:
        return np.where(chance(rate), "", values)

    surname = np.where(
        (people.former_surname != "") & chance(noise.former_surname),
        people.former_surname,
        people.surname,
    )
    given = _nicknamed(people.given, chance(noise.nickname), rng)
    given = _typos(blank(given, noise.missing / 4), noise.typo, rng)
    street, suburb, postcode = _moved(people, chance(noise.moved), rng)
    given = np.where(chance(noise.whitespace), " " + given, given)
    year, month, day = _date_errors(people, noise, rng)
    return replace(
        people,
        given=given,
        middle=blank(people.middle, min(1.0, noise.missing * 3)),
        surname=_typos(surname, noise.typo, rng),
        sex=blank(people.sex, noise.missing),
        year=year,
        month=month,
        day=day,
        has_birth_date=~chance(noise.missing),
        street=_typos(blank(street, noise.missing), noise.typo, rng),
        suburb=suburb,
        postcode=blank(postcode, noise.missing),
    )


def _nicknamed(
    given: Texts, chosen: npt.NDArray[np.bool_], rng: np.random.Generator
) -> Texts:
    """Write the ``chosen`` given names that have variants as one of them."""
    where = np.flatnonzero(chosen)
    codes, uniques = pd.factorize(given[where])
    table = _nicknames()
    options = [table.get(str(name).lower(), ()) for name in uniques]
    width = max((len(names) for names in options), default=0)
    if width == 0:
        return given
    padded = np.array(
        [[*names, *[""] * (width - len(names))] for names in options], dtype=object
    )
    counts = np.array([len(names) for names in options], dtype=np.int64)[codes]
    picks = np.minimum(
        (rng.random(len(where)) * counts).astype(np.int64), np.maximum(counts - 1, 0)
    )
    has = counts > 0
    result = given.copy()
    result[where[has]] = padded[codes[has], picks[has]]
    return result


def _moved(
    people: _People, chosen: npt.NDArray[np.bool_], rng: np.random.Generator
) -> tuple[Texts, Texts, Texts]:
    """Give the ``chosen`` records a previous address: street, suburb, postcode."""
    words = _word_lists()
    where = np.flatnonzero(chosen)
    suburb_index = _draw_index(len(words.suburbs), len(where), rng, skew=0.5)
    street, suburb, postcode = (
        people.street.copy(),
        people.suburb.copy(),
        people.postcode.copy(),
    )
    street[where] = _street_addresses(len(where), rng)
    suburb[where] = words.suburbs[suburb_index]
    postcode[where] = words.postcodes[suburb_index]
    return street, suburb, postcode


def _date_errors(
    people: _People, noise: NoiseRates, rng: np.random.Generator
) -> tuple[Ints, Ints, Ints]:
    """Wrong or swapped birth-date parts; always a real date, as registers check."""
    size = len(people.day)
    year, month, day = people.year, people.month, people.day
    wrong = rng.random(size) < noise.date_error
    part = rng.integers(0, 3, size)
    leap_day = (month == 2) & (day == 29)
    new_day = np.where(wrong & (part == 0), rng.integers(1, 29, size), day)
    new_month = np.where(
        wrong & (part == 1) & (day <= 28), rng.integers(1, 13, size), month
    )
    shift = rng.choice(np.array([-1, 1], dtype=np.int64), size)
    new_year = np.where(wrong & (part == 2) & ~leap_day, year + shift, year)
    swap = (rng.random(size) < noise.swap_day_month) & (new_day <= 12)
    return (
        new_year,
        np.where(swap, new_day, new_month),
        np.where(swap, new_month, new_day),
    )


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _typos(values: Texts, rate: float, rng: np.random.Generator) -> Texts:
    """Give a ``rate`` share of the non-empty values one typing error."""
    where = np.flatnonzero((rng.random(len(values)) < rate) & (values != ""))
    kinds = rng.integers(0, 4, len(where))
    positions = rng.random(len(where))
    letters = rng.integers(0, len(_LETTERS), len(where))
    result = values.copy()
    for index, kind, position, letter in zip(
        where, kinds, positions, letters, strict=True
    ):
        result[index] = _typo(
            str(values[index]), int(kind), float(position), _LETTERS[letter]
        )
    return result


def _typo(text: str, kind: int, position: float, letter: str) -> str:
    if len(text) < 2:
        return text
    at = min(int(position * len(text)), len(text) - 2)
    if text[at].isupper():
        letter = letter.upper()
    if kind == 0:
        return text[:at] + letter + text[at + 1 :]
    if kind == 1:
        return text[:at] + text[at + 1] + text[at] + text[at + 2 :]
    if kind == 2:
        return text[:at] + text[at + 1 :]
    return text[:at] + letter + text[at:]


def _per_unique(values: Texts, function: Callable[[str], str]) -> Texts:
    codes, uniques = pd.factorize(values)
    return np.array([function(str(value)) for value in uniques], dtype=object)[codes]


def _ascii_upper(value: str) -> str:
    return strip_accents(value).upper()


def _with_middle(people: _People) -> Texts:
    return np.where(
        people.middle == "", people.given, people.given + " " + people.middle
    )


def _birth_dates(people: _People, pattern: str, missing: str) -> Texts:
    """Write birth dates with ``pattern`` using the placeholders Y, M and D."""
    parts = {
        "Y": _padded(people.year, 4),
        "M": _padded(people.month, 2),
        "D": _padded(people.day, 2),
    }
    text = np.full(len(people.day), "", dtype=object)
    for char in pattern:
        text = text + parts.get(char, char)
    return np.where(people.has_birth_date, text, missing)


def _coded(values: Texts, codes: Mapping[str, str]) -> Texts:
    return _per_unique(values, lambda value: codes[value])


def _or_missing(values: Texts, token: str) -> Texts:
    return np.where(values == "", token, values)


def _police(people: _People) -> dict[str, Texts]:
    surname = _per_unique(people.surname, _ascii_upper)
    given = _per_unique(_with_middle(people), _ascii_upper)
    return {
        "FULL_NAME": surname + ", " + given,
        "DOB": _birth_dates(people, "D/M/Y", ""),
        "GENDER": _coded(people.sex, {"f": "F", "m": "M", "x": "X", "": ""}),
        "ADDRESS": _or_missing(_per_unique(people.street, _ascii_upper), "NFA"),
        "SUBURB": _per_unique(people.suburb, _ascii_upper),
        # The export went through a spreadsheet, which dropped leading zeros.
        "POSTCODE": _per_unique(people.postcode, lambda code: code.lstrip("0")),
    }


def _health(people: _People) -> dict[str, Texts]:
    return {
        "first_name": people.given,
        "last_name": people.surname,
        "birth_date": _birth_dates(people, "Y-M-D", "NULL"),
        "sex": _coded(
            people.sex, {"f": "female", "m": "male", "x": "other", "": "unknown"}
        ),
        "street_address": _or_missing(people.street, "NULL"),
        "suburb": people.suburb,
        "post_code": _or_missing(people.postcode, "NULL"),
    }


def _social_services(people: _People) -> dict[str, Texts]:
    names = (
        np.where(people.given == "", "", _with_middle(people) + " ") + people.surname
    )
    return {
        "name": _per_unique(names, lambda name: name.replace("'", "’")),
        "date_of_birth": _birth_dates(people, "YMD", "00000000"),
        "gender": _coded(people.sex, {"f": "F", "m": "M", "x": "X", "": "U"}),
    }


def _tax(people: _People) -> dict[str, Texts]:
    return {
        "given_names": _with_middle(people),
        "family_name": _per_unique(
            people.surname, lambda name: name.upper().replace("-", " ")
        ),
        "street": people.street,
        "suburb": people.suburb,
        "postcode": people.postcode,
    }


@dataclass(frozen=True)
class _Layout:
    id_column: str
    id_prefix: str
    render: Callable[[_People], dict[str, Texts]]


_LAYOUTS: dict[str, _Layout] = {
    "police": _Layout("PERSON_REF", "P", _police),
    "health": _Layout("patient_id", "MRN", _health),
    "social_services": _Layout("client_no", "C", _social_services),
    "tax": _Layout("tfn_ref", "TX", _tax),
}
