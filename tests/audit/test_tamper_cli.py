"""`linkage audit verify` against a real service's log: any single changed,
deleted or reordered entry, in the database or in the export, is detected."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from linkage.service.loopback import running_service
from tests import http_calls
from tests.conftest import RunCli
from tests.service.helpers import create_project


@dataclass(frozen=True)
class Logged:
    """A stopped service's data folder with a log of several entries, and an
    export of that log."""

    data_dir: Path
    export: Path
    public_key: Path
    entries: int


@dataclass(frozen=True)
class _Service:
    url: str
    operator_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http_calls.client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    root = tmp_path_factory.mktemp("audit")
    with running_service(root / "service") as running:
        service = _Service(running.url, running.operator_token)
        # One failed authentication: more from the same client within a minute
        # would only be counted, into an entry written when the service stops,
        # after the export (see linkage.service.auth_failures).
        with service.client("not-a-token") as stranger:
            assert stranger.get("/projects/1").status_code == 401
        for _ in range(3):
            _, tokens = create_project(service)
            with service.client(tokens["police"]) as police:
                assert police.get("/audit/export").status_code == 403
        token_file = root / "operator.token"
        token_file.write_text(running.operator_token)
        exported = RunCli()(
            "audit", "export", "--out", root / "audit.jsonl",
            "--server", running.url, "--token-file", token_file,
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        public_key = running.public_key_file
    lines = (root / "audit.jsonl").read_text().splitlines()
    entries = sum(1 for line in lines if json.loads(line).get("kind") == "entry")
    assert entries >= 7
    yield Logged(root / "service", root / "audit.jsonl", public_key, entries)


def _verify(logged: Logged, *source: str | Path) -> tuple[int, str]:
    result = RunCli()("audit", "verify", *source, "--service-key", logged.public_key)
    return result.exit_code, result.output


def test_untouched_log_verifies(logged: Logged) -> None:
    for source in ([logged.export], ["--data-dir", logged.data_dir]):
        code, output = _verify(logged, *source)
        assert code == 0, output
        assert f"is intact: {logged.entries} entries" in output


def _export_variants(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Every single-entry change, deletion and swap of adjacent entries."""
    entry_at = [i for i, line in enumerate(lines) if '"kind": "entry"' in line]
    for n, i in enumerate(entry_at):
        entry = json.loads(lines[i])
        entry["details"] = {**entry["details"], "note": "edited"}
        yield f"change {n}", [*lines[:i], json.dumps(entry), *lines[i + 1 :]]
        yield f"delete {n}", lines[:i] + lines[i + 1 :]
        if n + 1 < len(entry_at):
            j = entry_at[n + 1]
            swapped = list(lines)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            yield f"swap {n}", swapped


def test_every_single_edit_of_the_export_is_detected(
    logged: Logged, tmp_path: Path
) -> None:
    lines = logged.export.read_text().splitlines()
    checked = 0
    for label, variant in _export_variants(lines):
        target = tmp_path / "variant.jsonl"
        target.write_text("\n".join(variant) + "\n")
        code, output = _verify(logged, target)
        assert code == 1, label
        assert "fails verification" in output, label
        checked += 1
    assert checked == 3 * logged.entries - 1


def _tampered_copy(logged: Logged, tmp_path: Path, *statements: str) -> Path:
    copy = tmp_path / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    shutil.copy(logged.data_dir / "linkage.db", copy / "linkage.db")
    db = sqlite3.connect(copy / "linkage.db")
    try:
        with db:
            for statement in statements:
                db.execute(statement)
    finally:
        db.close()
    return copy


def test_every_single_edit_of_the_database_is_detected(
    logged: Logged, tmp_path: Path
) -> None:
    last = logged.entries
    for seq in range(1, last + 1):
        edits: dict[str, list[str]] = {
            "change": [f"UPDATE audit_entries SET actor = 'someone' WHERE seq = {seq}"],
            "delete": [f"DELETE FROM audit_entries WHERE seq = {seq}"],
        }
        if seq < last:
            # Swap two neighbours' rows, each keeping its own contents.
            edits["swap"] = [
                f"UPDATE audit_entries SET seq = -1 WHERE seq = {seq}",
                f"UPDATE audit_entries SET seq = {seq} WHERE seq = {seq + 1}",
                f"UPDATE audit_entries SET seq = {seq + 1} WHERE seq = -1",
            ]
        for label, statements in edits.items():
            copy = _tampered_copy(logged, tmp_path, *statements)
            code, output = _verify(logged, "--data-dir", copy)
            assert code == 1, f"{label} {seq}: {output}"
            assert "fails verification" in output


def test_an_earlier_export_exposes_a_cut_short_log(
    logged: Logged, tmp_path: Path
) -> None:
    """Deleting the newest entry together with its signed head leaves a log
    that verifies alone; an earlier export kept elsewhere catches it."""
    last = logged.entries
    copy = _tampered_copy(
        logged,
        tmp_path,
        f"DELETE FROM audit_entries WHERE seq = {last}",
        f"DELETE FROM audit_heads WHERE seq = {last}",
    )
    code, output = _verify(logged, "--data-dir", copy)
    assert code == 0, output
    code, output = _verify(logged, "--data-dir", copy, "--earlier", logged.export)
    assert code == 1
    assert f"entry {last}, present in the earlier copy, is missing" in output
    code, output = _verify(
        logged, "--data-dir", logged.data_dir, "--earlier", logged.export
    )
    assert code == 0, output


def test_a_damaged_earlier_export_is_named_as_the_fault(
    logged: Logged, tmp_path: Path
) -> None:
    """An earlier copy edited after it was exported fails on its own, and
    the message says so rather than blaming the log."""
    lines = logged.export.read_text().splitlines()
    entry = [i for i, line in enumerate(lines) if '"kind": "entry"' in line][1]
    lines[entry] = lines[entry].replace('"at": "20', '"at": "19', 1)
    edited = tmp_path / "earlier.jsonl"
    edited.write_text("\n".join(lines) + "\n")
    code, output = _verify(logged, "--data-dir", logged.data_dir, "--earlier", edited)
    assert code == 1
    assert f"the earlier export {edited} itself fails verification" in output
