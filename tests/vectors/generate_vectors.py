"""Generate the clkhash 0.18.3 compatibility test vectors in ``tests/vectors/``.

Provenance
----------
Every CLK in ``tests/vectors/*.json`` was computed by clkhash 0.18.3 itself, never
by ``linkage``: this script imports only the standard library and clkhash. Each
row is encoded on its own with validation switched on::

    clkhash.clk.generate_clks([row], schema, secret, validate=True, max_workers=1)

and the resulting bitarray (big-endian bit order) is stored as standard base64 of
``bitarray.tobytes()``. When ``l`` is not a multiple of 8 the last byte is padded
with zero bits, exactly as ``tobytes()`` does.

A row that clkhash refuses is stored as an ``invalid`` case with clkhash's message
(``str(exception)``), the identifier of the failing column (``field``), the
exception class (``error``) and the stage where clkhash failed (``stage``):

* ``"validation"``: clkhash's data validation raised ``EntryError``;
* ``"hashing"``: validation passed but formatting, tokenising or hashing raised
  (e.g. a numeric comparison on a ``string`` column given ``"abc"``). clkhash does
  not say which column failed there, so this script finds it by running clkhash's
  own per-field formatting, tokenising and hashing on each column in turn.

The random data (FEBRL-like names, addresses and dates) come from the small lists
below and a fixed seed per file, so the output is byte-for-byte reproducible. The
only value that depends on the machine is ``generated_with`` (clkhash and Python
versions). clkhash's enum error message lists the permitted values in ``set``
order, which depends on string hashing, so the script re-executes itself with
``PYTHONHASHSEED=0`` to make that message stable.

The file ``reference.json`` holds the three test vectors of
``/work/shared/reference/clkhash-v3.md``; the script asserts that clkhash
reproduces them exactly.

How to re-run
-------------
From the repository root, with a virtual environment holding clkhash 0.18.3
(``python -m venv /tmp/ck && /tmp/ck/bin/pip install clkhash==0.18.3``)::

    /tmp/peer/venv/bin/python tests/vectors/generate_vectors.py

The script rewrites every ``tests/vectors/*.json`` file it owns and prints a
summary. It refuses to run with any other clkhash version.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime as dt
import json
import os
import platform
import random
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import clkhash
from clkhash import clk as clk_module
from clkhash import schema as clk_schema
from clkhash.bloomfilter import _double_hash_token, hashing_function_from_properties
from clkhash.key_derivation import generate_key_lists
from clkhash.validate_data import EntryError

CLKHASH_VERSION = "0.18.3"
OUT_DIR = Path(__file__).resolve().parent
PROVENANCE = f"tests/vectors/generate_vectors.py, clkhash {CLKHASH_VERSION}"

Row = list[str]
# (row, expected column of failure or None when the row should be valid)
Case = tuple[Row, str | None]

# --------------------------------------------------------------------------- data

GIVEN_NAMES = [
    "Jane", "Jon", "Zoë", "Łukasz", "José", "Olivia", "Liam", "Charlotte",
    "Noah", "Amelia", "Jack", "Isla", "William", "Mia", "Oliver", "Ava",
    "Thomas", "Grace", "James", "Chloe", "Lachlan", "Sophie", "Ethan", "Ruby",
    "Joshua", "Emily", "Samuel", "Ella", "Benjamin", "Harper", "Mary-Jane",
    "D'Arcy", "Siobhán", "Björn", "François", "Søren", "Ólafur", "Zoë-Lee",
    "Jean-Luc", "Anh", "Thị", "Priya", "Mohammed", "Aaliyah", "Kai", "Ngaio",
    "太郎", "さくら", "Владимир", "Αλέξανδρος", "Renée", "Chloé", "Jürgen",
    "Ines", "Matías", "Aroha", "Sean", "Seán", "Bartholomew", "Al",
]  # fmt: skip

SURNAMES = [
    "Smith", "Doe", "O'Brien", "Müller", "García", "Nguyễn", "山田", "Kowalski",
    "van der Berg", "Smith-Jones", "McDonald", "O'Connor", "Lee", "Wang",
    "Kelly", "Brown", "White", "de la Cruz", "Fitzgerald", "Ó Súilleabháin",
    "Kim", "Papadopoulos", "Ivanov", "Ferreira", "Dąbrowski", "Sørensen",
    "Łukasiewicz", "Te Whiu", "Al-Hassan", "Mbeki", "Nakamura", "Schröder",
    "Yılmaz", "Østergaard", "Đorđević", "Ng", "Wolfeschlegelsteinhausen",
]  # fmt: skip

STREETS = [
    "harrington street", "o'connell road", "kirk place", "wilkins crescent",
    "ebden street", "macquarie street", "norman street", "bonython avenue",
    "mcgregor place", "parer street", "st kilda road", "rue de l'église",
    "königsallee", "calle mayor", "marine parade", "banks street",
    "ainslie avenue", "jerrabomberra avenue", "duffy street", "lilley place",
]  # fmt: skip

ADDRESS_2 = [
    "", "", "", "", "kooltuo", "brentwood vlge", "rowethorpe", "rsde 123",
    "unit 4", "flat 2b", "c/o post office", "the willows", "gleneagles",
    "villa 12", "level 3, suite 301",
]  # fmt: skip

SUBURBS = [
    "kingston", "o'connor", "wagga wagga", "smithfield", "dee why", "braddon",
    "port macquarie", "mount isa", "coffs harbour", "alice springs", "st kilda",
    "yass", "bega", "toowoomba", "launceston", "fremantle", "queanbeyan",
    "woden valley", "ngunnawal", "nar nar goon", "tom price",
]  # fmt: skip

STATES = ["nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]  # fmt: skip

# Hard strings: combining characters, emoji, control characters, long values.
E_ACUTE_NFD = "e\u0301"
HARD_STRINGS = [
    "Jos" + E_ACUTE_NFD,  # NFD form of José
    "Zo" + "e\u0308",  # NFD form of Zoë
    "Z\u0335o\u0336e\u0337",  # stacked combining strokes
    "\U0001f600",  # emoji
    "Ana \U0001f469\u200d\U0001f4bb",  # ZWJ emoji sequence
    "\U0001f44d\U0001f3fd",  # emoji with skin-tone modifier
    "  leading spaces",
    "trailing spaces   ",
    " both ",
    "tab\there",
    "new\nline",
    "O'Neill-Smythe",
    "d'Artagnan",
    "--",
    "'",
    " ",
    "Ⅻ ﬁ ß ẞ ǅ",  # compatibility characters and title-case digraph
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  # astral-plane letters (surrogate pairs in UTF-16)
    "مرحبا",
    "שלום",
    "नमस्ते",
    "x" * 300,
    "Hubert Blaine Wolfeschlegelsteinhausenbergerdorff Sr. " * 4,
]


@dataclasses.dataclass
class Person:
    """A FEBRL-like synthetic person."""

    rec_id: str
    given: str
    surname: str
    street_number: str
    address_1: str
    address_2: str
    suburb: str
    postcode: str
    state: str
    dob: dt.date
    soc_sec_id: str
    sex: str


def random_date(rng: random.Random) -> dt.date:
    """A date of birth; sometimes a leap day."""
    if rng.random() < 0.05:
        return dt.date(rng.choice([1904, 1948, 1980, 1996, 2000, 2012]), 2, 29)
    lo = dt.date(1920, 1, 1).toordinal()
    hi = dt.date(2015, 12, 31).toordinal()
    return dt.date.fromordinal(rng.randint(lo, hi))


def make_person(rng: random.Random, i: int) -> Person:
    """A fresh FEBRL-like original record."""
    return Person(
        rec_id=f"rec-{i}-org",
        given=rng.choice(GIVEN_NAMES),
        surname=rng.choice(SURNAMES),
        street_number=str(rng.choice([rng.randint(1, 99), rng.randint(1, 9999)])),
        address_1=rng.choice(STREETS),
        address_2=rng.choice(ADDRESS_2),
        suburb=rng.choice(SUBURBS),
        postcode=f"{rng.randint(800, 7999):04d}",
        state=rng.choice(STATES),
        dob=random_date(rng),
        soc_sec_id=f"{rng.randint(0, 9_999_999):07d}",
        sex=rng.choice("mf"),
    )


def typo(rng: random.Random, s: str) -> str:
    """One FEBRL-style typing error: delete, insert, substitute or transpose."""
    if len(s) < 2:
        return s + "e"
    pos = rng.randrange(len(s) - 1)
    op = rng.choice(["delete", "insert", "substitute", "transpose"])
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if op == "delete":
        return s[:pos] + s[pos + 1 :]
    if op == "insert":
        return s[:pos] + letter + s[pos:]
    if op == "substitute":
        return s[:pos] + letter + s[pos + 1 :]
    return s[:pos] + s[pos + 1] + s[pos] + s[pos + 2 :]


def make_duplicate(rng: random.Random, p: Person, j: int) -> Person:
    """A corrupted duplicate of ``p`` (one to three modifications)."""
    d = dataclasses.replace(p, rec_id=p.rec_id.replace("-org", f"-dup-{j}"))
    for _ in range(rng.randint(1, 3)):
        what = rng.randrange(9)
        if what == 0:
            d.given = typo(rng, d.given)
        elif what == 1:
            d.surname = typo(rng, d.surname)
        elif what == 2:
            d.given, d.surname = d.surname, d.given
        elif what == 3:
            d.address_2 = ""
        elif what == 4:
            number = int(d.street_number) + rng.choice([-1, 1, 10])
            d.street_number = str(max(number, 1))
        elif what == 5:
            d.dob = d.dob + dt.timedelta(days=rng.choice([-366, -1, 1, 31]))
        elif what == 6:
            digits = list(d.postcode)
            digits[rng.randrange(4)] = str(rng.randrange(10))
            d.postcode = "".join(digits)
        elif what == 7:
            d.suburb = typo(rng, d.suburb)
        else:
            d.address_1 = typo(rng, d.address_1)
    return d


def febrl_people(rng: random.Random, originals: int, dups: int) -> list[Person]:
    """Originals followed by corrupted duplicates of randomly chosen originals."""
    people = [make_person(rng, i) for i in range(originals)]
    for j in range(dups):
        people.append(make_duplicate(rng, rng.choice(people[:originals]), j))
    return people


def messy(rng: random.Random, s: str) -> str:
    """Unconstrained-string noise: spaces, case, NFD, emoji or a hard string."""
    r = rng.random()
    if r < 0.06:
        return " " + s
    if r < 0.12:
        return s + "  "
    if r < 0.18:
        return s.upper()
    if r < 0.24:
        return unicodedata.normalize("NFD", s)
    if r < 0.28:
        return s + " \U0001f600"
    if r < 0.34:
        return rng.choice(HARD_STRINGS)
    if r < 0.38:
        return ""
    return s


def to_ascii(s: str) -> str:
    """Drop everything that is not ASCII after NFKD decomposition."""
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


def ymd(d: dt.date) -> str:
    """``%Y%m%d`` rendered by hand (zero padded year)."""
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def substitute(rows: Sequence[Row], columns: Sequence[str], bad: Iterable) -> list:
    """Invalid cases: a valid base row with one value replaced.

    ``bad`` yields ``(column, value)``; the base rows are taken round-robin.
    """
    out: list[Case] = []
    for i, (column, value) in enumerate(bad):
        row = list(rows[(7 * i) % len(rows)])
        row[columns.index(column)] = value
        out.append((row, column))
    return out


# ------------------------------------------------------------------ schema helpers


def feature(
    identifier: str,
    fmt: dict[str, Any],
    comparison: dict[str, Any],
    strategy: dict[str, Any],
    hash_: dict[str, Any] | None = None,
    missing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A v3 feature; ``hash_`` None leaves the ``hash`` key out (blakeHash)."""
    hashing: dict[str, Any] = {"comparison": comparison, "strategy": strategy}
    if hash_ is not None:
        hashing["hash"] = hash_
    if missing is not None:
        hashing["missingValue"] = missing
    return {"identifier": identifier, "format": fmt, "hashing": hashing}


