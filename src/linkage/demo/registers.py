"""A third synthetic population: a Nordic town's registers, held out from tuning.

:mod:`linkage.demo.generator` and :mod:`linkage.demo.households` have both had
linkage rules tuned on them. This generator is written from scratch, with its
own tables and its own error model, so that a change can be checked, once, on
a population nobody has tuned on (see ``benchmarks/registers_data.py``).

The world is a coastal town in a Nordic country with four-digit postcodes:

* **Five origins.** About half the people have Nordic names (Søren, Åse,
  Jørgensen, Ødegaard); the others German (Jürgen, Müller, Weiß), Spanish
  (Francisco, a double surname "García López"), Irish or British (Siobhán,
  O'Brien, McCarthy) or Dutch (Kees, van der Berg). Many given names have
  short forms people use (William/Bill, Francisco/Paco, Johannes/Hans,
  Cornelis/Kees, Margrethe/Mette), from this module's own small table.
* **Names change.** Many women (and a few men) took a spouse's surname, some
  joined to their own with a hyphen. The parish register keeps the name at
  birth; the clinic's older contacts still have it. Spanish people keep both
  surnames, but agencies often keep only the first; the tax office hyphenates
  them and runs Dutch particles together (van der Berg, Vanderberg).
* **Middle names** are written out by the registers that take them from the
  birth record, cut down to an initial by the tax office and left out by the
  clinic most of the time; the utility writes many customers as initials.
* **Letters outside ASCII** are spelt out by the tax office (Ø as OE, Å as
  AA, Ü as UE), dropped by the utility (Ø as O) and kept by the others; the
  parish wrote Å as Aa for people born before the 1948 spelling reform, and
  the clinic's old system mangled a few names into mojibake (SÃ¸ren).
* **Addresses**: street name then number ("Møllevej 14, 2. th"), split into
  columns by the register and the utility, one line at the clinic and the tax
  office, where a few people give a PO box ("Postboks 412"). Street prefixes
  are abbreviated by some clerks (Gammel/Gl., Sankt/Skt.). Three in ten people
  moved; older snapshots hold the previous address.
* **Dates** in each agency's way: ``yyyymmdd`` at the register, which writes
  1 January for people whose birth date is unknown and ``00`` for an unknown
  day; ``dd-MON-yy`` at the clinic, where some clerks exchange day and month;
  ``d/m/yyyy`` at the parish, where some clerks write the month first and old
  entries have the month and year only; the birth year alone at the tax office.
* **Several records per person**: the clinic opens a new record when it does
  not find a patient (a quarter of its patients have two to five), and the
  utility keeps a closed account at a customer's previous address.
* **Look-alikes**: twins (same surname, birth date and address), and cousins
  named after a grandparent (same given name, surname, sex and birth year).
* **Errors of their own kind**: names misheard over the telephone (Catherine
  as Katherine, Sørensen as Sørenson), keyboard slips to a neighbouring key,
  two letters transposed, given name and surname in each other's column, and
  missing values at rates that differ by agency and field.

==========  ===================================================================
agency      columns
==========  ===================================================================
population  register_no, first_names (every given name), last_name, birth_date
            (``yyyymmdd``; ``yyyy0101`` when unknown, ``yyyymm00`` when the day
            is unknown), sex_code (1 male, 2 female), street_name, house_no,
            floor_door, post_no, town; nearly everyone, one record each,
            current names and address, accents kept
clinic      contact_id, patient ("SURNAME, Given", short forms common), dob
            (``dd-MON-yy``), sex (F/M, U unknown), address (one line:
            "Møllevej 14, 2. th, 2300 Brønby" or "Postboks 412, 2300
            Brønby"); several records per patient, older ones with old names
            and addresses
tax         tax_ref, SURNAME, FORENAME (first name and middle initial, or an
            initial only), BIRTH_YEAR, ADDRESS_LINE ("MOELLEVEJ 14 2 TH,
            DK-2300 BROENBY"); adults, ASCII upper case with letters spelt
            out; no sex and no full birth date
parish      entry, christian_names, family_name (the name at birth), born
            (``d/m/yyyy``, or ``m/yyyy`` when only the month is known), sex
            (K woman, M man); church members, no address
utility     account_no, customer ("Given Surname" or "A. M. Surname", ASCII
            with accents dropped), supply_street, supply_no, supply_postcode,
            supply_city; adults, an account per address; no birth date, no sex
==========  ===================================================================

Example:
    >>> data = generate_registers(300, seed=5)
    >>> sorted(data.exports)
    ['clinic', 'parish', 'population', 'tax', 'utility']
    >>> list(data.truth.columns)
    ['agency', 'record_id', 'person_id']
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.demo.files import write_exports

__all__ = [
    "REGISTER_AGENCIES",
    "RegistersData",
    "generate_registers",
    "write_registers_data",
]

Texts = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Dates = npt.NDArray[np.datetime64]

#: The agencies, in the order :func:`write_registers_data` writes them.
REGISTER_AGENCIES: tuple[str, ...] = (
    "population",
    "clinic",
    "tax",
    "parish",
    "utility",
)

# Ages are measured at this day. Births fall from 1926 on, so the clinic's
# two-digit years read back with "pivot_year: 1926".
_TODAY = np.datetime64("2025-06-30")
_FIRST_BIRTH = np.datetime64("1926-01-01")
# People born before the 1948 spelling reform were entered with Aa for Å.
_REFORM = np.datetime64("1948-01-01")

# Names -----------------------------------------------------------------------
#
# Each word is "Name" or "Name:Short/Short": the name on the birth record and
# the short forms its bearer may go by. Lists run from common to rare, which
# the skewed draw relies on.

_GIVEN: dict[tuple[str, str], str] = {
    ("nordic", "f"): (
        "Anne Kirsten:Kirsti Margrethe:Grethe/Mette Johanne:Hanne Karen "
        "Elisabeth:Lise/Lisbeth Katrine:Trine Birgitte:Gitte Ingrid:Inge Åse "
        "Signe Astrid Ragnhild:Ragna Solveig Frederikke:Rikke Henriette:Jette "
        "Mathilde:Tilde Camilla:Milla Sofie Ida Freja Malene Tove Bodil Else "
        "Lærke Helle Gudrun Sølvi"
    ),
    ("nordic", "m"): (
        "Søren Jens Niels:Nils Anders Rasmus:Rasse Frederik:Frede/Freddy "
        "Kristoffer:Kris Johannes:Hans/Johs Jakob Lars Peder:Per Mads Ole "
        "Poul:Palle Bjørn Torben:Tobbe Henrik Mikkel Morten Jørgen:Jørn "
        "Thomas:Tom Erik Kasper Emil Magnus Aksel Valdemar:Valde Bent Kjeld "
        "Gunnar Øystein"
    ),
    ("german", "f"): (
        "Katharina:Katja/Kathi Elisabeth:Liesel/Lisa Margarete:Grete/Gretel "
        "Ursula:Uschi Gertrud:Trude Johanna:Hanna Barbara:Babsi Susanne:Susi "
        "Christiane:Christel Brigitte:Gitti Sabine Monika Jutta Heike Dörte "
        "Ilse Bärbel"
    ),
    ("german", "m"): (
        "Johannes:Hans/Hannes Josef:Sepp/Seppl Friedrich:Fritz Wolfgang:Wolf "
        "Nikolaus:Klaus Jürgen Günther Andreas:Andi Jörg Heinrich:Heinz "
        "Ludwig:Lutz Dietrich:Dieter Karl Uwe Rüdiger Matthäus"
    ),
    ("spanish", "f"): (
        "María Dolores:Lola Guadalupe:Lupe Concepción:Concha Rosario:Charo "
        "Mercedes:Merche Pilar:Pili Isabel:Chabela Montserrat:Montse Inés "
        "Begoña Lucía Ángela Beatriz Nuria Ainhoa"
    ),
    ("spanish", "m"): (
        "Francisco:Paco/Pancho/Curro José:Pepe Ignacio:Nacho Manuel:Manolo "
        "Jesús:Chucho/Chuy Enrique:Quique Antonio:Toño Alejandro:Álex "
        "Guillermo:Memo Joaquín:Quino Javier Álvaro Sergio Raúl Diego Andrés"
    ),
    ("anglo", "f"): (
        "Katherine:Kate/Kathy/Katie Elizabeth:Liz/Beth/Betty "
        "Margaret:Maggie/Peggy/Meg Bridget:Biddy Siobhán Niamh Deirdre:Dee "
        "Patricia:Trish/Patsy Jennifer:Jenny/Jen Rebecca:Becky "
        "Eleanor:Ellie/Nell Victoria:Vicky Áine Aoife Sarah Catherine:Cathy"
    ),
    ("anglo", "m"): (
        "William:Bill/Will/Billy Robert:Bob/Rob/Bobby Michael:Mike/Mick "
        "James:Jim/Jimmy Patrick:Paddy Richard:Dick/Rick Edward:Ted/Eddie "
        "Thomas:Tom/Tommy Seán Eoin Cathal Daniel:Dan/Danny Anthony:Tony "
        "Joseph:Joe Declan Ciarán"
    ),
    ("dutch", "f"): (
        "Geertruida:Truus Johanna:Joke Wilhelmina:Mien/Willemien "
        "Cornelia:Corrie/Nel Adriana:Ria Hendrika:Riek Maria:Mies/Marijke "
        "Femke Sanne Anouk Lieke Fenna Ineke Marloes"
    ),
    ("dutch", "m"): (
        "Cornelis:Kees/Cor Willem:Wim Hendrik:Henk/Hein Pieter:Piet "
        "Jacobus:Koos/Jaap Johannes:Jan/Hans Gerrit:Gert Adrianus:Arie/Adrie "
        "Bastiaan:Bas Dirk Sjoerd Ruud Maarten Joost Thijs Wouter"
    ),
}

# Surnames, comma separated because some are several words. A Spanish person
# carries two of the Spanish list, the father's then the mother's.
_SURNAMES: dict[str, str] = {
    "nordic": (
        "Hansen, Nielsen, Jørgensen, Sørensen, Pedersen, Kristensen, Larsen, "
        "Andersen, Rasmussen, Christensen, Mortensen, Møller, Ødegaard, "
        "Håkansson, Bækgaard, Lindqvist, Dahl, Holm, Kjær, Søndergaard, "
        "Frølich, Østergaard, Krogh, Thygesen, Vestergaard, Bjørnsson, "
        "Aagaard, Skovgaard, Fjeldstrøm"
    ),
    "german": (
        "Müller, Schäfer, Weiß, Schröder, Bäcker, Köhler, Groß, Fischer, "
        "Wagner, Becker, Hoffmann, Schulze, Krüger, Jäger, Böhm, Löwe, Fuchs"
    ),
    "spanish": (
        "García, López, Martínez, Rodríguez, Sánchez, Pérez, Gómez, "
        "Fernández, Díaz, Moreno, Muñoz, Jiménez, Ruiz, Hernández, Álvarez, "
        "Romero, Navarro, Ibáñez"
    ),
    "anglo": (
        "Murphy, O'Brien, Kelly, O'Connor, Walsh, McCarthy, Byrne, O'Sullivan, "
        "Ryan, Smith, MacDonald, Taylor, Fitzgerald, D'Arcy, Gallagher, Brown"
    ),
    "dutch": (
        "de Vries, van der Berg, Bakker, van Dijk, Janssen, de Jong, "
        "van den Broek, Visser, Smit, de Boer, van Leeuwen, Mulder, ter Horst"
    ),
}

_ORIGINS = ("nordic", "german", "spanish", "anglo", "dutch")
_ORIGIN_SHARES = (0.55, 0.12, 0.11, 0.13, 0.09)
# Who is a member of the (Lutheran) church the parish register belongs to.
_CHURCH_SHARE = {
    "nordic": 0.8,
    "german": 0.5,
    "dutch": 0.35,
    "anglo": 0.12,
    "spanish": 0.04,
}
# Who has a middle name on the birth record.
_MIDDLE_SHARE = {
    "nordic": 0.45,
    "german": 0.3,
    "spanish": 0.35,
    "anglo": 0.5,
    "dutch": 0.4,
}

# Places ------------------------------------------------------------------------

_STREETS = (
    "Møllevej Strandvejen Skovbrynet Bøgeallé Søndergade Nørregade Vestergade "
    "Kirkestræde Havnegade Engvej Ryttergade Præstevænget Grønnegade Lærkevej "
    "Fasanvej Egevej Birkevej Rosenvænget Åbakken Kærvej Tårnvej Fiskerlejet "
    "Bryggervej Smedestien Klostergården Ålekistevej"
).split()
# Streets whose first word clerks abbreviate: (written out, abbreviated).
_PREFIXED_STREETS = (
    ("Gammel Kongevej", "Gl. Kongevej"),
    ("Sankt Jørgens Gade", "Skt. Jørgens Gade"),
    ("Store Kirkestræde", "St. Kirkestræde"),
    ("Lille Strandstræde", "Ll. Strandstræde"),
    ("Nørre Allé", "Nr. Allé"),
)
_TOWN_HEADS = "Hvid Bøge Sø Ask Lyng Nør Vester Øster Kær Ros Strand Egs".split()
_TOWN_TAILS = "by rup holm lev sted løse bæk skov".split()
_SIDES = ("tv", "th", "mf")

_MONTHS = np.array(
    "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), dtype=object
)


@dataclass(frozen=True)
class _GivenTable:
    """Every given name once: its written-out form and its short forms."""

    formal: Texts
    short: Texts  # (names, most short forms); "" pads
    shorts: Ints  # how many short forms each name has
    pools: dict[tuple[str, str], Ints]  # (origin, sex) -> rows, common first


def _given_table() -> _GivenTable:
    formal: list[str] = []
    short: list[list[str]] = []
    pools: dict[tuple[str, str], Ints] = {}
    for key, text in _GIVEN.items():
        start = len(formal)
        for word in text.split():
            name, _, forms = word.partition(":")
            formal.append(name)
            short.append(forms.split("/") if forms else [])
        pools[key] = np.arange(start, len(formal), dtype=np.int64)
    width = max(len(forms) for forms in short)
    padded = [[*forms, *[""] * (width - len(forms))] for forms in short]
    return _GivenTable(
        formal=np.array(formal, dtype=object),
        short=np.array(padded, dtype=object),
        shorts=np.array([len(forms) for forms in short], dtype=np.int64),
        pools=pools,
    )


def _town_map() -> tuple[Texts, Texts]:
    """Towns and their postcodes: fixed, like a real map, not drawn per seed."""
    towns = [head + tail for head in _TOWN_HEADS for tail in _TOWN_TAILS][::3]
    codes = np.random.default_rng(1948).choice(
        np.arange(1000, 9990), len(towns), replace=False
    )
    return np.array(towns, dtype=object), codes.astype(str).astype(object)


_GIVEN_NAMES = _given_table()
_SURNAME_POOLS = {
    origin: np.array([name.strip() for name in text.split(",")], dtype=object)
    for origin, text in _SURNAMES.items()
}
_TOWNS, _POSTCODES = _town_map()
_ALL_STREETS = np.array(
    [*_STREETS, *(full for full, _ in _PREFIXED_STREETS)], dtype=object
)
_ABBREVIATED = dict(_PREFIXED_STREETS)


# Result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistersData:
    """A town's people and what five agencies hold of them.

    Attributes:
        people: One row per person, the truth: ``person_id`` (1 to size),
            ``origin``, ``sex`` (``f`` or ``m``), ``given_name``,
            ``middle_name`` (``""`` for none), ``birth_surname``, ``surname``
            (now; differs after a marriage), ``date_of_birth`` (ISO),
            ``date_known`` (``full``, ``placeholder`` when the register
            writes 1 January, ``month`` when only year and month are known),
            ``street``, ``house_no``, ``floor_door``, ``postcode``, ``town``,
            ``moved`` (the previous address differs), ``po_box`` (``""`` for
            none), ``lookalike_of`` (the ``person_id`` a twin or namesake
            cousin resembles, 0 for none) and ``lookalike`` (``twin``,
            ``namesake`` or ``""``).
        exports: Each agency's raw export, every value text, ``""`` for none.
        truth: ``agency``, ``record_id``, ``person_id``: who each record is.
        noise: ``agency``, ``record_id`` and a bool per thing done to the
            record (see :data:`_NOISE`): ``repeat`` (not the person's first
            record at the agency), ``short_name``, ``initials``,
            ``maiden_name``, ``surname_part_dropped``, ``old_address``,
            ``po_box``, ``misheard``, ``typo``, ``transposed``,
            ``names_swapped``, ``mojibake``, ``date_swapped`` (day and month
            exchanged, or month written first), ``date_placeholder``,
            ``date_partial`` and ``date_wrong_year``.
    """

    people: pd.DataFrame
    exports: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    noise: pd.DataFrame


_NOISE = (
    "repeat",
    "short_name",
    "initials",
    "maiden_name",
    "surname_part_dropped",
    "old_address",
    "po_box",
    "misheard",
    "typo",
    "transposed",
    "names_swapped",
    "mojibake",
    "date_swapped",
    "date_placeholder",
    "date_partial",
    "date_wrong_year",
)


def generate_registers(size: int, seed: int) -> RegistersData:
    """Draw ``size`` people and play the five agencies.

    The same ``size`` and ``seed`` always give the same data.

    Raises:
        ValueError: ``size`` is negative.
    """
    if size < 0:
        raise ValueError(f"'size' must be zero or more (got {size})")
    sequence = np.random.SeedSequence([seed, 3])
    people_seed, *agency_seeds = sequence.spawn(1 + len(REGISTER_AGENCIES))
    people = _draw_people(size, np.random.default_rng(people_seed))
    exports: dict[str, pd.DataFrame] = {}
    truths, noises = [], []
    for agency, agency_seed in zip(REGISTER_AGENCIES, agency_seeds, strict=True):
        rng = np.random.default_rng(agency_seed)
        rows, columns, noise = _AGENCIES[agency](people, rng)
        prefix, width, id_column = _RECORD_IDS[agency]
        ids = np.array(
            [f"{prefix}{n:0{width}d}" for n in range(1, len(rows) + 1)], dtype=object
        )
        exports[agency] = pd.DataFrame({id_column: ids, **columns})
        truths.append(
            pd.DataFrame({"agency": agency, "record_id": ids, "person_id": rows + 1})
        )
        flags = {
            name: noise.get(name, np.zeros(len(rows), dtype=bool)) for name in _NOISE
        }
        noises.append(pd.DataFrame({"agency": agency, "record_id": ids, **flags}))
    return RegistersData(
        people=people.frame(),
        exports=exports,
        truth=pd.concat(truths, ignore_index=True),
        noise=pd.concat(noises, ignore_index=True),
    )


def write_registers_data(folder: Path, size: int, seed: int) -> dict[str, Path]:
    """Write each agency's export as ``<agency>.csv`` and the truth as ``truth.csv``.

    ``truth.csv`` has the columns ``agency``, ``record_id`` and ``person_id``,
    as the other demo populations write it. The same ``size`` and ``seed``
    always write the same files.

    Returns:
        The path of each file, keyed by agency and ``"truth"``.
    """
    data = generate_registers(size, seed)
    return write_exports(folder, data.exports, data.truth)


# People --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Address:
    street: Texts
    number: Texts
    floor: Texts  # "" or "2. th"
    postcode: Texts
    town: Texts

    def take(self, rows: Ints) -> _Address:
        return _Address(
            self.street[rows],
            self.number[rows],
            self.floor[rows],
            self.postcode[rows],
            self.town[rows],
        )

    def where(self, chosen: Bools, other: _Address) -> _Address:
        """This address where ``chosen``, else ``other`` (row by row)."""
        return _Address(
            *(
                np.where(chosen, mine, theirs)
                for mine, theirs in zip(self.parts(), other.parts(), strict=True)
            )
        )

    def parts(self) -> tuple[Texts, Texts, Texts, Texts, Texts]:
        return self.street, self.number, self.floor, self.postcode, self.town


@dataclass(frozen=True)
class _People:
    origin: Texts
    sex: Texts
    given: Ints  # row of the given-name table
    middle: Ints  # row, or -1 for none
    birth_surname: Texts
    surname: Texts
    married: Bools  # surname changed by marriage
    birth: Dates
    date_known: Texts  # "full", "placeholder" or "month"
    home: _Address
    previous: _Address
    moved: Bools
    po_box: Texts
    lookalike_of: Ints  # index of the person resembled, or -1
    lookalike: Texts

    def __len__(self) -> int:
        return len(self.origin)

    def age(self) -> npt.NDArray[np.float64]:
        days = (_TODAY - self.birth).astype(np.int64)
        years: npt.NDArray[np.float64] = (days / 365.25).astype(np.float64)
        return years

    def frame(self) -> pd.DataFrame:
        middle = _GIVEN_NAMES.formal[np.maximum(self.middle, 0)]
        return pd.DataFrame(
            {
                "person_id": np.arange(1, len(self) + 1, dtype=np.int64),
                "origin": self.origin,
                "sex": self.sex,
                "given_name": _GIVEN_NAMES.formal[self.given],
                "middle_name": np.where(self.middle >= 0, middle, ""),
                "birth_surname": self.birth_surname,
                "surname": self.surname,
                "date_of_birth": np.datetime_as_string(self.birth, unit="D"),
                "date_known": self.date_known,
                "street": self.home.street,
                "house_no": self.home.number,
                "floor_door": self.home.floor,
                "postcode": self.home.postcode,
                "town": self.home.town,
                "moved": self.moved,
                "po_box": self.po_box,
                "lookalike_of": self.lookalike_of + 1,
                "lookalike": self.lookalike,
            }
        )


def _by_origin(origin: Texts, table: dict[str, float]) -> npt.NDArray[np.float64]:
    codes, names = pd.factorize(origin)
    shares = np.array([table[str(name)] for name in names], dtype=np.float64)
    return shares[codes] if len(codes) else np.zeros(0, dtype=np.float64)


def _skewed(count: int, options: int, rng: np.random.Generator) -> Ints:
    """Indices into ``options`` items, the first far more often (1/rank)."""
    weights = 1.0 / np.arange(1, options + 1)
    picked: Ints = rng.choice(options, count, p=weights / weights.sum())
    return picked


def _draw_people(size: int, rng: np.random.Generator) -> _People:
    origin = np.array(_ORIGINS, dtype=object)[
        rng.choice(len(_ORIGINS), size, p=_ORIGIN_SHARES)
    ]
    sex = np.where(rng.random(size) < 0.5, "f", "m").astype(object)
    birth = _birth_dates(size, rng)
    given = _draw_given(origin, sex, rng)
    middle = np.where(
        rng.random(size) < _by_origin(origin, _MIDDLE_SHARE),
        _draw_given(origin, sex, rng),
        -1,
    )
    middle = np.where(middle == given, -1, middle)
    birth_surname = _draw_surnames(origin, rng)
    home, previous = _draw_addresses(size, rng), _draw_addresses(size, rng)
    moved = rng.random(size) < 0.3

    # Look-alikes. Twins are drawn next to the person they are twin to, so a
    # twin takes that person's surname, birth date and address; a namesake
    # cousin takes a random person's given name, surname, sex and birth year.
    lookalike_of = np.full(size, -1, dtype=np.int64)
    kind = np.full(size, "", dtype=object)
    twin = (rng.random(size) < 0.012) & (np.arange(size) > 0)
    twin &= ~np.roll(twin, 1)  # not a twin of a twin
    namesake = ~twin & ~np.roll(twin, -1) & (rng.random(size) < 0.015)
    original = rng.integers(0, max(size, 1), size)
    namesake &= original != np.arange(size)
    namesake &= ~twin[original] & ~np.roll(twin, -1)[original]
    # Copied from someone who keeps their own names, so the two stay alike.
    namesake &= ~namesake[original]
    lookalike_of[twin] = np.flatnonzero(twin) - 1
    lookalike_of[namesake] = original[namesake]
    kind[twin], kind[namesake] = "twin", "namesake"

    sibling = lookalike_of[twin]
    birth[twin] = birth[sibling]
    origin[twin] = origin[sibling]
    birth_surname[twin] = birth_surname[sibling]
    moved[twin] = moved[sibling]
    home = home.where(~twin, home.take(np.maximum(lookalike_of, 0)))
    previous = previous.where(~twin, previous.take(np.maximum(lookalike_of, 0)))
    # Twins' parents choose two different names from the twins' pool.
    given[twin] = _draw_given(origin[twin], sex[twin], rng)
    clash = np.flatnonzero(twin & (given == given[np.maximum(lookalike_of, 0)]))
    for index in clash:
        pool = _GIVEN_NAMES.pools[(str(origin[index]), str(sex[index]))]
        spot = int(np.flatnonzero(pool == given[index])[0])
        given[index] = pool[(spot + 1) % len(pool)]
    middle[twin & (middle == given)] = -1

    cousin = lookalike_of[namesake]
    for column in (origin, sex, given, birth_surname):
        column[namesake] = column[cousin]
    middle[namesake & (middle == given)] = -1
    # Born in the same year as the cousin, on another day.
    year_start = birth[cousin].astype("datetime64[Y]").astype("datetime64[D]")
    shift = rng.integers(0, 365, len(cousin)).astype("timedelta64[D]")
    other_day = np.minimum(year_start + shift, _TODAY - np.timedelta64(1, "D"))
    other_day = np.where(
        other_day == birth[cousin], other_day - np.timedelta64(1, "D"), other_day
    )
    birth[namesake] = np.maximum(other_day, _FIRST_BIRTH)

    surname, married = _marriages(origin, sex, birth, birth_surname, rng)
    # People born abroad without papers: the register writes 1 January, or
    # knows the month only.
    abroad = (origin != "nordic") & (rng.random(size) < 0.6)
    unknown = rng.random(size)
    date_known = np.where(
        abroad & (unknown < 0.04),
        "placeholder",
        np.where(abroad & (unknown > 0.985), "month", "full"),
    ).astype(object)
    adult = (_TODAY - birth).astype(np.int64) >= 18 * 365
    po_box = np.where(
        adult & (rng.random(size) < 0.05),
        "Postboks " + rng.integers(1, 999, size).astype(str).astype(object),
        "",
    ).astype(object)
    return _People(
        origin=origin,
        sex=sex,
        given=given,
        middle=middle,
        birth_surname=birth_surname,
        surname=surname,
        married=married,
        birth=birth,
        date_known=date_known,
        home=home,
        previous=previous,
        moved=moved,
        po_box=po_box,
        lookalike_of=lookalike_of,
        lookalike=kind,
    )


def _birth_dates(size: int, rng: np.random.Generator) -> Dates:
    """Ages 0 to 99, about as many of each age up to 60, fewer after."""
    ages = np.arange(100)
    weights = np.where(ages < 60, 1.0, np.exp(-(ages - 60) / 12.0))
    years = rng.choice(100, size, p=weights / weights.sum())
    days = ((years + rng.random(size)) * 365.25).astype(np.int64)
    birth: Dates = np.maximum(_TODAY - days.astype("timedelta64[D]"), _FIRST_BIRTH)
    return birth


def _draw_given(origin: Texts, sex: Texts, rng: np.random.Generator) -> Ints:
    given = np.zeros(len(origin), dtype=np.int64)
    for (name, letter), pool in _GIVEN_NAMES.pools.items():
        where = np.flatnonzero((origin == name) & (sex == letter))
        given[where] = pool[_skewed(len(where), len(pool), rng)]
    return given


def _draw_surnames(origin: Texts, rng: np.random.Generator) -> Texts:
    surname = np.full(len(origin), "", dtype=object)
    for name, pool in _SURNAME_POOLS.items():
        where = np.flatnonzero(origin == name)
        surname[where] = pool[_skewed(len(where), len(pool), rng)]
    # A Spanish surname is the father's first surname and the mother's.
    spanish = np.flatnonzero(origin == "spanish")
    pool = _SURNAME_POOLS["spanish"]
    mother = pool[_skewed(len(spanish), len(pool), rng)]
    mother = np.where(mother == surname[spanish], pool[-1], mother)
    surname[spanish] = surname[spanish] + " " + mother
    return surname


def _marriages(
    origin: Texts,
    sex: Texts,
    birth: Dates,
    birth_surname: Texts,
    rng: np.random.Generator,
) -> tuple[Texts, Bools]:
    """Surnames now: many women and a few men took a spouse's surname.

    Spanish people keep theirs, as they would at home. A spouse is mostly of
    the same origin; a fifth of those who changed joined the two names with a
    hyphen, their own first.
    """
    size = len(origin)
    adult = (_TODAY - birth).astype(np.int64) >= 22 * 365
    rate = np.where(sex == "f", 0.45, 0.03)
    married = adult & (origin != "spanish") & (rng.random(size) < rate)
    spouse_origin = np.where(
        rng.random(size) < 0.7,
        origin,
        np.array(_ORIGINS, dtype=object)[rng.integers(0, len(_ORIGINS), size)],
    )
    spouse = np.full(size, "", dtype=object)
    for name, pool in _SURNAME_POOLS.items():
        where = np.flatnonzero(spouse_origin == name)
        spouse[where] = pool[_skewed(len(where), len(pool), rng)]
    married &= spouse != birth_surname
    joined = rng.random(size) < 0.2
    now = np.where(joined, birth_surname + "-" + spouse, spouse)
    surname: Texts = np.where(married, now, birth_surname)
    return surname, married


def _draw_addresses(count: int, rng: np.random.Generator) -> _Address:
    street = _ALL_STREETS[_skewed(count, len(_ALL_STREETS), rng)]
    number = np.minimum(rng.geometric(0.03, count), 250).astype(str).astype(object)
    letter = rng.random(count) < 0.06
    number = np.where(letter, number + "B", number)
    # Flats: "st. tv" on the ground floor, "2. th" on the second, and so on.
    flat = rng.random(count) < 0.35
    level = rng.integers(0, 5, count)
    storey = np.where(level == 0, "st.", level.astype(str).astype(object) + ".")
    side = np.array(_SIDES, dtype=object)[rng.integers(0, len(_SIDES), count)]
    floor = np.where(flat, storey + " " + side, "").astype(object)
    town = _skewed(count, len(_TOWNS), rng)
    return _Address(street, number, floor, _POSTCODES[town], _TOWNS[town])


# Agencies --------------------------------------------------------------------------

_Columns = dict[str, Texts]
_Flags = dict[str, Bools]
_Play = Callable[[_People, np.random.Generator], tuple[Ints, _Columns, _Flags]]


def _coverage(
    eligible: Bools, share: float | npt.NDArray[np.float64], rng: np.random.Generator
) -> Ints:
    """The people an agency holds, as indices."""
    drawn = rng.random(len(eligible)) < np.asarray(share, dtype=np.float64)
    held: Ints = np.flatnonzero(eligible & drawn).astype(np.int64)
    return held


def _repeated(
    held: Ints, rate: float, most: int, rng: np.random.Generator
) -> tuple[Ints, Bools]:
    """``held`` and, for a share ``rate`` of them, 1 to ``most`` more records.

    Returns:
        The shuffled rows, and which rows are a repeat (not the first record).
    """
    again = held[rng.random(len(held)) < rate]
    extra = rng.integers(1, most + 1, len(again))
    rows = np.concatenate([held, np.repeat(again, extra)]).astype(np.int64)
    repeat = np.arange(len(rows)) >= len(held)
    order = rng.permutation(len(rows))
    return rows[order], repeat[order]


def _given_names(
    people: _People,
    rows: Ints,
    rng: np.random.Generator,
    *,
    short: float,
    middle: float,
) -> tuple[Texts, Bools]:
    """Given names as an agency writes them: a short form for a share
    ``short`` of those that have one, the middle name for a share ``middle``.
    """
    count = len(rows)
    given = people.given[rows]
    shorts = _GIVEN_NAMES.shorts[given]
    use_short = (rng.random(count) < short) & (shorts > 0)
    pick = rng.integers(0, 60, count) % np.maximum(shorts, 1)
    name = np.where(
        use_short, _GIVEN_NAMES.short[given, pick], _GIVEN_NAMES.formal[given]
    )
    second = people.middle[rows]
    with_middle = (second >= 0) & (rng.random(count) < middle)
    name = np.where(
        with_middle, name + " " + _GIVEN_NAMES.formal[np.maximum(second, 0)], name
    )
    return name, use_short


def _surnames(
    people: _People,
    rows: Ints,
    rng: np.random.Generator,
    *,
    maiden: float,
    first_part: float,
) -> tuple[Texts, Bools, Bools]:
    """Surnames as an agency holds them: the name at birth for a share
    ``maiden`` of those who changed it, only the first of a Spanish double
    surname for a share ``first_part``.

    Returns:
        The surnames, which are the maiden name, and which lost a part.
    """
    count = len(rows)
    use_maiden = people.married[rows] & (rng.random(count) < maiden)
    surname = np.where(use_maiden, people.birth_surname[rows], people.surname[rows])
    double = people.origin[rows] == "spanish"
    dropped = double & (rng.random(count) < first_part)
    surname = np.where(dropped, _per_value(surname, _first_word), surname)
    return surname, use_maiden, dropped


def _first_word(text: str) -> str:
    return text.split(" ")[0]


def _per_value(values: Texts, change: Callable[[str], str]) -> Texts:
    """``change`` applied once per distinct value."""
    if len(values) == 0:
        return values.copy()
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    changed: Texts = np.array([change(str(value)) for value in uniques], dtype=object)
    return changed[codes]


def _apply(
    values: Texts,
    chosen: Bools,
    change: Callable[[str, float, float], str],
    rng: np.random.Generator,
) -> tuple[Texts, Bools]:
    """``change`` applied to the chosen non-empty values, one by one.

    Returns:
        The values, and which actually changed.
    """
    where = np.flatnonzero(chosen & (values != ""))
    result = values.copy()
    for index, first, second in zip(
        where, rng.random(len(where)), rng.random(len(where)), strict=True
    ):
        result[index] = change(str(values[index]), float(first), float(second))
    return result, result != values


def _date_parts(birth: Dates) -> tuple[Ints, Ints, Ints]:
    years = birth.astype("datetime64[Y]")
    months = birth.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years).astype(np.int64) + 1
    day = (birth - months).astype(np.int64) + 1
    return year, month, day


def _digits(numbers: Ints, width: int) -> Texts:
    if len(numbers) == 0:  # zfill cannot size an empty array's strings
        return np.zeros(0, dtype=object)
    text: Texts = np.char.zfill(numbers.astype(str), width).astype(object)
    return text


def _blank(values: Texts, rate: float, rng: np.random.Generator) -> Texts:
    blanked: Texts = np.where(rng.random(len(values)) < rate, "", values)
    return blanked


def _swapped(given: Texts, surname: Texts, chosen: Bools) -> tuple[Texts, Texts]:
    """Given name and surname exchanged in the chosen records."""
    return np.where(chosen, surname, given), np.where(chosen, given, surname)


def _name_errors(
    given: Texts,
    surname: Texts,
    rng: np.random.Generator,
    *,
    misheard: float,
    typo: float,
    transposed: float,
) -> tuple[Texts, Texts, _Flags]:
    """The name errors every agency makes, at its own rates, on either name."""
    count = len(given)
    flags: _Flags = {}
    for kind, rate, change in (
        ("misheard", misheard, _misheard),
        ("typo", typo, _slip),
        ("transposed", transposed, _transpose),
    ):
        chosen = rng.random(count) < rate
        on_given = rng.random(count) < 0.5
        given, in_given = _apply(given, chosen & on_given, change, rng)
        surname, in_surname = _apply(surname, chosen & ~on_given, change, rng)
        flags[kind] = in_given | in_surname
    return given, surname, flags


def _population(
    people: _People, rng: np.random.Generator
) -> tuple[Ints, _Columns, _Flags]:
    """The population register: nearly everyone, current, careful."""
    rows = _coverage(np.ones(len(people), dtype=bool), 0.97, rng)
    rows = rows[rng.permutation(len(rows))]
    count = len(rows)
    given, _ = _given_names(people, rows, rng, short=0.0, middle=1.0)
    surname = people.surname[rows]
    given, surname, flags = _name_errors(
        given, surname, rng, misheard=0.0, typo=0.004, transposed=0.002
    )
    year, month, day = _date_parts(people.birth[rows])
    known = people.date_known[rows]
    placeholder, partial = known == "placeholder", known == "month"
    month = np.where(placeholder, 1, month)
    day = np.where(placeholder, 1, np.where(partial, 0, day))
    home = people.home.take(rows)
    sex_code = np.where(people.sex[rows] == "m", "1", "2").astype(object)
    columns = {
        "first_names": given,
        "last_name": surname,
        "birth_date": _digits(year, 4) + _digits(month, 2) + _digits(day, 2),
        "sex_code": sex_code,
        "street_name": home.street,
        "house_no": home.number,
        "floor_door": home.floor,
        "post_no": _blank(home.postcode, 0.002, rng),
        "town": home.town,
    }
    flags |= {
        "date_placeholder": placeholder,
        "date_partial": partial,
        "repeat": np.zeros(count, dtype=bool),
    }
    return rows, columns, flags


def _clinic(people: _People, rng: np.random.Generator) -> tuple[Ints, _Columns, _Flags]:
    """The health clinic: a record per contact when the patient is not found."""
    held = _coverage(np.ones(len(people), dtype=bool), 0.65, rng)
    rows, repeat = _repeated(held, 0.25, 4, rng)
    count = len(rows)

    def chance(rate: float) -> Bools:
        return rng.random(count) < rate

    given, short = _given_names(people, rows, rng, short=0.2, middle=0.3)
    surname, maiden, dropped = _surnames(people, rows, rng, maiden=0.25, first_part=0.4)
    given, surname, flags = _name_errors(
        given, surname, rng, misheard=0.03, typo=0.02, transposed=0.01
    )
    # The old patient system wrote UTF-8 and read it back as Latin-1.
    old_system = chance(0.03)
    given, given_mangled = _apply(given, old_system, _mojibake, rng)
    surname, surname_mangled = _apply(surname, old_system, _mojibake, rng)
    swapped = chance(0.01)
    given, surname = _swapped(given, surname, swapped)
    patient = _per_value(surname, str.upper) + ", " + given

    year, month, day = _date_parts(people.birth[rows])
    # Patients without papers gave their real birthday half the time; the
    # rest were copied from the register's 1 January.
    placeholder = (people.date_known[rows] == "placeholder") & chance(0.5)
    month = np.where(placeholder, 1, month)
    day = np.where(placeholder, 1, day)
    exchange = chance(0.015) & (day <= 12) & (day != month)
    month, day = np.where(exchange, day, month), np.where(exchange, month, day)
    # A slip on the year's last digit; never from a 29 February, which the
    # year next to it lacks (the date would not be a date at all).
    slip = chance(0.005) & ~((month == 2) & (day == 29))
    year = np.where(slip, year + np.where(year % 10 == 9, -1, 1), year)
    dob = _digits(day, 2) + "-" + _MONTHS[month - 1] + "-" + _digits(year % 100, 2)
    sex = np.where(people.sex[rows] == "f", "F", "M").astype(object)

    old = people.moved[rows] & chance(0.35)
    address = people.home.take(rows).where(~old, people.previous.take(rows))
    street = np.where(
        chance(0.3), _per_value(address.street, _abbreviate), address.street
    )
    place = address.postcode + " " + address.town
    line = street + " " + address.number
    line = np.where(address.floor != "", line + ", " + address.floor, line)
    box = (people.po_box[rows] != "") & chance(0.4)
    line = np.where(box, people.po_box[rows], line) + ", " + place

    columns = {
        "patient": patient,
        "dob": _blank(dob, 0.02, rng),
        "sex": np.where(chance(0.03), "U", sex),
        "address": _blank(line, 0.03, rng),
    }
    flags |= {
        "repeat": repeat,
        "short_name": short,
        "maiden_name": maiden,
        "surname_part_dropped": dropped,
        "mojibake": given_mangled | surname_mangled,
        "names_swapped": swapped,
        "date_placeholder": placeholder,
        "date_swapped": exchange,
        "date_wrong_year": slip,
        "old_address": old,
        "po_box": box,
    }
    return rows, columns, flags


def _tax(people: _People, rng: np.random.Generator) -> tuple[Ints, _Columns, _Flags]:
    """The tax office: adults, upper-case ASCII, birth year only."""
    adult = people.age() >= 18
    rows = _coverage(adult, 0.88, rng)
    rows = rows[rng.permutation(len(rows))]
    count = len(rows)

    def chance(rate: float) -> Bools:
        return rng.random(count) < rate

    given, short = _given_names(people, rows, rng, short=0.03, middle=1.0)
    # FORENAME holds the first name and a middle initial ("ANNE M"), or for
    # some older returns the first initial only.
    initial_only = chance(0.08)
    given = _per_value(given, _name_and_initial)
    given = np.where(initial_only, _per_value(given, _first_letter), given)
    surname, _, dropped = _surnames(people, rows, rng, maiden=0.02, first_part=0.1)
    hyphenated = people.origin[rows] == "spanish"
    surname = np.where(
        hyphenated & chance(0.3), _per_value(surname, _hyphenate), surname
    )
    surname = np.where(chance(0.5), _per_value(surname, _run_together), surname)
    given, surname, flags = _name_errors(
        given, surname, rng, misheard=0.0, typo=0.01, transposed=0.005
    )
    given = _per_value(given, _spelt_out)
    surname = _per_value(surname, _spelt_out)

    year, _, _ = _date_parts(people.birth[rows])
    wrong_year = chance(0.01)
    year = np.where(wrong_year, year + np.where(chance(0.5), 1, -1), year)

    old = people.moved[rows] & chance(0.08)
    address = people.home.take(rows).where(~old, people.previous.take(rows))
    street = np.where(
        chance(0.6), _per_value(address.street, _abbreviate), address.street
    )
    floor = _per_value(address.floor, lambda text: text.replace(".", ""))
    line = street + " " + address.number
    line = np.where(floor != "", line + " " + floor, line)
    box = (people.po_box[rows] != "") & chance(0.8)
    line = np.where(box, people.po_box[rows], line)
    country = np.where(chance(0.7), "DK-", "")
    line = line + ", " + country + address.postcode + " " + address.town
    columns = {
        "SURNAME": surname,
        "FORENAME": _blank(given, 0.01, rng),
        "BIRTH_YEAR": year.astype(str).astype(object),
        "ADDRESS_LINE": _blank(_per_value(line, _spelt_out), 0.01, rng),
    }
    flags |= {
        "short_name": short,
        "initials": initial_only,
        "surname_part_dropped": dropped,
        "date_wrong_year": wrong_year,
        "old_address": old,
        "po_box": box,
    }
    return rows, columns, flags


def _parish(people: _People, rng: np.random.Generator) -> tuple[Ints, _Columns, _Flags]:
    """The parish register: members' names at birth, no address."""
    share = _by_origin(people.origin, _CHURCH_SHARE)
    rows = _coverage(np.ones(len(people), dtype=bool), share, rng)
    rows = rows[rng.permutation(len(rows))]
    count = len(rows)

    def chance(rate: float) -> Bools:
        return rng.random(count) < rate

    given, _ = _given_names(people, rows, rng, short=0.0, middle=1.0)
    surname = people.birth_surname[rows]
    given, surname, flags = _name_errors(
        given, surname, rng, misheard=0.005, typo=0.01, transposed=0.005
    )
    old_spelling = people.birth[rows] < _REFORM
    given = np.where(old_spelling, _per_value(given, _aa), given)
    surname = np.where(old_spelling, _per_value(surname, _aa), surname)

    year, month, day = _date_parts(people.birth[rows])
    known = people.date_known[rows]
    placeholder = known == "placeholder"
    month = np.where(placeholder, 1, month)
    day = np.where(placeholder, 1, day)
    # Old entries, and people whose day is unknown, have month and year only.
    partial = (known == "month") | (
        (people.birth[rows] < np.datetime64("1950-01-01")) & chance(0.25)
    )
    month_first = chance(0.02) & ~partial
    first = np.where(month_first, month, day).astype(str).astype(object)
    second = np.where(month_first, day, month).astype(str).astype(object)
    year_text = year.astype(str).astype(object)
    born = np.where(
        partial,
        month.astype(str).astype(object) + "/" + year_text,
        first + "/" + second + "/" + year_text,
    )
    columns = {
        "christian_names": _blank(given, 0.005, rng),
        "family_name": surname,
        "born": born,
        "sex": np.where(people.sex[rows] == "f", "K", "M").astype(object),
    }
    flags |= {
        "date_placeholder": placeholder,
        "date_partial": partial,
        "date_swapped": month_first & (day != month),
    }
    return rows, columns, flags


