"""Parsing JSON from outside: a document nested too deeply is an input error.

Python's parser recurses once per nesting level, so ``[[[[...`` a few thousand
deep raises :class:`RecursionError`, which callers would otherwise report as
an internal failure. :func:`parse_json` turns it into :class:`JSONTooDeepError`,
a :class:`ValueError` each caller can word for its reader.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["TOO_DEEP", "JSONTooDeepError", "parse_json"]

TOO_DEEP: Final = (
    "the JSON document is nested too deeply to read; no valid document nests "
    "arrays or objects more than a few levels deep"
)


class JSONTooDeepError(ValueError):
    """The JSON document nests arrays or objects deeper than the parser follows."""

    def __init__(self) -> None:
        super().__init__(TOO_DEEP)


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``, raising :class:`JSONTooDeepError` rather than
    :class:`RecursionError` for a document nested too deeply.

    Raises:
        json.JSONDecodeError: ``text`` is not JSON.
        JSONTooDeepError: it is nested too deeply to parse.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise JSONTooDeepError from None
