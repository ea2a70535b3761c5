"""Resolving an operator's results through the agency's vault.

The operator returns ``pseudonym,match_id`` rows; only the agency's vault can
turn them into its own record IDs (and, if asked, identity fields). Nothing is
written unless every pseudonym is found.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from linkage.atomic import private_text_output
from linkage.encoding.repeats import join_repeats, local_match_id
from linkage.encoding.vault import Vault, VaultEntry
from linkage.errors import InputError, Problem

__all__ = ["ResolveSummary", "resolve_results"]


@dataclass(frozen=True)
class ResolveSummary:
    """What :func:`resolve_results` wrote: rows, and distinct match IDs in them."""

    rows: int
    match_ids: int


def resolve_results(
    results_path: Path,
    vault: Vault,
    out_path: Path,
    *,
    include_identity: bool = False,
    withdrawn: Collection[str] = (),
) -> ResolveSummary:
    """Turn the operator's results into this agency's own record IDs.

    ``results_path`` is a CSV file with the columns ``pseudonym`` and
    ``match_id``; other columns are carried through. The output CSV has
    ``record_id``, ``match_id``, the other columns, then (with
    ``include_identity``) the vault's identity fields. It is written
    atomically, mode 0600, and only if every row resolves.

    A person the vault files as recorded more than once (its first record
    alone sent the match keys) has every record in the group most of them
    are in (:func:`~linkage.encoding.repeats.join_repeats`), with that
    group's other columns; records the results do not hold are added so,
    but for those ``withdrawn`` from the linkage (by pseudonym). A person
    the results hold no record of gets a group of its own records, under a
    match ID no other agency's results hold (the other columns empty).

    Raises:
        InputError: the results file is missing, empty or malformed, or names
            pseudonyms that are not in ``vault``.
    """
    source = f"results file {results_path}"
    try:
        results = results_path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{source} does not exist") from None
    except OSError as error:
        raise InputError(f"cannot read {source}: {error.strerror}") from None
    with results:
        try:
            return _resolve(
                results, source, vault, out_path, include_identity, withdrawn
            )
        except UnicodeDecodeError:
            raise InputError(f"{source} is not UTF-8 text") from None
        except csv.Error as error:
            raise InputError(f"{source} is not a valid CSV file: {error}") from None
        except OSError as error:
            raise InputError(
                f"cannot resolve {source} into {out_path}: {error.strerror}"
            ) from None


_REQUIRED_COLUMNS: Final = ("pseudonym", "match_id")
# Only the first problems are kept: a results file for another vault could
# otherwise fill memory with one problem per row.
_MAX_PROBLEMS: Final = 100


def _resolve(
    results: TextIO,
    source: str,
    vault: Vault,
    out_path: Path,
    include_identity: bool,
    withdrawn: Collection[str],
) -> ResolveSummary:
    header = _results_header(next(csv.reader(results), None), source)
    identity = vault.field_names if include_identity else ()
    out_header = _output_header(header, identity, source)
    pseudonym_at = header.index("pseudonym")
    match_at = header.index("match_id")
    extras = [i for i, name in enumerate(header) if name not in _REQUIRED_COLUMNS]
    columns = (pseudonym_at, match_at, len(header))
    joined = _joined_repeats(results, vault, columns, withdrawn)
    with private_text_output(out_path) as out:
        writer = csv.writer(out)
        writer.writerow(out_header)
        resolver = _Resolver(source, vault, len(header))

        def write(entry: VaultEntry, row: list[str]) -> None:
            writer.writerow(
                [entry.record_id, row[match_at]]
                + [row[i] for i in extras]
                + [entry.identity[name] for name in identity]
            )

        for row_number, row in enumerate(_data_rows(results), start=1):
            entry = resolver.entry(row_number, row, pseudonym_at, match_at)
            if entry is not None and not resolver.problems:
                write(entry, joined.row_for(row))
        resolver.raise_problems()
        for pseudonym, row in joined.not_in_results():
            write(vault.lookup(pseudonym), row)
            resolver.rows += 1
            resolver.match_ids.add(row[match_at])
    return ResolveSummary(rows=resolver.rows, match_ids=len(resolver.match_ids))


def _data_rows(results: TextIO) -> Iterator[list[str]]:
    """The results' rows after the header, read from the start."""
    results.seek(0)
    rows = csv.reader(results)
    next(rows, None)
    return rows


