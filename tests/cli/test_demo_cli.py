"""`linkage demo` runs the agency side end to end on synthetic data."""

from __future__ import annotations

import stat
from pathlib import Path

from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from tests.conftest import CONFIGS, RunCli


def test_demo_encodes_every_agency(run_cli: RunCli, tmp_path: Path) -> None:
    """Four agencies' encodings and vaults appear, keys are private, IDs stay home."""
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", out, "--people", 400, "--configs", CONFIGS)
    assert result.exit_code == 0, result.output
    assert "same-person pairs median" in result.output
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