def ignored(identifier: str, description: str | None = None) -> dict[str, Any]:
    """An ignored feature (it still consumes a key slot)."""
    out: dict[str, Any] = {"identifier": identifier, "ignored": True}
    if description is not None:
        out["description"] = description
    return out


def string(**kw: Any) -> dict[str, Any]:
    return {"type": "string", **kw}


def ngram(n: int, positional: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "ngram", "n": n}
    if positional is not None:
        out["positional"] = positional
    return out


def numeric(td: float, res: int, fp: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "numeric", "thresholdDistance": td}
    out["resolution"] = res
    if fp is not None:
        out["fractional_precision"] = fp
    return out


EXACT = {"type": "exact"}
DOUBLE = {"type": "doubleHash"}
DOUBLE_PS = {"type": "doubleHash", "prevent_singularity": True}
DOUBLE_NO_PS = {"type": "doubleHash", "prevent_singularity": False}
BLAKE = {"type": "blakeHash"}


def bpt(k: int) -> dict[str, int]:
    return {"bitsPerToken": k}


def bpf(k: int) -> dict[str, int]:
    return {"bitsPerFeature": k}


def clk_config(
    l: int,  # noqa: E741 - the schema calls it l
    *,
    hash_: str | None = None,
    salt: str | None = None,
    info: str | None = None,
    key_size: int | None = None,
    xor_folds: int | None = None,
    xor_folds_camel: int | None = None,
) -> dict[str, Any]:
    kdf: dict[str, Any] = {"type": "HKDF"}
    if hash_ is not None:
        kdf["hash"] = hash_
    if salt is not None:
        kdf["salt"] = salt
    if info is not None:
        kdf["info"] = info
    if key_size is not None:
        kdf["keySize"] = key_size
    out: dict[str, Any] = {"l": l, "kdf": kdf}
    if xor_folds is not None:
        out["xor_folds"] = xor_folds
    if xor_folds_camel is not None:
        out["xorFolds"] = xor_folds_camel
    return out


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# Salt of clkhash's tests/testdata/good-schema-v3.json (used by the reference vectors).
SALT_A = "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA=="  # noqa: E501
SALT_B = b64("linkage compatibility vectors salt")
INFO_A = b64("schema_example")
INFO_B = b64("linkage/test-vectors/v1")


@dataclasses.dataclass
class VectorFile:
    """One output file: a schema, a secret and the rows to encode."""

    name: str
    description: str
    schema: dict[str, Any]
    secret: str
    cases: list[Case]
    schema_version: int = 3
    expected: dict[int, str] = dataclasses.field(default_factory=dict)
    min_singularities: int = 0


# ------------------------------------------------------------------- the files


def reference_file() -> VectorFile:
    """The three vectors of /work/shared/reference/clkhash-v3.md."""
    schema = {
        "version": 3,
        "clkConfig": clk_config(
            1024, hash_="SHA256", salt=SALT_A, info=INFO_A, key_size=64
        ),
        "features": [
            ignored("id"),
            feature("firstName", string(), ngram(2), bpf(200), DOUBLE),
            feature("lastName", string(), ngram(2), bpt(20), BLAKE),
            feature(
                "dob",
                {"type": "date", "format": "%Y-%m-%d"},
                ngram(1, True),
                bpf(100),
                DOUBLE_PS,
            ),
            feature("gender", {"type": "enum", "values": ["M", "F"]}, EXACT, bpt(50)),
        ],
    }
    rows = [
        ["0", "Jane", "Doe", "1980-02-29", "F"],
        ["1", "Jon", "Smith", "1975-12-01", "M"],
        ["2", "Zoë", "O'Brien", "2001-07-04", "F"],
    ]
    return VectorFile(
        name="reference",
        description=(
            "The three reference vectors of /work/shared/reference/clkhash-v3.md "
            "(section 5), regenerated with clkhash and asserted equal to the "
            "published strings: v3 schema, l=1024, HKDF SHA256 with salt and info, "
            "keySize 64; ignored first column, 2-gram doubleHash bitsPerFeature, "
            "2-gram blakeHash bitsPerToken, positional 1-gram date with "
            "prevent_singularity, exact enum with the default hash."
        ),
        schema=schema,
        secret="correct horse battery staple",
        cases=[(r, None) for r in rows],
        expected={
            0: "khEL+h4HEBKWgZAABwNiQAADJIIA67AJAQEoCHJlJkIQNchWAAUA+7C5SA8BIUADCudgAg"
            "EvCVo8q7tQgSlGEGxBEoQnQ8IEIMOHI6uRBgLgBSCAdAlAhSwpNIWpI6ulMi8QAEADzFBE"
            "iyhTfI8GsCr5JTSBCUGhDJEU4AITeSA=",
            1: "W4EksJBNGQA1ERcBIGPQQJSjYFNBlbBBvBlVdFhZpxBTlbBHLRFpFHDxBNlhBVBLRXVDBp"
            "TlFLXQSRdi48EHEAFRCIJ0g1dQAYUUkckdKIDFRbAFGAFBL0iBRBUmyQ+J0AmEsAELEE5C"
            "BaUAxGUAlQBHjQAAEUSZQUEWSJAhQVA=",
            2: "lGGf4J2iEMooA5T0hRTB1QGogLJAmieRNV/BkB1IguARBfifPLAE+ZE4WrMABHDAKYSnlR"
            "DqMtaIhKCY2ExjsW2AqJAGwGGcpCcBsIkPgJHUZ7DMKKAQgB0kLbHckAKMQ2kQkCYhgNFE"
            "2LnzBEkahcOVQLSAJBmZRhBE2jMBKMk=",
        },
    )


