"""Tests for reading and writing secrets and vault keys."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from linkage.atomic import private_output
from linkage.encoding.keyfiles import (
    generate_key_text,
    read_secret,
    read_vault_key,
    write_key_file,
)
from linkage.encoding.passphrase import stretch_passphrase
from linkage.errors import SecretError
from linkage.formats.schema import load_schema
from tests.conftest import FEBRL4_SCHEMA

KEY = generate_key_text()
SCHEMA = load_schema(FEBRL4_SCHEMA)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write(path: Path, content: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the caller's environment from leaking keys into the tests."""
    monkeypatch.delenv("LINKAGE_SECRET", raising=False)
    monkeypatch.delenv("LINKAGE_VAULT_KEY", raising=False)


def test_generate_key_text_is_43_base64url_chars_of_32_bytes() -> None:
    """A generated key is unpadded base64url text of 32 random bytes."""
    text = generate_key_text()
    assert len(text) == 43
    assert len(base64.urlsafe_b64decode(text + "=")) == 32
    assert generate_key_text() != text


def test_write_key_file_has_mode_0600(tmp_path: Path) -> None:
    """A key file is created with mode 0600 and holds one key and a newline."""
    path = tmp_path / "vault.key"
    write_key_file(path)
    assert _mode(path) == 0o600
    text = path.read_text()
    assert text.endswith("\n")
    assert len(text.strip()) == 43


def test_write_key_file_mode_ignores_permissive_umask(tmp_path: Path) -> None:
    """A umask of 000 still yields a key file of mode 0600."""
    old = os.umask(0)
    try:
        write_key_file(tmp_path / "k")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "k") == 0o600