def _utility(
    people: _People, rng: np.random.Generator
) -> tuple[Ints, _Columns, _Flags]:
    """The utility: an account per supply address, closed ones kept."""
    adult = people.age() >= 18
    held = _coverage(adult, 0.5, rng)
    # Customers who moved kept their old account, closed, at the old address.
    closed = held[people.moved[held] & (rng.random(len(held)) < 0.4)]
    # A few opened a second account (a second meter, a holiday cabin's bill
    # sent home) under a name written differently.
    second = held[rng.random(len(held)) < 0.04]
    rows = np.concatenate([held, closed, second]).astype(np.int64)
    at_old = np.arange(len(rows)) >= len(held)
    at_old[len(held) + len(closed) :] = False
    repeat = np.arange(len(rows)) >= len(held)
    order = rng.permutation(len(rows))
    rows, at_old, repeat = rows[order], at_old[order], repeat[order]
    count = len(rows)

    def chance(rate: float) -> Bools:
        return rng.random(count) < rate

    given, short = _given_names(people, rows, rng, short=0.1, middle=0.5)
    initials = chance(0.25)
    given = np.where(initials, _per_value(given, _initials), given)
    surname, maiden, dropped = _surnames(people, rows, rng, maiden=0.1, first_part=0.6)
    given, surname, flags = _name_errors(
        given, surname, rng, misheard=0.02, typo=0.015, transposed=0.01
    )
    swapped = chance(0.02) & ~initials
    given, surname = _swapped(given, surname, swapped)
    customer = np.where(given == "", surname, given + " " + surname)
    customer = _per_value(customer, _accents_dropped)

    address = people.home.take(rows).where(~at_old, people.previous.take(rows))
    street = np.where(
        chance(0.1), _per_value(address.street, _abbreviate), address.street
    )
    columns = {
        "customer": customer,
        "supply_street": _per_value(street, _accents_dropped),
        "supply_no": address.number,
        "supply_postcode": _blank(address.postcode, 0.01, rng),
        "supply_city": _per_value(address.town, _accents_dropped),
    }
    flags |= {
        "repeat": repeat,
        "short_name": short,
        "initials": initials,
        "maiden_name": maiden,
        "surname_part_dropped": dropped,
        "names_swapped": swapped,
        "old_address": at_old,
    }
    return rows, columns, flags