FEBRL_COLUMNS = [
    "rec_id", "given_name", "surname", "street_number", "address_1", "address_2",
    "suburb", "postcode", "state", "date_of_birth", "soc_sec_id",
]  # fmt: skip


def febrl_doublehash_file() -> VectorFile:
    rng = random.Random(1001)
    state_fmt = {"type": "enum", "values": STATES}
    schema = {
        "version": 3,
        "clkConfig": clk_config(
            1024, hash_="SHA256", salt=SALT_B, key_size=64, xor_folds=0
        ),
        "features": [
            ignored("rec_id"),
            feature(
                "given_name",
                string(encoding="utf-8", case="mixed", maxLength=400),
                ngram(2),
                bpf(150),
                DOUBLE,
            ),
            feature("surname", string(), ngram(2), bpf(150), DOUBLE_NO_PS),
            feature(
                "street_number",
                {"type": "integer", "minimum": 0, "maximum": 99999},
                EXACT,
                bpt(30),
                DOUBLE,
                {"sentinel": ""},
            ),
            feature("address_1", string(), ngram(3), bpf(100), DOUBLE),
            feature("address_2", string(), ngram(2), bpt(5), DOUBLE, {"sentinel": ""}),
            feature("suburb", string(), ngram(2), bpf(100), DOUBLE_PS),
            feature(
                "postcode", string(pattern="[0-9]{4}"), ngram(1, True), bpf(40), DOUBLE
            ),
            feature("state", state_fmt, EXACT, bpt(40), DOUBLE),
            feature(
                "date_of_birth",
                {"type": "date", "format": "%Y%m%d"},
                ngram(1, True),
                bpf(80),
                DOUBLE,
                {"sentinel": ""},
            ),
            feature(
                "soc_sec_id",
                string(pattern="[0-9]{7}"),
                ngram(2, False),
                bpf(70),
                DOUBLE,
            ),
        ],
    }
    rows: list[Row] = []
    for p in febrl_people(rng, 190, 110):
        street_number = rng.choice(
            [p.street_number] * 6 + ["", f" {p.street_number}", f"+{p.street_number}"]
            + [f"00{p.street_number}", f"{p.street_number} "]
        )  # fmt: skip
        dob = "" if rng.random() < 0.05 else ymd(p.dob)
        rows.append(
            [
                p.rec_id,
                messy(rng, p.given),
                messy(rng, p.surname),
                street_number,
                p.address_1,
                p.address_2,
                p.suburb,
                p.postcode,
                p.state,
                dob,
                p.soc_sec_id,
            ]
        )
    bad = [
        ("street_number", "12a"),
        ("street_number", "-1"),
        ("street_number", "100000"),
        ("street_number", "1.5"),
        ("street_number", " "),
        ("street_number", "N/A"),
        ("given_name", "x" * 401),
        ("given_name", "\ud800"),  # lone surrogate: not encodable in UTF-8
        ("postcode", "260"),
        ("postcode", "26000"),
        ("postcode", "26O0"),
        ("postcode", ""),
        ("postcode", " 2600"),
        ("state", "NSW"),
        ("state", "new south wales"),
        ("state", ""),
        ("state", "nsw "),
        ("date_of_birth", "19800230"),
        ("date_of_birth", "19000229"),
        ("date_of_birth", "19801301"),
        ("date_of_birth", "1980-01-01"),
        ("date_of_birth", "01011980"),
        ("date_of_birth", "19800101 "),
        ("date_of_birth", "N/A"),
        ("soc_sec_id", "123456"),
        ("soc_sec_id", "12345678"),
        ("soc_sec_id", "123 4567"),
        ("soc_sec_id", ""),
        ("soc_sec_id", "１２３４５６７"),  # fullwidth digits: [0-9] is ASCII only
    ]
    return VectorFile(
        name="febrl_doublehash",
        description=(
            "FEBRL-like person records (originals and corrupted duplicates) encoded "
            "with doubleHash everywhere: prevent_singularity absent, false and true. "
            "l=1024 with explicit xor_folds 0, HKDF SHA256 with salt and no info, "
            "keySize 64. Ignored first column, string / integer (min, max, "
            "sentinel '') / pattern / enum / date %Y%m%d (sentinel '') columns, "
            "ngram n=1 positional, 2 and 3, exact; bitsPerFeature not divisible by "
            "the token count. Integers written as ' 12', '+12', '0012', '12 '. "
            "Names include non-ASCII, NFD, emoji, control characters, long values."
        ),
        schema=schema,
        secret="febrl doubleHash secret",
        cases=[(r, None) for r in rows] + substitute(rows, FEBRL_COLUMNS, bad),
    )


def febrl_blake_file() -> VectorFile:
    rng = random.Random(1002)
    schema = {
        "version": 3,
        "clkConfig": clk_config(2048, hash_="SHA512", key_size=32, xor_folds=1),
        "features": [
            ignored("rec_id"),
            feature("given_name", string(case="lower"), ngram(2), bpt(15)),
            feature("surname", string(case="lower"), ngram(2), bpt(15), BLAKE),
            feature(
                "street_number",
                {"type": "integer", "minimum": 1},
                numeric(10, 2),
                bpf(50),
                None,
                {"sentinel": "", "replaceWith": ""},
            ),
            feature("address_1", string(case="lower"), ngram(3), bpf(120), BLAKE),
            ignored("address_2", "ignored in the middle"),
            feature("suburb", string(case="lower"), ngram(2, True), bpf(90)),
            feature("postcode", string(pattern=r"\d{4}"), EXACT, bpt(40), BLAKE),
            feature("state", {"type": "enum", "values": STATES}, EXACT, bpt(70)),
            feature(
                "date_of_birth",
                {"type": "date", "format": "%Y%m%d", "description": "FEBRL dob"},
                ngram(2),
                bpf(64),
                BLAKE,
                {"sentinel": ""},
            ),
            feature(
                "soc_sec_id", string(pattern="[0-9]{7}"), ngram(3, True), bpf(5), BLAKE
            ),
        ],
    }
    rows: list[Row] = []
    for p in febrl_people(rng, 150, 100):
        rows.append(
            [
                p.rec_id,
                p.given.lower(),
                p.surname.lower(),
                rng.choice([p.street_number] * 5 + ["", "007", " 42 "]),
                p.address_1,
                rng.choice([p.address_2, "\ud800 anything goes in an ignored column"]),
                p.suburb,
                p.postcode,
                p.state,
                "" if rng.random() < 0.05 else ymd(p.dob),
                p.soc_sec_id,
            ]
        )
    bad = [
        ("given_name", "Jane"),
        ("given_name", "ZOË"),
        ("surname", "O'Brien"),
        ("surname", "ǅ"),  # title-case digraph: neither lower nor upper
        ("street_number", "0"),
        ("street_number", "-3"),
        ("street_number", "twelve"),
        ("street_number", "4 2"),
        ("address_1", "Harrington Street"),
        ("suburb", "KINGSTON"),
        ("postcode", "٢٦٠٠"),  # Arabic-Indic digits: \d matches them, see valid rows
        ("postcode", "2600\n"),
        ("state", "NT"),
        ("date_of_birth", "20010229"),
        ("date_of_birth", "2001-02-28"),
        ("date_of_birth", "20011231x"),
        ("soc_sec_id", "12345 7"),
    ]
    # \d in Python matches any Unicode decimal digit; this is a *valid* postcode.
    valid_extra = [list(rows[0]), list(rows[1])]
    valid_extra[0][FEBRL_COLUMNS.index("postcode")] = "٢٦٠٠"
    valid_extra[1][FEBRL_COLUMNS.index("postcode")] = "２６００"
    bad = [b for b in bad if b != ("postcode", "٢٦٠٠")]
    return VectorFile(
        name="febrl_blake",
        description=(
            "FEBRL-like person records encoded with blakeHash, both with the hash "
            "key absent (default) and explicit. l=2048 with xor_folds 1 (4096 bits "
            "hashed, folded once), HKDF SHA512 with no salt and no info, keySize 32. "
            "Lower-case string columns, an ignored column in the middle, integer "
            "with numeric comparison and a sentinel replaced by '', pattern \\d{4} "
            "(which also accepts non-ASCII Unicode digits), bitsPerToken above 32 "
            "(several BLAKE2b digests per token), bitsPerFeature 5 over 9 tokens."
        ),
        schema=schema,
        secret="febrl blake secret",
        cases=[(r, None) for r in rows + valid_extra]
        + substitute(rows, FEBRL_COLUMNS, bad),
    )


