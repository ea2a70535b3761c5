"""Street types written alike: Street and St, Place and Pl, Crescent and Cres.

Agencies write a street's type in full or abbreviated, and each agency its own
way: on the households population's exports, 1,469 of 2,468 pairs of one
person's records with a street differed, 276 once the types were written
alike. A Bloom filter of bigrams sees "railway place" and "railway pl" as
different streets, so the mapping step ``street_types``
(:mod:`linkage.encoding.mapping_file`) replaces every word of a street that
is a known street type with its standard abbreviation before encoding, the
same at every agency.

The built-in table (``linkage/data/street_types.csv``) holds the usual
abbreviations of Australian addresses, with common spellings and some US
forms; an agency adds its own in the format of
:mod:`linkage.encoding.name_variants` (``variant,canonical``, one word
each). Every agency linking together must use the same tables.

Example:
    >>> builtin_street_types().canonicalise("12 Railway Place")
    '12 Railway Pl'
    >>> builtin_street_types().canonicalise("12 railway pl")
    '12 railway pl'
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from linkage.encoding.name_variants import VariantTable, load_word_table

__all__ = ["STREET_TYPES_TABLE", "builtin_street_types", "load_street_types"]

STREET_TYPES_TABLE = "street_types.csv"
"""The file name of the built-in table in ``linkage/data``."""

_KIND = "street type"


def load_street_types(
    *, builtin: bool = True, extra: Iterable[Path] = ()
) -> VariantTable:
    """The built-in table (unless not ``builtin``) and the agency's own
    ``extra`` tables, merged and checked (a later row wins).

    Raises:
        MappingError: A table cannot be read or is malformed, or the merged
            rows form a cycle.
    """
    return load_word_table([STREET_TYPES_TABLE] if builtin else [], extra, _KIND)


@cache
def builtin_street_types() -> VariantTable:
    """The built-in table (read once)."""
    return load_street_types()
