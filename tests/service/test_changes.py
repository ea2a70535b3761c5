"""Continuing linkage over the API (issue 23): a full run, change sets with
additions, corrections and withdrawals, an update run with stable match IDs,
what changed since the last download, and withdrawn records never revealed.

A real server on loopback, real files, SQLite; synthetic CLKs (noisy copies
of random people, so copies of one person score far above the threshold and
different people far below it).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from linkage.errors import EncodingFileError
from linkage.formats.clkfile import EncodingHeader, EncodingWriter, read_encodings
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parameters import LinkageParameters
from linkage.matching.parties import Party, PartySet
from linkage.service import Settings
from linkage.service.continuing.folders import REMOVALS, note_removals
from linkage.service.loopback import running_service
from linkage.service.retention import sweep_deleted_encodings
from linkage.storage import Store
from tests import http_calls
from tests.conftest import RunCli, database_for
from tests.service.helpers import assert_problem, create_project

FINGERPRINT = "b" * 64
BITS = 256
KEY_CHECK = "0a1b2c3d"
_files = itertools.count()


@dataclass
class Service:
    url: str
    data_dir: Path
    operator_token: str
    database_url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http_calls.client(base_url=self.url, headers=headers, timeout=60)


class People:
    """Random people's CLKs and noisy copies of them."""

    def __init__(self, count: int, seed: int = 23) -> None:
        self.rng = np.random.default_rng(seed)
        self.bits = self.rng.random((count, BITS)) < 0.3

    def copies(self, who: range | list[int]) -> np.ndarray:
        bits = self.bits[list(who)].copy()
        flips = self.rng.random(bits.shape) < 0.02
        return np.packbits(bits ^ flips, axis=1)

    def pseudonyms(self, count: int) -> np.ndarray:
        return self.rng.integers(0, 256, size=(count, 16), dtype=np.uint8)


def write(
    folder: Path,
    pseudonyms: np.ndarray,
    clks: np.ndarray,
    fingerprint: str = FINGERPRINT,
) -> bytes:
    header = EncodingHeader(
        schema_fingerprint=fingerprint, bit_length=BITS, key_check=KEY_CHECK
    )
    path = folder / f"enc-{next(_files)}.lnk"
    with EncodingWriter(path, header) as writer:
        writer.write(pseudonyms, clks)
    return path.read_bytes()


def hexes(pseudonyms: np.ndarray) -> list[str]:
    return [bytes(row).hex() for row in pseudonyms]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def wait(service: Service, project_id: int, run_id: int) -> dict[str, object]:
    with service.client(service.operator_token) as client:
        for _ in range(600):
            run = client.get(f"/projects/{project_id}/runs/{run_id}").json()
            if run["state"] in ("completed", "failed"):
                return dict(run)
            import time

            time.sleep(0.1)
    raise AssertionError("the run did not finish")