STRING_COLUMNS = [
    "name_ascii", "name_upper", "name_lower_utf16", "name_utf32",
    "code_pattern_utf16", "free_text", "short", "words_pattern",
]  # fmt: skip


def strings_file() -> VectorFile:
    rng = random.Random(1003)
    schema = {
        "version": 3,
        "clkConfig": clk_config(
            1024, hash_="SHA256", salt=SALT_B, info=INFO_B, key_size=64
        ),
        "features": [
            feature(
                "name_ascii", string(encoding="ascii", case="mixed"), ngram(2),
                bpf(100), DOUBLE,
            ),
            feature(
                "name_upper", string(encoding="utf-8", case="upper"), ngram(2), bpt(10)
            ),
            feature(
                "name_lower_utf16", string(encoding="utf-16", case="lower"), ngram(2),
                bpf(100), DOUBLE_PS,
            ),
            feature(
                "name_utf32", string(encoding="utf-32", minLength=2, maxLength=20),
                ngram(3), bpt(8), BLAKE,
            ),
            feature(
                "code_pattern_utf16",
                string(encoding="utf-16", pattern="[A-Z]{2}-[0-9]{3}"),
                ngram(1, True), bpt(10), DOUBLE,
            ),
            feature("free_text", string(), ngram(2), bpf(200), BLAKE),
            feature(
                "short", string(minLength=1, maxLength=5), EXACT, bpt(30), DOUBLE_NO_PS
            ),
            feature(
                "words_pattern", string(pattern=r"\w+( \w+)*"), ngram(2), bpt(7)
            ),
        ],
    }  # fmt: skip
    rows: list[Row] = []
    for _ in range(230):
        given = rng.choice(GIVEN_NAMES)
        surname = rng.choice(SURNAMES)
        name = f"{given} {surname}"
        utf32 = name if 2 <= len(name) <= 20 else name[:20]
        if rng.random() < 0.15:
            utf32 = unicodedata.normalize("NFD", utf32)[:20]
        short = rng.choice([given[:5], surname[:5], "ß", "👍🏽", "a b", "x", "'", "-"])
        words = rng.choice([name, given, "ünïcödé wörds", "山田 太郎", "x_y 1_2"])
        # Keep only \w characters (what str.isalnum() or "_" accept), one space.
        words = "".join(c if c.isalnum() or c == "_" else " " for c in words)
        words = " ".join(words.split()) or "x"
        rows.append(
            [
                to_ascii(messy(rng, name)),
                name.upper(),
                messy(rng, name).lower(),
                utf32,
                f"{rng.choice(['AB', 'QX', 'ZZ'])}-{rng.randint(0, 999):03d}",
                messy(rng, rng.choice([name, *HARD_STRINGS])),
                short,
                words,
            ]
        )
    bad = [
        ("name_ascii", "Zoë"),
        ("name_ascii", "Jos" + E_ACUTE_NFD),
        ("name_ascii", "山田"),
        ("name_ascii", "\U0001f600"),
        ("name_upper", "Jane DOE"),
        ("name_upper", "STRAßE"),  # 'ß'.upper() == 'SS', so not upper case
        ("name_upper", "ǅ"),
        ("name_upper", "jane"),
        ("name_lower_utf16", "Jane"),
        ("name_lower_utf16", "zoË"),
        ("name_lower_utf16", "\udc00"),
        ("name_utf32", "J"),
        ("name_utf32", ""),
        ("name_utf32", "abcdefghijklmnopqrstu"),
        ("name_utf32", unicodedata.normalize("NFD", "Éléonore Bérénice")[:21]),
        ("code_pattern_utf16", "ab-123"),
        ("code_pattern_utf16", "AB-1234"),
        ("code_pattern_utf16", "AB123"),
        ("code_pattern_utf16", ""),
        ("code_pattern_utf16", "AB-123 "),
        ("code_pattern_utf16", "ÀB-123"),
        ("free_text", "broken \ud83d surrogate"),
        ("short", ""),
        ("short", "abcdef"),
        ("short", "Jos" + E_ACUTE_NFD + "!"),  # 6 code points in NFD form
        ("words_pattern", "O'Brien"),
        ("words_pattern", "Mary-Jane"),
        ("words_pattern", " leading"),
        ("words_pattern", "double  space"),
        ("words_pattern", ""),
    ]
    valid_extra = []
    for col, value in [
        ("name_utf32", "Éléonore Bérénice"),  # 17 code points composed
        ("short", "Jos" + E_ACUTE_NFD),  # 5 code points
        ("name_upper", "STRASSE ẞ"),  # capital sharp s is its own upper case
        ("name_lower_utf16", "straße ß"),
        ("name_ascii", ""),
        ("name_ascii", "tab\tand\nnewline"),
        ("words_pattern", "Zoë Łukasz 山田 42"),
        ("code_pattern_utf16", "ZZ-000"),
    ]:
        row = list(rows[len(valid_extra)])
        row[STRING_COLUMNS.index(col)] = value
        valid_extra.append(row)
    return VectorFile(
        name="strings",
        description=(
            "String format options: encoding ascii, utf-8, utf-16 and utf-32 (a "
            "token's bytes are token.encode(encoding), so utf-16 and utf-32 tokens "
            "each start with a byte-order mark), case upper / lower / mixed, "
            "minLength and maxLength (counted in code points, no Unicode "
            "normalisation), pattern (re.fullmatch). l=1024, HKDF SHA256 with salt "
            "and info, keySize 64. Values without normalisation: NFD vs NFC, "
            "emoji, control characters, leading/trailing spaces, long strings."
        ),
        schema=schema,
        secret="strings secret",
        cases=[(r, None) for r in rows + valid_extra]
        + substitute(rows, STRING_COLUMNS, bad),
    )


IDE_COLUMNS = [
    "id", "age", "count", "dob_iso", "dob_dmy", "dob_compact", "dob_text",
    "note", "dob_long", "dob_short_year", "sex", "title", "country",
]  # fmt: skip


