"""Tests for `linkage vault resolve`."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkage.cli import main
from linkage.encoding.keyfiles import generate_key_text, read_vault_key
from linkage.encoding.vault import VaultWriter


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the caller's environment from leaking keys into the tests."""
    monkeypatch.delenv("LINKAGE_VAULT_KEY", raising=False)


@pytest.fixture
def agency(tmp_path: Path) -> Path:
    """A directory with a vault key, a vault of three records and results."""
    key_file = tmp_path / "vault.key"
    key_file.write_text(generate_key_text() + "\n")
    key_file.chmod(0o600)
    with VaultWriter(
        tmp_path / "agency.vault", read_vault_key(key_file), ["name"]
    ) as writer:
        writer.add(["pa", "pb", "pc"], ["R1", "R2", "R3"], [["Ann"], ["Bö"], ["Cy"]])
    (tmp_path / "results.csv").write_text("pseudonym,match_id\npa,m1\npc,m1\npb,m2\n")
    return tmp_path


def _resolve(agency: Path, *extra: str) -> list[str]:
    return [
        "vault",
        "resolve",
        str(agency / "results.csv"),
        "--vault",
        str(agency / "agency.vault"),
        "--out",
        str(agency / "out.csv"),
        *extra,
    ]


def test_resolve_happy_path(agency: Path) -> None:
    """resolve writes record_id,match_id and a one-line summary on stderr."""
    key_file = str(agency / "vault.key")
    result = CliRunner().invoke(main, _resolve(agency, "--vault-key-file", key_file))
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        f"Resolved 3 rows into 2 match IDs; wrote {agency / 'out.csv'}."
    )
    assert (agency / "out.csv").read_text().splitlines() == [
        "record_id,match_id",
        "R1,m1",
        "R3,m1",
        "R2,m2",
    ]
    assert stat.S_IMODE((agency / "out.csv").stat().st_mode) == 0o600
    assert (agency / "vault.key").read_text().strip() not in result.output


def test_resolve_with_identity(agency: Path) -> None:
    """--with-identity appends the vault's identity fields."""
    key_file = str(agency / "vault.key")
    args = _resolve(agency, "--vault-key-file", key_file, "--with-identity")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = (agency / "out.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "record_id,match_id,name"
    assert lines[3] == "R2,m2,Bö"


def test_resolve_key_from_env(agency: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --vault-key-file, the key comes from LINKAGE_VAULT_KEY."""
    monkeypatch.setenv("LINKAGE_VAULT_KEY", (agency / "vault.key").read_text())
    result = CliRunner().invoke(main, _resolve(agency))
    assert result.exit_code == 0, result.output
    assert "Resolved 3 rows" in result.stderr


def test_resolve_without_any_key(agency: Path) -> None:
    """No key file and no variable: exit 1 naming both ways to give the key."""
    result = CliRunner().invoke(main, _resolve(agency))
    assert result.exit_code == 1
    assert "LINKAGE_VAULT_KEY" in result.output
    assert "vault key file" in result.output


def test_resolve_wrong_key(agency: Path, tmp_path: Path) -> None:
    """A different vault key gives a clean error, not a cryptography traceback."""
    other = tmp_path / "other.key"
    other.write_text(generate_key_text() + "\n")
    result = CliRunner().invoke(main, _resolve(agency, "--vault-key-file", str(other)))
    assert result.exit_code == 1
    assert "the vault key does not open" in result.output
    assert "wrong key, or the file was altered" in result.output
    assert "InvalidTag" not in result.output
    assert other.read_text().strip() not in result.output
    assert not (agency / "out.csv").exists()


def test_resolve_bad_key_file(agency: Path, tmp_path: Path) -> None:
    """A key file that is not a vault key is named, its content is not shown."""
    bad = tmp_path / "bad.key"
    bad.write_text("my-old-passphrase-123\n")
    result = CliRunner().invoke(main, _resolve(agency, "--vault-key-file", str(bad)))
    assert result.exit_code == 1
    assert str(bad) in result.output
    assert "does not hold a vault key" in result.output
    assert "my-old-passphrase-123" not in result.output


def test_resolve_short_key_in_env(
    agency: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vault key of the wrong size in the environment is refused unseen."""
    short = base64.urlsafe_b64encode(b"x" * 16).decode()
    monkeypatch.setenv("LINKAGE_VAULT_KEY", short)
    result = CliRunner().invoke(main, _resolve(agency))
    assert result.exit_code == 1
    assert "environment variable LINKAGE_VAULT_KEY" in result.output
    assert short not in result.output


def test_resolve_unknown_pseudonym(agency: Path) -> None:
    """Results from another agency fail with the file, row and the likely cause."""
    (agency / "results.csv").write_text("pseudonym,match_id\npa,m1\nzz,m1\n")
    key_file = str(agency / "vault.key")
    result = CliRunner().invoke(main, _resolve(agency, "--vault-key-file", key_file))
    assert result.exit_code == 1
    assert f"{agency / 'results.csv'}, row 2, field 'pseudonym'" in result.output
    assert "another agency or to another vault" in result.output
    assert not (agency / "out.csv").exists()


def test_resolve_missing_vault(agency: Path) -> None:
    """A missing vault file is reported by name with exit status 1."""
    (agency / "agency.vault").unlink()
    key_file = str(agency / "vault.key")
    result = CliRunner().invoke(main, _resolve(agency, "--vault-key-file", key_file))
    assert result.exit_code == 1
    assert "agency.vault does not exist" in result.output


def test_resolve_help_documents_every_option() -> None:
    """--help documents the argument and every option."""
    result = CliRunner().invoke(main, ["vault", "resolve", "--help"])
    assert result.exit_code == 0
    for text in (
        "RESULTS.csv",
        "--vault FILE",
        "--vault-key-file FILE",
        "LINKAGE_VAULT_KEY",
        "--out FILE",
        "--with-identity",
    ):
        assert text in result.output


def test_resolve_joins_a_persons_records_but_not_withdrawn_ones(tmp_path: Path) -> None:
    """A person recorded three times sent its keys once; the vault files the
    other two. Resolving puts both in the first record's group, but for the
    one named in --withdrawn."""
    key_file = tmp_path / "vault.key"
    key_file.write_text(generate_key_text() + "\n")
    key_file.chmod(0o600)
    first, later, gone = "a" * 32, "b" * 32, "c" * 32
    with VaultWriter(
        tmp_path / "agency.vault", read_vault_key(key_file), ["name"]
    ) as writer:
        writer.add([first, later, gone], ["R1", "R2", "R3"], [["Ann"]] * 3)
        writer.add_repeats([later, gone], [first, first])
    (tmp_path / "results.csv").write_text(f"pseudonym,match_id\n{first},m1\n")
    (tmp_path / "withdrawn.txt").write_text(f"pseudonym\n{gone}\n")
    extra = ["--vault-key-file", str(key_file)]
    result = CliRunner().invoke(
        main, _resolve(tmp_path, *extra, "--withdrawn", str(tmp_path / "withdrawn.txt"))
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        "record_id,match_id",
        "R1,m1",
        "R2,m1",
    ]
    (tmp_path / "withdrawn.txt").write_text("not a pseudonym\n")
    result = CliRunner().invoke(
        main, _resolve(tmp_path, *extra, "--withdrawn", str(tmp_path / "withdrawn.txt"))
    )
    assert result.exit_code == 2
    assert "'--withdrawn'" in result.output and "line 1" in result.output
