"""Normalisation primitives: one string in, one string out, the same everywhere.

Two agencies that hold the same value must produce the *identical* string before
encoding, or the Bloom filters drift apart. These pure functions are the pieces a
mapping file (:mod:`linkage.encoding.mapping`) chains together. Each takes a
single ``str`` and is cheap enough to run once per *unique* value of a column,
which is how the mapping applies them to millions of rows.

Nothing here reads the locale or the clock, so the output depends only on the
input and on the Unicode tables of the running Python (month names for ``%b``
and ``%B`` are the C locale's English names, which Python uses unless a program
calls :func:`locale.setlocale`).

Example:
    >>> collapse_whitespace(fold_case(strip_accents("  José   ÁLVAREZ ")))
    'jose alvarez'
    >>> split_full_name("SMITH, John Paul")
    NameParts(given='John', middle=('Paul',), surname='SMITH')
    >>> reformat_date("3 Feb 1980", ["%d/%m/%Y", "%d %b %Y"], "%Y-%m-%d")
    '1980-02-03'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

__all__ = [
    "COMMON_DATE_FORMATS",
    "SURNAME_PARTICLES",
    "NameOrder",
    "NameParts",
    "PartOrder",
    "PunctuationRule",
    "collapse_whitespace",
    "digits_only",
    "first_word",
    "fold_case",
    "fold_spelling",
    "format_date",
    "is_missing",
    "missing_tokens",
    "nfkc",
    "parse_date",
    "reformat_date",
    "remove_punctuation",
    "remove_whitespace",
    "split_full_name",
    "split_name_parts",
    "strip_accents",
    "uses_two_digit_year",
    "validate_date_format",
    "zero_pad",
]

PunctuationRule = Literal["keep", "space", "remove"]
NameOrder = Literal["auto", "given_first", "surname_first"]
PartOrder = Literal["keep", "sort"]

# Letters that Unicode does not decompose into a base letter plus accents, with
# the plain-Latin spelling a records clerk would type for them.
_LETTER_TABLE = str.maketrans(
    {
        "Æ": "AE", "æ": "ae", "Ð": "D", "ð": "d", "Ø": "O", "ø": "o",
        "Þ": "TH", "þ": "th", "ß": "ss", "ẞ": "SS", "Đ": "D", "đ": "d",
        "Ħ": "H", "ħ": "h", "ı": "i", "ĸ": "k", "Ŀ": "L", "ŀ": "l",
        "Ł": "L", "ł": "l", "ŉ": "'n", "Ŋ": "NG", "ŋ": "ng", "Œ": "OE",
        "œ": "oe", "Ŧ": "T", "ŧ": "t", "ƀ": "b", "Ɓ": "B", "Ƈ": "C",
        "ƈ": "c", "Ɖ": "D", "Ɗ": "D", "Ǝ": "E", "ǝ": "e", "Ə": "E",
        "ə": "e", "Ɛ": "E", "ɛ": "e", "Ƒ": "F", "ƒ": "f", "Ɠ": "G",
        "ɠ": "g", "Ɨ": "I", "ɨ": "i", "Ƙ": "K", "ƙ": "k", "ƚ": "l",
        "Ƚ": "L", "Ɲ": "N", "ɲ": "n", "Ƞ": "N", "ƞ": "n", "Ɵ": "O",
        "ɵ": "o", "Ƥ": "P", "ƥ": "p", "Ƭ": "T", "ƭ": "t", "Ʈ": "T",
        "ʈ": "t", "Ʋ": "V", "ʋ": "v", "Ƴ": "Y", "ƴ": "y", "Ƶ": "Z",
        "ƶ": "z", "Ȥ": "Z", "ȥ": "z", "Ǥ": "G", "ǥ": "g", "ȷ": "j",
        "Ⱥ": "A", "Ȼ": "C", "ȼ": "c", "Ɇ": "E", "ɇ": "e", "Ɉ": "J",
        "ɉ": "j", "Ɍ": "R", "ɍ": "r", "Ɏ": "Y", "ɏ": "y", "Ʉ": "U",
        "ʉ": "u",
    }
)  # fmt: skip

_APOSTROPHES = frozenset("'’‘`´ʼʹ′＇")
_HYPHENS = frozenset("-‐‑‒–—―−﹣－")
# ASCII control characters other than whitespace, which is collapsed instead.
_ASCII_CONTROL = {
    code: None for code in (*range(0x20), 0x7F) if not chr(code).isspace()
}

#: Lower-case words that belong to the surname when they come just before it in
#: a "Given Surname" name, as in "Ludwig van Beethoven" or "Maria da Silva".
SURNAME_PARTICLES = frozenset(
    {
        "al", "bin", "binti", "da", "das", "de", "del", "della", "den", "der",
        "des", "di", "do", "dos", "du", "el", "la", "le", "st", "st.", "te",
        "ten", "ter", "van", "von",
    }
)  # fmt: skip

#: Date formats seen in agency exports, as :func:`datetime.strptime` patterns.
#: ``%d/%m/%Y`` and ``%m/%d/%Y`` cannot both be tried on the same column, so the
#: US order is left out; add it to a mapping only for a source known to use it.
COMMON_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%Y%m%d",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%b %d %Y",
)


def nfkc(value: str) -> str:
    """Apply Unicode NFKC, so look-alike forms become the plain character.

    Full-width letters, ligatures and superscripts turn into their ordinary
    spelling (``"Ｓｍｉｔｈ"`` -> ``"Smith"``, ``"ﬁ"`` -> ``"fi"``).
    """
    if value.isascii():
        return value
    return unicodedata.normalize("NFKC", value)


def strip_accents(value: str) -> str:
    """Remove accents and spell special Latin letters in plain ASCII.

    ``"é"`` -> ``"e"``, ``"ß"`` -> ``"ss"``, ``"Ł"`` -> ``"L"``, ``"ø"`` -> ``"o"``,
    ``"Æ"`` -> ``"AE"``. The input is NFKD-decomposed (which also resolves
    compatibility forms such as ligatures) and the combining marks are dropped.
    Every letter of Latin-1 and Latin Extended-A ends up ASCII; letters of other
    scripts keep their base characters.

    Example:
        >>> strip_accents("Łukasz Müller-Ødegård")
        'Lukasz Muller-Odegard'
    """
    if value.isascii():
        return value
    decomposed = unicodedata.normalize("NFKD", value.translate(_LETTER_TABLE))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    # A decomposition can expose a letter from the table (``Ǣ`` -> ``Æ``).
    return unicodedata.normalize("NFC", bare.translate(_LETTER_TABLE))


def fold_case(value: str) -> str:
    """Fold case for caseless comparison (``"Straße"`` -> ``"strasse"``)."""
    return value.casefold()


def collapse_whitespace(value: str) -> str:
    """Trim the ends and turn each run of whitespace into one space.

    Invisible characters that break comparisons (control characters, zero-width
    spaces, byte-order marks, soft hyphens) are removed first.
    """
    if value.isascii():
        if value.isprintable():
            return " ".join(value.split())
        return " ".join(value.translate(_ASCII_CONTROL).split())
    visible = "".join(
        char
        for char in value
        if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf")
    )
    return " ".join(visible.split())


def remove_whitespace(value: str) -> str:
    """Remove all whitespace and invisible characters (``"2 000"`` -> ``"2000"``)."""
    return collapse_whitespace(value).replace(" ", "")


def remove_punctuation(
    value: str,
    *,
    hyphen: PunctuationRule = "space",
    apostrophe: PunctuationRule = "remove",
) -> str:
    """Replace punctuation and symbols with spaces, then collapse whitespace.

    Hyphens and apostrophes get their own rule, because names use them:
    ``"remove"`` joins the parts (``"O'Brien"`` -> ``"OBrien"``), ``"space"``
    splits them (``"Smith-Jones"`` -> ``"Smith Jones"``) and ``"keep"`` keeps one
    plain ASCII ``'`` or ``-`` whatever variant was typed (``’``, ``–``, ...).

    Args:
        value: The text to clean.
        hyphen: What to do with hyphens and dashes.
        apostrophe: What to do with apostrophes and similar quote marks.

    Example:
        >>> remove_punctuation("O’Brien-Smith, Jr.")
        'OBrien Smith Jr'
        >>> remove_punctuation("O’Brien-Smith", hyphen="keep", apostrophe="keep")
        "O'Brien-Smith"
    """
    if value.isascii():
        cleaned = value.translate(_ascii_punctuation_table(hyphen, apostrophe))
    else:
        cleaned = "".join(_clean_char(char, hyphen, apostrophe) for char in value)
    return collapse_whitespace(cleaned)


_RULE_OUTPUT: dict[PunctuationRule, str] = {"space": " ", "remove": ""}


def _clean_char(char: str, hyphen: PunctuationRule, apostrophe: PunctuationRule) -> str:
    if char in _APOSTROPHES:
        return _RULE_OUTPUT.get(apostrophe, "'")
    if char in _HYPHENS:
        return _RULE_OUTPUT.get(hyphen, "-")
    if unicodedata.category(char)[0] in "PS":
        return " "
    return char


@lru_cache(maxsize=16)
def _ascii_punctuation_table(
    hyphen: PunctuationRule, apostrophe: PunctuationRule
) -> dict[int, str]:
    return {
        code: _clean_char(chr(code), hyphen, apostrophe)
        for code in range(0x80)
        if _clean_char(chr(code), hyphen, apostrophe) != chr(code)
    }


def digits_only(value: str) -> str:
    """Keep only the digits, as ASCII (``"(02) 9876-5432"`` -> ``"0298765432"``)."""
    if value.isascii():
        return re.sub(r"[^0-9]+", "", value)
    digits = (unicodedata.decimal(char, None) for char in value)
    return "".join(str(digit) for digit in digits if digit is not None)


# Letters that spellings and romanisations of one name most often swap
# (Khoury and Khouri, Natalya and Natalia, Kouznetsov and Kuznetsov,
# Qureshi and Kureshi, Bondarenco and Bondarenko), each written one way; in
# this order, so that "ck" is one "k" and "ee" one "i".
_SPELLING_FOLDS = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        ("kh", "k"),
        ("gh", "g"),
        ("ph", "f"),
        ("th", "t"),
        ("ck", "k"),
        ("q", "k"),
        ("c(?!h)", "k"),
        ("ou", "u"),
        ("oo", "u"),
        ("ee", "i"),
        ("y", "i"),
        ("w", "v"),
    )
)
_DOUBLED = re.compile(r"(.)\1+")


def fold_spelling(value: str) -> str:
    """Write alike the letters that spellings and transliterations of a name
    most often swap, and a doubled letter once (``"khoury"`` and ``"khouri"``
    -> ``"kuri"``, ``"haddad"`` -> ``"hadad"``, ``"natalya"`` ->
    ``"natalia"``): kh, gh, ph, th as k, g, f, t; ck, q and c (not in ch)
    as k; ou and oo as u; ee and y as i; w as v. For lower-case names
    without accents; it makes some different names alike too (Smith and
    Smyth), so every agency uses it or none does."""
    # Until nothing changes, so that twice is once ("qh" becomes "kh" only
    # after "kh" was read; "ghh" becomes "gh" once "hh" is one "h"). It ends:
    # no step lengthens the value, and those that keep its length only trade
    # q, c, y and w for letters no step replaces.
    while True:
        folded = value
        for pattern, replacement in _SPELLING_FOLDS:
            folded = pattern.sub(replacement, folded)
        folded = _DOUBLED.sub(r"\1", folded)
        if folded == value:
            return folded
        value = folded


def first_word(value: str) -> str:
    """Keep the first whitespace-separated word (``"John Paul"`` -> ``"John"``)."""
    words = value.split(maxsplit=1)
    return words[0] if words else ""


def split_name_parts(value: str, *, order: PartOrder = "sort") -> str:
    """Split a double or hyphenated name into its parts, joined by one space.

    Hyphens (any dash variant) and runs of whitespace separate the parts:
    ``"Smith-Jones"`` -> ``"Jones Smith"`` (sorted) or ``"Smith Jones"``
    (``order="keep"``). A value with no letters between its separators
    becomes ``""`` (missing).

    Why a single space: a bigram tokeniser pads each value with a space, so
    ``"smith jones"`` gives exactly the bigrams of ``"smith"`` and of
    ``"jones"`` together, and any order of the parts gives the same bigrams.
    Joining without a space would add a bigram ("hj") that neither part
    has, and keeping the hyphen one ("h-", "-j") that a record with the parts
    spaced lacks. Sorting (the default) makes the order irrelevant for other
    comparisons too (exact, trigrams): Smith-Jones and Jones-Smith agree.

    Example:
        >>> split_name_parts("Smith-Jones")
        'Jones Smith'
        >>> split_name_parts("smith – jones", order="keep")
        'smith jones'
    """
    parts = [part for part in _NAME_PART_SEPARATORS.split(value) if part]
    if order == "sort":
        # Case-folded first so "de" and "De" sort alike; then exact, for ties.
        parts.sort(key=lambda part: (part.casefold(), part))
    return " ".join(parts)


_NAME_PART_SEPARATORS = re.compile(
    "[\\s" + "".join(sorted(_HYPHENS)).replace("-", "\\-") + "]+"
)


def zero_pad(value: str, width: int) -> str:
    """Left-pad an all-digit value with zeros to ``width`` (``"800"`` -> ``"0800"``).

    Spreadsheets drop the leading zeros of postcodes; this puts them back.
    Values that are empty or not all digits are returned unchanged.
    """
    if value.isascii() and value.isdigit():
        return value.zfill(width)
    return value


def missing_tokens(tokens: Iterable[str]) -> frozenset[str]:
    """Prepare tokens such as ``"N/A"`` or ``"NULL"`` for :func:`is_missing`."""
    return frozenset(fold_case(collapse_whitespace(token)) for token in tokens)


def is_missing(value: str, tokens: frozenset[str]) -> bool:
    """Say whether ``value`` is blank or one of the missing-value ``tokens``.

    The comparison ignores case and surrounding whitespace; ``tokens`` must come
    from :func:`missing_tokens`.
    """
    if not tokens:
        return not collapse_whitespace(value)
    cleaned = collapse_whitespace(value)
    return not cleaned or fold_case(cleaned) in tokens


@dataclass(frozen=True)
class NameParts:
    """A person's name split into given name, middle names and surname."""

    given: str
    middle: tuple[str, ...]
    surname: str

    @property
    def given_names(self) -> str:
        """The given name followed by any middle names."""
        return " ".join(part for part in (self.given, *self.middle) if part)


