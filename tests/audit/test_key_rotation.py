"""Rotating the service's signing key: the old key signs the hand-over, each
head is checked against the key in force at its entry, and the old key can
sign nothing after its rotation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from linkage.audit.chain import sign_head, verify_log
from linkage.client import ServiceClient
from linkage.reveal.keys import (
    key_id,
    load_or_create_signing_key,
    read_service_public_key,
)
from linkage.service.loopback import running_service
from linkage.storage import Store
from linkage.storage.audit_log import read_audit_log
from tests.conftest import RunCli


def _some_activity(data_dir: Path, name: str) -> None:
    """A project created: one more audit entry and signed head."""
    with (
        running_service(data_dir) as service,
        ServiceClient(service.url, service.operator_token) as operator,
    ):
        operator.create_project(name, schema_fingerprint="a" * 64, parties=["a"])


def test_a_rotated_log_verifies_with_both_keys_only(
    run_cli: RunCli, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    _some_activity(data_dir, "before")
    old_private = load_or_create_signing_key(data_dir / "service-signing.key")
    old_id = key_id(old_private.public_key())
    rotated = run_cli("serve", "--data-dir", data_dir, "--rotate-signing-key")
    assert rotated.exit_code == 0, rotated.output
    new_public = read_service_public_key(data_dir / "service-signing.pub")
    assert key_id(new_public) != old_id
    old_pub = data_dir / f"service-signing-{old_id}.pub"
    assert key_id(read_service_public_key(old_pub)) == old_id
    assert not (data_dir / "service-signing.key.new").exists()
    _some_activity(data_dir, "after")  # Signed by the new key now.

    def verify(*keys: Path) -> str:
        result = run_cli(
            "audit", "verify", "--data-dir", data_dir,
            *[arg for key in keys for arg in ("--service-key", key)],
        )  # fmt: skip
        return result.output if result.exit_code else "intact"

    assert verify(data_dir / "service-signing.pub", old_pub) == "intact"
    assert old_id in verify(data_dir / "service-signing.pub")
    assert key_id(new_public) in verify(old_pub)

    # The old key, stolen, signs a head after its rotation: refused.
    store = Store.open(f"sqlite:///{data_dir / 'linkage.db'}")
    try:
        entries, heads = read_audit_log(store)
    finally:
        store.close()
    forged = [*heads[:-1], sign_head(old_private, entries[-1], datetime.now(UTC))]
    keys = [new_public, read_service_public_key(old_pub)]
    assert verify_log(entries, heads, keys).problem is None
    problem = verify_log(entries, forged, keys).problem
    assert problem is not None and problem.kind == "bad-signature"
