"""Upload versions: a re-upload before any run replaces the file; one while a
run is queued or running is refused; one after a finished run keeps the file
the run used and starts a new version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from linkage.formats.clkfile import EncodingHeader, open_writer
from linkage.service import Settings
from linkage.service.uploads import accept_upload
from linkage.storage import Party, Project, RunConflictError, RunResult, Store

FINGERPRINT = "a" * 64


@pytest.fixture()
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The service's settings on SQLite and on PostgreSQL in turn."""
    made = Settings(data_dir=tmp_path / "data", database_url=database_url)
    made.uploads_dir.mkdir(parents=True)
    return made


@pytest.fixture()
def store(settings: Settings) -> Iterator[Store]:
    opened = Store.open(settings.database)
    yield opened
    opened.close()


@pytest.fixture()
def project(store: Store) -> tuple[Project, dict[str, Party]]:
    created = store.create_project(
        name="versions",
        schema_fingerprint=FINGERPRINT,
        threshold="auto",
        mode="link",
        parties=("a", "b"),
    )
    return created.project, {party.name: party for party in created.parties}


def send(
    store: Store,
    settings: Settings,
    project: tuple[Project, dict[str, Party]],
    party: str,
    count: int = 4,
) -> int:
    """Upload ``count`` records for ``party``; return the new version."""
    header = EncodingHeader(
        schema_fingerprint=FINGERPRINT, bit_length=64, key_check="00ff"
    )
    rng = np.random.default_rng(count)
    incoming = settings.uploads_dir / f".incoming-test-{count}.part"
    with open_writer(incoming, "linkage", header) as writer:
        writer.write(
            rng.integers(0, 256, size=(count, 16), dtype=np.uint8),
            rng.integers(0, 256, size=(count, 8), dtype=np.uint8),
        )
    found, parties = project
    upload = accept_upload(store, settings, found, parties[party], incoming)
    assert not incoming.exists()
    return upload.version


def files(settings: Settings) -> list[str]:
    return sorted(
        str(p.relative_to(settings.data_dir))
        for p in settings.uploads_dir.rglob("*")
        if p.is_file()
    )


def rows(store: Store, project_id: int, party_id: int) -> list[tuple[int, bool]]:
    return [
        (u.version, u.superseded)
        for u in store.uploads_for(project_id=project_id, include_superseded=True)
        if u.party_id == party_id
    ]


def both_uploaded(
    store: Store, settings: Settings, project: tuple[Project, dict[str, Party]]
) -> None:
    send(store, settings, project, "a", 3)
    send(store, settings, project, "b", 5)


def test_before_any_run_a_reupload_replaces_the_file(
    store: Store, settings: Settings, project: tuple[Project, dict[str, Party]]
) -> None:
    both_uploaded(store, settings, project)
    before = files(settings)
    assert send(store, settings, project, "a", 6) == 2
    after = files(settings)
    assert len(after) == 2 and set(before) != set(after)
    assert rows(store, project[0].id, project[1]["a"].id) == [(1, True), (2, False)]


@pytest.mark.parametrize("claim", [False, True], ids=["queued", "running"])
def test_a_reupload_during_a_run_is_refused(
    store: Store,
    settings: Settings,
    project: tuple[Project, dict[str, Party]],
    claim: bool,
) -> None:
    both_uploaded(store, settings, project)
    run = store.create_run(project_id=project[0].id)
    if claim:
        claimed = store.claim_next_run()
        assert claimed is not None and claimed.run.id == run.id
    before = files(settings)
    with pytest.raises(RunConflictError, match="wait for the run"):
        send(store, settings, project, "a", 6)
    assert files(settings) == before
    assert rows(store, project[0].id, project[1]["a"].id) == [(1, False)]


@pytest.mark.parametrize("outcome", ["completed", "failed"])
def test_after_a_run_the_used_file_is_kept(
    store: Store,
    settings: Settings,
    project: tuple[Project, dict[str, Party]],
    outcome: str,
) -> None:
    found, parties = project
    both_uploaded(store, settings, project)
    store.create_run(project_id=found.id)
    claimed = store.claim_next_run()
    assert claimed is not None
    if outcome == "completed":
        results = [
            RunResult(
                run_id=claimed.run.id,
                party_id=party.id,
                upload_id=claimed.uploads[party.id].id,
                path=f"results/{party.name}.csv",
                row_count=1,
            )
            for party in claimed.parties
        ]
        store.complete_run(
            run_id=claimed.run.id, stats={}, result_dir="results", results=results
        )
    else:
        store.fail_run(run_id=claimed.run.id, message="broken")
    used = files(settings)
    assert send(store, settings, project, "a", 6) == 2
    # The run's file stays, with its superseded row.
    assert set(used) < set(files(settings))
    assert rows(store, found.id, parties["a"].id) == [(1, True), (2, False)]
    # Version 2 was never used: replacing it deletes it, version 1 stays.
    assert send(store, settings, project, "a", 7) == 3
    kept = files(settings)
    assert set(used) < set(kept) and len(kept) == 3
    assert rows(store, found.id, parties["a"].id) == [
        (1, True),
        (2, True),
        (3, False),
    ]
