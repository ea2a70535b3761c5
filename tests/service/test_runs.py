"""Runs and results over real HTTP: uvicorn on loopback, a SQLite file, FEBRL4.

Each agency uploads encodings of a few hundred FEBRL4 records; the operator
starts a run; each agency downloads its own rows only.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

import linkage.service.runs as service_runs
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import load_schema
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.service.loopback import running_service
from tests import http_calls
from tests.conftest import FEBRL4_SCHEMA, database_for, service_threads
from tests.service.helpers import create_project

SECRET = b"a secret shared by the test agencies"
VAULT_KEY = bytes(32)
WAIT_SECONDS = 60


@dataclass(frozen=True)
class Service:
    url: str
    data_dir: Path
    operator_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http_calls.client(base_url=self.url, headers=headers, timeout=10)


@dataclass(frozen=True)
class Agency:
    """One agency's encodings file and its pseudonym -> FEBRL entity truth."""

    data: bytes
    entity: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One server for the module, on SQLite and then on PostgreSQL, stopped
    at its end."""
    data_dir = tmp_path_factory.mktemp("runs") / "data"
    database_url = database_for(request)
    others = service_threads()
    with running_service(data_dir, database_url=database_url) as running:
        yield Service(running.url, data_dir, running.operator_token)
    # Only this module's server: with tests spread over workers, another
    # module's may still serve its own tests in this process.
    assert not service_threads() - others, "the server did not stop"


@pytest.fixture(scope="module")
def agencies(
    tmp_path_factory: pytest.TempPathFactory,
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> dict[str, Agency]:
    """300 FEBRL4 people as seen by 'police' (A) and 'health' (B, 200 of them
    plus 100 others). The files' own party names differ from the project's."""
    folder = tmp_path_factory.mktemp("agencies")
    schema = load_schema(FEBRL4_SCHEMA)
    first = febrl4_frames[0].head(300)
    entity_of = first["rec_id"].str.split("-").str[1]
    second_all = febrl4_frames[1]
    second_entity = second_all["rec_id"].str.split("-").str[1]
    shared = second_all[second_entity.isin(set(entity_of.head(200)))]
    others = second_all[~second_entity.isin(set(entity_of))].head(100)
    second = pd.concat([shared, others])
    made = {}
    for party, frame in (("police", first), ("health", second)):
        export = folder / f"{party}.csv"
        frame.to_csv(export, index=False)
        out, vault = folder / f"{party}.lnk", folder / f"{party}.vault"
        encode_csv(
            export, schema, SECRET, out, vault=VaultTarget(vault, VAULT_KEY),
            id_column="rec_id", party=f"file-name-{party}",
        )  # fmt: skip
        entity = {
            entry.pseudonym: entry.record_id.split("-")[1]
            for entry in Vault.open(vault, VAULT_KEY)
        }
        made[party] = Agency(out.read_bytes(), entity)
    return made


@pytest.fixture(scope="module")
def fingerprint(
    agencies: dict[str, Agency], tmp_path_factory: pytest.TempPathFactory
) -> str:
    path = tmp_path_factory.mktemp("fp") / "x.lnk"
    path.write_bytes(agencies["police"].data)
    header = read_encodings(path).header
    assert header is not None
    return header.schema_fingerprint


def upload(
    service: Service, tokens: dict[str, str], project_id: int, party: str, data: bytes
) -> None:
    with service.client(tokens[party]) as client:
        response = client.put(
            f"/projects/{project_id}/parties/{party}/encodings",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 200, response.text


def ready_project(
    service: Service, fingerprint: str, agencies: dict[str, Agency], **extra: object
) -> tuple[int, dict[str, str]]:
    """A project whose two parties have uploaded."""
    project_id, tokens = create_project(service, fingerprint, **extra)
    for party in ("police", "health"):
        upload(service, tokens, project_id, party, agencies[party].data)
    return project_id, tokens


def start_run(service: Service, project_id: int) -> int:
    with service.client(service.operator_token) as client:
        response = client.post(f"/projects/{project_id}/runs")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {
        "run_id": body["run_id"],
        "project_id": project_id,
        "state": "queued",
        "kind": "full",
    }
    return int(body["run_id"])


def wait_for(
    service: Service,
    project_id: int,
    run_id: int,
    done: Callable[[dict[str, Any]], bool] = lambda run: (
        run["state"] in ("completed", "failed")
    ),
) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    with service.client(service.operator_token) as client:
        while True:
            response = client.get(f"/projects/{project_id}/runs/{run_id}")
            assert response.status_code == 200, response.text
            run: dict[str, Any] = response.json()
            if done(run):
                return run
            assert time.monotonic() < deadline, f"run did not finish: {run}"
            time.sleep(0.05)


def assert_problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["detail"]
    return str(body["detail"])


def read_results(service: Service, token: str, project_id: int) -> pd.DataFrame:
    with service.client(token) as client:
        response = client.get(f"/projects/{project_id}/results")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return pd.read_csv(
        io.StringIO(response.text), dtype={"pseudonym": str, "match_id": str}
    )


def test_run_is_refused_until_every_party_has_uploaded(
    service: Service, fingerprint: str, agencies: dict[str, Agency]
) -> None:
    """409 naming the party that has not uploaded; nothing is queued."""
    project_id, tokens = create_project(service, fingerprint)
    upload(service, tokens, project_id, "police", agencies["police"].data)
    with service.client(service.operator_token) as client:
        detail = assert_problem(client.post(f"/projects/{project_id}/runs"), 409)
        assert "health" in detail and "police" not in detail
        assert client.get(f"/projects/{project_id}/runs").json() == []


def test_only_the_operator_starts_runs(
    service: Service, fingerprint: str, agencies: dict[str, Agency]
) -> None:
    """A party token gets 403; another project's party token 404."""
    project_id, tokens = ready_project(service, fingerprint, agencies)
    _, other_tokens = create_project(service, fingerprint)
    with service.client(tokens["police"]) as client:
        assert_problem(client.post(f"/projects/{project_id}/runs"), 403)
        assert_problem(client.get(f"/projects/{project_id}/runs"), 403)
    with service.client(other_tokens["police"]) as client:
        assert_problem(client.post(f"/projects/{project_id}/runs"), 404)


