"""Encodings do not outlive their run.

After a default run and every party's download, the service's data folder
holds none of the uploaded CLKs or pseudonyms (files and database alike), the
deletion is in the audit log, and results, match IDs and reveals keep working.
With --keep-encodings, or after a failed run, nothing is deleted until the
operator says so. A real server on loopback, real SQLite, real files.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result

from linkage.formats.clkfile import read_encodings
from linkage.service import Settings, initialise
from linkage.service.loopback import running_service
from linkage.storage import (
    EncodingsDeletedError,
    RunConflictError,
    RunResult,
    Store,
)
from tests import http_calls
from tests.conftest import RunCli
from tests.reveal.world import AGENCIES, SCHEMA, World, world_for

FINGERPRINT = "a" * 64
DELETED = "were deleted"


# -- what to look for -----------------------------------------------------------


def _forms(raw: bytes) -> list[bytes]:
    """``raw`` as stored bytes, hex, and base64 at every alignment."""
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for pad in (b"", b"x", b"xx"):
        skip = 4 * len(pad) // 3 + (1 if pad else 0)
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(pad + raw)
            forms.append(encoded[skip : len(encoded) - 4])
    return forms


@dataclass(frozen=True)
class Uploaded:
    """Every CLK and pseudonym the agencies uploaded, as raw bytes."""

    clks: list[bytes]
    pseudonyms: list[bytes]

    @classmethod
    def read(cls, paths: Iterable[Path]) -> Uploaded:
        clks: list[bytes] = []
        pseudonyms: list[bytes] = []
        for path in paths:
            encodings = read_encodings(path)
            assert encodings.pseudonyms is not None
            clks += [bytes(row) for row in encodings.clks]
            pseudonyms += [bytes(row) for row in encodings.pseudonyms]
        return cls(clks, pseudonyms)

    def needles(self, shared: set[str]) -> list[bytes]:
        """What no file may hold: every CLK (raw, and every 7th in each
        encoding) and every pseudonym in every encoding, except the hex of
        the ``shared`` ones (the results a party receives name them)."""
        found = list(self.clks)
        for clk in self.clks[::7]:
            found += _forms(clk)
        for pseudonym in self.pseudonyms:
            forms = _forms(pseudonym)
            if pseudonym.hex() in shared:
                forms = [f for f in forms if f.lower() != pseudonym.hex().encode()]
            found += forms
        return found


def _leaking_files(data_dir: Path, needles: list[bytes]) -> list[str]:
    """The files under ``data_dir`` that hold any needle (the database file
    included, free pages and all)."""
    leaking = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        blob = path.read_bytes()
        if any(needle in blob for needle in needles):
            leaking.append(str(path.relative_to(data_dir)))
    return leaking


def _audit(
    source: World | Path, project_id: int
) -> list[tuple[str, str, dict[str, object]]]:
    """(actor, action, details) of the project's audit entries, in order, from
    a world's database or the SQLite database in a data folder."""
    query = (
        "SELECT actor, action, details FROM audit_entries WHERE project_id = ?"
        " ORDER BY seq"
    )
    if isinstance(source, World):
        with source.database() as db:
            rows = db.execute(query, (project_id,)).fetchall()
    else:
        connection = sqlite3.connect(source / "linkage.db")
        try:
            rows = connection.execute(query, (project_id,)).fetchall()
        finally:
            connection.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def _leaking(world: World, needles: list[bytes]) -> list[str]:
    """The world's files that hold a needle, and "the database" if a dump of
    it does (on SQLite the file itself is among the files)."""
    found = _leaking_files(world.data_dir, needles)
    dump = world.dump()
    if any(needle in dump for needle in needles):
        found.append("the database")
    return found


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