def integers_dates_enums_file() -> VectorFile:
    rng = random.Random(1004)
    countries = ["Österreich", "España", "日本", "Ελλάδα", "Australia", "Aotearoa"]
    schema = {
        "version": 3,
        "clkConfig": clk_config(
            512, hash_="SHA512", salt=SALT_A, info=INFO_B, key_size=64, xor_folds=2
        ),
        "features": [
            ignored("id"),
            feature(
                "age", {"type": "integer", "minimum": 0, "maximum": 130}, EXACT,
                bpt(20), DOUBLE,
            ),
            feature("count", {"type": "integer"}, ngram(2), bpf(30), BLAKE),
            feature(
                "dob_iso", {"type": "date", "format": "%Y-%m-%d"}, ngram(2), bpf(60),
                DOUBLE_PS,
            ),
            feature(
                "dob_dmy", {"type": "date", "format": "%d/%m/%Y"}, ngram(1, True),
                bpt(6),
            ),
            feature(
                "dob_compact", {"type": "date", "format": "%Y%m%d"}, EXACT, bpt(25),
                DOUBLE,
            ),
            feature(
                "dob_text", {"type": "date", "format": "%d %b %Y"}, ngram(2, True),
                bpf(40), BLAKE,
            ),
            ignored("note"),
            feature(
                "dob_long", {"type": "date", "format": "%B %d, %Y"}, ngram(1),
                bpf(33), DOUBLE,
            ),
            feature(
                "dob_short_year", {"type": "date", "format": "%d.%m.%y"}, ngram(2),
                bpt(4),
            ),
            feature(
                "sex", {"type": "enum", "values": ["m", "f", "x", "u"]}, EXACT, bpt(30),
                BLAKE,
            ),
            feature(
                "title",
                {"type": "enum", "values": ["Mr", "Mrs", "Ms", "Dr", "Prof", ""]},
                ngram(1), bpf(20), DOUBLE,
            ),
            feature(
                "country", {"type": "enum", "values": countries}, ngram(2), bpt(5)
            ),
        ],
    }  # fmt: skip
    odd_ints = [
        "+13", " 13", "13 ", "\t13\n", "007", "-5", "-0", "+0", "00", "1_000",
        "1_000_000", "٣", "１２", "-１２", "123456789012345678901234567890",
        "-99999999999999999999",
    ]  # fmt: skip
    odd_ages = ["+13", " 13", "007", "0", "130", "٣", "1_2", "00"]
    rows: list[Row] = []
    for i in range(260):
        d = random_date(rng)
        if i % 37 == 0:
            d = dt.date(rng.choice([1, 99, 999, 1000, 1752]), rng.randint(1, 12), 1)
        mon = MONTHS[d.month - 1]
        abbrev = rng.choice([mon[:3], mon[:3].lower(), mon[:3].upper()])
        unpadded = rng.random() < 0.3
        day = str(d.day) if unpadded else f"{d.day:02d}"
        month = str(d.month) if unpadded else f"{d.month:02d}"
        rows.append(
            [
                f"id-{i}",
                rng.choice([str(rng.randint(0, 130))] * 3 + odd_ages),
                rng.choice([str(rng.randint(-500, 5000))] * 2 + odd_ints),
                f"{d.year:04d}-{month}-{day}",
                f"{day}/{month}/{d.year:04d}",
                ymd(d),
                f"{day} {abbrev} {d.year:04d}",
                rng.choice(["", "free text", "Zoë ✓", "\ud800"]),
                f"{rng.choice([mon, mon.lower()])} {day}, {d.year:04d}",
                f"{day}.{month}.{d.year % 100:02d}",
                rng.choice(["m", "f", "x", "u"]),
                rng.choice(["Mr", "Mrs", "Ms", "Dr", "Prof", ""]),
                rng.choice(countries),
            ]
        )
    bad = [
        ("age", "-1"),
        ("age", "131"),
        ("age", ""),
        ("age", "1e3"),
        ("age", "1.0"),
        ("age", "0x10"),
        ("age", "1__0"),
        ("age", "_10"),
        ("age", "thirteen"),
        ("count", ""),
        ("count", "1" * 5000),  # above Python's int() digit limit
        ("count", "12-"),
        ("count", "+-1"),
        ("dob_iso", "1980-02-30"),
        ("dob_iso", "1981-02-29"),
        ("dob_iso", "1900-02-29"),
        ("dob_iso", "1980-13-01"),
        ("dob_iso", "1980-00-10"),
        ("dob_iso", "1980-01-32"),
        ("dob_iso", "80-01-01"),
        ("dob_iso", " 1980-01-01"),
        ("dob_iso", "1980-01-01 "),
        ("dob_iso", "1980/01/01"),
        ("dob_iso", ""),
        ("dob_iso", "١٩٨٠-٠١-٠١"),
        ("dob_dmy", "31/04/2001"),
        ("dob_dmy", "29/02/2001"),
        ("dob_dmy", "2001/04/30"),
        ("dob_dmy", "30/02/2000"),
        ("dob_compact", "19800230"),
        ("dob_compact", "1980-02-03"),
        ("dob_compact", "198002"),
        ("dob_text", "05 March 1980"),
        ("dob_text", "31 Jun 1980"),
        ("dob_text", "05 Mrz 1980"),
        ("dob_long", "Feb 29, 1999"),
        ("dob_long", "February 30, 2000"),
        ("dob_short_year", "29.02.01"),
        ("dob_short_year", "01.01.1980"),
        ("sex", "M"),
        ("sex", "male"),
        ("sex", ""),
        ("sex", " m"),
        ("title", "mr"),
        ("title", "Mr."),
        ("title", " "),
        ("country", "Osterreich"),
        ("country", unicodedata.normalize("NFD", "Österreich")),
        ("country", "australia"),
    ]
    return VectorFile(
        name="integers_dates_enums",
        description=(
            "integer format (minimum/maximum; inputs accepted by Python int(): "
            "'+13', ' 13', '007', '-5', '1_000', Unicode digits like '٣' and "
            "'１２', huge values; each formatted as str(int(value))), date format "
            "with %Y-%m-%d, %d/%m/%Y, %Y%m%d, %d %b %Y, %B %d, %Y and %d.%m.%y "
            "(formatted as strftime('%Y%m%d'); unpadded day/month, any-case month "
            "names; years below 1000 come out without zero padding on glibc, e.g. "
            "0099-01-01 -> '990101'), invalid dates such as 30 February, enum "
            "(case-sensitive, no trimming, '' allowed when listed). Ignored columns "
            "first and in the middle. l=512 with xor_folds 2, HKDF SHA512 with salt "
            "and info, keySize 64."
        ),
        schema=schema,
        secret="integers, dates and enums",
        cases=[(r, None) for r in rows] + substitute(rows, IDE_COLUMNS, bad),
    )


NUMERIC_COLUMNS = [
    "amount", "age", "height", "score", "weight", "temperature", "dob_number",
    "big",
]  # fmt: skip


def numeric_file() -> VectorFile:
    rng = random.Random(1005)
    schema = {
        "version": 3,
        "clkConfig": clk_config(
            1024, hash_="SHA256", info=INFO_A, key_size=32, xor_folds=1
        ),
        "features": [
            feature("amount", string(), numeric(0.5, 3, 2), bpf(23), BLAKE),
            feature(
                "age", {"type": "integer"}, numeric(5, 2, 0), bpt(10), DOUBLE_NO_PS
            ),
            feature("height", string(), numeric(4, 1), bpf(2), DOUBLE_PS),
            feature("score", string(), numeric(0.4, 1, 1), bpt(9)),
            feature("weight", string(), numeric(1, 5, 1), bpf(50), BLAKE),
            feature("temperature", string(), numeric(3, 2), bpt(7), DOUBLE),
            feature(
                "dob_number", {"type": "date", "format": "%Y-%m-%d"},
                numeric(365, 1), bpt(12),
            ),
            feature(
                "big", {"type": "integer"}, numeric(1000, 4, 3), bpf(9), DOUBLE_PS
            ),
        ],
    }  # fmt: skip
    rows: list[Row] = []
    specials_amount = [
        "0", "-0", "0.005", "-0.005", "0.015", "0.125", "0.375", "-0.125",
        "1e3", "-1.5e-2", " 12.5 ", "12.345", "12.3449999", "1_000.5",
        "+7.25", "99999999.99", ".5", "5.", "0.25", "-0.25",
    ]  # fmt: skip
    specials_height = ["170.9", "-2.7", "-0.5", "3", "-3", "1", "-1", "0", "2.5"]
    specials_score = ["0.1", "0.3", "-0.1", "0.25", "0.35", "0.05", "0.15", "1e-1"]
    for _ in range(280):
        d = random_date(rng)
        rows.append(
            [
                rng.choice(
                    [f"{rng.uniform(-1000, 1000):.{rng.randint(0, 4)}f}"] * 2
                    + specials_amount
                ),
                rng.choice([str(rng.randint(-20, 120)), " 42", "+7", "007", "-0"]),
                rng.choice([str(rng.randint(-25, 250)), *specials_height]),
                rng.choice(
                    [
                        f"{rng.randint(-300, 300) / 10}",
                        f"{rng.random():.3f}",
                        *specials_score,
                    ]
                ),
                rng.choice([f"{rng.uniform(2, 200):.2f}", "70", "70.05", "-4.45"]),
                rng.choice([str(rng.randint(-60, 60)), "-1", "-2", "1.5", "-1.5"]),
                f"{d.year:04d}-{d.month:02d}-{d.day:02d}",
                rng.choice(
                    [str(rng.randint(-(10**9), 10**9)), "500", "-500", "1500", "0"]
                ),
            ]
        )
    # Exact-half residues: with D=4 and resolution 1 every odd integer lands on a
    # residue of exactly D/2 (rounded up), including negative ones.
    for v in ["1", "-1", "3", "-3", "5", "-7", "101"]:
        row = list(rows[len(rows) % 50])
        row[NUMERIC_COLUMNS.index("height")] = v
        rows.append(row)
    bad = [
        ("amount", "abc"),
        ("amount", "nan"),
        ("amount", "inf"),
        ("amount", "1e400"),
        ("amount", "0x10"),
        ("amount", "1,5"),
        ("amount", "€12"),
        ("age", "12.5"),
        ("age", ""),
        ("age", "abc"),
        ("height", "-inf"),
        ("height", "tall"),
        ("score", "NaN"),
        ("weight", "1 000"),
        ("temperature", "twelve"),
        ("dob_number", "1980-02-30"),
        ("big", "1.5"),
    ]
    return VectorFile(
        name="numeric",
        description=(
            "numeric comparison: thresholdDistance (integer and float), resolution, "
            "fractional_precision absent / 0 / 1 / 2 / 3, on string, integer and "
            "date (as yyyymmdd) columns. Covers negative values, float inputs with "
            "precision 0 (truncated by int(float)), Python round() half-to-even "
            "after scaling, residues of exactly D/2 (rounded up; column height has "
            "D=4 and resolution 1, so every odd integer hits it), odd D, and "
            "thresholdDistance with bitsPerFeature smaller than the token count "
            "(height: 2 bits over 3 tokens). Inputs that validate as strings but "
            "fail in numeric tokenisation ('abc', 'nan', 'inf') are invalid at the "
            "hashing stage. l=1024 with xor_folds 1, HKDF SHA256 without salt, with "
            "info, keySize 32."
        ),
        schema=schema,
        secret="numeric secret",
        cases=[(r, None) for r in rows] + substitute(rows, NUMERIC_COLUMNS, bad),
    )


