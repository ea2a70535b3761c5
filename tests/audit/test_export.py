"""Exports round-trip, name the line of any damage, and keep file order."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.audit import (
    AuditEntry,
    AuditExport,
    AuditFormatError,
    SignedHead,
    export_lines,
    format_time,
    next_entry,
    parse_export_lines,
    read_export,
    sign_head,
    verify_log,
    write_export,
)

KEY = Ed25519PrivateKey.generate()
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_export(count: int = 6) -> AuditExport:
    entries: list[AuditEntry] = []
    heads: list[SignedHead] = []
    previous = None
    for i in range(count):
        previous = next_entry(
            previous,
            at=START + timedelta(minutes=i),
            actor="investigator:alice",
            action="reveal.requested",
            project_id=7,
            # U+2028 would break a reader that splits with str.splitlines.
            details={"purpose": f"case\u2028{i}", "parties": ["police", "health"]},
        )
        entries.append(previous)
        if i % 3 == 2:
            heads.append(sign_head(KEY, previous, START + timedelta(hours=1)))
    return AuditExport(
        exported_at=format_time(START + timedelta(days=1)),
        service_key_id="service-2025",
        entries=tuple(entries),
        heads=tuple(heads),
    )


def test_write_then_read_is_equal(tmp_path: Path) -> None:
    export = make_export()
    path = tmp_path / "audit.jsonl"
    write_export(path, export)
    assert read_export(path) == export
    assert verify_log(export.entries, export.heads, KEY.public_key()).ok


def test_export_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_export(path, make_export())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_layout(tmp_path: Path) -> None:
    export = make_export()
    lines = list(export_lines(export))
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert json.loads(lines[0]) == {
        "format": "linkage-audit-export",
        "version": 1,
        "exported_at": export.exported_at,
        "service_key_id": "service-2025",
    }
    kinds = [json.loads(line)["kind"] for line in lines[1:]]
    assert kinds == ["entry"] * 6 + ["head"] * 2
    assert parse_export_lines(lines, "stream") == export


def test_reordered_lines_are_kept_and_caught_by_verify(tmp_path: Path) -> None:
    lines = list(export_lines(make_export()))
    lines[3], lines[4] = lines[4], lines[3]
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    export = read_export(path)
    assert [entry.seq for entry in export.entries] == [1, 2, 4, 3, 5, 6]
    problem = verify_log(export.entries, export.heads, KEY.public_key()).problem
    assert problem is not None and problem.kind == "reordered"


def test_blank_lines_and_crlf_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    text = "".join(export_lines(make_export())).replace("\n", "\r\n") + "\r\n\r\n"
    path.write_bytes(text.encode("utf-8"))
    assert read_export(path) == make_export()


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(AuditFormatError, match=r"nope\.jsonl does not exist"):
        read_export(path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(AuditFormatError, match="empty"):
        read_export(write_lines(tmp_path, []))


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    data = "".join(export_lines(make_export())).encode("utf-8")
    lines = data.split(b"\n")
    lines[2] = lines[2].replace(b"alice", b"al\xffce")
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(AuditFormatError, match=r"audit.jsonl, line 3: is not UTF-8"):
        read_export(path)


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    lines = list(export_lines(make_export()))
    lines[4] = lines[4][:-10] + "\n"
    with pytest.raises(AuditFormatError, match=r"line 5: is not valid JSON"):
        read_export(write_lines(tmp_path, lines))


def test_nan_is_not_json(tmp_path: Path) -> None:
    lines = list(export_lines(make_export()))
    lines[2] = lines[2].replace('"project_id": 7', '"project_id": NaN')
    with pytest.raises(AuditFormatError, match=r"line 3: is not valid JSON"):
        read_export(write_lines(tmp_path, lines))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"format": "other", "version": 1}, "not an audit export header"),
        ({"format": "linkage-audit-export", "version": 2}, "version 2"),
        ({"format": "linkage-audit-export", "version": 1}, "field 'exported_at'"),
    ],
)
def test_bad_header_is_line_1(
    tmp_path: Path, header: dict[str, object], expected: str
) -> None:
    lines = list(export_lines(make_export()))
    lines[0] = json.dumps(header) + "\n"
    with pytest.raises(AuditFormatError, match="line 1") as caught:
        read_export(write_lines(tmp_path, lines))
    assert expected in str(caught.value)


def test_unknown_kind_names_the_line(tmp_path: Path) -> None:
    lines = list(export_lines(make_export()))
    lines.insert(3, json.dumps({"kind": "comment", "text": "hi"}) + "\n")
    with pytest.raises(AuditFormatError, match=r"line 4: has unknown kind 'comment'"):
        read_export(write_lines(tmp_path, lines))


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [(2, "seq", "one"), (4, "details", None), (8, "signature", "x"), (9, "hash", 5)],
)
def test_bad_field_names_line_and_field(
    tmp_path: Path, line: int, field: str, value: object
) -> None:
    lines = list(export_lines(make_export()))
    obj = json.loads(lines[line - 1])
    obj[field] = value
    lines[line - 1] = json.dumps(obj) + "\n"
    with pytest.raises(AuditFormatError, match=rf"line {line}, field '{field}'"):
        read_export(write_lines(tmp_path, lines))


def test_missing_field_names_line_and_field(tmp_path: Path) -> None:
    lines = list(export_lines(make_export()))
    obj = json.loads(lines[1])
    del obj["prev_hash"]
    lines[1] = json.dumps(obj) + "\n"
    with pytest.raises(
        AuditFormatError, match=r"line 2, field 'prev_hash': is missing"
    ):
        read_export(write_lines(tmp_path, lines))