def split_full_name(value: str, *, order: NameOrder = "auto") -> NameParts:
    """Split a full name into given name, middle names and surname.

    With ``order="auto"`` a comma means "SURNAME, Given Middle" and no comma
    means "Given Middle Surname". ``"surname_first"`` also reads
    "SURNAME Given" without a comma; ``"given_first"`` treats commas as spaces.
    Surname particles (:data:`SURNAME_PARTICLES`) written just before the last
    word stay with the surname: "Anna van der Berg" has surname "van der Berg".
    A single word is taken as the surname, as passports record a mononym.

    Example:
        >>> split_full_name("Anna Maria van der Berg")
        NameParts(given='Anna', middle=('Maria',), surname='van der Berg')
        >>> split_full_name("VAN DER BERG, ANNA MARIA").surname
        'VAN DER BERG'
    """
    text = collapse_whitespace(value)
    if "," in text and order != "given_first":
        surname, _, rest = text.partition(",")
        return _given_and_middle(rest.replace(",", " ").split(), surname.strip())
    words = text.replace(",", " ").split()
    if order == "surname_first":
        return _split_surname_first(words)
    return _split_given_first(words)


def _given_and_middle(words: Sequence[str], surname: str) -> NameParts:
    if not words:
        return NameParts("", (), surname)
    return NameParts(words[0], tuple(words[1:]), surname)


