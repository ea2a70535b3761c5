"""Two `linkage serve` processes on one PostgreSQL database and one data
folder (as behind a load balancer): each takes queued runs, and no run is
done twice."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from linkage.service.loopback import running_service
from linkage.storage import Store
from linkage.storage.audit_log import read_audit_log
from tests import http_calls
from tests.postgres import PostgresServer
from tests.service.test_recovery import FINGERPRINT, encodings

PROJECTS = 6


def test_two_services_share_the_run_queue(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    database_url = postgres.new_database()
    data_dir = tmp_path / "data"
    rng = np.random.default_rng(5)
    files = {}
    for party in ("police", "health"):
        files[party] = tmp_path / f"{party}.lnk"
        encodings(files[party], rng.random((300, 1024)) < 0.2, seed=len(files))
    with (
        running_service(data_dir, database_url=database_url) as first,
        running_service(data_dir, database_url=database_url) as second,
    ):
        services = [first, second]
        operator = {"Authorization": f"Bearer {first.operator_token}"}
        runs = []
        for number in range(PROJECTS):
            service = services[number % 2]
            body = {
                "name": f"shared-{number}",
                "schema_fingerprint": FINGERPRINT,
                "parties": ["police", "health"],
            }
            created = http_calls.post(
                f"{service.url}/projects", headers=operator, json=body
            )
            assert created.status_code == 201, created.text
            project_id, tokens = created.json()["id"], created.json()["party_tokens"]
            for party, path in files.items():
                answer = http_calls.put(
                    f"{service.url}/projects/{project_id}/parties/{party}/encodings",
                    headers={"Authorization": f"Bearer {tokens[party]}"},
                    content=path.read_bytes(),
                )
                assert answer.status_code == 200, answer.text
            started = http_calls.post(
                f"{services[(number + 1) % 2].url}/projects/{project_id}/runs",
                headers=operator,
            )
            assert started.status_code == 202, started.text
            runs.append((project_id, started.json()["run_id"]))
        for project_id, run_id in runs:
            _wait(first.url, operator, project_id, run_id)
    store = Store.open(database_url)
    try:
        entries, _ = read_audit_log(store)
    finally:
        store.close()
    completed = sorted(
        (entry.project_id, entry.details["run_id"])
        for entry in entries
        if entry.action == "run.completed"
    )
    assert completed == sorted(runs)  # Each run once, none twice.


def _wait(url: str, headers: dict[str, str], project_id: int, run_id: int) -> None:
    deadline = time.monotonic() + 300
    while True:
        run = http_calls.get(
            f"{url}/projects/{project_id}/runs/{run_id}", headers=headers
        )
        state = run.json()["state"]
        if state in ("completed", "failed"):
            assert state == "completed", run.text
            return
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.2)
