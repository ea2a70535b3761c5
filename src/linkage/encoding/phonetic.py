"""Phonetic codes for match keys: names that sound alike share a code.

A match key forgives nothing inside it, so one typo in a name loses the key
of full name and birth date. Keyed on the names' phonetic codes instead, the
key survives most typos and spellings of one sound (Smith, Smyth, Smithe all
give S530), while the birth date keeps namesakes apart. Soundex is the
oldest phonetic code of record linkage (the US census indexes; FEBRL and
recordlinkage offer it for blocking keys); on the benchmark's populations it
found more than Metaphone (benchmarks/README.md).

Only the letters a-z of a value count, so a mapping with the step
``strip_accents`` (docs/mappings.md) keeps "josé" as "jose" rather than
"jos"; a value without any has no code, and a record with no code has no
key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["PHONETIC", "soundex"]

# American Soundex (US National Archives): the digit of each consonant group.
_DIGITS: Final = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
    **dict.fromkeys("aeiouy", ""),  # Vowels code nothing but part two digits.
}
_LENGTH = 4


def soundex(text: str) -> str:
    """The American Soundex code of ``text`` (``"R163"`` for Robert and
    Rupert), or ``""`` if it holds no letter a-z.

    Letters after the first give their group's digit; a digit next to the
    same digit is written once, also across an h or a w but not across a
    vowel; the first letter's own digit is not repeated; the code is cut or
    padded with zeros to four characters.
    """
    letters = [letter for letter in text.lower() if "a" <= letter <= "z"]
    if not letters:
        return ""
    code = [letters[0].upper()]
    last = _DIGITS.get(letters[0], "")
    for letter in letters[1:]:
        if letter in "hw":
            continue  # Neither codes nor parts two digits.
        digit = _DIGITS[letter]
        if digit and digit != last:
            code.append(digit)
        last = digit
    return ("".join(code) + "000")[:_LENGTH]


#: Each phonetic code a match key may take of a field, by the name the
#: schema writes it under (:data:`linkage.formats.extension.PHONETIC_CODES`).
PHONETIC: Final[dict[str, Callable[[str], str]]] = {"soundex": soundex}
