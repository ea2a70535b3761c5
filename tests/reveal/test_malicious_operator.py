"""An operator who holds the database, the service's signing key and every
token it issued tries to force a reveal, or to fake one. Every attempt is
refused by the agency (or the investigator), on the agency's own files, and
lands in the audit log where the service is still asked to record it.

The operator here acts as it could: it registers members, signs with the
service key on its disk, and edits the service's SQLite database directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from linkage.reveal.agency import check_grant
from linkage.reveal.approvals import RevealStatement, SignedApproval, sign_approval
from linkage.reveal.disclosure import (
    DisclosedRecord,
    Disclosure,
    FulfilmentLedger,
)
from linkage.reveal.grants import Grant, sign_grant
from linkage.reveal.keys import (
    key_id,
    load_or_create_signing_key,
    raw_public_b64,
    read_investigator_public_key,
    read_signing_private_key,
)
from linkage.reveal.sealing import binding, seal
from linkage.reveal.signing import sign_disclosure
from linkage.reveal.trust import TrustFile
from tests import http_calls
from tests.reveal.world import World, world_for

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with world_for(request, tmp_path_factory, "malicious") as built:
        yield built


def _service_key(world: World) -> Ed25519PrivateKey:
    """The service's signing key, read from the operator's own disk."""
    return load_or_create_signing_key(world.data_dir / "service-signing.key")


def _resign(world: World, target: int, **changes: object) -> Grant:
    """Change a stored grant and sign it again with the service key."""
    payload, _ = world.stored_grant(target)
    grant = replace(Grant.from_json(json.loads(payload)), **changes)  # type: ignore[arg-type]
    signed = sign_grant(grant, _service_key(world))
    world.store_grant(target, signed.payload, signed.signature)
    return grant


def _refused(world: World, grant_id: int, reason: str) -> str:
    """Health tries to fulfil; it must refuse for ``reason``, audited."""
    result = world.fulfil(grant_id)
    assert result.exit_code == 1, result.output
    assert f"({reason})" in _last_audit(world, "reveal.refused", grant_id)
    return result.output


def _last_audit(world: World, action: str, grant_id: int) -> str:
    found = [
        details
        for _, logged, details in world.audit_actions()
        if logged == action and f'"grant_id": {grant_id}' in details
    ]
    assert found, f"no {action} entry for grant {grant_id}"
    return found[-1]


def _other_match(world: World, party: str = "health") -> tuple[str, list[str]]:
    """Another match ID with records of ``party``, and those pseudonyms."""
    world.agency_checks(party)  # Downloads the results if needed.
    rows = pd.read_csv(world.path(f"{party}-results.csv"), dtype=str)
    others = rows[rows["match_id"] != world.match_id]
    match_id = str(others["match_id"].iloc[0])
    return match_id, list(others.loc[others["match_id"] == match_id, "pseudonym"])


def test_approvers_the_operator_enrols_are_not_counted(world: World) -> None:
    project = str(world.project_id)
    for fake in ("eve1", "eve2"):
        key = world.path(f"{fake}-signing.key")
        world.local("keygen", "--signing", "--out", key)
        world.ok(
            "project", "add-member", "--project", project, "--name", fake,
            "--role", "approver", "--public-key", f"{key}.pub",
            "--token-out", world.path(f"{fake}.token"), token="operator",
        )  # fmt: skip
    request_id = world.request()
    for fake in ("eve1", "eve2"):
        assert world.decide(request_id, fake).exit_code == 0
    grant_id = world.grant_of(request_id)
    output = _refused(world, grant_id, "not-approved")
    assert "0 of the 2 signed approvals" in output
    ledger = FulfilmentLedger(world.path("health.ledger"))
    assert ledger.answered(world.project_id, grant_id, service_key_id=_key_id(world))


def _key_id(world: World) -> str:
    return key_id(_service_key(world).public_key())


def test_a_grant_signed_only_by_the_service_key_is_refused(world: World) -> None:
    request_id = world.request()
    grant_id = world.grant_of(request_id)
    with world.database() as db:
        pseudonyms = json.loads(
            db.execute(
                "SELECT pseudonyms FROM reveal_targets WHERE id = ?", (grant_id,)
            ).fetchone()[0]
        )
    alice = read_investigator_public_key(world.path("alice.key.pub"))
    now = datetime.now(UTC)
    grant = Grant(
        grant_id=grant_id, request_id=request_id, project_id=world.project_id,
        run_id=1, match_id=world.match_id, party="health",
        pseudonyms=tuple(pseudonyms), investigator="alice",
        investigator_key=raw_public_b64(alice), purpose="test",
        legal_basis="Data Sharing Act s.12", case_reference="CASE-7",
        issued_at=now, expires_at=now + timedelta(hours=1),
        service_key_id=_key_id(world),
    )  # fmt: skip
    signed = sign_grant(grant, _service_key(world))
    with world.database() as db:
        db.execute(
            "UPDATE reveal_targets SET state = 'issued', grant_payload = ?,"
            " grant_signature = ?, expires_at = ? WHERE id = ?",
            (signed.payload, signed.signature, grant.expires_at, grant_id),
        )
    _refused(world, grant_id, "not-approved")


def test_real_approvals_do_not_open_another_match(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    match_id, pseudonyms = _other_match(world)
    _resign(world, grant_id, match_id=match_id, pseudonyms=tuple(pseudonyms))
    _refused(world, grant_id, "not-approved")


def test_real_approvals_do_not_send_identities_to_another_key(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    world.local("keygen", "--investigator", "--out", world.path("mallet.key"))
    mallet = read_investigator_public_key(world.path("mallet.key.pub"))
    _resign(world, grant_id, investigator_key=raw_public_b64(mallet))
    output = _refused(world, grant_id, "unknown-investigator")
    assert key_id(mallet) in output


def test_approvers_shown_other_records_are_caught_by_the_agency(
    world: World,
) -> None:
    """The operator shows the approvers a statement with another match's
    records: they sign it in good faith, but the agency's own results say
    those are not the rows of the match."""
    request_id = world.request()
    grant_id = world.grant_of(request_id)
    _, pseudonyms = _other_match(world)
    with world.database() as db:
        db.execute(
            "UPDATE reveal_targets SET pseudonyms = ? WHERE id = ?",
            (json.dumps(pseudonyms), grant_id),
        )
    world.approve_fully(request_id)
    output = _refused(world, grant_id, "not-in-match")
    assert f"rows of match {world.match_id!r}" in output


def test_reissued_approvals_are_a_replay(world: World) -> None:
    """After a fulfilled grant, the operator issues the same approved request
    again under a new grant ID: the agency's ledger knows the request."""
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    assert world.fulfil(grant_id).exit_code == 0
    new_id = grant_id + 1000
    with world.database() as db:
        db.execute(
            "UPDATE reveal_targets SET id = ?, state = 'issued', sealed = NULL"
            " WHERE id = ?",
            (new_id, grant_id),
        )
    _resign(world, new_id, grant_id=new_id)
    output = _refused(world, new_id, "replayed")
    assert f"request {request_id}" in output