@dataclass
class World:
    """A project linked once, then changed and updated."""

    service: Service
    project_id: int
    tokens: dict[str, str]
    folder: Path
    people: People
    police: list[str]
    health: list[str]
    first: dict[str, dict[str, str]]  # party -> pseudonym -> match ID
    full_run: int

    def results(self, party: str) -> dict[str, str]:
        with self.service.client(self.tokens[party]) as client:
            answer = client.get(f"/projects/{self.project_id}/results")
        assert answer.status_code == 200, answer.text
        return {row["pseudonym"]: row["match_id"] for row in rows(answer.text)}

    def put_changes(self, party: str, body: bytes) -> httpx.Response:
        with self.service.client(self.tokens[party]) as client:
            return client.put(
                f"/projects/{self.project_id}/changes",
                content=body,
                headers={"Content-Type": "application/octet-stream"},
            )

    def withdraw(self, party: str, pseudonyms: list[str]) -> httpx.Response:
        with self.service.client(self.tokens[party]) as client:
            return client.post(
                f"/projects/{self.project_id}/withdrawals",
                json={"pseudonyms": pseudonyms},
            )

    def start(self, kind: str) -> httpx.Response:
        with self.service.client(self.service.operator_token) as client:
            return client.post(f"/projects/{self.project_id}/runs", json={"kind": kind})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One service per database for the module; each test links its own
    project, so the tests hold in any order and on any worker."""
    root = tmp_path_factory.mktemp("changes-service")
    database_url = database_for(request)
    with running_service(root, database_url=database_url) as running:
        yield Service(
            running.url,
            running.data_dir,
            running.operator_token,
            database_url or f"sqlite:///{running.data_dir / 'linkage.db'}",
        )


@pytest.fixture()
def world(service: Service, tmp_path: Path) -> World:
    """Police hold people 0-119, health 60-159; one full run; the police
    download their results."""
    people = People(300)
    project_id, tokens = create_project(
        service, fingerprint=FINGERPRINT, retain_encodings=True, threshold=0.7
    )
    police_p, health_p = people.pseudonyms(120), people.pseudonyms(100)
    for party, pseudonyms, who in (
        ("police", police_p, range(0, 120)),
        ("health", health_p, range(60, 160)),
    ):
        body = write(tmp_path, pseudonyms, people.copies(who))
        with service.client(tokens[party]) as client:
            answer = client.put(
                f"/projects/{project_id}/parties/{party}/encodings",
                content=body,
                headers={"Content-Type": "application/octet-stream"},
            )
        assert answer.status_code == 200, answer.text
    with service.client(service.operator_token) as client:
        run_id = client.post(f"/projects/{project_id}/runs").json()["run_id"]
    assert wait(service, project_id, run_id)["state"] == "completed"
    world = World(
        service, project_id, tokens, tmp_path, people,
        hexes(police_p), hexes(health_p), {}, run_id,
    )  # fmt: skip
    world.first = {"police": world.results("police"), "health": {}}
    return world


def test_a_full_run_keeps_its_standing_linkage(world: World) -> None:
    """The run folder holds the standing linkage and the rule."""
    folder = world.service.data_dir / "results" / str(world.project_id)
    run = folder / str(world.full_run)
    assert (run / "standing" / "state.json").is_file()
    document = json.loads((run / "parameters.json").read_text())
    assert LinkageParameters.from_document(document).threshold == pytest.approx(0.7)
    assert len(set(world.first["police"].values())) == 60


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("fingerprint", "schema fingerprint"),
        ("twice", "twice"),
        ("empty", "no records"),
        ("garbage", ""),
    ],
)
def test_bad_change_sets_are_refused_with_422(
    world: World, what: str, expected: str
) -> None:
    """A change set that does not fit the agency's records changes nothing."""
    people = world.people
    if what == "garbage":
        body = b"not an encodings file"
    elif what == "empty":
        body = write(world.folder, people.pseudonyms(0), people.copies([]))
    else:
        pseudonyms = people.pseudonyms(2)
        if what == "twice":
            pseudonyms[1] = pseudonyms[0]
        fingerprint = "c" * 64 if what == "fingerprint" else FINGERPRINT
        body = write(world.folder, pseudonyms, people.copies([200, 201]), fingerprint)
    detail = assert_problem(world.put_changes("police", body), 422)
    assert expected in detail
    with world.service.client(world.tokens["police"]) as client:
        staged = client.get(f"/projects/{world.project_id}/changes").json()
    assert staged["records"] == 0 and staged["withdrawn"] == 0


def test_bad_withdrawals_are_refused(world: World) -> None:
    """Unknown and malformed pseudonyms are 422; the operator may not send."""
    detail = assert_problem(world.withdraw("police", ["ab" * 16]), 422)
    assert "no record for" in detail and "'police'" in detail
    assert_problem(world.withdraw("police", ["not-a-pseudonym"]), 422)
    # Another agency's pseudonym is not the police's to withdraw.
    assert_problem(world.withdraw("police", [world.health[0]]), 422)
    with world.service.client(world.service.operator_token) as client:
        answer = client.post(
            f"/projects/{world.project_id}/withdrawals",
            json={"pseudonyms": [world.police[0]]},
        )
    assert_problem(answer, 403)


def test_an_update_needs_staged_changes(world: World) -> None:
    """Without a change set, an update run is refused with 409."""
    detail = assert_problem(world.start("update"), 409)
    assert "nothing to link in" in detail


