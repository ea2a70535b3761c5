"""The audit log as the service stores it: real SQLite, real threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.audit.chain import verify_log
from linkage.storage import Store
from linkage.storage.audit_log import AuditLog, read_audit_log


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'audit.db'}")
    yield opened
    opened.close()


def test_concurrent_appends_form_one_valid_chain(store: Store) -> None:
    key = Ed25519PrivateKey.generate()
    log = AuditLog(store, key)

    def append_many(worker: int) -> None:
        for n in range(25):
            log.append(actor=f"worker:{worker}", action="test.event", details={"n": n})

    _in_threads(append_many, 4)
    entries, heads = read_audit_log(store)
    assert [entry.seq for entry in entries] == list(range(1, 101))
    assert verify_log(entries, heads, key.public_key()).ok


def _in_threads(work: Callable[[int], None], workers: int) -> None:
    """Run ``work(worker)`` for each worker in a thread of its own; wait."""
    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_batched_appends_share_commits_and_still_form_one_valid_chain(
    store: Store,
) -> None:
    """Entries appended at the same moment by many threads go in together,
    under one signed head a batch (the batching itself:
    tests/service/test_lookup_parts.py); the chain verifies and each thread
    gets its own entry back."""
    key = Ed25519PrivateKey.generate()
    log = AuditLog(store, key)
    returned: dict[tuple[int, int], int] = {}

    def append_many(worker: int) -> None:
        for n in range(25):
            entry = log.append(
                actor=f"worker:{worker}",
                action="test.event",
                details={"n": n},
                batched=True,
            )
            assert entry.actor == f"worker:{worker}" and entry.details == {"n": n}
            returned[(worker, n)] = entry.seq

    _in_threads(append_many, 6)
    entries, heads = read_audit_log(store)
    assert [entry.seq for entry in entries] == list(range(1, 151))
    assert sorted(returned.values()) == list(range(1, 151))
    assert verify_log(entries, heads, key.public_key()).ok
    # Removing the last entry is still caught: the last head names it.
    assert not verify_log(entries[:-1], heads, key.public_key()).ok


def test_an_entry_is_committed_with_its_action_or_not_at_all(store: Store) -> None:
    key = Ed25519PrivateKey.generate()
    log = AuditLog(store, key)
    log.append(actor="operator", action="first")
    with pytest.raises(RuntimeError), store.transaction():
        store.create_project(
            name="rolled-back", schema_fingerprint="a" * 64, threshold="auto",
            mode="link", parties=["police"],
        )  # fmt: skip
        log.append(actor="operator", action="project.created")
        raise RuntimeError("the action failed after its entry was written")
    entries, heads = read_audit_log(store)
    assert [entry.action for entry in entries] == ["first"]
    assert verify_log(entries, heads, key.public_key()).ok
    log.append(actor="operator", action="second")
    entries, heads = read_audit_log(store)
    assert [entry.seq for entry in entries] == [1, 2]
    assert verify_log(entries, heads, key.public_key()).ok


def test_a_log_read_with_another_key_fails(store: Store) -> None:
    log = AuditLog(store, Ed25519PrivateKey.generate())
    log.append(actor="operator", action="only")
    entries, heads = read_audit_log(store)
    result = verify_log(entries, heads, Ed25519PrivateKey.generate().public_key())
    assert result.problem is not None
    assert result.problem.kind == "bad-signature"