def test_an_answer_made_up_by_the_operator_is_refused(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    payload, _ = world.stored_grant(grant_id)
    grant = Grant.from_json(json.loads(payload))
    invented = Disclosure(
        project_id=world.project_id, request_id=request_id, grant_id=grant_id,
        match_id=grant.match_id, party="health",
        records=tuple(DisclosedRecord(p, "MRN-FAKE", {"surname": "Nobody"})
                      for p in grant.pseudonyms),
    )  # fmt: skip
    alice = read_investigator_public_key(world.path("alice.key.pub"))
    # Signed with a key of the operator's own: the sealing itself is perfect.
    plaintext = sign_disclosure(invented, Ed25519PrivateKey.generate(), alice)
    context = binding(
        project_id=world.project_id,
        request_id=request_id,
        grant_id=grant_id,
        party="health",
    )
    sealed = seal(plaintext, alice, context)
    with world.database() as db:
        db.execute(
            "UPDATE reveal_targets SET state = 'fulfilled', sealed = ? WHERE id = ?",
            (json.dumps(sealed.to_json(), sort_keys=True), grant_id),
        )
    opened = world.open(request_id, out="made-up.csv")
    assert opened.exit_code == 1, opened.output
    assert "not signed by agency 'health'" in opened.output
    assert not world.path("made-up.csv").exists()
    assert any(
        action == "reveal.open_failed" and f'"request_id": {request_id}' in details
        for _, action, details in world.audit_actions()
    )


def test_an_answer_given_in_an_agency_s_name_shows_in_its_ledger_check(
    world: World,
) -> None:
    """The operator holds health's token and answers a grant through the
    service itself, so the log looks ordinary; health's own ledger says it
    never did."""
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    alice = read_investigator_public_key(world.path("alice.key.pub"))
    sealed = seal(b"{}", alice, b"anything")
    token = world.path("health.token").read_text().strip()
    answer = http_calls.post(
        f"{world.url}/projects/{world.project_id}/grants/{grant_id}/fulfilment",
        json={"sealed": sealed.to_json()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    world.path("health.ledger").touch()
    checked = world.run_cli(
        "audit", "ledger", *world.log_source(),
        "--service-key", world.data_dir / "service-signing.pub",
        "--ledger", world.path("health.ledger"), "--party", "health",
    )  # fmt: skip
    assert checked.exit_code == 1
    assert (
        f"says health fulfilled grant {grant_id} of project {world.project_id}, "
        "but health's ledger has no such answer" in checked.output
    )


def test_a_request_does_not_say_who_holds_records(world: World) -> None:
    """Naming agencies for a real match and for a match that does not exist
    gives answers of the same shape: no 422, no counts, until approval."""
    real = world.request("health", "police")
    fake = world.ok(
        "reveal", "request", "--project", str(world.project_id),
        "--match-id", "no-such-match", "--party", "health", "--party", "police",
        "--purpose", "probe", "--legal-basis", "none", token="alice",
    )  # fmt: skip
    fake_id = int(fake.stdout.strip())
    answers = [_as_investigator(world, request_id) for request_id in (real, fake_id)]
    for answer in answers:
        assert answer["state"] == "pending"
        targets = answer["targets"]
        assert isinstance(targets, list)
        assert sorted((t["party"], t["state"], t["records"]) for t in targets) == [
            ("health", "awaiting", None),
            ("police", "awaiting", None),
        ]
    world.approve_fully(real)
    for approver in ("bob", "carol"):
        assert world.decide(fake_id, approver).exit_code == 0
    approved = _as_investigator(world, fake_id)
    assert {t["state"] for t in approved["targets"]} == {"empty"}
    assert any(
        action == "reveal.nothing_held" and f'"request_id": {fake_id}' in details
        for _, action, details in world.audit_actions()
    )


def _as_investigator(world: World, request_id: int) -> dict[str, object]:
    token = world.path("alice.token").read_text().strip()
    answer = http_calls.get(
        f"{world.url}/projects/{world.project_id}/reveals/{request_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


# --- the agency's checks on their own, with the operator's every key --------


class _Case:
    """A grant for three records of match m-1, approved by two pinned
    approvers for one hour, as an honest service would issue it."""

    def __init__(self, tmp_path: Path) -> None:
        self.now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
        self.service = Ed25519PrivateKey.generate()
        self.approvers = {n: Ed25519PrivateKey.generate() for n in ("bob", "carol")}
        self.investigator = X25519PrivateKey.generate().public_key()
        self.grant = Grant(
            grant_id=7, request_id=3, project_id=1, run_id=1, match_id="m-1",
            party="health", pseudonyms=("p1", "p2", "p3"), investigator="alice",
            investigator_key=raw_public_b64(self.investigator), purpose="case",
            legal_basis="law", case_reference=None, issued_at=self.now,
            expires_at=self.now + timedelta(days=1),
            service_key_id=key_id(self.service.public_key()),
        )  # fmt: skip
        self.trust = TrustFile(
            approvers={n: k.public_key() for n, k in self.approvers.items()},
            investigators={"alice": self.investigator},
            max_records=3,
        )
        self.rows = {"m-1": frozenset({"p1", "p2", "p3"})}
        self.ledger = FulfilmentLedger(tmp_path / "ledger")

    def approvals(
        self, valid_for: timedelta = timedelta(hours=1)
    ) -> list[SignedApproval]:
        statement = RevealStatement.of_grant(self.grant)
        return [
            sign_approval(
                statement, key, reason="ok", now=self.now, valid_for=valid_for
            )
            for key in self.approvers.values()
        ]

    def check(
        self, approvals: list[SignedApproval], *, at: datetime | None = None
    ) -> str:
        checked = check_grant(
            sign_grant(self.grant, self.service),
            approvals,
            self.service.public_key(),
            party="health",
            project_id=1,
            ledger=self.ledger,
            trust=self.trust,
            match_rows=self.rows,
            now=at or self.now,
        )
        return "ok" if checked.ok else checked.rejection.reason  # type: ignore[union-attr]


def test_the_honest_case_passes(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    assert case.check(case.approvals()) == "ok"


def test_a_grant_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    case.trust = replace(case.trust, max_records=2)
    assert case.check(case.approvals()) == "too-many-records"


def test_expired_approvals_are_refused(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    later = case.now + timedelta(hours=2)  # The grant itself is valid a day.
    assert case.check(case.approvals(), at=later) == "not-approved"


def test_approvals_valid_longer_than_the_agency_allows_are_refused(
    tmp_path: Path,
) -> None:
    case = _Case(tmp_path)
    case.trust = replace(case.trust, grant_lifetime=timedelta(hours=1))
    assert case.check(case.approvals(timedelta(days=2))) == "not-approved"


def test_one_approver_twice_counts_once(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    first = case.approvals()[0]
    assert case.check([first, first]) == "not-approved"


def test_an_approver_who_is_the_investigator_does_not_count(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    case.trust = replace(
        case.trust,
        approvers={"alice": case.approvers["bob"].public_key(),
                   "carol": case.approvers["carol"].public_key()},
    )  # fmt: skip
    assert case.check(case.approvals()) == "not-approved"


def test_a_grant_for_no_match_is_refused(tmp_path: Path) -> None:
    case = _Case(tmp_path)
    case.rows = {}
    assert case.check(case.approvals()) == "not-in-match"


# --- what the service itself checks (to keep honest users on track) -------------


def _call(
    world: World, method: str, path: str, token: str, body: object = None
) -> httpx.Response:
    secret = world.path(f"{token}.token").read_text().strip()
    return http_calls.request(
        method,
        f"{world.url}/projects/{world.project_id}{path}",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_only_approvers_read_what_to_sign(world: World) -> None:
    request_id = world.request()
    path = f"/reveals/{request_id}/statements"
    for token in ("alice", "health", "operator"):
        assert _call(world, "GET", path, token).status_code == 403, token
    statements = _call(world, "GET", path, "bob").json()
    assert [item["party"] for item in statements] == ["health"]
    assert statements[0]["statement"]["match_id"] == world.match_id


def test_an_approval_without_the_approver_s_signature_is_refused(
    world: World,
) -> None:
    request_id = world.request()
    path = f"/reveals/{request_id}/approve"
    unsigned = _call(world, "POST", path, "bob", {"reason": "fine"})
    assert unsigned.status_code == 422
    assert "one signed statement for each agency" in unsigned.json()["detail"]
    (item,) = _call(world, "GET", f"/reveals/{request_id}/statements", "bob").json()
    statement = RevealStatement.from_json(item["statement"])
    # Signed, but with carol's key while bob's token is used.
    carol = _signing_key(world, "carol")
    signed = sign_approval(
        statement, carol, reason="fine", now=datetime.now(UTC), valid_for=HOUR
    )
    body = {
        "reason": "fine",
        "approvals": [{"party": "health", "approval": signed.to_json()}],
    }
    wrong_key = _call(world, "POST", path, "bob", body)
    assert wrong_key.status_code == 422
    assert "does not verify" in wrong_key.json()["detail"]
    pending = _as_investigator(world, request_id)
    assert pending["state"] == "pending" and pending["approvals"] == 0


def _signing_key(world: World, name: str) -> Ed25519PrivateKey:
    return read_signing_private_key(world.path(f"{name}-signing.key"))