MISSING_COLUMNS = [
    "given", "surname", "age", "dob", "gender", "postcode", "phone", "middle",
    "weight", "nickname",
]  # fmt: skip


def missing_values_file() -> VectorFile:
    rng = random.Random(1006)
    schema = {
        "version": 3,
        "clkConfig": clk_config(512, hash_="SHA256", salt="", info="", key_size=64),
        "features": [
            feature(
                "given", string(minLength=2), ngram(2), bpt(10), DOUBLE,
                {"sentinel": ""},
            ),
            feature(
                "surname", string(case="upper", minLength=1), ngram(2), bpf(100),
                BLAKE, {"sentinel": "unknown", "replaceWith": ""},
            ),
            feature(
                "age", {"type": "integer", "minimum": 0, "maximum": 120}, EXACT,
                bpt(20), DOUBLE, {"sentinel": "N/A", "replaceWith": "-1"},
            ),
            feature(
                "dob", {"type": "date", "format": "%Y-%m-%d"}, ngram(2), bpf(80),
                BLAKE, {"sentinel": "unknown", "replaceWith": "1900-01-01"},
            ),
            feature(
                "gender", {"type": "enum", "values": ["M", "F"]}, EXACT, bpt(30),
                None, {"sentinel": "", "replaceWith": "U"},
            ),
            feature(
                "postcode", string(pattern="[0-9]{4}"), ngram(1, True), bpt(10),
                DOUBLE_PS, {"sentinel": "0000", "replaceWith": ""},
            ),
            feature(
                "phone", string(encoding="ascii"), ngram(1), bpt(4), DOUBLE,
                {"sentinel": "\u2014"},
            ),
            feature("middle", string(), ngram(2), bpt(10)),
            feature(
                "weight", string(), numeric(5, 1), bpt(10), BLAKE,
                {"sentinel": "?", "replaceWith": "0"},
            ),
            feature(
                "nickname", string(maxLength=10), ngram(2), bpt(6), DOUBLE,
                {"sentinel": " ", "replaceWith": ""},
            ),
        ],
    }  # fmt: skip
    rows: list[Row] = []
    for _ in range(170):
        p = make_person(rng, 0)
        miss = rng.random() < 0.35

        def pick(value: str, sentinel: str, m: bool = miss) -> str:
            return sentinel if m and rng.random() < 0.5 else value

        rows.append(
            [
                pick(p.given if len(p.given) >= 2 else p.given + "x", ""),
                pick(p.surname.upper(), "unknown"),
                pick(str(rng.randint(0, 120)), "N/A"),
                pick(p.dob.isoformat(), "unknown"),
                pick(p.sex.upper(), ""),
                pick(p.postcode, "0000"),
                f"04{rng.randint(0, 99_999_999):08d}",
                pick(rng.choice(GIVEN_NAMES), ""),
                pick(f"{rng.uniform(3, 150):.1f}", "?"),
                pick(rng.choice(["Bob", "Kiki", "Zo", "Ace", "Łu"]), " "),
            ]
        )
    bad = [
        ("given", "J"),
        ("given", " "),
        ("surname", "Smith"),
        ("surname", ""),
        ("surname", "Unknown"),
        ("age", ""),
        ("age", "n/a"),
        ("age", "N/A "),
        ("age", "121"),
        ("dob", ""),
        ("dob", "Unknown"),
        ("dob", "1980-02-30"),
        ("gender", "U"),
        ("gender", " "),
        ("postcode", ""),
        ("postcode", "000"),
        ("phone", "\u2014"),  # the sentinel itself is not ASCII: fails when hashing
        ("phone", "04 1234 5678 \u260e"),
        ("weight", "heavy"),
        ("weight", "??"),
        ("nickname", " " * 11),
        ("nickname", "Bartholomew"),
    ]
    return VectorFile(
        name="missing_values",
        description=(
            "missingValue handling. A value equal to the sentinel skips validation "
            "and is hashed as replaceWith (or as the sentinel itself when "
            "replaceWith is absent) without the column's formatting: integer "
            "sentinel 'N/A' -> '-1' (below minimum), date sentinel 'unknown' -> "
            "'1900-01-01' hashed with dashes, upper-case string sentinel 'unknown', "
            "pattern sentinel '0000' -> '', enum sentinel '' -> 'U', numeric "
            "sentinel '?' -> '0', maxLength string sentinel ' ' -> ''. String "
            "sentinel '' without replaceWith bypasses minLength. The ASCII phone "
            "column's sentinel is an em dash: it passes validation but cannot be "
            "encoded when hashed. Empty values without a sentinel: valid for a "
            "plain string (no tokens), invalid for integer/date/enum. l=512, HKDF "
            "SHA256 with salt '' and info '' (empty base64), keySize 64."
        ),
        schema=schema,
        secret="missing values secret",
        cases=[(r, None) for r in rows] + substitute(rows, MISSING_COLUMNS, bad),
    )


def ignored_positions_file() -> VectorFile:
    rng = random.Random(1007)
    columns = ["rec_id", "given", "note", "surname", "extra", "dob", "trailer"]
    schema = {
        "version": 3,
        "clkConfig": clk_config(64, hash_="SHA512", salt=SALT_B, key_size=32),
        "features": [
            ignored("rec_id"),
            feature("given", string(), ngram(2), bpt(2), DOUBLE),
            ignored("note", "free-text note, not hashed"),
            feature("surname", string(), ngram(2), bpt(2), BLAKE),
            ignored("extra"),
            feature("dob", {"type": "date", "format": "%Y-%m-%d"}, EXACT, bpt(3)),
            ignored("trailer"),
        ],
    }
    junk = ["", "anything", "\ud800", "1980-02-30", "x" * 100, "\U0001f600", "N/A"]
    rows: list[Row] = []
    for i in range(130):
        p = make_person(rng, i)
        rows.append(
            [
                p.rec_id,
                messy(rng, p.given),
                rng.choice(junk),
                messy(rng, p.surname),
                rng.choice(junk),
                p.dob.isoformat(),
                rng.choice(junk),
            ]
        )
    bad = [("dob", "1980-02-30"), ("dob", ""), ("given", "\udfff")]
    return VectorFile(
        name="ignored_positions",
        description=(
            "Ignored features first, in the middle (one with a description) and "
            "last. Each ignored feature still consumes a key slot, and its values "
            "are never validated (lone surrogates, invalid dates). l=64, HKDF "
            "SHA512 with salt and no info, keySize 32."
        ),
        schema=schema,
        secret="ignored positions secret",
        cases=[(r, None) for r in rows] + substitute(rows, columns, bad),
    )


def tiny_l_file() -> VectorFile:
    rng = random.Random(1008)
    columns = ["given", "surname", "suburb", "initials"]
    schema = {
        "version": 3,
        "clkConfig": clk_config(8, hash_="SHA256", info=INFO_B, key_size=128),
        "features": [
            feature("given", string(), EXACT, bpt(3), DOUBLE_PS),
            feature("surname", string(), EXACT, bpt(3), DOUBLE_PS),
            feature("suburb", string(), EXACT, bpt(3), DOUBLE_NO_PS),
            feature("initials", string(), ngram(1), bpt(2), DOUBLE_PS),
        ],
    }
    rows: list[Row] = []
    for i in range(400):
        p = make_person(rng, i)
        values = [
            messy(rng, p.given),
            messy(rng, p.surname),
            p.suburb,
            f"{p.given[:1]}{p.surname[:1]}".upper(),
        ]
        # Keep one or two columns so the 8-bit filter does not saturate and a
        # singular token (one bit instead of three) shows in the CLK.
        keep = set(rng.sample(range(4), rng.choice([1, 1, 2])))
        rows.append([v if j in keep else "" for j, v in enumerate(values)])
    bad = [("given", "\ud800"), ("initials", "\udbff")]
    return VectorFile(
        name="doublehash_l8_singularity",
        description=(
            "Tiny filter (l=8, no folding) so that h2 = HMAC-MD5 mod 8 is 0 for "
            "about one token in eight, exercising the prevent_singularity loop "
            "(re-hash with chr(j).encode() appended, j = 0, 1, ...) in given, "
            "surname and initials; suburb uses prevent_singularity false, so its "
            "singular tokens set a single bit. Rows fill only one or two columns "
            "(exact tokens, bitsPerToken 3; 1-grams, bitsPerToken 2) so the filter "
            "is not saturated. HKDF SHA256 without salt, with info, keySize 128 "
            "(fine for HMAC; BLAKE2b would refuse keys over 64 bytes)."
        ),
        schema=schema,
        secret="tiny l secret",
        cases=[(r, None) for r in rows] + substitute(rows, columns, bad),
        min_singularities=20,
    )