_AGENCIES: dict[str, _Play] = {
    "population": _population,
    "clinic": _clinic,
    "tax": _tax,
    "parish": _parish,
    "utility": _utility,
}
# (prefix, digits, column) of each agency's record IDs.
_RECORD_IDS: dict[str, tuple[str, int, str]] = {
    "population": ("", 8, "register_no"),
    "clinic": ("KL-", 7, "contact_id"),
    "tax": ("T", 7, "tax_ref"),
    "parish": ("PR", 6, "entry"),
    "utility": ("40", 6, "account_no"),
}


# Writing habits ---------------------------------------------------------------------

# The tax office spells letters out (the Nordic and German way); the utility's
# billing system drops what ASCII lacks.
_SPELT_OUT = str.maketrans(
    {"ø": "oe", "Ø": "OE", "å": "aa", "Å": "AA", "æ": "ae", "Æ": "AE",
     "ü": "ue", "Ü": "UE", "ö": "oe", "Ö": "OE", "ä": "ae", "Ä": "AE",
     "ß": "ss"}
)  # fmt: skip
_DROPPED = str.maketrans(
    {"ø": "o", "Ø": "O", "å": "a", "Å": "A", "æ": "ae", "Æ": "Ae", "ß": "ss"}
)


def _without_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _spelt_out(text: str) -> str:
    """Upper-case ASCII with letters spelt out: "Søren O'Brien" -> "SOEREN OBRIEN"."""
    return _without_marks(text.translate(_SPELT_OUT)).replace("'", "").upper()