def _split_given_first(words: Sequence[str]) -> NameParts:
    if len(words) <= 1:
        return NameParts("", (), words[0] if words else "")
    start = len(words) - 1
    while start > 1 and words[start - 1].casefold() in SURNAME_PARTICLES:
        start -= 1
    return _given_and_middle(words[:start], " ".join(words[start:]))


def _split_surname_first(words: Sequence[str]) -> NameParts:
    end = 0
    while end < len(words) - 1 and words[end].casefold() in SURNAME_PARTICLES:
        end += 1
    return _given_and_middle(words[end + 1 :], " ".join(words[: end + 1]))


# strptime directives a date format may use, and which of them give the year,
# the month and the day.
_DATE_DIRECTIVES = frozenset("aAbBdjmyY%")
_YEAR_DIRECTIVES = frozenset("yY")
_MONTH_DIRECTIVES = frozenset("bBmj")
_DAY_DIRECTIVES = frozenset("dj")
_KNOWN_TEXT = "%Y %y %m %b %B %d %j %a %A and %%"
_SAMPLE_DATE = date(1987, 11, 23)


def _directives(date_format: str) -> list[str]:
    # findall scans left to right, so "%%Y" is a literal "%" and then "Y".
    return re.findall(r"%(.?)", date_format, flags=re.DOTALL)


