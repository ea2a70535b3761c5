"""Tests for building disclosures from a vault and the fulfilment ledger."""

from __future__ import annotations

import json
import re
import secrets
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from linkage.encoding.vault import Vault, VaultWriter
from linkage.errors import LinkageError
from linkage.reveal.disclosure import (
    DisclosedRecord,
    Disclosure,
    DisclosureError,
    FulfilmentLedger,
    build_disclosure,
)

FIELDS = ["given_name", "surname", "dob"]
ROWS = {
    "p-ana": ("R-1", ["Ana", "Silva", "1990-02-01"]),
    "p-bo": ("R-2", ["Bo", "Chen", "1985-07-12"]),
    "p-cy": ("R-3", ["Cy", "Ndiaye", "2001-11-30"]),
}
WHEN = datetime(2025, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    key = secrets.token_bytes(32)
    path = tmp_path / "agency.vault"
    with VaultWriter(path, key, FIELDS) as writer:
        writer.add(
            list(ROWS),
            [record_id for record_id, _ in ROWS.values()],
            [identity for _, identity in ROWS.values()],
        )
    return Vault.open(path, key)


def _build(vault: Vault, **overrides: Any) -> Disclosure:
    arguments: dict[str, Any] = {
        "project_id": 1,
        "request_id": 2,
        "grant_id": 3,
        "match_id": "m-7",
        "party": "agency-a",
        "pseudonyms": ["p-cy", "p-ana"],
        "vault": vault,
    }
    return build_disclosure(**{**arguments, **overrides})


# --- build_disclosure -----------------------------------------------------


def test_build_picks_the_right_records_and_all_fields(vault: Vault) -> None:
    disclosure = _build(vault)
    assert disclosure.records == (
        DisclosedRecord(
            "p-cy",
            "R-3",
            {"given_name": "Cy", "surname": "Ndiaye", "dob": "2001-11-30"},
        ),
        DisclosedRecord(
            "p-ana",
            "R-1",
            {"given_name": "Ana", "surname": "Silva", "dob": "1990-02-01"},
        ),
    )
    assert (disclosure.project_id, disclosure.request_id, disclosure.grant_id) == (
        1,
        2,
        3,
    )
    assert (disclosure.match_id, disclosure.party) == ("m-7", "agency-a")


def test_build_discloses_only_the_allowed_fields(vault: Vault) -> None:
    disclosure = _build(vault, fields=["dob"])
    assert [record.fields for record in disclosure.records] == [
        {"dob": "2001-11-30"},
        {"dob": "1990-02-01"},
    ]
    assert b"Ndiaye" not in disclosure.to_bytes()


def test_missing_pseudonym_discloses_nothing_and_names_the_count(
    vault: Vault,
) -> None:
    with pytest.raises(DisclosureError) as caught:
        _build(vault, pseudonyms=["p-ana", "p-zed", "p-yan"])
    message = str(caught.value)
    assert "2 of 3 pseudonyms are not in this vault" in message
    assert "another agency or another vault" in message
    # The message must not leak the identities it did find.
    assert "Ana" not in message


def test_unknown_field_is_named_with_the_available_ones(vault: Vault) -> None:
    with pytest.raises(DisclosureError) as caught:
        _build(vault, fields=["dob", "ssn"])
    message = str(caught.value)
    assert "['ssn']" in message
    assert "['given_name', 'surname', 'dob']" in message


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"pseudonyms": []}, "at least one pseudonym"),
        ({"pseudonyms": ["p-ana", "p-ana"]}, "duplicates"),
        ({"pseudonyms": "p-ana"}, "not a str"),
        ({"fields": "dob"}, "not a str"),
    ],
)
def test_build_rejects_bad_requests(
    vault: Vault, overrides: dict[str, Any], match: str
) -> None:
    with pytest.raises(DisclosureError, match=match):
        _build(vault, **overrides)


def test_disclosure_error_is_a_linkage_error() -> None:
    assert issubclass(DisclosureError, LinkageError)


# --- bytes form -----------------------------------------------------------


def test_bytes_round_trip(vault: Vault) -> None:
    disclosure = _build(vault, fields=["surname", "given_name"])
    data = disclosure.to_bytes()
    assert Disclosure.from_bytes(data, "sealed blob") == disclosure
    assert json.loads(data)["version"] == 1


def test_bytes_are_canonical(vault: Vault) -> None:
    data = _build(vault).to_bytes()
    document = json.loads(data)
    again = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert data == again.encode("utf-8")


def test_bytes_keep_unicode(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    path = tmp_path / "u.vault"
    with VaultWriter(path, key, ["name"]) as writer:
        writer.add(["p"], ["R"], [["Zoë Łukasz\n"]])
    disclosure = _build(Vault.open(path, key), pseudonyms=["p"])
    assert Disclosure.from_bytes(disclosure.to_bytes(), "x") == disclosure


def _document(vault: Vault) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_build(vault).to_bytes())
    return document


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"version": 2}, "unsupported disclosure version 2"),
        ({"version": True}, "unsupported disclosure version"),
        ({"grant_id": "3"}, "'grant_id' must be a non-negative integer"),
        ({"project_id": -1}, "'project_id'"),
        ({"match_id": ""}, "'match_id'"),
        ({"party": None}, "'party'"),
        ({"records": []}, "'records' must be a non-empty list"),
        ({"records": [{"pseudonym": "p"}]}, "record 1: a record has missing"),
        (
            {"records": [{"pseudonym": "p", "record_id": "R", "fields": {"a": 1}}]},
            "record 1: 'fields' must be an object of strings",
        ),
        ({"extra": 1}, "unexpected fields \\['extra'\\]"),
    ],
)
def test_from_bytes_is_strict(vault: Vault, change: dict[str, Any], match: str) -> None:
    data = json.dumps({**_document(vault), **change}).encode()
    with pytest.raises(DisclosureError, match=match) as caught:
        Disclosure.from_bytes(data, "blob from grant 3")
    assert str(caught.value).startswith("blob from grant 3")


