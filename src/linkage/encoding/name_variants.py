"""Given-name variants: Bill and William, Peggy and Margaret, written alike.

A Bloom filter of bigrams sees "bill" and "william" as different names (Dice
0.36). If every agency replaces a known variant with its canonical form before
encoding, both become "william" and agree exactly. The mapping step
``given_name_variants`` (:mod:`linkage.encoding.mapping_file`) does this with
a :class:`VariantTable`.

Tables are CSV files with the header ``variant,canonical``, one variant per
row; lines starting with ``#`` are comments. Names are one word each and are
compared ignoring case. The built-in table
(``linkage/data/given_name_variants.csv``) holds a few hundred English
nicknames and spellings; variants shared by several formal names (Chris, Alex,
Sam, Pat, Jo, Terry) are left out on purpose, since mapping them would make
Christine agree with Christopher. The international table
(``linkage/data/given_name_variants_international.csv``, used on top of the
English one when asked for) adds short forms in Spanish, Portuguese,
Italian, French, German, Dutch, Polish and Russian (pepe -> jose,
hans -> johannes), written without accents for use after ``strip_accents``;
its header lists the forms it leaves alone.

Rules that keep canonicalising stable (twice is the same as once):

* A variant has one canonical form per table. Where an agency's own table
  (``extra``) lists a variant the built-in table also lists, the agency's
  wins.
* Chains are followed: if a table maps "bill" to "will" and another "will"
  to "william", "bill" becomes "william". A cycle is an error.

Every agency linking together must use the same tables, or a name one agency
canonicalises is encoded as written by the other.

Example:
    >>> table = builtin_table()
    >>> table.canonicalise("Bill"), table.canonicalise("PEGGY ann")
    ('William', 'MARGARET anne')
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path

from linkage.errors import MappingError, Problem

__all__ = [
    "BUILTIN_TABLE",
    "INTERNATIONAL_TABLE",
    "VariantTable",
    "builtin_table",
    "international_table",
    "load_variant_table",
    "load_word_table",
    "parse_variant_text",
    "read_variant_file",
]

BUILTIN_TABLE = "given_name_variants.csv"
"""The file name of the built-in (English) table in ``linkage/data``."""

INTERNATIONAL_TABLE = "given_name_variants_international.csv"
"""The file name of the built-in table of other languages in ``linkage/data``."""

_HEADER = ("variant", "canonical")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class VariantTable:
    """Variants and their canonical forms, ready to apply.

    Attributes:
        canonical: Variant (case-folded) -> canonical form (lower case), with
            chains already followed.
        sources: Where the rows came from, for messages and reports.
    """

    canonical: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def canonicalise(self, value: str) -> str:
        """Replace each word of ``value`` that is a variant with its canonical form.

        Words are separated by whitespace, which is kept as it is. A replaced
        word keeps its case style: ``"BILL"`` -> ``"WILLIAM"``,
        ``"Bill"`` -> ``"William"``, ``"bill"`` -> ``"william"``.
        """
        return _WORD.sub(self._replace, value)

    def _replace(self, match: re.Match[str]) -> str:
        word = match[0]
        canonical = self.canonical.get(word.casefold())
        if canonical is None:
            return word
        if word.isupper() and len(word) > 1:
            return canonical.upper()
        if word[:1].isupper():
            return canonical[:1].upper() + canonical[1:]
        return canonical


def read_variant_file(path: Path, kind: str = "name variant") -> dict[str, str]:
    """Read one table file: variant -> canonical, both case-folded. ``kind``
    names the table in messages ("name variant", "street type").

    Raises:
        MappingError: The file cannot be read, or has a wrong header, a row
            without exactly two names, a name with spaces, or a variant given
            two different canonical forms; every problem is listed with its
            line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(
            f"Cannot read the {kind} table {path}: {error}",
            hint="Check the path; a relative path is read from the mapping "
            "file's folder.",
        ) from error
    return parse_variant_text(text, str(path), kind)


def parse_variant_text(
    text: str, source: str, kind: str = "name variant"
) -> dict[str, str]:
    """Parse the text of a table file (see :func:`read_variant_file`).

    Raises:
        MappingError: As :func:`read_variant_file`.
    """
    problems: list[Problem] = []
    table = _parse_rows(text, source, problems)
    if problems:
        raise MappingError(
            f"{kind.capitalize()} table {source} has {len(problems)} problem(s)",
            problems,
            hint="Each data row is `variant,canonical`, one word each, under "
            "the header `variant,canonical`.",
        )
    return table