def uses_two_digit_year(date_format: str) -> bool:
    """Say whether ``date_format`` reads the year as two digits (``%y``)."""
    return "y" in _directives(date_format)


def validate_date_format(date_format: str) -> None:
    """Check that ``date_format`` is a strptime pattern for a whole date.

    Raises:
        ValueError: The pattern uses an unknown or time-of-day directive, or does
            not fix the year, month and day, so dates would not round-trip.
    """
    directives = _directives(date_format)
    unknown = sorted({d for d in directives if d not in _DATE_DIRECTIVES})
    if unknown:
        shown = ", ".join(f"%{d}" if d else "a lone %" for d in unknown)
        raise ValueError(f"uses {shown}; a date format may use only {_KNOWN_TEXT}")
    used = set(directives)
    if not (used & _YEAR_DIRECTIVES and used & _MONTH_DIRECTIVES):
        raise ValueError("must contain a year (%Y or %y) and a month (%m, %b or %B)")
    if not used & _DAY_DIRECTIVES:
        raise ValueError("must contain a day of the month (%d)")
    text = _SAMPLE_DATE.strftime(date_format)
    try:
        parsed = datetime.strptime(text, date_format).date()
    except ValueError as error:
        raise ValueError(f"cannot read back its own output {text!r}") from error
    if parsed.replace(year=_SAMPLE_DATE.year) != _SAMPLE_DATE:
        raise ValueError(f"reads {text!r} as {parsed}, not {_SAMPLE_DATE}")