def test_update_run_end_to_end(world: World) -> None:
    """Additions, corrections and withdrawals linked in: stable IDs, the same
    groups as a full run on the final records, changes files, audit."""
    people = world.people
    # Police: add people 160-164 (health holds none of them) and 120-124
    # (health holds them), correct record 62 (person 62, matched) into
    # person 250 (a new person), withdraw records 60 and 61 (matched).
    added_p = people.pseudonyms(10)
    added = hexes(added_p)
    records_p = np.concatenate([added_p, np.frombuffer(
        bytes.fromhex(world.police[62]), dtype=np.uint8
    ).reshape(1, 16)])  # fmt: skip
    who = [*range(160, 165), *range(120, 125), 250]
    body = write(world.folder, records_p, people.copies(who))
    staged = world.put_changes("police", body)
    assert staged.status_code == 200, staged.text
    assert staged.json() | {"updated_at": None} == {
        "project_id": world.project_id, "party": "police", "records": 11,
        "corrections": 1, "additions": 10, "withdrawn": 0, "updated_at": None,
    }  # fmt: skip
    withdrawn = world.police[60:62]
    answer = world.withdraw("police", withdrawn)
    assert answer.status_code == 200, answer.text
    assert answer.json()["withdrawn"] == 2
    # Withdrawing a record the change set corrects is refused.
    detail = assert_problem(world.withdraw("police", [world.police[62]]), 422)
    assert "both withdraws and sends" in detail

    started = world.start("update")
    assert started.status_code == 202, started.text
    assert started.json()["kind"] == "update"
    run = wait(world.service, world.project_id, started.json()["run_id"])
    assert run["state"] == "completed", run["message"]
    stats = run["stats"]
    assert isinstance(stats, dict)
    assert stats["records_added"] == 10
    assert stats["records_corrected"] == 1
    assert stats["records_withdrawn"] == 2
    assert stats["groups_created"] == 5
    assert stats["groups_dissolved"] == 3  # Persons 60, 61 and 62's groups.

    # What changed since the police's last download.
    with world.service.client(world.tokens["police"]) as client:
        changes = client.get(f"/projects/{world.project_id}/results/changes")
    assert changes.status_code == 200, changes.text
    assert changes.headers["x-linkage-since-run-id"] == str(world.full_run)
    kinds = {row["pseudonym"]: row["kind"] for row in rows(changes.text)}
    assert kinds == {
        **dict.fromkeys(withdrawn, "withdrawn"),
        world.police[62]: "left",
        **dict.fromkeys(added[5:], "added"),
    }
    before, after = world.first["police"], world.results("police")
    # Withdrawn records are gone; unchanged records keep their match IDs.
    assert not set(withdrawn) & set(after)
    untouched = set(before) - {*withdrawn, world.police[62]}
    assert all(after[p] == before[p] for p in untouched)
    assert len(untouched) == 57
    assert set(added[5:]) <= set(after) and not set(added[:5]) & set(after)
    assert world.police[62] not in after

    # Downloaded now: nothing changed since.
    with world.service.client(world.tokens["police"]) as client:
        again = client.get(f"/projects/{world.project_id}/results/changes")
    assert rows(again.text) == []

    # The agencies' current uploads hold the final records, and a full run
    # with the same rule on them finds the same groups.
    store = Store.open(world.service.database_url)
    try:
        current = store.uploads_for(project_id=world.project_id)
        names = {p.id: p.name for p in store.parties_of(project_id=world.project_id)}
    finally:
        store.close()
    parties = PartySet(
        tuple(
            Party(names[u.party_id], read_encodings(world.service.data_dir / u.path))
            for u in sorted(current, key=lambda u: u.party_id)
        )
    )
    assert len(parties.parties[0]) == 120 - 2 + 10
    folder = world.service.data_dir / "results" / str(world.project_id)
    document = json.loads((folder / str(run["run_id"]) / "parameters.json").read_text())
    full = Matcher(
        parties,
        MatchSettings(blocking="none"),
        fixed=LinkageParameters.from_document(document),
    ).run()
    health_after = world.results("health")
    assert _groups(full.for_party("police"), full.for_party("health")) == _groups_of(
        after, health_after
    )