def _parse_rows(text: str, source: str, problems: list[Problem]) -> dict[str, str]:
    table: dict[str, str] = {}
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(text.splitlines()), start=1)
        if row and not row[0].lstrip().startswith("#")
    ]
    if not rows or tuple(cell.strip().casefold() for cell in rows[0][1]) != _HEADER:
        found = ",".join(rows[0][1]) if rows else "no rows"
        problems.append(
            Problem(f"the header must be `variant,canonical` (got {found!r})", source)
        )
        return table
    for number, row in rows[1:]:
        pair = _parse_row(row, number, source, problems)
        if pair is None:
            continue
        variant, canonical = pair
        if table.get(variant, canonical) != canonical:
            problems.append(
                Problem(
                    f"variant {variant!r} maps to {table[variant]!r} on an earlier "
                    f"line and to {canonical!r} here; keep one",
                    source,
                    row=number,
                )
            )
            continue
        table[variant] = canonical
    return table


def _parse_row(
    row: Sequence[str], number: int, source: str, problems: list[Problem]
) -> tuple[str, str] | None:
    cells = [cell.strip().casefold() for cell in row]
    if len(cells) != 2 or not all(cells):
        problems.append(
            Problem(
                f"must be two names, `variant,canonical` (got {','.join(row)!r})",
                source,
                row=number,
            )
        )
        return None
    if any(len(cell.split()) != 1 for cell in cells):
        problems.append(
            Problem(
                f"names must be one word each, since names are mapped word by "
                f"word (got {','.join(row)!r})",
                source,
                row=number,
            )
        )
        return None
    if cells[0] == cells[1]:
        problems.append(
            Problem(f"{cells[0]!r} maps to itself; remove the row", source, number)
        )
        return None
    return cells[0], cells[1]


def _resolved(
    table: Mapping[str, str], sources: Sequence[str], kind: str = "name variant"
) -> dict[str, str]:
    """Follow chains to their end; a cycle is an error."""
    resolved: dict[str, str] = {}
    problems = []
    for variant in table:
        seen = [variant]
        current = table[variant]
        while current in table and current not in seen:
            seen.append(current)
            current = table[current]
        if current in seen:
            cycle = " -> ".join([*seen[seen.index(current) :], current])
            problems.append(Problem(f"the variants form a cycle: {cycle}"))
            continue
        resolved[variant] = current
    if problems:
        raise MappingError(
            f"The {kind} tables {', '.join(sources)} map words in a circle",
            sorted(set(problems), key=str),
            hint="Remove one row of each cycle, so every chain ends in a "
            "canonical form.",
        )
    return resolved


def load_variant_table(
    *, builtin: bool = True, international: bool = False, extra: Iterable[Path] = ()
) -> VariantTable:
    """The built-in tables and/or extra tables, merged and checked.

    Args:
        builtin: Whether to start from the built-in (English) table.
        international: Whether to add the built-in table of other languages.
        extra: The agency's own tables, applied in order; a later table's row
            replaces an earlier one's for the same variant.

    Raises:
        MappingError: A table cannot be read or is malformed, or the merged
            rows form a cycle.
    """
    tables = [BUILTIN_TABLE] if builtin else []
    if international:
        tables.append(INTERNATIONAL_TABLE)
    return load_word_table(tables, extra, "name variant")


def load_word_table(
    builtin: Sequence[str], extra: Iterable[Path], kind: str
) -> VariantTable:
    """Built-in tables (files in ``linkage/data``) and then an agency's own,
    merged (a later row replaces an earlier one for the same variant) and
    checked; ``kind`` names them in messages.

    Raises:
        MappingError: A table cannot be read or is malformed, or the merged
            rows form a cycle.
    """
    merged: dict[str, str] = {}
    sources: list[str] = []
    for name in builtin:
        merged.update(_read_builtin(name, kind))
        sources.append(f"builtin ({name})")
    for path in extra:
        merged.update(read_variant_file(path, kind))
        sources.append(str(path))
    return VariantTable(_resolved(merged, sources, kind), tuple(sources))


@cache
def builtin_table() -> VariantTable:
    """The built-in table of English given-name variants (read once)."""
    return load_variant_table()


@cache
def international_table() -> VariantTable:
    """The English table with the other languages' on top (read once)."""
    return load_variant_table(builtin=True, international=True)


def _read_builtin(name: str, kind: str = "name variant") -> dict[str, str]:
    text = files("linkage").joinpath("data", name).read_text(encoding="utf-8")
    return parse_variant_text(text, name, kind)
