"""Tokenisers: the tokens of a prepared value, as clkhash 0.18.3 produces them.

Two ways to the same tokens. :func:`tokenize` handles one value in plain
Python and serves every comparison. :func:`ngram_occurrences` tokenises a whole
batch of values with numpy, representing each n-gram as an integer of its code
points, so a million names are split without a Python loop per character.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.formats.schema import (
    Comparison,
    ExactComparison,
    NgramComparison,
    NumericComparison,
)

_CODE_BITS = 21  # Unicode code points fit in 21 bits.
_SPACE = 32


class InvalidNumber(ValueError):
    """A numeric comparison was given a value that is not a number."""


def tokenize(comparison: Comparison, word: str) -> list[str]:
    """Return the tokens of ``word``, duplicates kept, in clkhash's order."""
    if not word:
        return []
    if isinstance(comparison, NgramComparison):
        return _ngrams(comparison, word)
    if isinstance(comparison, ExactComparison):
        return [word]
    return _numeric_tokens(comparison, word)


def _ngrams(comparison: NgramComparison, word: str) -> list[str]:
    n = comparison.n
    if n > 1:
        padding = " " * (n - 1)
        word = f"{padding}{word}{padding}"
    grams = [word[i : i + n] for i in range(len(word) - n + 1)]
    if comparison.positional:
        return [f"{i + 1} {gram}" for i, gram in enumerate(grams)]
    return grams


def _numeric_tokens(comparison: NumericComparison, word: str) -> list[str]:
    precision = comparison.fractional_precision
    try:
        # Integers first so large values keep full precision, as clkhash does.
        number = int(word, 10) * 10**precision
    except ValueError:
        try:
            as_float = float(word)
            number = round(as_float * 10**precision) if precision else int(as_float)
        except (ValueError, OverflowError):
            raise InvalidNumber(f"must be a finite number (got {word!r})") from None
    interval = comparison.distance_interval
    number *= 2 * comparison.resolution
    residue = number % interval
    if residue != 0:
        number += -residue if residue < interval / 2 else interval - residue
    steps = range(-comparison.resolution, comparison.resolution + 1)
    return [str(number + step * interval) for step in steps]


def vectorisable(comparison: Comparison) -> bool:
    """Whether :func:`ngram_occurrences` can tokenise for this comparison.

    Token codes must fit in 63 bits: up to three code points, or two when the
    position is part of the token.
    """
    if not isinstance(comparison, NgramComparison):
        return False
    return comparison.n <= (2 if comparison.positional else 3)


@dataclass(frozen=True)
class Occurrences:
    """Every token occurrence of a batch of values, in value and token order.

    ``codes`` identifies the token (equal tokens have equal codes),
    ``value_index`` the value it came from, ``rank`` its place among that
    value's tokens, and ``token_counts`` how many tokens each value has.
    """

    codes: npt.NDArray[np.int64]
    value_index: npt.NDArray[np.intp]
    rank: npt.NDArray[np.intp]
    token_counts: npt.NDArray[np.int64]


def ngram_occurrences(
    comparison: NgramComparison, values: Sequence[str]
) -> Occurrences | None:
    """Tokenise many values at once; None if a value needs the slow path.

    numpy's fixed-width strings drop trailing NUL characters, so a batch that
    contains one is left to :func:`tokenize`.
    """
    if any("\x00" in value for value in values):
        return None
    n = comparison.n
    pad = n - 1
    array = np.asarray(values, dtype=np.str_)
    width = array.dtype.itemsize // 4
    lengths = np.strings.str_len(array).astype(np.int64)
    counts = np.where(lengths > 0, lengths + pad, 0)
    if width == 0 or not counts.any():
        empty = np.zeros(0, dtype=np.int64)
        return Occurrences(empty, empty.astype(np.intp), empty.astype(np.intp), counts)
    chars = array.view(np.uint32).reshape(len(values), width).astype(np.int64)
    chars[np.arange(width)[None, :] >= lengths[:, None]] = _SPACE
    padded = np.full((len(values), width + 2 * pad), _SPACE, dtype=np.int64)
    padded[:, pad : pad + width] = chars
    slots = width + pad
    grams = padded[:, :slots].copy()
    for offset in range(1, n):
        grams = (grams << _CODE_BITS) | padded[:, offset : offset + slots]
    if comparison.positional:
        grams |= np.arange(slots, dtype=np.int64)[None, :] << (_CODE_BITS * n)
    present = np.arange(slots)[None, :] < counts[:, None]
    value_index, rank = np.nonzero(present)
    return Occurrences(grams[present], value_index, rank, counts)


def decode_gram(comparison: NgramComparison, code: int) -> str:
    """Turn a token code from :func:`ngram_occurrences` back into its text."""
    mask = (1 << _CODE_BITS) - 1
    n = comparison.n
    chars = [chr((code >> (_CODE_BITS * (n - 1 - t))) & mask) for t in range(n)]
    gram = "".join(chars)
    if comparison.positional:
        position = code >> (_CODE_BITS * n)
        return f"{position + 1} {gram}"
    return gram