def _investigator(world: World) -> str:
    """A new investigator's token."""
    key = (
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    with world.service.client(world.service.operator_token) as client:
        member = client.post(
            f"/projects/{world.project_id}/members",
            json={"name": "ivy", "role": "investigator", "public_key": key},
        )
    assert member.status_code == 201, member.text
    return str(member.json()["token"])


def _ask(world: World, investigator: str, match_id: str) -> httpx.Response:
    with world.service.client(investigator) as client:
        return client.post(
            f"/projects/{world.project_id}/reveals",
            json={
                "match_id": match_id,
                "parties": ["police"],
                "purpose": "test",
                "legal_basis": "test",
            },
        )


def test_withdrawn_records_are_not_revealed(world: World) -> None:
    """A request for a match whose records in the named agency were all
    withdrawn is refused; so is an open grant naming a withdrawn record."""
    investigator = _investigator(world)
    health = world.results("health")
    police = world.results("police")
    shared = next(m for p, m in police.items() if m in set(health.values()))
    police_in_shared = [p for p, m in police.items() if m == shared]

    def ask(match_id: str) -> httpx.Response:
        return _ask(world, investigator, match_id)

    pending = ask(shared)
    assert pending.status_code == 201, pending.text
    assert world.withdraw("police", police_in_shared).status_code == 200
    with world.service.client(world.service.operator_token) as client:
        request = client.get(
            f"/projects/{world.project_id}/reveals/{pending.json()['request_id']}"
        ).json()
    assert [t["state"] for t in request["targets"]] == ["refused"]
    detail = assert_problem(ask(shared), 409)
    assert "withdrawn" in detail
    # After the update run too, the dissolved match stays refused.
    started = world.start("update")
    run = wait(world.service, world.project_id, started.json()["run_id"])
    assert run["state"] == "completed", run["message"]
    assert_problem(ask(shared), 409)


def _groups(*frames: object) -> set[frozenset[str]]:
    grouped: dict[str, set[str]] = {}
    for frame in frames:
        for pseudonym, match_id in zip(
            frame["pseudonym"],
            frame["match_id"],
            strict=True,  # type: ignore[index]
        ):
            grouped.setdefault(match_id, set()).add(pseudonym)
    return {frozenset(group) for group in grouped.values()}


def _groups_of(*results: dict[str, str]) -> set[frozenset[str]]:
    grouped: dict[str, set[str]] = {}
    for result in results:
        for pseudonym, match_id in result.items():
            grouped.setdefault(match_id, set()).add(pseudonym)
    return {frozenset(group) for group in grouped.values()}


def test_the_command_line_sends_changes_and_downloads_what_changed(
    world: World, tmp_path: Path
) -> None:
    """`linkage changes send/withdraw/status/download` with a party token
    file and `linkage run start --update` with the operator's."""
    run_cli = RunCli()
    server = ["--server", world.service.url, "--project", str(world.project_id)]
    health_token = tmp_path / "health.token"
    health_token.write_text(world.tokens["health"])
    operator_token = tmp_path / "operator.token"
    operator_token.write_text(world.service.operator_token)
    health = ["--token-file", health_token, *server]

    bad = tmp_path / "bad.txt"
    bad.write_text(f"{world.health[5]}\nnot-a-pseudonym\n")
    refused = run_cli("changes", "withdraw", bad, *health)
    assert refused.exit_code != 0 and "line 2 of" in refused.output

    nothing = run_cli(
        "run", "start", "--update", "--token-file", operator_token, *server
    )
    assert nothing.exit_code != 0 and "nothing to link in" in nothing.output

    # Health adds people 170-172 (police hold none of them) and 30 (police
    # hold them), and withdraws its record of person 65.
    added_p = world.people.pseudonyms(4)
    records = tmp_path / "health-changes.lnk"
    records.write_bytes(
        write(tmp_path, added_p, world.people.copies([170, 171, 172, 30]))
    )
    sent = run_cli("changes", "send", records, *health)
    assert sent.exit_code == 0, sent.output
    assert "4 new and 0 corrected records" in sent.output
    listed = tmp_path / "withdraw.txt"
    listed.write_text(f"pseudonym\n{world.health[5]}\n")
    assert run_cli("changes", "withdraw", listed, *health).exit_code == 0
    status = run_cli("changes", "status", *health)
    assert "1 withdrawals" in status.output

    started = run_cli(
        "run", "start", "--update", "--token-file", operator_token, *server
    )
    assert started.exit_code == 0, started.output
    run = wait(world.service, world.project_id, int(started.stdout.strip()))
    assert run["state"] == "completed", run["message"]

    out = tmp_path / "changes.csv"
    downloaded = run_cli("changes", "download", "--out", out, *health)
    assert downloaded.exit_code == 0, downloaded.output
    kinds = {row["pseudonym"]: row["kind"] for row in rows(out.read_text())}
    assert kinds[world.health[5]] == "withdrawn"
    assert kinds[hexes(added_p)[3]] == "added"
    assert not {*hexes(added_p)[:3]} & set(kinds)


def test_deleting_the_encodings_deletes_the_standing_linkages(world: World) -> None:
    """The operator deletes the encodings; no run folder keeps a
    standing linkage or an agency's records, no staged file is left, and
    change sets are refused."""
    body = write(world.folder, world.people.pseudonyms(1), world.people.copies([280]))
    assert world.put_changes("police", body).status_code == 200
    with world.service.client(world.service.operator_token) as client:
        deleted = client.delete(f"/projects/{world.project_id}/encodings")
    assert deleted.status_code == 200, deleted.text
    data = world.service.data_dir
    runs = data / "results" / str(world.project_id)
    assert list(runs.glob("*/standing*")) == []
    assert list(runs.glob("*/encodings/*")) == []
    assert list((data / "uploads" / str(world.project_id)).iterdir()) == []
    assert (runs / str(world.full_run) / "parameters.json").is_file()
    assert_problem(world.put_changes("police", body), 409)
    assert_problem(world.withdraw("police", [world.police[3]]), 409)


def test_after_an_update_only_its_state_holds_encodings(world: World) -> None:
    """A withdrawn record's encoding is in no file of the data folder after
    the update run (not in the old upload, the old standing linkage or the
    change set), and only the latest run keeps a standing linkage."""
    people = world.people
    added = write(world.folder, people.pseudonyms(2), people.copies([200, 201]))
    assert world.put_changes("police", added).status_code == 200
    withdrawn = world.police[:3]
    assert world.withdraw("police", withdrawn).status_code == 200
    started = world.start("update")
    run = wait(world.service, world.project_id, started.json()["run_id"])
    assert run["state"] == "completed", run["message"]
    data = world.service.data_dir
    project = str(world.project_id)
    runs = data / "results" / project
    # The worker deletes the replaced files right after the commit that
    # completes the run, so a reader may come between the two: wait for it.
    deadline = time.monotonic() + 10
    while True:
        held = _pseudonyms_held(data / "uploads" / project, runs)
        standing = [p.parent.name for p in runs.glob("*/standing")]
        gone = held is not None and not set(withdrawn) & held
        if (gone and standing == [str(run["run_id"])]) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert held is not None
    assert not set(withdrawn) & held
    assert set(world.police[3:]) <= held  # The current uploads are there.
    assert standing == [str(run["run_id"])]


def test_a_crash_between_the_commit_and_the_deletions_is_finished_at_start(
    world: World,
) -> None:
    """A note of removals a killed service left: the next start deletes the
    files it names where its run completed, never where the database does
    not know the run, and the notes go either way."""
    assert world.withdraw("police", world.police[:1]).status_code == 200
    run = wait(world.service, world.project_id, world.start("update").json()["run_id"])
    assert run["state"] == "completed", run["message"]
    data = world.service.data_dir
    project = str(world.project_id)
    uploads = data / "uploads" / project
    current = next(path for path in sorted(uploads.rglob("*")) if path.is_file())
    left, kept = uploads / "left-by-a-crash.lnk", uploads / "not-retired.lnk"
    for copy in (left, kept):
        shutil.copyfile(current, copy)
    completed = data / "results" / project / str(run["run_id"])
    unknown = data / "results" / project / "987654"
    unknown.mkdir()
    note_removals(completed, [str(left.relative_to(data))])
    note_removals(unknown, [str(kept.relative_to(data))])
    settings = Settings(data_dir=data, database_url=world.service.database_url)
    store = Store.open(settings.database)
    try:
        removed = sweep_deleted_encodings(store, settings)
    finally:
        store.close()
    assert removed >= 1
    assert not left.exists()
    assert kept.exists()
    assert not (completed / REMOVALS).exists()
    assert not (unknown / REMOVALS).exists()
    kept.unlink()
    unknown.rmdir()


def _pseudonyms_held(uploads: Path, runs: Path) -> set[str] | None:
    """Every pseudonym in the project's upload and run files; None if a file
    went while it was read (its removal under way)."""
    held: set[str] = set()
    files = [*uploads.rglob("*"), *runs.rglob("*.lnk")]
    for path in files:
        try:
            if path.is_file():
                held |= set(read_encodings(path).pseudonym_strings())
        except (OSError, EncodingFileError):
            if path.exists():
                raise
            return None
    return held


def test_an_absorbed_match_id_names_the_one_it_was_merged_into(
    world: World,
) -> None:
    """The update run records its merges; a reveal request for an absorbed
    ID is refused with the surviving ID, which the records are under."""
    assert world.withdraw("police", world.police[:1]).status_code == 200
    run = wait(world.service, world.project_id, world.start("update").json()["run_id"])
    assert run["state"] == "completed", run["message"]
    folder = world.service.data_dir / "results" / str(world.project_id)
    merges = folder / str(run["run_id"]) / "merged.json"
    assert json.loads(merges.read_text()) == {}  # No merge in this update.
    # As if an earlier update had merged two groups into a live one, twice.
    survivor = next(iter(world.results("police").values()))
    merges.write_text(json.dumps({"a" * 32: "b" * 32, "b" * 32: survivor}))
    investigator = _investigator(world)
    detail = assert_problem(_ask(world, investigator, "a" * 32), 409)
    assert f"merged into match {survivor}" in detail
    assert _ask(world, investigator, survivor).status_code == 201