# -- the default: a whole run, then every download ------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Encoded, uploaded and run with the default retention, on SQLite and on
    PostgreSQL; the police have downloaded their results, the health agency
    not yet."""
    with world_for(request, tmp_path_factory, "retention") as built:
        yield built


def test_encodings_are_gone_after_every_party_downloaded(world: World) -> None:
    """Before the last download they are there; after it no file in the data
    folder holds a CLK or pseudonym, the deletion is audited and the log
    verifies, and results, match IDs and a reveal still work."""
    project = str(world.project_id)
    uploads_dir = world.data_dir / "uploads" / project
    uploaded = Uploaded.read(world.path(f"{a}.lnk") for a in AGENCIES)
    police_rows = pd.read_csv(world.path("police-results.csv"), dtype=str)

    # Before the last party's download: the encodings are all still there,
    # and the search finds them (so it would find a leftover).
    assert len(_files(uploads_dir)) == len(AGENCIES)
    leaking = _leaking_files(world.data_dir, uploaded.needles(set()))
    assert {f"uploads/{project}/{name}" for name in _files(uploads_dir)} <= set(leaking)
    before = [action for _, action, _ in _audit(world, world.project_id)]
    assert "encodings.deleted" not in before
    status = world.ok("project", "status", "--project", project, token="operator")
    assert "encodings_deleted_at" not in status.stdout
    assert "party health: uploaded (version 1," in status.stdout

    world.ok(
        "results", "--project", project, "--out", world.path("health-results.csv"),
        token="health",
    )  # fmt: skip
    health_rows = pd.read_csv(world.path("health-results.csv"), dtype=str)

    # Nothing of the encodings anywhere: the uploads folder is empty, and no
    # file (database included) holds a CLK, or any pseudonym other than the
    # matched ones in the parties' own results.
    shared = set(police_rows["pseudonym"]) | set(health_rows["pseudonym"])
    assert shared and len(shared) < len(uploaded.pseudonyms)
    assert _files(uploads_dir) == []
    assert _leaking(world, uploaded.needles(shared)) == []
    outside_results = [
        path
        for path in world.data_dir.rglob("*")
        if path.is_file() and path.relative_to(world.data_dir).parts[0] != "results"
    ]
    for path in outside_results:
        blob = path.read_bytes()
        assert not any(p.encode() in blob for p in shared), path
    dump = world.dump()
    assert not any(p.encode() in dump for p in shared)

    # The store holds no current upload; the rows left carry counts only.
    store = Store.open(world.database_url)
    try:
        assert store.uploads_for(project_id=world.project_id) == []
        every = store.uploads_for(project_id=world.project_id, include_superseded=True)
        assert len(every) == len(AGENCIES)
        assert all(u.path == "" and u.deleted_at is not None for u in every)
        stored = store.get_project(project_id=world.project_id)
        assert stored.encodings_deleted_at is not None
        run_id = store.latest_completed_run(project_id=world.project_id)
        assert run_id is not None
        assert stored.encodings_deleted_after_run == run_id.id
    finally:
        store.close()

    # The deletion is in the audit log, by the service, right after the
    # download that made it due, and the signed chain verifies.
    entries = _audit(world, world.project_id)
    actions = [action for _, action, _ in entries]
    at = actions.index("encodings.deleted")
    assert entries[at - 1][:2] == ("party:health", "results.downloaded")
    actor, _, details = entries[at]
    assert actor == "service"
    assert details["reason"] == "retention"
    assert details["run_id"] == run_id.id
    assert details["files"] == len(AGENCIES)
    assert details["records"] == len(uploaded.clks)
    parties = details["uploads"]
    assert isinstance(parties, list)
    assert sorted(u["party"] for u in parties) == sorted(AGENCIES)
    verified = world.local(
        "audit", "verify", *world.log_source(),
        "--service-key", world.data_dir / "service-signing.pub",
    )  # fmt: skip
    assert "intact" in verified.stdout

    # Results can be downloaded again, the same as before.
    for agency in AGENCIES:
        world.ok(
            "results", "--project", project, "--out", world.path(f"{agency}-2.csv"),
            token=agency,
        )  # fmt: skip
        first = world.path(f"{agency}-results.csv").read_bytes()
        assert world.path(f"{agency}-2.csv").read_bytes() == first

    # A reveal of the distinctive person's match still works end to end.
    request_id = world.request("health", "police", purpose="after deletion")
    world.approve_fully(request_id)
    for agency in AGENCIES:
        fulfilled = world.fulfil(world.grant_of(request_id, agency), agency)
        assert fulfilled.exit_code == 0, fulfilled.output
    opened = world.open(request_id, out="revealed-after-deletion.csv")
    assert opened.exit_code == 0, opened.output
    revealed = pd.read_csv(world.path("revealed-after-deletion.csv"), dtype=str)
    assert {"PX0000001", "MRNX0000001"} <= set(revealed["record_id"])
    # Still no CLK anywhere once the reveal has written its rows.
    clks_only = Uploaded(uploaded.clks, []).needles(set())
    assert _leaking(world, clks_only) == []

    # New uploads and runs get a 409 that says why.
    refused = world.cli(
        "upload", world.path("police.lnk"), "--project", project,
        "--party", "police", token="police",
    )  # fmt: skip
    assert refused.exit_code == 1
    assert DELETED in refused.output and "retention setting" in refused.output
    token = world.path("police.token").read_text().strip()
    answer = http_calls.put(
        f"{world.url}/projects/{project}/parties/police/encodings",
        content=world.path("police.lnk").read_bytes(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert f"after run {run_id.id} completed" in answer.json()["detail"]
    assert _files(uploads_dir) == []
    again = world.cli("run", "start", "--project", project, token="operator")
    assert again.exit_code == 1 and DELETED in again.output
    status = world.ok("project", "status", "--project", project, token="operator")
    assert "encodings_deleted_at: " in status.stdout
    assert "party police: not uploaded" in status.stdout


# -- another service: the other retention choices -------------------------------


@dataclass(frozen=True)
class Other:
    """A second service, so its encodings never show in the world's folder."""

    run_cli: RunCli
    url: str
    data_dir: Path
    root: Path
    operator_token_file: Path

    def cli(self, *args: str | Path, token: Path) -> Result:
        return self.run_cli(*args, "--server", self.url, "--token-file", token)

    def ok(self, *args: str | Path, token: Path) -> Result:
        result = self.cli(*args, token=token)
        assert result.exit_code == 0, result.output
        return result

    def create(self, name: str, *flags: str, parties: Iterable[str] = AGENCIES) -> int:
        """Create a project with the CLI; its tokens go to ``root/name``."""
        party_args: list[str] = []
        for party in parties:
            party_args += ["--party", party]
        made = self.ok(
            "project", "create", name, "--schema", SCHEMA, *party_args,
            "--threshold", "0.8", "--tokens-dir", self.root / name, *flags,
            token=self.operator_token_file,
        )  # fmt: skip
        return int(made.stdout.strip())

    def token(self, name: str, party: str) -> Path:
        return self.root / name / f"{party}.token"


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Other]:
    root = tmp_path_factory.mktemp("other")
    with running_service(root / "service") as service:
        yield Other(
            RunCli(), service.url, service.data_dir, root, service.operator_token_file
        )