@dataclass(frozen=True)
class _JoinedRepeats:
    """The result rows of people recorded more than once (by pseudonym), and
    the record whose group each of their records takes
    (:func:`~linkage.encoding.repeats.join_repeats`; one the results lack
    names a group of the person's own records)."""

    rows: dict[str, list[str]]
    takes: dict[str, str]
    columns: tuple[int, int, int]  # Where the pseudonym and match ID are; width.

    def row_for(self, row: list[str]) -> list[str]:
        """The row to write for a result row: its own, or with the match ID
        (and the columns beside it) of the row whose group it takes."""
        pseudonym = row[self.columns[0]]
        stays = self.takes.get(pseudonym, pseudonym) == pseudonym
        return row if stays else self._moved(pseudonym)

    def not_in_results(self) -> list[tuple[str, list[str]]]:
        """The records the results do not hold, each with the row to write."""
        missing = sorted(p for p in self.takes if p not in self.rows)
        return [(p, self._moved(p)) for p in missing]

    def _moved(self, pseudonym: str) -> list[str]:
        """``pseudonym``'s row in the group of the record it takes."""
        pseudonym_at, match_at, width = self.columns
        source = self.takes[pseudonym]
        if source in self.rows:
            joined = list(self.rows[source])
        else:
            joined = [""] * width
            joined[match_at] = local_match_id(source)
        joined[pseudonym_at] = pseudonym
        return joined


def _joined_repeats(
    results: TextIO,
    vault: Vault,
    columns: tuple[int, int, int],
    withdrawn: Collection[str],
) -> _JoinedRepeats:
    """A first pass over the results for the rows of people the vault files
    as recorded more than once (``columns``: where the pseudonym and the
    match ID are, and how many there are)."""
    if not vault.repeats:
        return _JoinedRepeats({}, {}, columns)
    pseudonym_at, match_at, width = columns
    members = set(vault.repeats) | set(vault.repeats.values())
    rows = {
        row[pseudonym_at]: row
        for row in _data_rows(results)
        if len(row) == width and row[pseudonym_at] in members
    }
    match_of = {pseudonym: row[match_at] for pseudonym, row in rows.items()}
    takes = join_repeats(match_of, vault.repeats, withdrawn)
    return _JoinedRepeats(rows, takes, columns)


def _results_header(header: list[str] | None, source: str) -> list[str]:
    hint = "The operator's results file starts with the header `pseudonym,match_id`."
    if header is None:
        raise InputError(f"{source} is empty", hint=hint)
    missing = [name for name in _REQUIRED_COLUMNS if name not in header]
    problems = [Problem(f"no '{name}' column", source=source) for name in missing]
    problems += [
        Problem(f"column '{name}' appears more than once", source=source)
        for name in sorted({name for name in header if header.count(name) > 1})
    ]
    if problems:
        raise InputError(f"{source} has an invalid header", problems, hint=hint)
    return header


def _output_header(
    header: Sequence[str], identity: Sequence[str], source: str
) -> list[str]:
    extras = [name for name in header if name not in _REQUIRED_COLUMNS]
    out_header = ["record_id", "match_id", *extras, *identity]
    clashes = sorted({name for name in out_header if out_header.count(name) > 1})
    if clashes:
        raise InputError(
            f"{source}: the output would have duplicate columns {clashes}",
            hint="Rename those columns in the results file.",
        )
    return out_header


class _Resolver:
    """Resolve result rows one by one, collecting problems instead of stopping."""

    def __init__(self, source: str, vault: Vault, width: int) -> None:
        self.source = source
        self.vault = vault
        self.width = width
        self.rows = 0
        self.match_ids: set[str] = set()
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.unknown = 0

    def entry(
        self, row_number: int, row: list[str], pseudonym_at: int, match_at: int
    ) -> VaultEntry | None:
        """Return the vault entry of a result row, or None if the row is wrong."""
        problem = self._check(row, pseudonym_at, match_at)
        if problem is not None:
            self.problem_count += 1
            if len(self.problems) < _MAX_PROBLEMS:
                field, message = problem
                self.problems.append(Problem(message, self.source, row_number, field))
            return None
        self.rows += 1
        self.match_ids.add(row[match_at])
        return self.vault.lookup(row[pseudonym_at])

    def _check(
        self, row: list[str], pseudonym_at: int, match_at: int
    ) -> tuple[str | None, str] | None:
        """Return the field and message of what is wrong with ``row``, if any."""
        if len(row) != self.width:
            return None, f"expected {self.width} columns (got {len(row)})"
        if not row[match_at]:
            return "match_id", "is empty"
        pseudonym = row[pseudonym_at]
        if pseudonym not in self.vault:
            self.unknown += 1
            return "pseudonym", f"{pseudonym!r} is not in the vault"
        return None

    def raise_problems(self) -> None:
        if not self.problems:
            return
        hint = None
        if self.unknown:
            hint = (
                f"{self.unknown} pseudonyms are not in this vault: these results "
                "belong to another agency or to another vault. Resolve your own "
                "agency's results with the vault made when you encoded them."
            )
        raise InputError(
            f"{self.source} has {self.problem_count} rows that cannot be resolved; "
            "nothing was written",
            self.problems,
            hint=hint,
            total=self.problem_count,
        )