def test_run_completes_and_each_party_gets_only_its_own_rows(
    service: Service, fingerprint: str, agencies: dict[str, Agency]
) -> None:
    """Both parties' rows share match IDs; neither sees the other's pseudonyms;
    the operator sees aggregate figures only."""
    project_id, tokens = ready_project(service, fingerprint, agencies)
    _, other_tokens = create_project(service, fingerprint)
    run_id = start_run(service, project_id)
    run = wait_for(service, project_id, run_id)
    assert run["state"] == "completed", run
    assert run["progress"] == 1.0
    assert run["started_at"] and run["finished_at"]
    stats = run["stats"]
    assert stats["records_per_party"] == {"police": 300, "health": 300}
    assert stats["threshold_method"]
    assert stats["threshold_explanation"]
    assert sum(stats["histogram_counts"]) > 0
    assert stats["candidate_pairs"] >= stats["groups"] > 150

    results = {
        party: read_results(service, tokens[party], project_id)
        for party in ("police", "health")
    }
    for party, rows in results.items():
        assert list(rows.columns) == ["pseudonym", "match_id", "score"]
        assert set(rows["pseudonym"]) <= set(agencies[party].entity)
        other = "health" if party == "police" else "police"
        assert not set(rows["pseudonym"]) & set(agencies[other].entity)
    police, health = results["police"], results["health"]
    assert set(police["match_id"]) == set(health["match_id"])
    pairs = police.merge(health, on="match_id", suffixes=("_p", "_h"))
    same = [
        agencies["police"].entity[p] == agencies["health"].entity[h]
        for p, h in zip(pairs["pseudonym_p"], pairs["pseudonym_h"], strict=True)
    ]
    assert len(pairs) > 180 and sum(same) / len(same) > 0.97

    every_pseudonym = set(agencies["police"].entity) | set(agencies["health"].entity)
    with service.client(service.operator_token) as client:
        assert_problem(client.get(f"/projects/{project_id}/results"), 403)
        listed = client.get(f"/projects/{project_id}/runs")
        assert [r["run_id"] for r in listed.json()] == [run_id]
        assert not any(p in listed.text for p in every_pseudonym)
    with service.client(tokens["health"]) as client:
        seen = client.get(f"/projects/{project_id}/runs/{run_id}")
        assert seen.status_code == 200
        assert not any(p in seen.text for p in every_pseudonym)
        assert seen.json()["stats"]["records_per_party"] == {"health": 300}
        assert seen.json()["stats"]["groups"] == stats["groups"]
    with service.client(other_tokens["police"]) as client:
        assert_problem(client.get(f"/projects/{project_id}/results"), 404)
        assert_problem(client.get(f"/projects/{project_id}/runs/{run_id}"), 404)


