"""Hypothesis strategies shared by the tests: names, dates and messy text."""

from __future__ import annotations

import string
import unicodedata
from datetime import date

from hypothesis import strategies as st

from linkage.encoding.normalise import COMMON_DATE_FORMATS, SURNAME_PARTICLES

#: ASCII letters plus every letter of Latin-1 Supplement and Latin Extended-A.
LATIN_LETTERS = string.ascii_letters + "".join(
    char
    for char in map(chr, range(0xC0, 0x180))
    if unicodedata.category(char).startswith("L")
)

#: Date formats with a four-digit year, each of which must round-trip.
FOUR_DIGIT_YEAR_FORMATS = (*COMMON_DATE_FORMATS, "%m/%d/%Y", "%d%m%Y", "%A %d %B %Y")

_SEPARATORS = ("-", "'", "’", "‐", "–")


def latin_words(max_size: int = 12) -> st.SearchStrategy[str]:
    """A word of Latin letters, with or without accents."""
    return st.text(LATIN_LETTERS, min_size=1, max_size=max_size)


@st.composite
def name_words(draw: st.DrawFn) -> str:
    """One name word, sometimes joined by a hyphen or apostrophe ("O'Brien")."""
    first = draw(latin_words())
    if draw(st.booleans()):
        first += draw(st.sampled_from(_SEPARATORS)) + draw(latin_words())
    return first


def plain_name_words() -> st.SearchStrategy[str]:
    """A name word that is not a surname particle ("van", "de", ...)."""
    return name_words().filter(lambda word: word.casefold() not in SURNAME_PARTICLES)


@st.composite
def people_names(draw: st.DrawFn) -> tuple[list[str], str]:
    """A given name with up to two middle names, and a one-word surname."""
    given = draw(st.lists(plain_name_words(), min_size=1, max_size=3))
    return given, draw(plain_name_words())


def birth_dates() -> st.SearchStrategy[date]:
    """Any date a four-digit year can write, including years before 1000."""
    return st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


_MESSY_CHARS = st.one_of(
    st.sampled_from(" \t\n\r\u00a0\u2003\u200b\ufeff\u00ad-'’.,/()&#"),
    st.sampled_from(LATIN_LETTERS),
    st.characters(),
)


def messy_strings(max_size: int = 30) -> st.SearchStrategy[str]:
    """Text as exports hold it: odd spaces, invisible characters, accents, symbols."""
    return st.text(_MESSY_CHARS, max_size=max_size)