def _accents_dropped(text: str) -> str:
    """ASCII with what it lacks dropped: "Søren O'Brien" -> "Soren O Brien"."""
    return _without_marks(text.translate(_DROPPED)).replace("'", " ")


def _aa(text: str) -> str:
    """Å written as before the spelling reform."""
    return text.replace("Å", "Aa").replace("å", "aa")


def _abbreviate(street: str) -> str:
    return _ABBREVIATED.get(street, street)


def _name_and_initial(given: str) -> str:
    """ "Anne Marie" -> "Anne M"."""
    first, _, rest = given.partition(" ")
    return f"{first} {rest[0]}" if rest else first


def _first_letter(given: str) -> str:
    return given[:1]


def _initials(given: str) -> str:
    """ "Anne Marie" -> "A. M."."""
    return " ".join(f"{word[0]}." for word in given.split())


def _hyphenate(surname: str) -> str:
    return surname.replace(" ", "-")


def _run_together(surname: str) -> str:
    """Particles joined to the name: "van der Berg" -> "Vanderberg"."""
    if not surname[:1].islower():
        return surname
    return surname.replace(" ", "").capitalize()


def _mojibake(text: str, _first: float, _second: float) -> str:
    """UTF-8 read as Latin-1: "Søren" -> "SÃ¸ren" (ASCII names are unharmed)."""
    return text.encode("utf-8").decode("latin-1")