def test_results_before_a_completed_run_are_a_409(
    service: Service,
    fingerprint: str,
    agencies: dict[str, Agency],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No run, then a running one: 409 both times; a second start is 409 too."""
    project_id, tokens = ready_project(service, fingerprint, agencies)
    with service.client(tokens["police"]) as client:
        assert "completed" in assert_problem(
            client.get(f"/projects/{project_id}/results"), 409
        )
    release = threading.Event()

    class HeldMatcher(Matcher):
        def run(self) -> Any:
            release.wait(WAIT_SECONDS)
            return super().run()

    monkeypatch.setattr(service_runs, "Matcher", HeldMatcher)
    try:
        run_id = start_run(service, project_id)
        wait_for(service, project_id, run_id, lambda run: run["state"] == "running")
        with service.client(service.operator_token) as client:
            assert "not finished" in assert_problem(
                client.post(f"/projects/{project_id}/runs"), 409
            )
        with service.client(tokens["police"]) as client:
            assert_problem(client.get(f"/projects/{project_id}/results"), 409)
    finally:
        release.set()
    assert wait_for(service, project_id, run_id)["state"] == "completed"
    assert len(read_results(service, tokens["police"], project_id)) > 150


def test_one_party_linked_fails_with_a_reason(
    service: Service, fingerprint: str, agencies: dict[str, Agency]
) -> None:
    """A run the matcher cannot do ends failed with what to change."""
    project_id, tokens = create_project(service, fingerprint, parties=("police",))
    upload(service, tokens, project_id, "police", agencies["police"].data)
    run = wait_for(service, project_id, start_run(service, project_id))
    assert run["state"] == "failed"
    assert "link-dedup" in run["message"]
    assert run["stats"] == {}
    with service.client(tokens["police"]) as client:
        assert_problem(client.get(f"/projects/{project_id}/results"), 409)


def test_too_many_candidates_fails_with_a_reason(
    service: Service,
    fingerprint: str,
    agencies: dict[str, Agency],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The matcher's own refusal reaches the operator, without file paths."""

    def small(**kwargs: Any) -> MatchSettings:
        return MatchSettings(**kwargs, max_candidates=10)

    monkeypatch.setattr(service_runs, "MatchSettings", small)
    project_id, _ = ready_project(
        service, fingerprint, agencies, threshold=0.3, mode="link-dedup"
    )
    run = wait_for(service, project_id, start_run(service, project_id))
    assert run["state"] == "failed"
    assert "threshold" in run["message"] and "10" in run["message"]
    assert str(service.data_dir) not in run["message"]
    results_dir = service.data_dir / "results" / str(project_id)
    assert not any(path.is_file() for path in results_dir.rglob("*"))


def test_unexpected_error_fails_without_a_traceback(
    service: Service,
    fingerprint: str,
    agencies: dict[str, Agency],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An internal error is logged; the message points the operator there."""

    class BrokenMatcher(Matcher):
        def run(self) -> Any:
            raise RuntimeError("internal detail that must stay in the log")

    monkeypatch.setattr(service_runs, "Matcher", BrokenMatcher)
    project_id, _ = ready_project(service, fingerprint, agencies)
    run = wait_for(service, project_id, start_run(service, project_id))
    assert run["state"] == "failed"
    assert "log" in run["message"]
    assert "internal detail" not in run["message"]
    assert "Traceback" not in run["message"]
    # A new run can be started once the last has failed.
    monkeypatch.undo()
    assert wait_for(service, project_id, start_run(service, project_id))["state"] == (
        "completed"
    )


def test_reupload_waits_for_a_run_and_then_starts_a_new_version(
    service: Service,
    fingerprint: str,
    agencies: dict[str, Agency],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """During a run a re-upload is a 409 saying to wait; after it, the new
    version supersedes the old one, whose row and file the run keeps."""
    project_id, tokens = ready_project(service, fingerprint, agencies)
    release = threading.Event()

    class HeldMatcher(Matcher):
        def run(self) -> Any:
            release.wait(WAIT_SECONDS)
            return super().run()

    monkeypatch.setattr(service_runs, "Matcher", HeldMatcher)
    path = f"/projects/{project_id}/parties/police/encodings"
    octets = {"Content-Type": "application/octet-stream"}
    data = agencies["police"].data
    try:
        run_id = start_run(service, project_id)
        wait_for(service, project_id, run_id, lambda run: run["state"] == "running")
        with service.client(tokens["police"]) as client:
            refused = client.put(path, content=data, headers=octets)
        assert "wait" in assert_problem(refused, 409)
    finally:
        release.set()
    assert wait_for(service, project_id, run_id)["state"] == "completed"
    uploads_dir = service.data_dir / "uploads" / str(project_id)
    before = sorted(p.name for p in uploads_dir.iterdir())
    assert len(before) == 2
    with service.client(tokens["police"]) as client:
        again = client.put(path, content=data, headers=octets)
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 2
    after = sorted(p.name for p in uploads_dir.iterdir())
    assert set(before) < set(after) and len(after) == 3
    # The completed run's results are still there, and a new run uses v2.
    assert len(read_results(service, tokens["police"], project_id)) > 150
    second = wait_for(service, project_id, start_run(service, project_id))
    assert second["state"] == "completed"


def test_the_operator_reads_prometheus_metrics(
    service: Service, fingerprint: str, agencies: dict[str, Agency]
) -> None:
    """Runs by outcome, requests by route template and status, failed
    authentications and the queue; only the operator reads them, and no
    label names a project, a party or a token."""
    project_id, tokens = ready_project(service, fingerprint, agencies)
    run = wait_for(service, project_id, start_run(service, project_id))
    assert run["state"] == "completed", run
    with service.client() as anonymous:
        assert_problem(anonymous.get("/metrics"), 401)
    with service.client(tokens["police"]) as party:
        assert_problem(party.get("/metrics"), 403)
    with service.client(service.operator_token) as operator:
        answer = operator.get("/metrics")
    assert answer.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    assert samples[("linkage_runs_total", (("outcome", "completed"),))] >= 1
    assert samples[("linkage_run_seconds_count", ())] >= 1
    assert samples[("linkage_runs_queued", ())] == 0
    assert samples[("linkage_failed_authentications_total", ())] >= 1
    route = "/projects/{project_id}/runs"
    assert samples[
        ("linkage_http_requests_total", (("method", "POST"), ("route", route),
                                         ("status", "202")))
    ] >= 1  # fmt: skip
    for token in (*tokens.values(), service.operator_token):
        assert token not in answer.text
    assert [line for line in answer.text.splitlines() if "police" in line] == []
