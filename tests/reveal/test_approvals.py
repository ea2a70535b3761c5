"""Signed approvals, the agency's trust file and the agency's signature on a
disclosure: each reads only its one canonical form and refuses the rest."""

from __future__ import annotations

import json
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from linkage.reveal.approvals import (
    ApprovalError,
    RevealStatement,
    SignedApproval,
    claimed_key_id,
    sign_approval,
    verify_approval,
)
from linkage.reveal.disclosure import (
    DisclosedRecord,
    Disclosure,
    DisclosureError,
    FulfilmentLedger,
)
from linkage.reveal.keys import key_id, raw_public_b64
from linkage.reveal.signing import sign_disclosure, verify_disclosure
from linkage.reveal.trust import TrustError, TrustFile, load_trust, write_trust
from linkage.reveal.wire import b64encode, canonical_json
from tests.conftest import RunCli

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
INVESTIGATOR = X25519PrivateKey.generate().public_key()

texts = st.text(min_size=1, max_size=20)


def _statement(**changes: object) -> RevealStatement:
    fields: dict[str, object] = {
        "project_id": 1, "request_id": 2, "run_id": 3, "match_id": "m-1",
        "party": "health", "pseudonyms": ("p2", "p1"), "investigator": "alice",
        "investigator_key": raw_public_b64(INVESTIGATOR), "purpose": "case",
        "legal_basis": "law", "case_reference": None,
    }  # fmt: skip
    fields.update(changes)
    return RevealStatement(**fields)  # type: ignore[arg-type]


@given(
    pseudonyms=st.lists(texts, min_size=1, max_size=5),
    purpose=texts,
    case_reference=st.none() | texts,
)
def test_a_statement_reads_back_as_written(
    pseudonyms: list[str], purpose: str, case_reference: str | None
) -> None:
    statement = _statement(
        pseudonyms=tuple(pseudonyms), purpose=purpose, case_reference=case_reference
    )
    again = RevealStatement.from_json(json.loads(canonical_json(statement.to_json())))
    assert again == statement
    assert list(again.pseudonyms) == sorted(pseudonyms)


def test_an_approval_verifies_with_its_key_only() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_approval(_statement(), key, reason="ok", now=NOW, valid_for=HOUR)
    approval = verify_approval(signed, key.public_key())
    assert approval.statement == _statement(pseudonyms=("p1", "p2"))
    assert approval.expires_at == NOW + HOUR
    assert claimed_key_id(signed) == key_id(key.public_key())
    with pytest.raises(ApprovalError, match="does not verify"):
        verify_approval(signed, Ed25519PrivateKey.generate().public_key())


def test_an_altered_approval_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_approval(_statement(), key, reason="ok", now=NOW, valid_for=HOUR)
    altered = signed.payload.replace(b'"p1"', b'"p9"')
    assert altered != signed.payload
    with pytest.raises(ApprovalError, match="does not verify"):
        verify_approval(SignedApproval(altered, signed.signature), key.public_key())


def test_a_signed_approval_reads_back_from_json() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_approval(_statement(), key, reason="ok", now=NOW, valid_for=HOUR)
    assert SignedApproval.from_json(signed.to_json()) == signed
    for bad in (
        {"payload": "x"},
        {"payload": "a=", "signature": "b"},
        {"payload": "", "signature": b64encode(b"short")},
    ):
        with pytest.raises(ApprovalError):
            SignedApproval.from_json(bad)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {},
        {**_statement().to_json(), "extra": 1},
        {**_statement().to_json(), "project_id": True},
        {**_statement().to_json(), "pseudonyms": "p1"},
        {**_statement().to_json(), "case_reference": 7},
        {**_statement().to_json(), "purpose": ""},
    ],
)
def test_a_malformed_statement_is_refused(document: object) -> None:
    with pytest.raises(ApprovalError):
        RevealStatement.from_json(document)


def test_approvals_must_last_some_time() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="valid"):
        sign_approval(_statement(), key, reason="ok", now=NOW, valid_for=-HOUR)


# --- the agency's signature on a disclosure -----------------------------------


def _disclosure(party: str = "health") -> Disclosure:
    return Disclosure(
        project_id=1, request_id=2, grant_id=3, match_id="m-1", party=party,
        records=(DisclosedRecord("p1", "R-1", {"surname": "Lee"}),),
    )  # fmt: skip