# Heard, not read: what a name is taken for over the telephone. Each rule
# applies in the direction written, at one place where it fits.
_SOUNDS_ALIKE = (
    ("C", "K"),
    ("K", "C"),
    ("ph", "f"),
    ("th", "t"),
    ("sen", "son"),
    ("son", "sen"),
    ("ie", "y"),
    ("y", "ie"),
    ("ei", "ie"),
    ("ck", "k"),
    ("ss", "s"),
    ("ll", "l"),
    ("ou", "u"),
    ("w", "v"),
    ("z", "s"),
    ("ine", "yn"),
    ("dt", "t"),
    ("ue", "u"),
)


def _misheard(text: str, which: float, where: float) -> str:
    rules = [(heard, written) for heard, written in _SOUNDS_ALIKE if heard in text]
    if not rules:
        return text
    heard, written = rules[int(which * len(rules))]
    spots = [i for i in range(len(text)) if text.startswith(heard, i)]
    at = spots[int(where * len(spots))]
    return text[:at] + written + text[at + len(heard) :]


# A QWERTY keyboard's letter rows; a slip hits the key left or right.
_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_BESIDE = {
    row[i]: row[max(i - 1, 0) : i] + row[i + 1 : i + 2]
    for row in _KEY_ROWS
    for i in range(len(row))
}


def _slip(text: str, which: float, where: float) -> str:
    at = int(where * len(text))
    letter = text[at]
    keys = _BESIDE.get(letter.lower(), "")
    if not keys:
        return text
    key = keys[int(which * len(keys))]
    return text[:at] + (key.upper() if letter.isupper() else key) + text[at + 1 :]


def _transpose(text: str, _which: float, where: float) -> str:
    if len(text) < 3:
        return text
    # Not the first letter: people rarely get the first letter wrong.
    at = 1 + int(where * (len(text) - 2))
    return text[:at] + text[at + 1] + text[at] + text[at + 2 :]
