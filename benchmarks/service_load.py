"""A bounded load on the service over loopback: status calls while agencies
upload and a run matches, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/service_load.py [--people 100000] [--pollers 50]

Four demo agencies encode their exports (the shipped schema); for each
database, a fresh service starts on loopback, the agencies upload at once
while ``--pollers`` clients call the operator's project status without pause,
then the operator starts the run and the pollers go on until it completes.
Prints p50 and p99 of the status calls in each phase, the calls made, the
upload and run times. PostgreSQL is a throwaway server on loopback
(``tests/postgres.py``). The machine is shared: compare the two databases
within one run, not across runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linkage.client import ProjectCreated, ServiceClient  # noqa: E402
from linkage.demo.generator import AGENCIES, write_demo_data  # noqa: E402
from linkage.encoding.keyfiles import read_secret, write_key_file  # noqa: E402
from linkage.encoding.mapping_file import load_mapping  # noqa: E402
from linkage.encoding.recipe import encode_csv  # noqa: E402
from linkage.formats.schema import load_schema  # noqa: E402
from linkage.service.loopback import running_service  # noqa: E402
from tests.postgres import postgres_server  # noqa: E402

CONFIGS = ROOT / "configs"


class Pollers:
    """Clients calling the project's status without pause, each timing its
    calls under the phase in force."""

    def __init__(self, url: str, token: str, project_id: int, count: int) -> None:
        self.phase = "idle"
        self.timings: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._poll, args=(url, token, project_id))
            for _ in range(count)
        ]

    def _poll(self, url: str, token: str, project_id: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                answer = client.get(f"/projects/{project_id}")
                elapsed = time.perf_counter() - started
                answer.raise_for_status()
                with self._lock:
                    self.timings.setdefault(self.phase, []).append(elapsed)

    @contextmanager
    def running(self) -> Iterator[Pollers]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join()


def encode(folder: Path, people: int) -> dict[str, Path]:
    exports = write_demo_data(folder / "data", size=people, seed=7)
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    write_key_file(folder / "secret.key")
    secret = read_secret(folder / "secret.key", schema)
    encoded = {}
    for agency in AGENCIES:
        encoded[agency] = folder / f"{agency}.lnk"
        encode_csv(
            exports[agency],
            schema,
            secret,
            encoded[agency],
            mapping=load_mapping(CONFIGS / "mappings" / f"{agency}.yaml"),
            party=agency,
        )
    return encoded


def measure(
    name: str, database_url: str | None, encodings: dict[str, Path], pollers: int
) -> None:
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    with (
        tempfile.TemporaryDirectory() as work,
        running_service(Path(work) / "data", database_url=database_url) as service,
    ):
        with ServiceClient(service.url, service.operator_token) as operator:
            created = operator.create_project(
                "load", schema_fingerprint=schema.fingerprint,
                parties=AGENCIES, dedup=True,
            )  # fmt: skip
        load = Pollers(service.url, service.operator_token, created.id, pollers)
        with load.running():
            load.phase = "uploads"
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=len(AGENCIES)) as pool:
                sent = [
                    pool.submit(_upload, service.url, created, agency, encodings)
                    for agency in AGENCIES
                ]
                for upload in sent:
                    upload.result()  # An upload's error stops the benchmark.
            uploads = time.perf_counter() - started
            load.phase = "run"
            started = time.perf_counter()
            with ServiceClient(service.url, service.operator_token) as operator:
                run = operator.start_run(created.id)
                finished = operator.wait_for_run(
                    created.id, run.run_id, timeout=3600, poll=0.5
                )
            matching = time.perf_counter() - started
    if finished.state != "completed":
        print(f"| {name} | the run {finished.state}: {finished.message} |||||")
    for phase in ("uploads", "run"):
        calls = load.timings.get(phase, [])
        print(
            f"| {name} | {phase} | {len(calls):,} | {_ms(calls, 50)} | "
            f"{_ms(calls, 99)} | {uploads if phase == 'uploads' else matching:.1f} |",
            flush=True,
        )


def _upload(
    url: str, created: ProjectCreated, agency: str, encodings: dict[str, Path]
) -> None:
    with ServiceClient(url, created.party_tokens[agency], timeout=600) as client:
        client.upload(created.id, agency, encodings[agency])


def _ms(calls: list[float], percentile: int) -> str:
    if len(calls) < 2:
        return "-"
    return f"{statistics.quantiles(calls, n=100)[percentile - 1] * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--pollers", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        encodings = encode(Path(folder), args.people)
        sizes = {a: p.stat().st_size for a, p in encodings.items()}
        print(
            f"{args.people:,} people encoded in {time.perf_counter() - started:.0f} s "
            f"({sum(sizes.values()) / 1e6:.0f} MB of encodings); "
            f"{args.pollers} pollers\n"
        )
        print("| database | phase | status calls | p50 ms | p99 ms | phase s |")
        print("|---|---|---:|---:|---:|---:|")
        measure("SQLite", None, encodings, args.pollers)
        with postgres_server() as server:
            measure("PostgreSQL", server.new_database(), encodings, args.pollers)


if __name__ == "__main__":
    main()