def test_write_key_file_refuses_to_overwrite(tmp_path: Path) -> None:
    """An existing key file is kept, and the error names the path and --force."""
    path = _write(tmp_path / "secret.key", b"old key\n")
    with pytest.raises(SecretError, match="--force") as caught:
        write_key_file(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == b"old key\n"
    assert list(tmp_path.iterdir()) == [path]


def test_write_key_file_force_replaces(tmp_path: Path) -> None:
    """With force, a new key replaces the old one, mode 0600."""
    path = _write(tmp_path / "secret.key", b"old key\n", mode=0o644)
    write_key_file(path, force=True)
    assert path.read_bytes() != b"old key\n"
    assert _mode(path) == 0o600
    assert list(tmp_path.iterdir()) == [path]


def test_write_key_file_missing_directory(tmp_path: Path) -> None:
    """A key file in a missing directory is a SecretError naming the path."""
    path = tmp_path / "nowhere" / "k"
    with pytest.raises(SecretError, match="cannot write key file"):
        write_key_file(path)


def test_private_output_leaves_nothing_on_error(tmp_path: Path) -> None:
    """An error while writing leaves neither a temp file nor a changed target."""
    path = _write(tmp_path / "out", b"before")
    with pytest.raises(RuntimeError), private_output(path) as out:
        out.write(b"after")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"before"
    assert list(tmp_path.iterdir()) == [path]


def test_read_secret_from_file_strips_newline(tmp_path: Path) -> None:
    """The secret is the file's text without the trailing newline, as bytes."""
    path = _write(tmp_path / "s", f"  {KEY}\n".encode())
    assert read_secret(path, SCHEMA) == KEY.encode()


def test_read_secret_accepts_keygen_output_as_is(tmp_path: Path) -> None:
    """A key made by write_key_file is used exactly as written (as clkhash)."""
    path = tmp_path / "s"
    write_key_file(path)
    assert read_secret(path, SCHEMA) == path.read_text().strip().encode()


def test_read_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a file, the secret comes from LINKAGE_SECRET."""
    monkeypatch.setenv("LINKAGE_SECRET", KEY + "\n")
    assert read_secret(None, SCHEMA) == KEY.encode()


def test_read_secret_from_custom_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment variable name can be chosen by the caller."""
    monkeypatch.setenv("OTHER_SECRET", KEY)
    assert read_secret(None, SCHEMA, env_var="OTHER_SECRET") == KEY.encode()


def test_read_secret_file_wins_over_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A given file is used even when the environment variable is set."""
    monkeypatch.setenv("LINKAGE_SECRET", generate_key_text())
    path = _write(tmp_path / "s", KEY.encode())
    assert read_secret(path, SCHEMA) == KEY.encode()


def test_read_secret_neither_file_nor_env() -> None:
    """With no file and no variable, the error names both ways to give one."""
    with pytest.raises(SecretError) as caught:
        read_secret(None, SCHEMA)
    message = str(caught.value)
    assert "LINKAGE_SECRET" in message
    assert "file" in message


def test_read_secret_empty_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty LINKAGE_SECRET is refused, by name."""
    monkeypatch.setenv("LINKAGE_SECRET", "  \n")
    with pytest.raises(SecretError, match="LINKAGE_SECRET is empty"):
        read_secret(None, SCHEMA)


def test_read_secret_short_env_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short secret from the environment is refused without showing it."""
    monkeypatch.setenv("LINKAGE_SECRET", "tiny-secret")
    with pytest.raises(SecretError, match="fewer than 20 characters") as caught:
        read_secret(None, SCHEMA)
    assert "tiny-secret" not in str(caught.value)
    assert "LINKAGE_SECRET" in str(caught.value)


def test_read_secret_missing_file(tmp_path: Path) -> None:
    """A missing secret file is named, with how to create one."""
    path = tmp_path / "missing.key"
    with pytest.raises(SecretError, match="does not exist") as caught:
        read_secret(path, SCHEMA)
    assert str(path) in str(caught.value)
    assert "linkage keygen --out FILE" in str(caught.value)


def test_read_secret_directory_is_unreadable(tmp_path: Path) -> None:
    """A path that cannot be read as a file is a SecretError naming it."""
    with pytest.raises(SecretError, match="cannot read") as caught:
        read_secret(tmp_path, SCHEMA)
    assert str(tmp_path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_read_secret_permission_denied(tmp_path: Path) -> None:
    """A file we may not read is a SecretError naming it."""
    path = _write(tmp_path / "s", KEY.encode(), mode=0o000)
    with pytest.raises(SecretError, match="cannot read"):
        read_secret(path, SCHEMA)


def test_read_secret_empty_file(tmp_path: Path) -> None:
    """An empty (or blank) secret file is refused, with how to make one."""
    path = _write(tmp_path / "s", b" \n")
    with pytest.raises(SecretError, match="is empty") as caught:
        read_secret(path, SCHEMA)
    assert "linkage keygen --out FILE" in str(caught.value)


@pytest.mark.parametrize(
    "weak",
    ["hunter2hunter2", "aaaaaaaaaaaaaaaa", "a" * 43, "password123",
     "Password2024!Password", "correct horse battery staple"],
)  # fmt: skip
def test_read_secret_weak_file_is_refused(tmp_path: Path, weak: str) -> None:
    """A weak secret is refused, naming the file and keygen, never showing it."""
    path = _write(tmp_path / "s", weak.encode() + b"\n")
    with pytest.raises(SecretError, match="too weak") as caught:
        read_secret(path, SCHEMA)
    message = str(caught.value)
    assert weak not in message
    assert str(path) in message
    assert "linkage keygen --out FILE" in message


def test_read_secret_stretches_a_passphrase(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A passphrase that is not weak is stretched for the schema, with a
    warning that names the file but not the passphrase."""
    passphrase = "clé secrète partagée ünd ß"
    path = _write(tmp_path / "s", passphrase.encode() + b"\n")
    with caplog.at_level(logging.WARNING, logger="linkage.encoding.keyfiles"):
        key = read_secret(path, SCHEMA)
    assert key == stretch_passphrase(passphrase, SCHEMA)
    assert len(key) == 43 and passphrase.encode() not in key
    assert "scrypt" in caplog.text and str(path) in caplog.text
    assert passphrase not in caplog.text


def test_read_secret_not_utf8(tmp_path: Path) -> None:
    """A secret that is not UTF-8 is refused without quoting its bytes."""
    path = _write(tmp_path / "s", b"\xff\xfe secret bytes that are long\n")
    with pytest.raises(SecretError, match="not UTF-8") as caught:
        read_secret(path, SCHEMA)
    message = str(caught.value)
    assert "secret bytes" not in message
    assert "xff" not in message


def test_read_secret_warns_when_others_can_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A group- or world-readable secret file is logged as a warning, sans secret."""
    path = _write(tmp_path / "s", KEY.encode(), mode=0o644)
    with caplog.at_level(logging.WARNING, logger="linkage.encoding.keyfiles"):
        assert read_secret(path, SCHEMA) == KEY.encode()
    assert "chmod 600" in caplog.text
    assert str(path) in caplog.text
    assert KEY not in caplog.text


def test_read_secret_private_file_does_not_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A mode 0600 keygen secret file reads without warnings."""
    path = _write(tmp_path / "s", KEY.encode())
    with caplog.at_level(logging.WARNING):
        read_secret(path, SCHEMA)
    assert caplog.records == []


def test_read_vault_key_round_trip(tmp_path: Path) -> None:
    """A key file from write_key_file reads back as 32 bytes."""
    path = tmp_path / "vault.key"
    write_key_file(path)
    key = read_vault_key(path)
    assert len(key) == 32
    assert base64.urlsafe_b64encode(key).rstrip(b"=").decode() == (
        path.read_text().strip()
    )


def test_read_vault_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a file, the vault key comes from LINKAGE_VAULT_KEY."""
    text = generate_key_text()
    monkeypatch.setenv("LINKAGE_VAULT_KEY", text)
    assert read_vault_key(None) == base64.urlsafe_b64decode(text + "=")


def test_read_vault_key_neither_file_nor_env() -> None:
    """With no file and no variable, the error names LINKAGE_VAULT_KEY."""
    with pytest.raises(SecretError, match="LINKAGE_VAULT_KEY"):
        read_vault_key(None)


@pytest.mark.parametrize(
    "content",
    [
        b"a passphrase, not a vault key at all\n",
        base64.urlsafe_b64encode(b"k" * 16) + b"\n",
        base64.urlsafe_b64encode(b"k" * 33) + b"\n",
        b"+" * 43 + b"\n",
    ],
    ids=["passphrase", "16-bytes", "33-bytes", "not-base64url"],
)
def test_read_vault_key_rejects_non_keys(tmp_path: Path, content: bytes) -> None:
    """Anything but base64url of 32 bytes is refused, naming the file only."""
    path = _write(tmp_path / "vault.key", content)
    with pytest.raises(SecretError, match="does not hold a vault key") as caught:
        read_vault_key(path)
    message = str(caught.value)
    assert str(path) in message
    assert "linkage keygen --out FILE" in message
    assert content.strip().decode() not in message


def test_read_vault_key_missing_file(tmp_path: Path) -> None:
    """A missing vault key file is named."""
    with pytest.raises(SecretError, match=r"vault key file .* does not exist"):
        read_vault_key(tmp_path / "nope.key")