def format_date(day: date, date_format: str) -> str:
    """Write ``day`` with a strftime pattern, padding ``%Y`` to four digits.

    The C library writes years before 1000 without padding on some systems;
    padding them here keeps the output the same everywhere.
    """
    numeric = _numeric_date_format(date_format)
    if numeric is not None:
        return numeric.template.format(year=day.year, month=day.month, day=day.day)

    def pad_year(match: re.Match[str]) -> str:
        return "%%" if match[0] == "%%" else f"{day.year:04d}"

    return day.strftime(re.sub(r"%[%Y]", pad_year, date_format))


@dataclass(frozen=True)
class _NumericDateFormat:
    pattern: re.Pattern[str]  # Digit for digit as the format writes a date.
    order: tuple[str, ...]  # "year", "month" and "day", as they appear.
    template: str  # str.format template that writes a date so.


_NUMERIC_DIRECTIVES = {"%Y": ("year", 4), "%m": ("month", 2), "%d": ("day", 2)}


@lru_cache(maxsize=256)
def _numeric_date_format(date_format: str) -> _NumericDateFormat | None:
    """``date_format`` as a fixed-width pattern, if it holds ``%Y``, ``%m``
    and ``%d`` once each and between them only punctuation (no letters,
    digits, spaces, ``%`` or braces, which strptime would read leniently or
    str.format specially); else None."""
    pattern, template, order = [], [], []
    for piece in re.split(r"(%.)", date_format):
        if piece in _NUMERIC_DIRECTIVES:
            name, width = _NUMERIC_DIRECTIVES[piece]
            pattern.append(f"([0-9]{{{width}}})")
            template.append(f"{{{name}:0{width}d}}")
            order.append(name)
        elif any(char.isalnum() or char.isspace() or char in "%{}" for char in piece):
            return None
        else:
            pattern.append(re.escape(piece))
            template.append(piece)
    if sorted(order) != ["day", "month", "year"]:
        return None
    return _NumericDateFormat(
        re.compile("".join(pattern)), tuple(order), "".join(template)
    )


