"""Peer tools (clkhash, anonlink) in throwaway virtual environments.

Peers pin old dependencies (clkhash: cryptography < 41), so they never enter
our environment: each gets a venv under ``benchmarks/`` made on first use, and
the benchmarks call it in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent


def peer_python(venv_name: str, requirement: str, probe: str) -> Path:
    """The Python of ``benchmarks/<venv_name>`` with ``requirement`` installed.

    ``probe`` is the import statement that shows the peer is usable.
    """
    venv = BENCHMARKS / venv_name
    python = venv / "bin" / "python"
    check = [str(python), "-c", probe]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"Installing {requirement} into benchmarks/{venv_name} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, requirement], check=True)
    return python