def _named(world: World, project: str) -> str:
    # The world runs once per database against the one other service: a
    # project name per world keeps the two runs apart.
    return f"{project}-{world.root.name}"


def _run(other: Other, project_id: int) -> Result:
    started = other.ok(
        "run", "start", "--project", str(project_id), token=other.operator_token_file
    )
    return other.cli(
        "run", "wait", "--project", str(project_id), "--run", started.stdout.strip(),
        "--poll", "0.2", "--timeout", "300", token=other.operator_token_file,
    )  # fmt: skip


def test_keep_encodings_keeps_them_until_the_operator_deletes_them(
    world: World, other: Other
) -> None:
    """Every party downloads, nothing is deleted; `project delete-encodings`
    then deletes them, audited, and the project takes no more uploads."""
    project_id = other.create(_named(world, "kept"), "--keep-encodings")
    project = str(project_id)
    for agency in AGENCIES:
        other.ok(
            "upload", world.path(f"{agency}.lnk"), "--project", project,
            "--party", agency, token=other.token(_named(world, "kept"), agency),
        )  # fmt: skip
    assert _run(other, project_id).exit_code == 0
    for agency in AGENCIES:
        other.ok(
            "results", "--project", project,
            "--out", other.root / f"kept-{agency}.csv",
            token=other.token(_named(world, "kept"), agency),
        )  # fmt: skip
    folder = other.data_dir / "uploads" / project
    assert len(_files(folder)) == len(AGENCIES)
    actions = [action for _, action, _ in _audit(other.data_dir, project_id)]
    assert "encodings.deleted" not in actions
    status = other.ok(
        "project", "status", "--project", project, token=other.operator_token_file
    )
    assert "encodings: kept for later runs" in status.stdout
    # A later run may use a new version.
    again = other.ok(
        "upload", world.path("police.lnk"), "--project", project,
        "--party", "police", token=other.token(_named(world, "kept"), "police"),
    )  # fmt: skip
    assert "(version 2)" in again.output
    assert len(_files(folder)) == len(AGENCIES) + 1

    deleted = other.ok(
        "project", "delete-encodings", "--project", project,
        token=other.operator_token_file,
    )  # fmt: skip
    assert "3 upload(s)" in deleted.output
    assert _files(folder) == []
    actor, _, details = next(
        e for e in _audit(other.data_dir, project_id) if e[1] == "encodings.deleted"
    )
    assert actor == "operator"
    assert details["reason"] == "operator" and details["run_id"] is None
    assert details["files"] == len(AGENCIES) + 1
    twice = other.cli(
        "project", "delete-encodings", "--project", project,
        token=other.operator_token_file,
    )  # fmt: skip
    assert twice.exit_code == 1 and "by the operator" in twice.output
    refused = other.cli(
        "upload", world.path("police.lnk"), "--project", project,
        "--party", "police", token=other.token(_named(world, "kept"), "police"),
    )  # fmt: skip
    assert refused.exit_code == 1 and DELETED in refused.output
    other.ok(
        "results", "--project", project, "--out", other.root / "kept-again.csv",
        token=other.token(_named(world, "kept"), "health"),
    )  # fmt: skip