def l1023_file() -> VectorFile:
    rng = random.Random(1009)
    columns = ["rec_id", "given", "surname", "dob", "sex"]
    schema = {
        "version": 3,
        "clkConfig": clk_config(
            1023, hash_="SHA512", salt=SALT_A, info=INFO_A, key_size=128, xor_folds=0
        ),
        "features": [
            ignored("rec_id"),
            feature("given", string(), ngram(2), bpf(120), DOUBLE_PS),
            feature("surname", string(), ngram(2), bpt(12), DOUBLE),
            feature(
                "dob", {"type": "date", "format": "%d/%m/%Y"}, ngram(1, True),
                bpf(64), DOUBLE_NO_PS,
            ),
            feature("sex", {"type": "enum", "values": ["m", "f"]}, EXACT, bpt(40),
                    DOUBLE),
        ],
    }  # fmt: skip
    rows: list[Row] = []
    for p in febrl_people(rng, 90, 40):
        dob = f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year:04d}"
        rows.append([p.rec_id, messy(rng, p.given), messy(rng, p.surname), dob, p.sex])
    bad = [("dob", "30/02/1990"), ("sex", "F"), ("dob", "1990-01-01")]
    return VectorFile(
        name="doublehash_l1023",
        description=(
            "doubleHash with l=1023 (not a power of two, not a multiple of 8: the "
            "CLK is 128 bytes with one zero padding bit at the end), "
            "prevent_singularity absent, false and true. HKDF SHA512 with salt "
            "and info, keySize 128, explicit xor_folds 0."
        ),
        schema=schema,
        secret="l1023 secret",
        cases=[(r, None) for r in rows] + substitute(rows, columns, bad),
    )


def l1000_fold_file() -> VectorFile:
    rng = random.Random(1010)
    columns = ["given", "surname", "postcode", "rec_id"]
    schema = {
        "version": 3,
        "clkConfig": clk_config(1000, key_size=32, xor_folds=1),
        "features": [
            feature("given", string(), ngram(3), bpf(90), DOUBLE),
            feature("surname", string(), ngram(2, True), bpt(9), DOUBLE_PS),
            feature("postcode", string(pattern="[0-9]{4}"), EXACT, bpt(25), DOUBLE),
            ignored("rec_id"),
        ],
    }
    rows: list[Row] = []
    for p in febrl_people(rng, 80, 30):
        rows.append([messy(rng, p.given), messy(rng, p.surname), p.postcode, p.rec_id])
    bad = [("postcode", "123")]
    return VectorFile(
        name="doublehash_l1000_xor1",
        description=(
            "doubleHash with l=1000 and xor_folds 1: tokens are hashed into 2000 "
            "bits (indices mod 2000) and folded once to 1000 bits (125 bytes). "
            "KDF hash absent (SHA256 default), no salt, no info, keySize 32. "
            "Ignored column last."
        ),
        schema=schema,
        secret="l1000 secret",
        cases=[(r, None) for r in rows] + substitute(rows, columns, bad),
    )


def xorfolds_camel_file() -> VectorFile:
    rng = random.Random(1011)
    schema = {
        "version": 3,
        "clkConfig": clk_config(512, salt=SALT_B, xor_folds_camel=2),
        "features": [
            feature("given", string(), ngram(2), bpt(10)),
            feature("surname", string(), ngram(2), bpt(10)),
        ],
    }
    rows = [
        [messy(rng, rng.choice(GIVEN_NAMES)), rng.choice(SURNAMES)] for _ in range(60)
    ]
    return VectorFile(
        name="xorfolds_camelcase_ignored",
        description=(
            "clkConfig uses the camelCase key xorFolds (2), which the v3 master "
            "schema documents but clkhash 0.18.3 ignores: it only reads "
            "xor_folds. The CLKs are therefore 512 bits, not folded. Default "
            "blakeHash, KDF hash and keySize absent (SHA256, 64), salt, no info."
        ),
        schema=schema,
        secret="camel case secret",
        cases=[(r, None) for r in rows],
    )


NGRAM_COLUMNS = [
    "given_1", "given_1_pos", "surname_2", "surname_2_pos", "suburb_3",
    "suburb_3_pos", "full_name_4", "full_name_4_pos", "exact_name", "exact_ssn",
]  # fmt: skip


def ngram_exact_file() -> VectorFile:
    rng = random.Random(1012)
    schema = {
        "version": 3,
        "clkConfig": clk_config(
            2048, hash_="SHA512", salt=SALT_A, info=INFO_B, key_size=64
        ),
        "features": [
            feature("given_1", string(), ngram(1, False), bpt(10), DOUBLE),
            feature("given_1_pos", string(), ngram(1, True), bpt(10), BLAKE),
            feature("surname_2", string(), ngram(2), bpf(100), BLAKE),
            feature("surname_2_pos", string(), ngram(2, True), bpf(100), DOUBLE_PS),
            feature("suburb_3", string(), ngram(3, False), bpt(8), DOUBLE_NO_PS),
            feature("suburb_3_pos", string(), ngram(3, True), bpt(8)),
            feature("full_name_4", string(), ngram(4), bpf(250), BLAKE),
            feature("full_name_4_pos", string(), ngram(4, True), bpf(7), DOUBLE),
            feature("exact_name", string(), EXACT, bpt(40), BLAKE),
            feature("exact_ssn", string(), EXACT, bpt(33), DOUBLE_PS),
        ],
    }
    rows: list[Row] = []
    for i in range(210):
        p = make_person(rng, i)
        given = messy(rng, p.given)
        surname = messy(rng, p.surname)
        suburb = rng.choice([p.suburb, messy(rng, p.suburb), "a", "ab", ""])
        full = f"{given} {surname}"
        rows.append(
            [
                given,
                given,
                surname,
                surname,
                suburb,
                suburb,
                full,
                full,
                full,
                rng.choice([p.soc_sec_id, "", " " + p.soc_sec_id]),
            ]
        )
    return VectorFile(
        name="ngram_exact",
        description=(
            "Tokenisers side by side on the same values: ngram n=1, 2, 3, 4 with "
            "positional false (explicit or absent) and true, and exact; 1-, 2- and "
            "3-character and empty inputs; bitsPerFeature 7 over many 4-gram "
            "tokens (most tokens get 0 bits); blakeHash bitsPerToken 40 and "
            "doubleHash bitsPerToken 33. Non-ASCII secret (UTF-8 encoded by "
            "clkhash). l=2048, HKDF SHA512 with salt and info, keySize 64."
        ),
        schema=schema,
        secret="clé secrète \U0001f511 Größe",
        cases=[(r, None) for r in rows],
    )


def v2_file() -> VectorFile:
    rng = random.Random(1013)
    columns = ["id", "given", "surname", "dob", "postcode", "gender"]

    def v2feature(identifier: str, fmt: dict[str, Any], **hashing: Any) -> dict:
        return {"identifier": identifier, "format": fmt, "hashing": hashing}

    schema = {
        "version": 2,
        "clkConfig": clk_config(
            1024, hash_="SHA256", salt=SALT_A, info=INFO_A, key_size=64, xor_folds=1
        ),
        "features": [
            {"identifier": "id", "ignored": True},
            v2feature(
                "given", string(encoding="utf-8"), ngram=2, strategy={"k": 20},
                hash={"type": "doubleHash"},
            ),
            v2feature(
                "surname", string(), ngram=2, positional=False,
                strategy={"numBits": 200}, hash={"type": "blakeHash"},
            ),
            v2feature(
                "dob", {"type": "date", "format": "%Y-%m-%d"}, ngram=1,
                positional=True, strategy={"numBits": 100},
                hash={"type": "doubleHash", "prevent_singularity": True},
                missingValue={"sentinel": "", "replaceWith": "0000-00-00"},
            ),
            v2feature(
                "postcode", string(pattern="[0-9]{4}"), ngram=1, positional=True,
                strategy={"k": 15},
            ),
            v2feature(
                "gender", {"type": "enum", "values": ["M", "F", "X"]}, ngram=1,
                strategy={"k": 30}, hash={"type": "doubleHash",
                                          "prevent_singularity": False},
                missingValue={"sentinel": "?"},
            ),
        ],
    }  # fmt: skip
    rows: list[Row] = []
    for p in febrl_people(rng, 90, 40):
        rows.append(
            [
                p.rec_id,
                messy(rng, p.given),
                messy(rng, p.surname),
                "" if rng.random() < 0.1 else p.dob.isoformat(),
                p.postcode,
                rng.choice(["M", "F", "X", "?"]),
            ]
        )
    bad = [("dob", "1980-02-30"), ("postcode", "12345"), ("gender", "m")]
    return VectorFile(
        name="v2_schema",
        description=(
            '"schema_version": 2. A v2 schema (hashing.ngram / positional, '
            "strategy k and numBits) which clkhash converts to v3 before encoding "
            "(k -> bitsPerToken, numBits -> bitsPerFeature, ngram/positional -> "
            "ngram comparison). doubleHash with and without prevent_singularity, "
            "explicit and default blakeHash, missingValue with and without "
            "replaceWith. l=1024 with xor_folds 1, HKDF SHA256 with salt and info, "
            "keySize 64."
        ),
        schema=schema,
        secret="v2 secret",
        cases=[(r, None) for r in rows] + substitute(rows, columns, bad),
        schema_version=2,
    )