def exact_date(text: str, date_format: str) -> datetime | None:
    """``text`` read with ``date_format``, if that holds only ``%Y``, ``%m``,
    ``%d`` and punctuation and ``text`` is written exactly as it writes a
    date (four, two and two ASCII digits); else None.

    For such text the datetime constructor accepts and refuses exactly the
    dates strptime does, in a quarter of the time or less: dates are the
    costliest values to map and prepare.

    Raises:
        ValueError: there is no such day (as strptime would).
    """
    numeric = _numeric_date_format(date_format)
    if numeric is None:
        return None
    match = numeric.pattern.fullmatch(text)
    if match is None:
        return None
    parts = dict(zip(numeric.order, map(int, match.groups()), strict=True))
    return datetime(parts["year"], parts["month"], parts["day"])


def read_date(text: str, date_format: str) -> datetime:
    """:meth:`datetime.strptime`, faster for dates written digit for digit
    in a numeric format (see :func:`exact_date`).

    Raises:
        ValueError: ``text`` is not a date in ``date_format``.
    """
    exact = exact_date(text, date_format)
    return exact if exact is not None else datetime.strptime(text, date_format)


def _comparable(text: str) -> str:
    # strptime accepts "3/2/1980" for "%d/%m/%Y"; compare without leading zeros,
    # case or extra spaces, but digit for digit otherwise.
    unpadded = re.sub(r"\d+", lambda match: str(int(match[0])), text)
    return " ".join(unpadded.casefold().split())


def _parse_one(text: str, date_format: str, pivot_year: int | None) -> date | None:
    try:
        exact = exact_date(text, date_format)
        if exact is not None:
            # Written digit for digit as the format writes it: nothing to compare.
            return exact.date()
        parsed = datetime.strptime(text, date_format)
        if pivot_year is not None and uses_two_digit_year(date_format):
            year = pivot_year + (parsed.year - pivot_year) % 100
            parsed = parsed.replace(year=year)
    except ValueError:
        return None
    # strptime is lenient ("1980123" fits "%Y%m%d" as 1980-12-3, weekday names
    # are not checked), so a value only counts if it is what we would write.
    if _comparable(format_date(parsed, date_format)) != _comparable(text):
        return None
    return parsed.date()


def parse_date(
    value: str, formats: Sequence[str], *, pivot_year: int | None = None
) -> date:
    """Read a date written in the first of ``formats`` that fits it exactly.

    Leading zeros, letter case and repeated spaces may differ from the pattern,
    nothing else may. Two-digit years (``%y``) are refused unless ``pivot_year``
    is given: then ``yy`` means the year from ``pivot_year`` to
    ``pivot_year + 99`` that ends in ``yy`` (with ``pivot_year=1930``, ``"29"`` is
    2029 and ``"30"`` is 1930).

    Args:
        value: The text of the date.
        formats: strptime patterns, tried in order.
        pivot_year: The first year of the century window for ``%y``.

    Raises:
        ValueError: No format fits the value, or a format has ``%y`` and no
            ``pivot_year`` was given.

    Example:
        >>> parse_date("19800203", ["%d/%m/%Y", "%Y%m%d"])
        datetime.date(1980, 2, 3)
    """
    if pivot_year is None:
        two_digit = [fmt for fmt in formats if uses_two_digit_year(fmt)]
        if two_digit:
            raise ValueError(
                f"{two_digit[0]!r} has a two-digit year (%y), which is ambiguous; "
                "give a pivot_year or use a four-digit year (%Y)"
            )
    text = collapse_whitespace(value)
    for date_format in formats:
        parsed = _parse_one(text, date_format, pivot_year)
        if parsed is not None:
            return parsed
    accepted = ", ".join(repr(fmt) for fmt in formats)
    raise ValueError(f"{value!r} is not a date in any accepted format ({accepted})")


def reformat_date(
    value: str,
    formats: Sequence[str],
    output_format: str,
    *,
    pivot_year: int | None = None,
) -> str:
    """Read a date with :func:`parse_date` and write it with ``output_format``.

    Raises:
        ValueError: As :func:`parse_date`.
    """
    parsed = parse_date(value, formats, pivot_year=pivot_year)
    return format_date(parsed, output_format)
