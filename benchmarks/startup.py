"""Whole-process times of start-up and of the first run, as a user meets them.

    .venv/bin/python benchmarks/startup.py [--repeat 7] [--demo-repeat 2]

Times, in fresh processes, ``linkage --version``, ``linkage --help`` and
``linkage encode --help`` (with ``python -c pass`` as the floor), then
``linkage demo`` in a fresh copy of ``src`` and ``configs`` whose numba cache is
empty: its first run, its second run, and, in another fresh copy, the first run
after the install-time warm-up (``python -m linkage.matching.warmup``, as
``make install`` runs it). Prints the median of each over the repeats, and for
the demo also the time it reports itself ("Demo finished in ... s", counted
from after its imports).

Each process imports this checkout's ``src`` (PYTHONPATH), so the figures are
for this code whatever is installed. ``NUMBA_CACHE_DIR`` is removed from the
children's environment, so the cache is the copy's own ``__pycache__``; so is
``PYTHONDONTWRITEBYTECODE``, so Python caches bytecode as on a user's machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from processes import ROOT, linkage_command, run_timed, wall_seconds

# The demo's last line: "Demo finished in 9.8 s; its files are in ...".
DEMO_CLOCK = re.compile(r"Demo finished in ([0-9.]+) s")


def environment(source: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("NUMBA_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")
    }
    env["PYTHONPATH"] = str(source)
    return env


def timed(args: Sequence[str], source: Path, cwd: Path) -> float:
    """Wall seconds of one process; fails loudly if the process fails."""
    return wall_seconds(args, env=environment(source), cwd=cwd)


def timed_demo(args: Sequence[str], source: Path, cwd: Path, own: list[float]) -> float:
    """Wall seconds of one demo process; appends the demo's own figure (its
    clock starts after the imports) to ``own``."""
    seconds, printed = run_timed(args, env=environment(source), cwd=cwd)
    found = DEMO_CLOCK.search(printed)
    if found is None:
        raise SystemExit(f"the demo printed no time:\n{printed[-500:]}")
    own.append(float(found[1]))
    return seconds


def fresh_copy(parent: Path, name: str) -> Path:
    """A copy of src and configs with no bytecode and no numba cache."""
    copy = parent / name
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc")
    for folder in ("src", "configs"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    return copy


def median_row(label: str, times: list[float]) -> str:
    return (
        f"| {label} | {statistics.median(times):.2f} | {min(times):.2f} | "
        f"{max(times):.2f} | {len(times)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="Start-up repeats.")
    parser.add_argument(
        "--demo-repeat", type=int, default=2, help="Fresh copies per demo figure."
    )
    parser.add_argument(
        "--people", type=int, default=20_000, help="The demo's population size."
    )
    options = parser.parse_args()
    source = ROOT / "src"
    startup = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "linkage --version": linkage_command("--version"),
        "linkage --help": linkage_command("--help"),
        "linkage encode --help": linkage_command("encode", "--help"),
    }
    rows = {label: [] for label in startup} | {
        "linkage demo, first run (empty numba cache)": [],
        "linkage demo, second run": [],
        "warm-up (`make install` step, empty cache)": [],
        "linkage demo, first run after the warm-up": [],
    }
    timed(linkage_command("--version"), source, ROOT)  # Bytecode for this checkout.
    for _ in range(options.repeat):
        for label, args in startup.items():
            rows[label].append(timed(args, source, ROOT))
    demo = ["demo", "--people", str(options.people), "--out"]
    own: dict[str, list[float]] = {}
    for number in range(options.demo_repeat):
        with tempfile.TemporaryDirectory(prefix="linkage-startup-") as temporary:
            copy = fresh_copy(Path(temporary), "cold")
            for run in ("first run (empty numba cache)", "second run"):
                label = f"linkage demo, {run}"
                args = linkage_command(*demo, str(copy / f"demo-{run[:5]}"))
                seconds = timed_demo(
                    args, copy / "src", copy, own.setdefault(label, [])
                )
                rows[label].append(seconds)
            warm = fresh_copy(Path(temporary), "warm")
            warm_up = [sys.executable, "-m", "linkage.matching.warmup"]
            rows["warm-up (`make install` step, empty cache)"].append(
                timed(warm_up, warm / "src", warm)
            )
            label = "linkage demo, first run after the warm-up"
            args = linkage_command(*demo, str(warm / "demo"))
            seconds = timed_demo(args, warm / "src", warm, own.setdefault(label, []))
            rows[label].append(seconds)
        print(f"demo repeat {number + 1} of {options.demo_repeat} done", flush=True)
    print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} CPUs; wall seconds")
    print("\n| process | median | min | max | runs |\n|---|---:|---:|---:|---:|")
    for label, times in rows.items():
        if times:
            print(median_row(label, times))
    if own:
        print("\nThe demo's own clock (it starts after the imports); seconds")
        print("\n| process | median | min | max | runs |\n|---|---:|---:|---:|---:|")
        for label, times in own.items():
            print(median_row(label, times))


if __name__ == "__main__":
    main()
