"""The governed reveal end to end on the CLI against a real server, and every
way it must refuse: each refusal is also found in the audit log."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from linkage.reveal.grants import Grant, sign_grant
from linkage.reveal.keys import key_id
from linkage.reveal.policy import RevealPolicy
from linkage.reveal.sealing import seal
from tests import http_calls
from tests.conftest import RunCli
from tests.reveal.world import BIRTH, GIVEN, SURNAME, World, build_world, world_for


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with world_for(request, tmp_path_factory, "reveal") as built:
        yield built


def _needles() -> list[bytes]:
    """The distinctive identity in every encoding a grep would find."""
    texts = [GIVEN, SURNAME, *BIRTH]
    texts += [t.lower() for t in texts] + [t.upper() for t in texts]
    found: list[bytes] = []
    for text in texts:
        raw = text.encode("utf-8")
        found += [raw, text.encode("utf-16-le"), raw.hex().encode()]
        for pad in (b"", b"x", b"xx"):
            encoded = base64.b64encode(pad + raw)
            skip = 4 * len(pad) // 3 + (1 if pad else 0)
            found.append(encoded[skip : len(encoded) - 4])
            found.append(base64.urlsafe_b64encode(pad + raw)[skip : len(encoded) - 4])
    return [needle for needle in found if len(needle) >= 6]


def _leaks(blob: bytes) -> list[bytes]:
    lowered = blob.lower()
    return [n for n in _needles() if n in blob or n.lower() in lowered]


def test_full_flow_reveals_only_to_the_investigator(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request_id = world.request("health", "police", purpose="welfare check")
    world.approve_fully(request_id)
    for party in ("health", "police"):
        pending = world.pending(party)
        assert pending.exit_code == 0, pending.output
        assert ": ok: request" in pending.stdout
        assert world.fulfil(world.grant_of(request_id, party), party).exit_code == 0
    opened = world.open(request_id, out="revealed.csv")
    assert opened.exit_code == 0, opened.output

    revealed = pd.read_csv(world.path("revealed.csv"), dtype=str)
    mine = revealed[revealed["record_id"].isin(["PX0000001", "MRNX0000001"])]
    assert set(mine["party"]) == {"health", "police"}
    assert set(mine["surname"].str.lower()) == {SURNAME.lower()}
    assert set(mine["date_of_birth"]) == {BIRTH[0]}

    # Nowhere on the operator's side: files, database rows, log lines.
    for path in sorted(p for p in world.data_dir.rglob("*") if p.is_file()):
        assert not _leaks(path.read_bytes()), path
    dump = world.dump()
    assert not _leaks(dump)
    logged = "\n".join(r.getMessage() for r in caplog.records).encode("utf-8")
    assert caplog.records and not _leaks(logged)
    assert _leaks(world.path("revealed.csv").read_bytes())

    actions = [action for _, action, _ in world.audit_actions()]
    for step in ("reveal.requested", "reveal.approved", "reveal.granted",
                 "reveal.fulfilled", "reveal.delivered", "reveal.opened"):  # fmt: skip
        assert step in actions


def _audited(world: World, action: str, *words: str) -> bool:
    return any(
        action == logged and all(word in details for word in words)
        for _, logged, details in world.audit_actions()
    )


def test_self_approval_is_refused_and_audited(world: World) -> None:
    result = world.ok(
        "reveal", "request", "--project", str(world.project_id),
        "--match-id", world.match_id, "--party", "health", "--purpose", "own",
        "--legal-basis", "none", token="sam",
    )  # fmt: skip
    request_id = int(result.stdout.strip())
    refused = world.decide(request_id, "sam-approver")
    assert refused.exit_code == 1
    assert "nobody approves their own request" in refused.output
    assert _audited(world, "access.denied", "nobody approves their own request")


def test_too_few_approvals_issue_no_grant(world: World) -> None:
    request_id = world.request()
    assert world.decide(request_id, "bob").exit_code == 0
    grant_id = world.grant_of(request_id)
    attempt = world.fulfil(grant_id)
    assert attempt.exit_code == 1
    assert "not awaiting your agency" in attempt.output
    # Straight to the API: the service refuses too, and records it.
    token = world.path("health.token").read_text().strip()
    answer = http_calls.post(
        f"{world.url}/projects/{world.project_id}/grants/{grant_id}/fulfilment",
        json={"sealed": {"scheme": "x", "enc": "AA", "ciphertext": "AA"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422
    assert _audited(world, "reveal.step_refused", f"/grants/{grant_id}/fulfilment")


def test_a_deny_ends_the_request(world: World) -> None:
    request_id = world.request()
    assert world.decide(request_id, "bob", "deny").exit_code == 0
    late = world.decide(request_id, "carol")
    assert late.exit_code == 1
    assert "already denied" in late.output
    assert _audited(world, "reveal.denied", f'"request_id": {request_id}')
    assert _audited(world, "reveal.step_refused", "already denied")


def test_altered_grant_is_refused_and_audited(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    payload, signature = world.stored_grant(grant_id)
    altered = payload.replace(b'"purpose":"test"', b'"purpose":"tost"')
    assert altered != payload
    world.store_grant(grant_id, altered, signature)
    refused = world.fulfil(grant_id)
    assert refused.exit_code == 1
    assert "forged or altered" in refused.output
    assert _audited(world, "reveal.refused", "bad-signature", f'"grant_id": {grant_id}')


def test_forged_grant_is_refused_and_audited(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    payload, _ = world.stored_grant(grant_id)
    forger = Ed25519PrivateKey.generate()
    genuine = Grant.from_json(json.loads(payload))
    forged_grant = Grant(
        **{
            **genuine.__dict__,
            "pseudonyms": genuine.pseudonyms,
            "service_key_id": key_id(forger.public_key()),
        }
    )
    forged = sign_grant(forged_grant, forger)
    world.store_grant(grant_id, forged.payload, forged.signature)
    refused = world.fulfil(grant_id)
    assert refused.exit_code == 1
    assert "does not verify against the pinned service key" in refused.output
    assert _audited(world, "reveal.refused", "bad-signature", f'"grant_id": {grant_id}')


def test_replayed_grant_is_refused_and_audited(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    assert world.fulfil(grant_id).exit_code == 0
    # A dishonest operator offers the used grant again.
    with world.database() as db:
        db.execute(
            "UPDATE reveal_targets SET state = 'issued', sealed = NULL WHERE id = ?",
            (grant_id,),
        )
    replayed = world.fulfil(grant_id)
    assert replayed.exit_code == 1
    assert "replay" in replayed.output
    assert _audited(world, "reveal.refused", "replayed", f'"grant_id": {grant_id}')


def test_wrong_investigator_key_cannot_open_and_is_audited(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    assert world.fulfil(world.grant_of(request_id)).exit_code == 0
    world.local("keygen", "--investigator", "--out", world.path("mallory.key"))
    refused = world.open(request_id, key="mallory.key", out="mallory.csv")
    assert refused.exit_code == 1
    assert "another investigator's key" in refused.output
    assert not world.path("mallory.csv").exists()
    assert _audited(world, "reveal.open_failed", f'"request_id": {request_id}')


def test_another_agency_cannot_fulfil_and_is_audited(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    by_police = world.fulfil(grant_id, party="police")
    assert by_police.exit_code == 1
    assert "not awaiting your agency" in by_police.output
    token = world.path("police.token").read_text().strip()
    answer = http_calls.post(
        f"{world.url}/projects/{world.project_id}/grants/{grant_id}/refusal",
        json={"reason": "not ours"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403
    assert _audited(world, "access.denied", "for another agency")


def test_agency_refusal_reaches_the_investigator(world: World) -> None:
    request_id = world.request()
    world.approve_fully(request_id)
    grant_id = world.grant_of(request_id)
    world.ok(
        "reveal", "refuse", "--project", str(world.project_id),
        "--grant", str(grant_id), "--reason", "court order needed", token="health",
    )  # fmt: skip
    opened = world.open(request_id, out="refused.csv")
    assert opened.exit_code == 0, opened.output
    assert "refused (court order needed)" in opened.output
    assert _audited(world, "reveal.refused", "court order needed")


def test_expired_grant_is_refused_and_audited(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The service's clock runs an hour behind the agencies': a grant it issues
    for a minute has long expired for them. Then its clock catches up, and
    the next grant has expired for the service too. Nobody waits."""
    policy = RevealPolicy(
        approvals_required=2,
        approver_role="approver",
        deny_ends_request=True,
        grant_lifetime=timedelta(minutes=1),
    )
    behind = [timedelta(hours=1)]

    def service_clock() -> datetime:
        return datetime.now(UTC) - behind[0]

    root = tmp_path_factory.mktemp("expiring")
    with build_world(RunCli(), root, policy, clock=service_clock) as short:
        request_id = short.request()
        short.approve_fully(request_id)
        expired = short.fulfil(short.grant_of(request_id))
        assert expired.exit_code == 1
        assert "expired" in expired.output
        assert _audited(short, "reveal.refused", "expired")
        # An agency that skipped its own check is refused by the service too.
        late = short.request()
        short.approve_fully(late)
        behind[0] = timedelta(0)  # Issued an hour ago, by the service's clock now.
        grant_id = short.grant_of(late)
        sealed = seal(b"{}", X25519PrivateKey.generate().public_key(), b"any")
        token = short.path("health.token").read_text().strip()
        answer = http_calls.post(
            f"{short.url}/projects/{short.project_id}/grants/{grant_id}/fulfilment",
            json={"sealed": sealed.to_json()},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 409
        assert f"grant {grant_id} expired" in answer.json()["detail"]
        assert _audited(short, "reveal.step_refused", f"grant {grant_id} expired")


def test_audit_log_of_the_flow_verifies(world: World, tmp_path: Path) -> None:
    world.ok("audit", "export", "--out", tmp_path / "audit.jsonl", token="operator")
    key = world.data_dir / "service-signing.pub"
    verified = world.local(
        "audit", "verify", tmp_path / "audit.jsonl", "--service-key", key
    )
    assert "is intact" in verified.stdout
    world.local("audit", "verify", *world.log_source(), "--service-key", key)
    report = world.local(
        "audit", "report", tmp_path / "audit.jsonl", "--service-key", key
    )
    assert "health" in report.stdout


def _get(world: World, token: str, path: str) -> httpx.Response:
    bearer = world.path(f"{token}.token").read_text().strip()
    return http_calls.get(
        f"{world.url}/projects/{world.project_id}{path}",
        headers={"Authorization": f"Bearer {bearer}"},
    )


def test_who_sees_what(world: World) -> None:
    request_id = world.request()
    path = f"/reveals/{request_id}"
    assert _get(world, "alice", path).status_code == 200
    seen = _get(world, "operator", path)
    assert seen.status_code == 200
    assert "pseudonym" not in seen.text
    assert _get(world, "bob", path).status_code == 200
    assert _get(world, "sam", path).status_code == 404  # another investigator's
    assert _get(world, "health", path).status_code == 404
    assert _get(world, "health", "/reveals").status_code == 403
    assert _get(world, "operator", f"{path}/answers").status_code == 403
    assert _get(world, "bob", "/grants").status_code == 403
    mine = [r["request_id"] for r in _get(world, "sam", "/reveals").json()]
    assert request_id not in mine
    listed = world.ok(
        "reveal", "list", "--project", str(world.project_id), "--state", "pending",
        token="bob",
    )  # fmt: skip
    assert f"{request_id}\tpending\t0/2\talice" in listed.stdout


def test_a_revoked_member_is_locked_out_and_audited(world: World) -> None:
    world.local("keygen", "--investigator", "--out", world.path("temp.key"))
    added = world.ok(
        "project", "add-member", "--project", str(world.project_id),
        "--name", "temp", "--role", "investigator",
        "--public-key", world.path("temp.key.pub"),
        "--token-out", world.path("temp.token"), token="operator",
    )  # fmt: skip
    assert _get(world, "temp", "/reveals").status_code == 200
    world.ok(
        "project", "remove-member", "--project", str(world.project_id),
        "--member", added.stdout.strip(), token="operator",
    )  # fmt: skip
    assert _get(world, "temp", "/reveals").status_code == 401
    assert _audited(world, "member.revoked", '"name": "temp"')
    assert _audited(world, "auth.failed", "/reveals")


def test_the_log_records_every_kind_of_event_and_no_token(
    world: World, tmp_path: Path
) -> None:
    actions = {action for _, action, _ in world.audit_actions()}
    assert {
        "project.created", "member.added", "encodings.uploaded", "run.queued",
        "run.completed", "results.downloaded",
    } <= actions  # fmt: skip
    world.ok("audit", "export", "--out", tmp_path / "log.jsonl", token="operator")
    exported = (tmp_path / "log.jsonl").read_text()
    for token_file in world.root.glob("*.token"):
        assert token_file.read_text().strip() not in exported
