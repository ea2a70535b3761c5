"""Rotating the service's signing key: the old key signs the hand-over, each
head is checked against the key in force at its entry, and the old key can
sign nothing after its rotation."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from linkage.audit.chain import sign_head, verify_log
from linkage.client import ServiceClient
from linkage.reveal.grants import Grant, SignedGrant, verify_grant
from linkage.reveal.keys import (
    key_id,
    load_or_create_signing_key,
    read_service_public_key,
)
from linkage.reveal.policy import DEFAULT_POLICY
from linkage.service.loopback import running_service
from linkage.storage import Store
from linkage.storage.audit_log import read_audit_log
from tests.conftest import RunCli
from tests.reveal.world import build_world


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


def test_grants_outstanding_at_a_rotation_are_signed_with_the_new_key(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A grant issued before the rotation and not yet answered: once the
    service starts with the new key, the agency, now pinning only the new
    key, fulfils it; only its key ID and signature changed. A grant whose
    stored payload was damaged is left as it is, and the service starts."""
    with build_world(run_cli, tmp_path, DEFAULT_POLICY) as world:
        request_id = world.request("health", "police")
        world.approve_fully(request_id)
        grant_id = world.grant_of(request_id)
        before = Grant.from_json(json.loads(world.stored_grant(grant_id)[0]))
        damaged = world.grant_of(request_id, party="police")
        world.store_grant(damaged, b"{not a grant", b"no signature")
    rotated = run_cli("serve", "--data-dir", world.data_dir, "--rotate-signing-key")
    assert rotated.exit_code == 0, rotated.output
    new_key = world.data_dir / "service-signing.pub"
    shutil.copy(new_key, world.path("tokens/service-key.pub"))  # What agencies pin.
    with running_service(world.data_dir) as service:
        world.url = service.url
        payload, signature = world.stored_grant(grant_id)
        after = verify_grant(
            SignedGrant(payload=payload, signature=signature),
            read_service_public_key(new_key),
            now=datetime.now(UTC),
            party="health",
            project_id=world.project_id,
        )
        assert after == replace(before, service_key_id=after.service_key_id)
        assert after.service_key_id != before.service_key_id
        fulfilled = world.fulfil(grant_id)
        assert fulfilled.exit_code == 0, fulfilled.output
        assert world.stored_grant(damaged) == (b"{not a grant", b"no signature")
    resigned = [
        details
        for _, action, details in world.audit_actions()
        if action == "reveal.grants_resigned"
    ]
    assert len(resigned) == 1
    assert json.loads(resigned[0])["grant_ids"] == [grant_id]
