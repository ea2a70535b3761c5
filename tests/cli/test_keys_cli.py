"""Tests for `linkage keygen`."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner

from linkage.cli import main
from linkage.encoding.keyfiles import read_secret, read_vault_key
from linkage.formats.schema import load_schema
from tests.conftest import FEBRL4_SCHEMA


def test_keygen_writes_a_0600_key(tmp_path: Path) -> None:
    """keygen writes a key file of mode 0600 and says where, not what."""
    out = tmp_path / "secret.key"
    result = CliRunner().invoke(main, ["keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"Wrote a new key to {out} (mode 0600)." in result.stderr
    key = out.read_text().strip()
    assert key not in result.output
    assert key not in result.stderr


def test_keygen_file_serves_as_secret_and_vault_key(tmp_path: Path) -> None:
    """The file keygen writes reads as a linkage secret and as a vault key."""
    out = tmp_path / "k"
    assert CliRunner().invoke(main, ["keygen", "--out", str(out)]).exit_code == 0
    assert read_secret(out, load_schema(FEBRL4_SCHEMA)) == out.read_bytes().strip()
    assert len(read_vault_key(out)) == 32


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    """keygen keeps an existing file and points to --force, exit status 1."""
    out = tmp_path / "secret.key"
    out.write_text("precious old key material\n")
    result = CliRunner().invoke(main, ["keygen", "--out", str(out)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "--force" in result.output
    assert "precious old key material" not in result.output
    assert out.read_text() == "precious old key material\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_keygen_force_replaces(tmp_path: Path) -> None:
    """With --force, keygen replaces the file with a new 0600 key."""
    out = tmp_path / "secret.key"
    out.write_text("old\n")
    out.chmod(0o644)
    result = CliRunner().invoke(main, ["keygen", "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert out.read_text() != "old\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().strip() not in result.output


def test_keygen_two_keys_differ(tmp_path: Path) -> None:
    """Two runs give two different keys."""
    runner = CliRunner()
    runner.invoke(main, ["keygen", "--out", str(tmp_path / "a")])
    runner.invoke(main, ["keygen", "--out", str(tmp_path / "b")])
    assert (tmp_path / "a").read_text() != (tmp_path / "b").read_text()


def test_keygen_requires_out() -> None:
    """keygen without --out is a usage error."""
    result = CliRunner().invoke(main, ["keygen"])
    assert result.exit_code == 2
    assert "Missing option '--out'" in result.output


def test_keygen_missing_directory(tmp_path: Path) -> None:
    """A directory that does not exist gives a clean message, not a traceback."""
    out = tmp_path / "no" / "such" / "dir" / "k"
    result = CliRunner().invoke(main, ["keygen", "--out", str(out)])
    assert result.exit_code == 1
    assert "cannot write key file" in result.output
    assert "Traceback" not in result.output


def test_keygen_help_documents_every_option() -> None:
    """--help explains both uses of the key and every option."""
    result = CliRunner().invoke(main, ["keygen", "--help"])
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    assert "shared among the agencies" in help_text
    assert "stays with your agency alone" in help_text
    for option in ("--out FILE", "--force"):
        assert option in help_text
    assert "0600" in help_text
