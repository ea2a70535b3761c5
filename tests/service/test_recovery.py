"""Kill -9 during a run: on restart the run is failed, nothing partial is
readable, the uploads are intact and a new run completes.

The service runs as a real subprocess (uvicorn on loopback, SQLite in a data
folder, or a PostgreSQL database); it is killed with SIGKILL while the
matcher is comparing. So that
the kill lands there however fast the machine, the first service holds its
matcher once comparing has begun (it keeps reporting that it is comparing)
instead of racing a run made long with many records.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn

import linkage.service.runs as service_runs
from linkage.formats.clkfile import EncodingHeader, format_pseudonyms, open_writer
from linkage.matching.matcher import Matcher
from linkage.service import Settings, create_app, initialise
from linkage.service.runs import INTERRUPTED_MESSAGE
from linkage.storage import Store
from tests import http_calls
from tests.conftest import database_for

FINGERPRINT = "c" * 64
RECORDS = 3_000  # Per party.
OVERLAP = 1_500
START_SECONDS = 60
RUN_SECONDS = 120

_SERVER = """
import os
import sys
import time
from pathlib import Path

import uvicorn

import linkage.service.runs as service_runs
from linkage.service import Settings, create_app

if "--hold-when-comparing" in sys.argv:

    class HeldMatcher(service_runs.Matcher):
        # The real matcher, held from its first comparison on.
        def __init__(self, *args, progress, **kwargs):
            def report(label, done, total):
                progress(label, done, total)
                while label.startswith("comparing"):  # Until killed.
                    time.sleep(0.05)
                    progress(label, done, total)

            super().__init__(*args, progress=report, **kwargs)

    service_runs.Matcher = HeldMatcher

database_url = os.environ.get("LINKAGE_DATABASE_URL")
app = create_app(Settings(data_dir=Path(sys.argv[1]), database_url=database_url))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data folder) or a fresh PostgreSQL database."""
    return database_for(request)


@contextmanager
def serve(
    data_dir: Path, log: Path, database_url: str | None, *options: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start the service in a subprocess; kill it at the end if still alive."""
    port = _free_port()
    env = dict(os.environ)
    env.pop("LINKAGE_DATABASE_URL", None)
    if database_url is not None:
        env["LINKAGE_DATABASE_URL"] = database_url
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(data_dir), str(port), *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if http_calls.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def encodings(path: Path, bits: np.ndarray[Any, Any], seed: int) -> list[str]:
    """Write random CLKs with fresh pseudonyms; return the pseudonyms."""
    rng = np.random.default_rng(seed)
    pseudonyms = rng.integers(0, 256, size=(len(bits), 16), dtype=np.uint8)
    header = EncodingHeader(
        schema_fingerprint=FINGERPRINT, bit_length=1024, key_check="0a0b"
    )
    with open_writer(path, "linkage", header) as writer:
        writer.write(pseudonyms, np.packbits(bits, axis=1))
    return format_pseudonyms(pseudonyms)


