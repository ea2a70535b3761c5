"""Tokens expire, and every kind can be replaced: the operator's on the
service's machine, a party's or a member's by the operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.client import ServiceClient
from linkage.reveal.keys import public_pem
from linkage.service import initialise
from linkage.service.loopback import running_service
from linkage.storage import AuthenticationError, Store
from linkage.storage.audit_log import read_audit_log
from tests import http_calls
from tests.conftest import RunCli


def test_a_token_expires_after_its_lifetime(database_url: str) -> None:
    now = [datetime(2026, 12, 6, 12, 0, tzinfo=UTC)]
    store = Store.open(
        database_url, clock=lambda: now[0], token_lifetime=timedelta(days=90)
    )
    try:
        token = store.create_token(role="operator")
        record = store.authenticate(token=token)
        assert record.expires_at == datetime(2027, 3, 6, 12, 0, tzinfo=UTC)
        now[0] += timedelta(days=89)
        store.authenticate(token=token)
        now[0] += timedelta(days=1)
        with pytest.raises(AuthenticationError):
            store.authenticate(token=token)
    finally:
        store.close()


def test_without_a_lifetime_a_token_lasts_until_revoked(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        token = store.create_token(role="operator")
        assert store.authenticate(token=token).expires_at is None
    finally:
        store.close()


def test_the_operator_token_is_rotated_on_the_service_machine(
    run_cli: RunCli, tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    token_file = initialise(data_dir, database_url=database_url)
    old = token_file.read_text().strip()
    rotated = run_cli(
        "serve", "--data-dir", data_dir, "--database-url", database_url,
        "--rotate-operator-token",
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    new = token_file.read_text().strip()
    assert new and new != old
    assert new not in rotated.output and old not in rotated.output
    store = Store.open(database_url)
    try:
        with pytest.raises(AuthenticationError):
            store.authenticate(token=old)
        assert store.authenticate(token=new).role == "operator"
        entries, _ = read_audit_log(store)
    finally:
        store.close()
    rotations = [e.details for e in entries if e.action == "token.rotated"]
    assert rotations == [{"role": "operator"}]
    verified = run_cli(
        "audit", "verify", "--database-url", database_url,
        "--service-key", data_dir / "service-signing.pub",
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output


def test_a_token_lifetime_must_be_a_duration(run_cli: RunCli, tmp_path: Path) -> None:
    refused = run_cli(
        "serve", "--data-dir", tmp_path / "data", "--token-lifetime", "soon",
        "--init",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "--token-lifetime" in refused.output


def test_the_operator_reissues_a_member_s_and_a_party_s_token(
    run_cli: RunCli, tmp_path: Path, database_url: str
) -> None:
    with running_service(tmp_path / "data", database_url=database_url) as service:
        operator_file = service.operator_token_file
        with ServiceClient(service.url, service.operator_token) as operator:
            project_id = operator.create_project(
                "tokens", schema_fingerprint="a" * 64, parties=["police"]
            ).id
            member = operator.add_member(
                project_id, "bob", "approver",
                public_pem(Ed25519PrivateKey.generate().public_key()),
            )  # fmt: skip
        for args, name in (
            (["--member", str(member.member_id)], "bob"),
            (["--party", "police"], "police"),
        ):
            out = tmp_path / f"{name}.token"
            result = run_cli(
                "project", "reissue-token", "--project", str(project_id), *args,
                "--token-out", out, "--server", service.url,
                "--token-file", operator_file,
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            fresh = out.read_text().strip()
            assert fresh not in result.output
            assert _status(service.url, project_id, fresh) != 401
        assert _status(service.url, project_id, member.token) == 401


def _status(url: str, project_id: int, token: str) -> int:
    return http_calls.get(
        f"{url}/projects/{project_id}/reveals",
        headers={"Authorization": f"Bearer {token}"},
    ).status_code
