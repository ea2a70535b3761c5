"""After the install-time warm-up, the first real run compiles no kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import linkage

# The demo runs in the child's own process (its service in a thread), so the
# kernels' statistics afterwards cover everything the run called.
DEMO = """
import json, sys
from linkage.cli import main
main(["demo", "--people", "300", "--out", sys.argv[1]], standalone_mode=False)
from linkage.matching.warmup import kernel_states
print(json.dumps([[k.name, k.compiled, k.loaded] for k in kernel_states()]))
"""


def run_python(*args: str) -> str:
    """Run a fresh interpreter on this checkout's package; its stdout."""
    source_root = str(Path(linkage.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONPATH": source_root + (os.pathsep + path if path else ""),
    }
    completed = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=900,
        cwd=Path(linkage.__file__).resolve().parents[2],
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.mark.slow
def test_the_demo_after_the_warm_up_compiles_nothing(tmp_path: Path) -> None:
    """Every kernel the demo calls comes from the cache the warm-up filled.

    The cache is numba's usual one (the one `make install` fills), so a kernel
    that something else compiled earlier would hide a gap in the warm-up; a
    cache of its own would make this test compile everything, for a minute.
    """
    warmed = run_python("-m", "linkage.matching.warmup")
    assert "Matching and privacy-check kernels:" in warmed
    report = json.loads(run_python("-c", DEMO, str(tmp_path / "demo")).splitlines()[-1])
    compiled = [name for name, count, _ in report if count]
    loaded = sum(count for _, _, count in report)
    assert compiled == []
    assert loaded > 0