def test_a_failed_run_keeps_the_encodings(world: World, other: Other) -> None:
    """The run can be retried: nothing is deleted, no results are served."""
    project_id = other.create(_named(world, "failing"), parties=("police",))
    project = str(project_id)
    token = other.token(_named(world, "failing"), "police")
    other.ok(
        "upload", world.path("police.lnk"), "--project", project,
        "--party", "police", token=token,
    )  # fmt: skip
    failed = _run(other, project_id)
    assert failed.exit_code == 1 and "link-dedup" in failed.output
    refused = other.cli(
        "results", "--project", project, "--out", other.root / "failing.csv",
        token=token,
    )  # fmt: skip
    assert refused.exit_code == 1
    assert len(_files(other.data_dir / "uploads" / project)) == 1
    actions = [action for _, action, _ in _audit(other.data_dir, project_id)]
    assert "run.failed" in actions and "encodings.deleted" not in actions
    status = other.ok("project", "status", "--project", project, token=token)
    assert "encodings_deleted_at" not in status.stdout
    assert "party police: uploaded" in status.stdout


def test_the_party_token_may_not_delete_encodings(world: World, other: Other) -> None:
    """Only the operator deletes on demand."""
    project_id = other.create(_named(world, "guarded"))
    token = other.token(_named(world, "guarded"), "police").read_text().strip()
    answer = http_calls.delete(
        f"{other.url}/projects/{project_id}/encodings",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403


# -- the rule itself, on the store ---------------------------------------------


def _complete(store: Store, project_id: int) -> int:
    """Queue a run of the project (unless one is queued) and complete it."""
    if store.pending_run(project_id=project_id) is None:
        store.create_run(project_id=project_id)
    claimed = store.claim_next_run()
    assert claimed is not None
    run_id = claimed.run.id
    store.complete_run(
        run_id=run_id,
        stats={},
        result_dir=f"results/{run_id}",
        results=[
            RunResult(
                run_id=run_id,
                party_id=party.id,
                upload_id=claimed.uploads[party.id].id,
                path=f"results/{run_id}/{party.name}.csv",
                row_count=0,
            )
            for party in claimed.parties
        ],
    )
    return run_id


def _project_with_uploads(store: Store, name: str, retain: bool = False) -> int:
    created = store.create_project(
        name=name,
        schema_fingerprint=FINGERPRINT,
        threshold="auto",
        mode="link",
        parties=("a", "b"),
        retain_encodings=retain,
    )
    for party in created.parties:
        store.record_upload(
            project_id=created.project.id,
            party_id=party.id,
            path=f"uploads/{created.project.id}/{party.name}.lnk",
            record_count=3,
            bit_length=64,
            key_check="00ff",
            schema_fingerprint=FINGERPRINT,
        )
    return created.project.id


def test_only_a_completed_newest_run_everyone_downloaded_makes_them_due(
    tmp_path: Path,
) -> None:
    """A newer failed run, a pending run or a retaining project keeps them."""
    store = Store.open(f"sqlite:///{tmp_path / 'linkage.db'}")
    try:
        project_id = _project_with_uploads(store, "p")
        a, b = store.parties_of(project_id=project_id)
        first = _complete(store, project_id)
        assert store.encodings_due_for_deletion(project_id=project_id) is None
        store.record_download(run_id=first, party_id=a.id)
        store.record_download(run_id=first, party_id=a.id)  # twice counts once
        assert store.encodings_due_for_deletion(project_id=project_id) is None

        # A newer run failed: the encodings stay for a retry, downloads or not.
        second = store.create_run(project_id=project_id)
        assert store.claim_next_run() is not None
        store.fail_run(run_id=second.id, message="broken")
        store.record_download(run_id=first, party_id=b.id)
        assert store.encodings_due_for_deletion(project_id=project_id) is None

        # A queued run reads them: they cannot be deleted under it.
        store.create_run(project_id=project_id)
        with pytest.raises(RunConflictError, match="queued or running"):
            store.delete_encodings(project_id=project_id)
        third = _complete(store, project_id)
        for party in (a, b):
            store.record_download(run_id=third, party_id=party.id)
        assert store.encodings_due_for_deletion(project_id=project_id) == third

        deleted = store.delete_encodings(project_id=project_id, after_run=third)
        assert deleted.records == 6 and deleted.run_id == third
        assert sorted(deleted.paths) == [
            f"uploads/{project_id}/a.lnk",
            f"uploads/{project_id}/b.lnk",
        ]
        assert store.encodings_due_for_deletion(project_id=project_id) is None
        with pytest.raises(EncodingsDeletedError, match=f"after run {third}"):
            store.record_upload(
                project_id=project_id, party_id=a.id, path="x", record_count=1,
                bit_length=64, key_check="00ff", schema_fingerprint=FINGERPRINT,
            )  # fmt: skip
        with pytest.raises(EncodingsDeletedError):
            store.create_run(project_id=project_id)
        with pytest.raises(EncodingsDeletedError):
            store.delete_encodings(project_id=project_id)
        # Results and their downloads are untouched.
        assert store.run_result(run_id=third, party_id=a.id).downloaded_at

        kept = _project_with_uploads(store, "kept", retain=True)
        run_id = _complete(store, kept)
        for party in store.parties_of(project_id=kept):
            store.record_download(run_id=run_id, party_id=party.id)
        assert store.get_project(project_id=kept).retain_encodings
        assert store.encodings_due_for_deletion(project_id=kept) is None
    finally:
        store.close()


def test_a_restart_finishes_an_interrupted_deletion(tmp_path: Path) -> None:
    """Deleted in the database but the files not yet unlinked (a crash): the
    next start removes them, and a killed upload's stale part file, and
    nothing else."""
    data_dir = tmp_path / "data"
    initialise(data_dir)
    settings = Settings(data_dir=data_dir)
    store = Store.open(settings.database)
    try:
        gone = _project_with_uploads(store, "gone")
        kept = _project_with_uploads(store, "kept")
        for project_id in (gone, kept):
            folder = settings.uploads_dir / str(project_id)
            folder.mkdir(mode=0o700)
            for name in ("a.lnk", "b.lnk"):
                (folder / name).write_bytes(b"encodings")
        store.delete_encodings(project_id=gone)
    finally:
        store.close()
    stale = settings.uploads_dir / ".incoming-old.part"
    fresh = settings.uploads_dir / ".incoming-new.part"
    for part in (stale, fresh):
        part.write_bytes(b"half an upload")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    with running_service(data_dir):
        pass

    assert _files(settings.uploads_dir / str(gone)) == []
    assert _files(settings.uploads_dir / str(kept)) == ["a.lnk", "b.lnk"]
    assert not stale.exists() and fresh.exists()
    # The sweep is on record: two deleted encodings files and the stale part.
    db = sqlite3.connect(data_dir / "linkage.db")
    try:
        swept = db.execute(
            "SELECT actor, details FROM audit_entries WHERE action = 'service.swept'"
        ).fetchall()
    finally:
        db.close()
    assert [(actor, json.loads(details)) for actor, details in swept] == [
        ("service", {"files_removed": 3})
    ]