def test_a_signed_disclosure_verifies_for_its_recipient_only() -> None:
    agency = Ed25519PrivateKey.generate()
    keys = {"health": agency.public_key()}
    signed = sign_disclosure(_disclosure(), agency, INVESTIGATOR)
    assert verify_disclosure(signed, keys, INVESTIGATOR, "answer") == _disclosure()
    other = X25519PrivateKey.generate().public_key()
    with pytest.raises(DisclosureError, match="not signed by agency 'health'"):
        verify_disclosure(signed, keys, other, "answer")
    with pytest.raises(DisclosureError, match="no key is pinned"):
        verify_disclosure(signed, {}, INVESTIGATOR, "answer")


def test_a_disclosure_claiming_another_agency_is_refused() -> None:
    health = Ed25519PrivateKey.generate()
    police = Ed25519PrivateKey.generate()
    keys = {"health": health.public_key(), "police": police.public_key()}
    forged = sign_disclosure(_disclosure("police"), health, INVESTIGATOR)
    with pytest.raises(DisclosureError, match="not signed by agency 'police'"):
        verify_disclosure(forged, keys, INVESTIGATOR, "answer")


@pytest.mark.parametrize("data", [b"not json", b"{}", b'{"version": 2}', b"[1]"])
def test_what_is_not_a_signed_disclosure_is_refused(data: bytes) -> None:
    with pytest.raises(DisclosureError, match="answer"):
        verify_disclosure(data, {}, INVESTIGATOR, "answer")


# --- the trust file -------------------------------------------------------------


def test_a_trust_file_reads_back_as_written(tmp_path: Path) -> None:
    bob = Ed25519PrivateKey.generate().public_key()
    health = Ed25519PrivateKey.generate().public_key()
    trust = TrustFile(
        approvers={"bob": bob},
        investigators={"alice": INVESTIGATOR},
        agencies={"health": health},
        approvals_required=3,
        grant_lifetime=timedelta(hours=6),
        max_records=5,
    )
    path = tmp_path / "agency.trust"
    write_trust(path, trust)
    again = load_trust(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert again.to_yaml() == trust.to_yaml()
    assert again.pinned_investigator("alice", raw_public_b64(INVESTIGATOR))
    assert not again.pinned_investigator("bob", raw_public_b64(INVESTIGATOR))
    assert again.approver_by_key_id(key_id(bob)) == ("bob", again.approvers["bob"])
    assert again.without("bob").approvers == {}


def test_every_problem_of_a_trust_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "agency.trust"
    path.write_text(
        "approvers:\n  bob: not-a-key\n"
        "investigators:\n  alice: " + raw_public_b64(INVESTIGATOR) + "\n"
        "extra: 1\n"
        "reveal:\n  approvals_required: 0\n  grant_lifetime: 90d\n  color: red\n"
    )
    with pytest.raises(TrustError) as raised:
        load_trust(path)
    fields = {problem.field for problem in raised.value.problems}
    assert fields == {
        "approvers.bob",
        "extra",
        "reveal.approvals_required",
        "reveal.grant_lifetime",
        "reveal.color",
    }


def test_the_trust_command_pins_rotates_and_revokes(
    run_cli: RunCli, tmp_path: Path
) -> None:
    for name in ("bob", "bob-new"):
        run_cli("keygen", "--signing", "--out", tmp_path / f"{name}.key")
    trust = tmp_path / "agency.trust"
    made = run_cli(
        "reveal", "trust", "--file", trust, "--approver", f"bob={tmp_path}/bob.key.pub",
        "--approvals", "1", "--max-records", "4",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    first = load_trust(trust)
    assert first.approvals_required == 1 and first.max_records == 4
    assert key_id(first.approvers["bob"]) in made.stdout
    rotated = run_cli(
        "reveal", "trust", "--file", trust,
        "--approver", f"bob={tmp_path}/bob-new.key.pub",
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    assert load_trust(trust).approvers["bob"] != first.approvers["bob"]
    assert load_trust(trust).max_records == 4
    revoked = run_cli("reveal", "trust", "--file", trust, "--remove", "bob")
    assert revoked.exit_code == 0, revoked.output
    assert load_trust(trust).approvers == {}
    wrong = run_cli("reveal", "trust", "--file", trust, "--approver", "bob")
    assert wrong.exit_code == 2 and "NAME=FILE.pub" in wrong.output


# --- the agency's ledger under concurrent answers ---------------------------------


def test_of_many_processes_answering_one_grant_exactly_one_does(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger"
    outcomes: list[str] = []

    def answer() -> None:
        try:
            FulfilmentLedger(path).record(1, 7, "fulfilled", NOW, request=(3, "health"))
            outcomes.append("recorded")
        except DisclosureError:
            outcomes.append("refused")

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["recorded"] + ["refused"] * 7
    ledger = FulfilmentLedger(path)
    assert ledger.answered(1, 99, request=(3, "health")) is not None
    assert ledger.answered(1, 99, request=(3, "police")) is None