# ---------------------------------------------------------------- encoding


class Encoder:
    """Runs clkhash on single rows of one schema."""

    def __init__(self, schema_dict: dict[str, Any], secret: str) -> None:
        # clkhash mutates the dict it is given (it adds ngram 'positional'
        # defaults), so it only ever sees a copy.
        self.schema = clk_schema.from_json_dict(copy.deepcopy(schema_dict))
        self.secret = secret
        self.keys = generate_key_lists(
            secret,
            len(self.schema.fields),
            key_size=self.schema.kdf_key_size,
            salt=self.schema.kdf_salt,
            info=self.schema.kdf_info,
            kdf=self.schema.kdf_type,
            hash_algo=self.schema.kdf_hash,
        )
        self.hash_l = self.schema.l * 2**self.schema.xor_folds

    def encode(self, row: Row) -> dict[str, str]:
        try:
            clks = clk_module.generate_clks(
                [row], self.schema, self.secret, validate=True, max_workers=1
            )
        except EntryError as e:
            assert e.field_spec is not None
            return {
                "invalid": str(e),
                "field": e.field_spec.identifier,
                "stage": "validation",
                "error": type(e).__name__,
            }
        except (ValueError, OverflowError) as e:
            return {
                "invalid": str(e),
                "field": self.failing_field(row),
                "stage": "hashing",
                "error": type(e).__name__,
            }
        encoded = base64.b64encode(clks[0].tobytes()).decode("ascii")
        # Sanity: validation does not change the result.
        unvalidated = clk_module.generate_clks(
            [row], self.schema, self.secret, validate=False, max_workers=1
        )
        assert unvalidated[0] == clks[0]
        return {"clk": encoded}

    def failing_field(self, row: Row) -> str:
        """Which column makes clkhash's formatting/tokenising/hashing raise."""
        for field, key, entry in zip(self.schema.fields, self.keys, row, strict=True):
            fhp = field.hashing_properties
            if fhp is None:
                continue
            try:
                tokens = list(fhp.comparator.tokenize(field.format_value(entry)))
                if tokens:
                    hash_function = hashing_function_from_properties(fhp)
                    ks = fhp.strategy.bits_per_token(len(tokens))
                    hash_function(tokens, key, ks, self.hash_l, fhp.encoding)
            except (ValueError, OverflowError):
                return str(field.identifier)
        raise AssertionError(f"no single column fails for row {row!r}")

    def singular_tokens(self, rows: Iterable[Row]) -> tuple[int, int]:
        """prevent_singularity tokens with HMAC-MD5 mod L == 0, and the total.

        Counts distinct (column, token) pairs.
        """
        seen: set[tuple[int, str]] = set()
        hits = 0
        for row in rows:
            for i, (field, entry) in enumerate(
                zip(self.schema.fields, row, strict=True)
            ):
                fhp = field.hashing_properties
                if fhp is None or not fhp.prevent_singularity:
                    continue
                for token in fhp.comparator.tokenize(field.format_value(entry)):
                    if (i, token) in seen:
                        continue
                    seen.add((i, token))
                    key_sha1, key_md5 = self.keys[i]
                    md5hm, _ = _double_hash_token(
                        token.encode(fhp.encoding), self.hash_l, key_sha1, key_md5
                    )
                    hits += md5hm == 0
        return hits, len(seen)


def dump(doc: dict[str, Any]) -> str:
    """JSON with one case per line; ASCII only so no tool can renormalise text."""
    parts = []
    for key, value in doc.items():
        if key == "cases":
            continue
        text = json.dumps(value, indent=2, ensure_ascii=True)
        parts.append(f"  {json.dumps(key)}: {text.replace(chr(10), chr(10) + '  ')}")
    cases = ",\n".join("    " + json.dumps(c, ensure_ascii=True) for c in doc["cases"])
    parts.append(f'  "cases": [\n{cases}\n  ]')
    out = "{\n" + ",\n".join(parts) + "\n}\n"
    assert json.loads(out) == doc
    return out


def build(vf: VectorFile, generated_with: str) -> tuple[dict[str, Any], int, int]:
    encoder = Encoder(vf.schema, vf.secret)
    columns = [str(f["identifier"]) for f in vf.schema["features"]]
    cases: list[dict[str, Any]] = []
    valid = invalid = 0
    for index, (row, expected_field) in enumerate(vf.cases):
        assert len(row) == len(columns), (vf.name, row)
        result = encoder.encode(row)
        if expected_field is None:
            assert "clk" in result, (vf.name, row, result)
            valid += 1
        else:
            assert result.get("field") == expected_field, (vf.name, row, result)
            invalid += 1
        if index in vf.expected:
            assert result["clk"] == vf.expected[index], (vf.name, index)
        cases.append({"row": row, **result})
    description = vf.description
    if vf.min_singularities:
        valid_rows = [row for row, f in vf.cases if f is None]
        hits, total = encoder.singular_tokens(valid_rows)
        # The same schema with prevent_singularity switched off everywhere.
        flipped = copy.deepcopy(vf.schema)
        for feat in flipped["features"]:
            hash_spec = feat.get("hashing", {}).get("hash", {})
            if hash_spec.get("prevent_singularity"):
                hash_spec["prevent_singularity"] = False
        plain = Encoder(flipped, vf.secret)
        changed = sum(plain.encode(row) != encoder.encode(row) for row in valid_rows)
        assert hits >= vf.min_singularities, hits
        assert changed >= vf.min_singularities // 2, changed
        description += (
            f" Of the {total} distinct (column, token) pairs hashed with "
            f"prevent_singularity true in the valid rows, {hits} have HMAC-MD5 "
            f"mod l == 0; {changed} of the {len(valid_rows)} valid CLKs differ "
            "from what clkhash gives with prevent_singularity false."
        )
    doc = {
        "description": description,
        "provenance": PROVENANCE,
        "generated_with": generated_with,
        "schema_version": vf.schema_version,
        "schema": vf.schema,
        "secret": vf.secret,
        "columns": columns,
        "cases": cases,
    }
    return doc, valid, invalid


FILES: list[Callable[[], VectorFile]] = [
    reference_file,
    febrl_doublehash_file,
    febrl_blake_file,
    strings_file,
    integers_dates_enums_file,
    numeric_file,
    missing_values_file,
    ignored_positions_file,
    tiny_l_file,
    l1023_file,
    l1000_fold_file,
    xorfolds_camel_file,
    ngram_exact_file,
    v2_file,
]


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Enum error messages list a set; make its order reproducible.
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if clkhash.__version__ != CLKHASH_VERSION:
        sys.exit(f"need clkhash {CLKHASH_VERSION}, found {clkhash.__version__}")
    generated_with = (
        f"clkhash {clkhash.__version__}, Python {platform.python_version()}"
    )
    total_valid = total_invalid = total_bytes = 0
    for make in FILES:
        vf = make()
        doc, valid, invalid = build(vf, generated_with)
        text = dump(doc)
        path = OUT_DIR / f"{vf.name}.json"
        path.write_text(text, encoding="ascii")
        total_valid += valid
        total_invalid += invalid
        total_bytes += len(text)
        print(f"{path.name:36} valid={valid:4} invalid={invalid:3} {len(text):8} B")
    print(f"{'total':36} valid={total_valid:4} invalid={total_invalid:3} "
          f"{total_bytes:8} B")  # fmt: skip
    assert total_valid >= 1000
    assert total_bytes < 3_000_000


if __name__ == "__main__":
    main()
