"""Lookup latency against a million linked records, over loopback.

    .venv/bin/python benchmarks/lookup_latency.py [--records 1000000]
        [--clients 4] [--lookups 2000]

What is measured, and what is not:

* Two agencies' encodings files, ``--records`` in all (1024-bit CLKs, a
  third of the bits set, like the demo's), are written into a fresh data
  folder and recorded in its database, with a completed run whose results
  link 60 % of the first agency's records to noisy copies of them (5 % of
  bits flipped) held by the second. The run is planted, not computed: no
  linkage of a million records is run here (its time is in README's
  scale section). Its threshold is 0.8, with no view shifts.
* Then the real service (``linkage serve``, in its own process, as in
  production) starts on loopback and ``--clients`` threads send
  ``--lookups`` single-record lookups with the first agency's token, as
  fast as answers come back: half are known people (another 5 % of bits
  flipped), half strangers. Every lookup goes through everything a real one
  does: HTTP, the token, the rate limiter (set high enough not to refuse),
  parsing the file, scoring it against every linked record, the answer, and
  its audit entry (a signed SQLite commit).
* The first lookup, which loads the index (reading both files and results,
  sorting a million CLKs), is timed apart and not counted in p50/p99.

Prints the index load time, p50, p99 and max latency, and lookups a second.
The machine is shared: run it when it is idle. (Clients in the same process
as the server, as ``linkage.service.loopback`` runs it for the tests, add
about 40 ms to every request, /health included: the server's event loop and
the client threads share one interpreter; so the service runs apart here.)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from linkage.formats.clkfile import EncodingHeader, open_writer  # noqa: E402
from linkage.service.init import initialise  # noqa: E402
from linkage.storage import RunResult, Store  # noqa: E402

BITS = 1024
DENSITY = 1 / 3
NOISE = 0.05
LINKED_SHARE = 0.6
THRESHOLD = 0.8
HEADER = EncodingHeader(
    schema_fingerprint="b" * 64, bit_length=BITS, key_check="c" * 32
)


def _noisy(rng: np.random.Generator, clks: np.ndarray) -> np.ndarray:
    flips = np.packbits(rng.random((len(clks), BITS), dtype=np.float32) < NOISE, 1)
    return clks ^ flips


def _random(rng: np.random.Generator, count: int) -> np.ndarray:
    chunks = [
        np.packbits(
            rng.random((min(100_000, count - start), BITS), np.float32) < DENSITY, 1
        )
        for start in range(0, count, 100_000)
    ]
    return np.concatenate(chunks)


def _write(path: Path, pseudonyms: np.ndarray, clks: np.ndarray) -> None:
    with open_writer(path, "linkage", HEADER) as writer:
        writer.write(pseudonyms, clks)


def plant(
    data_dir: Path, records: int, rng: np.random.Generator
) -> tuple[int, str, np.ndarray]:
    """The project, its two uploads and a completed run; returns the project
    id, the first agency's token and its CLKs."""
    initialise(data_dir)
    half = records // 2
    linked = int(half * LINKED_SHARE)
    police = _random(rng, half)
    health = np.concatenate([_noisy(rng, police[:linked]), _random(rng, half - linked)])
    store = Store.open(f"sqlite:///{data_dir / 'linkage.db'}")
    try:
        created = store.create_project(
            name="lookup-benchmark", schema_fingerprint=HEADER.schema_fingerprint,
            threshold=THRESHOLD, mode="link", parties=("police", "health"),
            retain_encodings=True,
        )  # fmt: skip
        project_id = created.project.id
        folder = data_dir / "uploads" / str(project_id)
        folder.mkdir(parents=True, mode=0o700)
        match_ids = [secrets.token_hex(16) for _ in range(linked)]
        uploads = {}
        for party, clks in zip(created.parties, (police, health), strict=True):
            pseudonyms = rng.integers(0, 256, (len(clks), 16), dtype=np.uint8)
            path = folder / f"{party.id}.lnk"
            _write(path, pseudonyms, clks)
            uploads[party.id] = (store.record_upload(
                project_id=project_id, party_id=party.id,
                path=str(path.relative_to(data_dir)), record_count=len(clks),
                bit_length=BITS, key_check=HEADER.key_check,
                schema_fingerprint=HEADER.schema_fingerprint,
            ).upload, pseudonyms)  # fmt: skip
        run = store.create_run(project_id=project_id)
        claimed = store.claim_next_run()
        assert claimed is not None and claimed.run.id == run.id
        result_dir = data_dir / "results" / str(project_id) / str(run.id)
        result_dir.mkdir(parents=True)
        results = []
        for party in created.parties:
            upload, pseudonyms = uploads[party.id]
            path = result_dir / f"{party.name}.csv"
            with path.open("w", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(("pseudonym", "match_id", "score"))
                hexes = pseudonyms[:linked].tobytes().hex()
                for i in range(linked):
                    writer.writerow((hexes[32 * i : 32 * i + 32], match_ids[i], 0.9))
            results.append(RunResult(
                run_id=run.id, party_id=party.id, upload_id=upload.id,
                path=str(path.relative_to(data_dir)), row_count=linked,
            ))  # fmt: skip
        store.complete_run(
            run_id=run.id,
            stats={
                "threshold": THRESHOLD,
                "view_score_shifts": "none",
                "groups": linked,
            },
            result_dir=str(result_dir.relative_to(data_dir)),
            results=results,
        )
        return project_id, created.party_tokens["police"], police[:linked]
    finally:
        store.close()


def query_bodies(
    folder: Path, known: np.ndarray, count: int, rng: np.random.Generator
) -> list[bytes]:
    """``count`` one-record files: known people (noisy again) and strangers."""
    bodies = []
    for number in range(count):
        if number % 2 == 0:
            clk = _noisy(rng, known[[rng.integers(len(known))]])
        else:
            clk = _random(rng, 1)
        path = folder / "query.lnk"
        _write(path, rng.integers(0, 256, (1, 16), dtype=np.uint8), clk)
        bodies.append(path.read_bytes())
    return bodies


@contextlib.contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    """``linkage serve`` on a free loopback port, with a lookup rate high
    enough never to refuse; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "linkage"), "serve",
        "--data-dir", str(data_dir), "--port", str(port),
        "--lookups-per-minute", "1e9", "--lookup-burst", "100",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "linkage serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(23)
    with tempfile.TemporaryDirectory() as temp:
        data_dir = Path(temp) / "data"
        started = time.perf_counter()
        project_id, token, known = plant(data_dir, args.records, rng)
        print(
            f"planted {args.records:,} records in {time.perf_counter() - started:.1f} s"
        )
        bodies = query_bodies(Path(temp), known, args.lookups + 1, rng)
        with serving(data_dir) as base:
            url = f"{base}/projects/{project_id}/lookup"
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(headers=headers, timeout=120) as client:
                started = time.perf_counter()
                first = client.post(url, content=bodies[0])
                assert first.status_code == 200, first.text
                print(
                    "first lookup (loads the index): "
                    f"{time.perf_counter() - started:.1f} s"
                )
            timings: list[float] = []
            known_answers = [0]
            lock = threading.Lock()
            queue = iter(bodies[1:])

            def client_loop() -> None:
                with httpx.Client(headers=headers, timeout=60) as client:
                    while True:
                        with lock:
                            body = next(queue, None)
                        if body is None:
                            return
                        began = time.perf_counter()
                        response = client.post(url, content=body)
                        took = time.perf_counter() - began
                        assert response.status_code == 200, response.text
                        with lock:
                            timings.append(took)
                            known_answers[0] += response.json()["results"][0]["known"]

            threads = [
                threading.Thread(target=client_loop) for _ in range(args.clients)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
    ms = sorted(t * 1000 for t in timings)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    print(
        f"{len(ms)} lookups, {args.clients} clients, {os.cpu_count()} cores: "
        f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms, "
        f"{len(ms) / elapsed:.1f} lookups/s; {known_answers[0]} known "
        f"(expected about {len(ms) // 2})"
    )


if __name__ == "__main__":
    main()
