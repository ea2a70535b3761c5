"""Whole processes, timed as a user meets them: start-up, reading and writing.

The benchmarks run ``linkage`` commands (and the peers' scripts) as fresh
processes and time them with the wall clock, so import and start-up costs
count as they do for a user. Each child imports this checkout's ``src``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The console script's body, without depending on where the script points.
LAUNCH = "import sys; from linkage.cli import main; sys.exit(main())"


def linkage_command(*args: str) -> list[str]:
    """The command line of ``linkage ARGS`` with this interpreter."""
    return [sys.executable, "-c", LAUNCH, *args]


def source_environment(source: Path = ROOT / "src") -> dict[str, str]:
    """This environment with ``source`` first on the children's import path."""
    return {**os.environ, "PYTHONPATH": str(source)}


def run_timed(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[float, str]:
    """Wall seconds of one process and what it printed on stdout; exits with
    its stderr if it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=source_environment() if env is None else env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed:\n{done.stderr}")
    return elapsed, done.stdout


def wall_seconds(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> float:
    """Wall seconds of one process; exits with its stderr if it fails."""
    return run_timed(command, env=env, cwd=cwd)[0]


def best_wall_seconds(command: Sequence[str], repeat: int) -> float:
    """The best of ``repeat`` whole-process runs of ``command``."""
    return min(wall_seconds(command) for _ in range(max(repeat, 1)))