@pytest.mark.parametrize("data", [b"\xff\xfe", b"{not json", b"[]", b"null"])
def test_from_bytes_rejects_non_disclosures(data: bytes) -> None:
    with pytest.raises(DisclosureError, match="blob"):
        Disclosure.from_bytes(data, "blob")


# --- FulfilmentLedger -----------------------------------------------------


def test_missing_ledger_is_empty(tmp_path: Path) -> None:
    ledger = FulfilmentLedger(tmp_path / "ledger.jsonl")
    assert ledger.answered(1, 3) is None
    assert not (tmp_path / "ledger.jsonl").exists()


def test_record_then_answered(tmp_path: Path) -> None:
    ledger = FulfilmentLedger(tmp_path / "ledger.jsonl")
    ledger.record(1, 3, "fulfilled", WHEN)
    ledger.record(1, 4, "refused", WHEN + timedelta(minutes=5))
    assert ledger.answered(1, 3) == "fulfilled at 2025-11-26T09:30:00+00:00"
    assert ledger.answered(1, 4) == "refused at 2025-11-26T09:35:00+00:00"
    assert ledger.answered(2, 3) is None
    assert ledger.answered(1, 5) is None


def test_ledger_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    FulfilmentLedger(path).record(7, 11, "refused", WHEN)
    reopened = FulfilmentLedger(path)
    assert reopened.answered(7, 11) == "refused at 2025-11-26T09:30:00+00:00"
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["outcome"] == "refused"


def test_ledger_keys_on_service_key_too(tmp_path: Path) -> None:
    ledger = FulfilmentLedger(tmp_path / "ledger.jsonl")
    ledger.record(1, 3, "fulfilled", WHEN, service_key_id="svc-a")
    assert ledger.answered(1, 3, service_key_id="svc-a") is not None
    assert ledger.answered(1, 3, service_key_id="svc-b") is None
    assert ledger.answered(1, 3) is None
    ledger.record(1, 3, "refused", WHEN, service_key_id="svc-b")
    assert ledger.answered(1, 3, service_key_id="svc-b") == (
        "refused at 2025-11-26T09:30:00+00:00"
    )


def test_ledger_never_overwrites_an_answer(tmp_path: Path) -> None:
    ledger = FulfilmentLedger(tmp_path / "ledger.jsonl")
    ledger.record(1, 3, "refused", WHEN)
    with pytest.raises(DisclosureError, match="already answered \\(refused at"):
        ledger.record(1, 3, "fulfilled", WHEN)
    assert ledger.answered(1, 3) == "refused at 2025-11-26T09:30:00+00:00"


def test_ledger_keeps_the_time_zone(tmp_path: Path) -> None:
    ledger = FulfilmentLedger(tmp_path / "ledger.jsonl")
    lisbon_summer = timezone(timedelta(hours=1))
    ledger.record(1, 3, "fulfilled", datetime(2025, 6, 1, 12, tzinfo=lisbon_summer))
    assert ledger.answered(1, 3) == "fulfilled at 2025-06-01T12:00:00+01:00"


def test_ledger_rejects_naive_time_and_unknown_outcome(tmp_path: Path) -> None:
    ledger = FulfilmentLedger(tmp_path / "ledger.jsonl")
    with pytest.raises(DisclosureError, match="time-zone-aware"):
        ledger.record(1, 3, "fulfilled", datetime(2025, 1, 1))
    with pytest.raises(DisclosureError, match="outcome"):
        ledger.record(1, 3, "maybe", WHEN)  # type: ignore[arg-type]
    assert not ledger.path.exists()


def test_ledger_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    FulfilmentLedger(path).record(1, 3, "fulfilled", WHEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # No temporary file is left; the lock file beside it stays, empty.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ledger.jsonl",
        "ledger.jsonl.lock",
    ]
    assert (tmp_path / "ledger.jsonl.lock").stat().st_size == 0


@pytest.mark.parametrize(
    "bad_line",
    [
        b"{half a line",
        b"[]",
        b"\xff",
        b"",
        b'{"project_id":1,"service_key_id":"","grant_id":4,"outcome":"lost","at":"x"}',
        b'{"project_id":1,"grant_id":4,"outcome":"refused","at":"x"}',
        b'{"project_id":"1","service_key_id":"","grant_id":4,"outcome":"refused","at":"x"}',
    ],
)
def test_malformed_ledger_names_file_and_line(tmp_path: Path, bad_line: bytes) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = FulfilmentLedger(path)
    ledger.record(1, 3, "fulfilled", WHEN)
    good = path.read_bytes()
    path.write_bytes(good + bad_line + b"\n")
    where = f"ledger file {path}, line 2"
    with pytest.raises(DisclosureError, match=re.escape(where)):
        ledger.answered(1, 3)
    with pytest.raises(DisclosureError, match=re.escape(where)):
        ledger.record(1, 5, "refused", WHEN)
    # A failed record() leaves the damaged file exactly as it was.
    assert path.read_bytes() == good + bad_line + b"\n"
