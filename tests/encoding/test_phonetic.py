"""Soundex, the phonetic code of match keys: published examples, and
agreement with an independent implementation (jellyfish, which
recordlinkage brings)."""

from __future__ import annotations

import jellyfish
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.phonetic import PHONETIC, soundex
from linkage.formats.extension import PHONETIC_CODES

# The US National Archives' examples of the coding rules (Robert/Rupert,
# Rubin; Ashcraft for h between two letters of one group; Tymczak for a
# vowel between them; Pfister for the first letter's own group; Honeyman).
ARCHIVES = {
    "Robert": "R163",
    "Rupert": "R163",
    "Rubin": "R150",
    "Ashcraft": "A261",
    "Ashcroft": "A261",
    "Tymczak": "T522",
    "Pfister": "P236",
    "Honeyman": "H555",
    "Lee": "L000",
    "Gutierrez": "G362",
    "Jackson": "J250",
    "Washington": "W252",
}


@pytest.mark.parametrize(("name", "code"), ARCHIVES.items())
def test_the_published_examples(name: str, code: str) -> None:
    assert soundex(name) == code
    assert soundex(name.lower()) == code


def test_only_letters_count_and_none_gives_no_code() -> None:
    assert soundex("o'neil-smith") == soundex("oneilsmith") == "O542"
    assert soundex("van der berg") == soundex("vanderberg")
    assert soundex("") == soundex("1980") == soundex("王") == ""


def test_spellings_of_one_sound_share_a_code() -> None:
    assert soundex("smith") == soundex("smyth") == soundex("smithe") == "S530"
    assert soundex("smith") != soundex("jones")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=14))
def test_agrees_with_jellyfish(name: str) -> None:
    assert soundex(name) == jellyfish.soundex(name)


def test_every_code_the_schema_accepts_has_an_encoder() -> None:
    assert set(PHONETIC) == set(PHONETIC_CODES)
