"""The audit export an operator hands to an oversight body (JSON Lines, UTF-8).

Line 1 is a header naming the format, its version, when it was exported and
which service key signed the heads; then one line per entry, then one per
signed head. Reading keeps the file's order so :func:`verify_log` can see
entries that were shuffled.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linkage.atomic import private_text_output
from linkage.audit.chain import (
    AuditEntry,
    AuditFormatError,
    SignedHead,
    parse_time,
)
from linkage.errors import Problem

FORMAT = "linkage-audit-export"
VERSION = 1
_HEADER_FIELDS = ("format", "version", "exported_at", "service_key_id")


@dataclass(frozen=True)
class AuditExport:
    """A whole exported log: its entries and heads, in file order."""

    exported_at: str
    service_key_id: str
    entries: tuple[AuditEntry, ...]
    heads: tuple[SignedHead, ...]


def _dumps(obj: dict[str, Any]) -> str:
    # Sorted keys make two exports of the same log byte-identical.
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def export_lines(export: AuditExport) -> Iterator[str]:
    """The lines of the export file, each ending in ``"\\n"``."""
    yield _dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": export.exported_at,
            "service_key_id": export.service_key_id,
        }
    )
    for entry in export.entries:
        yield _dumps({"kind": "entry", **entry.to_json()})
    for head in export.heads:
        yield _dumps({"kind": "head", **head.to_json()})


def write_export(path: Path, export: AuditExport) -> None:
    """Write ``export`` to ``path`` atomically, readable by its owner only."""
    with private_text_output(path) as out:
        out.writelines(export_lines(export))


def read_export(path: Path) -> AuditExport:
    """Read an export written by :func:`write_export`.

    Raises:
        AuditFormatError: the file is missing or unreadable, is not UTF-8, or
            a line is not valid; the message names the file and line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditFormatError(
            f"audit export {path} does not exist",
            hint="Check the path of the export file.",
        ) from None
    except OSError as exc:
        raise AuditFormatError(
            f"audit export {path} cannot be read: {exc.strerror or exc}"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _line_error(str(path), line, "is not UTF-8 text") from None
    # Split on "\n" only: str.splitlines would also split on U+2028 and
    # friends, which may appear unescaped inside JSON strings.
    return parse_export_lines(text.removeprefix("\ufeff").split("\n"), str(path))


def parse_export_lines(lines: Iterable[str], source: str) -> AuditExport:
    """Parse export lines (with or without line endings) from ``source``.

    ``source`` names where the lines came from, for error messages. Blank
    lines are skipped; entries and heads keep their order.

    Raises:
        AuditFormatError: a line is not valid; the message names the line.
    """
    header: dict[str, Any] | None = None
    entries: list[AuditEntry] = []
    heads: list[SignedHead] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        obj = _parse_json(line, source, number)
        if header is None:
            header = _check_header(obj, source, number)
            continue
        _add_record(obj, source, number, entries, heads)
    if header is None:
        raise AuditFormatError(
            f"audit export {source} is empty: expected a header line",
        )
    return AuditExport(
        exported_at=header["exported_at"],
        service_key_id=header["service_key_id"],
        entries=tuple(entries),
        heads=tuple(heads),
    )


def _line_error(
    source: str, line: int, message: str, field: str | None = None
) -> AuditFormatError:
    return AuditFormatError(
        f"{source} is not a valid audit export",
        [Problem(message, source=f"{source}, line {line}", field=field)],
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(line: str, source: str, number: int) -> Any:
    try:
        return json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _line_error(source, number, f"is not valid JSON ({exc})") from None


def _check_header(obj: Any, source: str, number: int) -> dict[str, Any]:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise _line_error(
            source, number, f"is not an audit export header (format '{FORMAT}')"
        )
    if obj.get("version") != VERSION:
        raise _line_error(
            source,
            number,
            f"has version {obj.get('version')!r}; this program reads version {VERSION}",
            "version",
        )
    for name in _HEADER_FIELDS:
        if name not in obj:
            raise _line_error(source, number, "is missing", name)
    for name in obj:
        if name not in _HEADER_FIELDS:
            raise _line_error(source, number, "is not a known field", str(name))
    _check_header_values(obj, source, number)
    return obj


def _check_header_values(obj: dict[str, Any], source: str, number: int) -> None:
    try:
        parse_time(obj["exported_at"])
    except AuditFormatError:
        raise _line_error(
            source,
            number,
            "must be UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ",
            "exported_at",
        ) from None
    if not isinstance(obj["service_key_id"], str) or not obj["service_key_id"]:
        raise _line_error(source, number, "must be non-empty text", "service_key_id")


def _add_record(
    obj: Any,
    source: str,
    number: int,
    entries: list[AuditEntry],
    heads: list[SignedHead],
) -> None:
    if not isinstance(obj, dict):
        raise _line_error(source, number, "must be a JSON object")
    fields = dict(obj)
    kind = fields.pop("kind", None)
    try:
        if kind == "entry":
            entries.append(AuditEntry.from_json(fields))
        elif kind == "head":
            heads.append(SignedHead.from_json(fields))
        else:
            raise _line_error(
                source, number, f"has unknown kind {kind!r} (expected entry or head)"
            )
    except AuditFormatError as exc:
        if exc.problems and exc.problems[0].source is not None:
            raise
        problem = exc.problems[0] if exc.problems else Problem(exc.summary)
        raise _line_error(source, number, problem.message, problem.field) from None