def get_run(url: str, token: str, project_id: int, run_id: int) -> dict[str, Any]:
    response = http_calls.get(
        f"{url}/projects/{project_id}/runs/{run_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


@pytest.mark.slow
def test_kill_9_during_a_run_fails_it_and_loses_nothing(
    tmp_path: Path, database_url: str | None
) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "service.log"
    operator = initialise(data_dir, database_url=database_url).read_text().strip()
    as_operator = {"Authorization": f"Bearer {operator}"}

    rng = np.random.default_rng(7)
    first = rng.random((RECORDS, 1024)) < 0.2
    second = rng.random((RECORDS, 1024)) < 0.2
    second[:OVERLAP] = first[:OVERLAP] ^ (rng.random((OVERLAP, 1024)) < 0.02)
    files = {"police": tmp_path / "police.lnk", "health": tmp_path / "health.lnk"}
    pseudonyms = {
        "police": encodings(files["police"], first, 1),
        "health": encodings(files["health"], second, 2),
    }

    with serve(data_dir, log, database_url, "--hold-when-comparing") as (
        process,
        url,
    ):
        response = http_calls.post(
            f"{url}/projects",
            headers=as_operator,
            json={
                "name": "killed",
                "schema_fingerprint": FINGERPRINT,
                "parties": ["police", "health"],
            },
            timeout=10,
        )
        assert response.status_code == 201, response.text
        project_id = response.json()["id"]
        tokens: dict[str, str] = response.json()["party_tokens"]
        for party, path in files.items():
            response = http_calls.put(
                f"{url}/projects/{project_id}/parties/{party}/encodings",
                headers={"Authorization": f"Bearer {tokens[party]}"},
                content=path.read_bytes(),
                timeout=60,
            )
            assert response.status_code == 200, response.text
        response = http_calls.post(
            f"{url}/projects/{project_id}/runs", headers=as_operator, timeout=10
        )
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]

        # Wait until the matcher is comparing, checking the API stays responsive.
        deadline = time.monotonic() + RUN_SECONDS
        slowest = 0.0
        while True:
            asked = time.monotonic()
            run = get_run(url, operator, project_id, run_id)
            slowest = max(slowest, time.monotonic() - asked)
            comparing = run["message"].startswith(("comparing", "LSH blocking"))
            if run["state"] == "running" and comparing:
                break
            assert run["state"] in ("queued", "running"), run
            assert time.monotonic() < deadline, f"the run did not start: {run}"
            time.sleep(0.02)
        assert slowest < 5, f"the API took {slowest:.1f} s to answer during a run"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL

    # As if the kill had come while results were being written.
    partial = data_dir / "results" / str(project_id) / str(run_id)
    partial.mkdir(parents=True, exist_ok=True)
    (partial / ".police.csv.half.tmp").write_text("pseudonym,match_id,score\n")
    uploads_before = sorted(p.name for p in (data_dir / "uploads").rglob("*.lnk"))
    assert len(uploads_before) == 2

    with serve(data_dir, log, database_url) as (_process, url):
        run = get_run(url, operator, project_id, run_id)
        assert run["state"] == "failed", run
        assert run["message"] == INTERRUPTED_MESSAGE
        assert run["stats"] == {}
        assert not partial.exists()
        for party in ("police", "health"):
            response = http_calls.get(
                f"{url}/projects/{project_id}/results",
                headers={"Authorization": f"Bearer {tokens[party]}"},
                timeout=10,
            )
            assert response.status_code == 409, response.text
        assert (
            sorted(p.name for p in (data_dir / "uploads").rglob("*.lnk"))
            == uploads_before
        )
        project = http_calls.get(
            f"{url}/projects/{project_id}", headers=as_operator, timeout=10
        ).json()
        assert all(party["uploaded"] for party in project["parties"])

        # The uploads are whole: a new run on them completes.
        response = http_calls.post(
            f"{url}/projects/{project_id}/runs", headers=as_operator, timeout=10
        )
        assert response.status_code == 202, response.text
        second_run = response.json()["run_id"]
        deadline = time.monotonic() + RUN_SECONDS
        while (run := get_run(url, operator, project_id, second_run))["state"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, f"the new run did not finish: {run}"
            time.sleep(0.1)
        assert run["state"] == "completed", run
        assert run["stats"]["records_per_party"] == {
            "police": RECORDS,
            "health": RECORDS,
        }
        listed = http_calls.get(
            f"{url}/projects/{project_id}/runs", headers=as_operator, timeout=10
        ).json()
        assert [r["run_id"] for r in listed] == [second_run, run_id]
        for party in ("police", "health"):
            response = http_calls.get(
                f"{url}/projects/{project_id}/results",
                headers={"Authorization": f"Bearer {tokens[party]}"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-linkage-run-id"] == str(second_run)
            rows = pd.read_csv(io.StringIO(response.text), dtype=str)
            assert set(rows["pseudonym"]) <= set(pseudonyms[party])
            assert len(rows) > 0.95 * OVERLAP


def test_clean_shutdown_puts_the_run_back_in_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None
) -> None:
    """A run in progress when the service stops is queued again, with no files
    left, and the next start of the service completes it."""
    data_dir = tmp_path / "data"
    operator = initialise(data_dir, database_url=database_url).read_text().strip()
    rng = np.random.default_rng(3)
    first = rng.random((500, 1024)) < 0.2
    second = rng.random((500, 1024)) < 0.2
    second[:250] = first[:250] ^ (rng.random((250, 1024)) < 0.02)
    files = {"police": tmp_path / "police.lnk", "health": tmp_path / "health.lnk"}
    encodings(files["police"], first, 1)
    encodings(files["health"], second, 2)
    comparing = threading.Event()

    class EndlessMatcher(Matcher):
        def run(self) -> Any:
            deadline = time.monotonic() + RUN_SECONDS
            while time.monotonic() < deadline:
                assert self._progress is not None
                self._progress("comparing police with health", 1, 10)
                comparing.set()
                time.sleep(0.01)
            raise AssertionError("the worker was not stopped")

    @contextmanager
    def in_process() -> Iterator[str]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        app = create_app(Settings(data_dir=data_dir, database_url=database_url))
        config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
        thread.start()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                try:
                    if http_calls.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.02)
            yield url
        finally:
            server.should_exit = True
            thread.join(timeout=60)
            sock.close()
        assert not thread.is_alive(), "the service did not stop"

    monkeypatch.setattr(service_runs, "Matcher", EndlessMatcher)
    as_operator = {"Authorization": f"Bearer {operator}"}
    with in_process() as url:
        body = {
            "name": "stopped",
            "schema_fingerprint": FINGERPRINT,
            "parties": ["police", "health"],
        }
        created = http_calls.post(
            f"{url}/projects", headers=as_operator, json=body
        ).json()
        project_id, tokens = created["id"], created["party_tokens"]
        for party, path in files.items():
            response = http_calls.put(
                f"{url}/projects/{project_id}/parties/{party}/encodings",
                headers={"Authorization": f"Bearer {tokens[party]}"},
                content=path.read_bytes(),
            )
            assert response.status_code == 200, response.text
        response = http_calls.post(
            f"{url}/projects/{project_id}/runs", headers=as_operator
        )
        run_id = response.json()["run_id"]
        assert comparing.wait(RUN_SECONDS)
    monkeypatch.undo()

    store = Store.open(database_url or f"sqlite:///{data_dir / 'linkage.db'}")
    try:
        stopped = store.get_run(project_id=project_id, run_id=run_id)
    finally:
        store.close()
    assert stopped.state == "queued", stopped
    assert not (data_dir / "results" / str(project_id) / str(run_id)).exists()

    with in_process() as url:
        deadline = time.monotonic() + RUN_SECONDS
        while (run := get_run(url, operator, project_id, run_id))["state"] != (
            "completed"
        ):
            assert run["state"] in ("queued", "running"), run
            assert time.monotonic() < deadline, f"the run did not finish: {run}"
            time.sleep(0.05)
        response = http_calls.get(
            f"{url}/projects/{project_id}/results",
            headers={"Authorization": f"Bearer {tokens['police']}"},
        )
        assert response.status_code == 200, response.text
        assert len(pd.read_csv(io.StringIO(response.text))) > 200
