"""`linkage demo` runs the agency side end to end on synthetic data."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd

from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from tests.conftest import CONFIGS, RunCli


def test_demo_runs_a_linkage_end_to_end(run_cli: RunCli, tmp_path: Path) -> None:
    """Agencies encode, the operator links, agencies resolve, the demo scores."""
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", out, "--people", 600, "--configs", CONFIGS)
    assert result.exit_code == 0, result.output
    assert "all pairs" in result.output
    assert (out / "report.html").exists()
    for agency in ("police", "health", "social_services", "tax"):
        encodings = read_encodings(out / "encodings" / f"{agency}.lnk")
        key = read_vault_key(out / "keys" / f"{agency}-vault.key")
        vault = Vault.open(out / "vaults" / f"{agency}.vault", key)
        assert len(vault) == len(encodings) > 0
        assert set(encodings.pseudonym_strings()) == {
            entry.pseudonym for entry in vault
        }
        mode = (out / "keys" / f"{agency}-vault.key").stat().st_mode
        assert stat.S_IMODE(mode) == 0o600
    assert "does not hold: date_of_birth, sex" in result.output
    for agency in ("police", "health", "social_services", "tax"):
        resolved = pd.read_csv(out / "resolved" / f"{agency}.csv", dtype=str)
        results = pd.read_csv(out / "results" / f"{agency}.csv", dtype=str)
        assert list(resolved.columns[:2]) == ["record_id", "match_id"]
        assert len(resolved) == len(results) > 0
    matches = pd.read_csv(out / "matches.csv", dtype=str)
    assert matches["party"].nunique() == 4
