"""`linkage --help` and `--version` start at once: they import no heavy library.

Each check runs a fresh interpreter, because this test process has long since
imported everything. It looks at ``sys.modules``, not at the clock: timings
on a shared machine are noise (they are measured in benchmarks/startup.py).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import linkage
import linkage.cli
from tests.conftest import FEBRL4_SCHEMA

HEAVY = ("fastapi", "numba", "pandas", "scipy", "scipy.linalg")

# Runs the command through click's main as the console script does, but without
# leaving the process, then reports what it printed and which heavy modules
# were imported along the way.
SCRIPT = """
import contextlib, io, json, sys
import linkage.cli
imported_by_import = [m for m in {heavy!r} if m in sys.modules]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = linkage.cli.main({args!r}, prog_name="linkage", standalone_mode=False)
print(json.dumps({{
    "code": code,
    "output": out.getvalue(),
    "imported_by_import": imported_by_import,
    "imported": [m for m in {heavy!r} if m in sys.modules],
}}))
"""


def child_environment(*, without: str = "") -> dict[str, str]:
    """This environment (less the variable ``without``) with this checkout's
    package first on the import path: the child must import it, not another
    installed copy."""
    source_root = str(Path(linkage.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    env = {name: value for name, value in os.environ.items() if name != without}
    env["PYTHONPATH"] = source_root + (os.pathsep + path if path else "")
    return env


def run_fresh(args: list[str]) -> dict[str, object]:
    """Run the CLI with ``args`` in a new interpreter; its report as a dict."""
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY, args=args)],
        capture_output=True,
        text=True,
        env=child_environment(),
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    report: dict[str, object] = json.loads(completed.stdout.splitlines()[-1])
    return report


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], "privacy-check"),
        (["--version"], f"linkage, version {linkage.__version__}"),
    ],
)
def test_help_and_version_import_no_heavy_library(
    args: list[str], expected: str
) -> None:
    """Importing the CLI and running --help or --version load none of HEAVY."""
    report = run_fresh(args)
    assert report["code"] == 0
    assert expected in str(report["output"])
    assert report["imported_by_import"] == []
    assert report["imported"] == []


# An agency's routine (keygen, vault resolve, upload, results) and the
# operator's service commands need none of HEAVY; `match`, `encode`, `evaluate`,
# `privacy-check` and `demo` do.
LIGHT = ["keygen", "schema", "vault", "project", "upload", "run", "results"]
LIGHT += ["reveal", "audit", "serve"]


@pytest.mark.parametrize("command", LIGHT)
def test_light_commands_import_no_heavy_library(command: str) -> None:
    """Their own help, which imports their module, loads none of HEAVY."""
    report = run_fresh([command, "--help"])
    assert report["code"] == 0
    assert f"linkage {command}" in str(report["output"])
    assert report["imported"] == []


def test_the_overview_lists_every_command_with_its_line() -> None:
    """`linkage --help` names each command with its short help, unimported."""
    output = str(run_fresh(["--help"])["output"])
    for name, entry in linkage.cli.COMMANDS.items():
        assert f"{name} " in output
        # The formatter may wrap a long line; compare its words.
        assert " ".join(entry.short_help.split()[:4]) in " ".join(output.split())


def test_a_command_is_imported_when_it_runs() -> None:
    """The check above can fail: running `match --help` does import numba."""
    report = run_fresh(["match", "--help"])
    assert report["code"] == 0
    assert "--threshold" in str(report["output"])
    imported = report["imported"]
    assert isinstance(imported, list)
    assert "numba" in imported


def test_encoding_without_a_mapping_imports_no_heavy_library(
    febrl4_a_csv: Path, secret_file: Path, tmp_path: Path
) -> None:
    """A whole `linkage encode` of an export named like the schema's fields
    runs on Arrow alone: pandas is imported only to apply a mapping."""
    out = tmp_path / "a.lnk"
    args = ["encode", str(febrl4_a_csv), "--schema", str(FEBRL4_SCHEMA)]
    args += ["--secret-file", str(secret_file), "--out", str(out)]
    report = run_fresh(args)
    assert report["code"] is None  # click's main returns None on success.
    assert out.exists()
    assert report["imported"] == []


def test_matching_at_a_fixed_threshold_imports_no_pandas(tmp_path: Path) -> None:
    """A whole `linkage match` writes its groups without pandas, and starts
    numba without the SciPy linear algebra its BLAS probe would import."""
    rng = np.random.default_rng(5)
    clks = np.packbits(rng.random((40, 1024)) < 0.4, axis=1)
    files = []
    for name, rows in (("a", clks[:20]), ("b", clks[10:])):
        path = tmp_path / f"{name}.json"
        texts = [base64.b64encode(row.tobytes()).decode() for row in rows]
        path.write_text(json.dumps({"clks": texts}))
        files.append(str(path))
    out = tmp_path / "m.csv"
    report = run_fresh(["match", *files, "--threshold", "0.8", "--out", str(out)])
    assert report["code"] is None
    assert len(out.read_text().splitlines()) == 1 + 2 * 10
    imported = report["imported"]
    assert isinstance(imported, list)
    assert "pandas" not in imported
    assert "scipy.linalg" not in imported


def test_a_command_freezes_what_is_alive_before_the_exit() -> None:
    """The interpreter's last collection is spared its walk over every
    object: gc.freeze runs at exit, before handlers registered earlier."""
    script = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
        "import linkage.cli\n"
        "linkage.cli.main(['--version'], prog_name='linkage', standalone_mode=False)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=child_environment(),
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "frozen True"


BLAS_SCRIPT = """
import os, sys
import linkage.cli
before = "numpy" in sys.modules
linkage.cli.main.get_command(None, {name!r})
print(before, "numpy" in sys.modules, os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.parametrize(
    ("name", "threads"), [("encode", "1"), ("match", "1"), ("privacy-check", "None")]
)
def test_blas_gets_one_thread_unless_the_command_multiplies_matrices(
    name: str, threads: str
) -> None:
    """OpenBLAS's idle threads spin at start-up: a command that never
    multiplies matrices gives it one thread, set before numpy is imported."""
    completed = subprocess.run(
        [sys.executable, "-c", BLAS_SCRIPT.format(name=name)],
        capture_output=True,
        text=True,
        env=child_environment(without="OPENBLAS_NUM_THREADS"),
        check=True,
        timeout=120,
    )
    assert completed.stdout.split() == ["False", "True", threads]
