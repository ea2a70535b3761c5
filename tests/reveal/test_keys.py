"""Key files of the reveal: round trips, modes, and messages that name the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from linkage.errors import SecretError
from linkage.reveal.keys import (
    KeyFileError,
    key_id,
    load_investigator_public_pem,
    load_or_create_signing_key,
    load_service_public_pem,
    public_key_path,
    public_pem,
    raw_public_b64,
    read_investigator_private_key,
    read_investigator_public_key,
    read_service_public_key,
    write_investigator_keypair,
    write_service_public_key,
    x25519_public_from_b64,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _private_pem(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_investigator_keypair_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "alice.key"
    pub_path = write_investigator_keypair(path)
    assert pub_path == tmp_path / "alice.key.pub" == public_key_path(path)
    private = read_investigator_private_key(path)
    public = read_investigator_public_key(pub_path)
    assert key_id(private.public_key()) == key_id(public)
    assert _mode(path) == 0o600
    assert _mode(pub_path) == 0o644
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert key_id(load_investigator_public_pem(pub_path.read_text(), "x")) == key_id(
        public
    )
    # No temporary files are left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.key", "alice.key.pub"]


def test_keypair_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "alice.key"
    write_investigator_keypair(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match=r"alice\.key already exists.*--force"):
        write_investigator_keypair(path)
    assert path.read_bytes() == before
    write_investigator_keypair(path, force=True)
    assert path.read_bytes() != before
    assert _mode(path) == 0o600


def test_keypair_refuses_when_only_the_public_file_exists(tmp_path: Path) -> None:
    path = tmp_path / "alice.key"
    public_key_path(path).write_text("registered already\n")
    with pytest.raises(KeyFileError, match=r"alice\.key\.pub already exists"):
        write_investigator_keypair(path)
    assert not path.exists()


def test_key_file_error_is_a_secret_error() -> None:
    assert issubclass(KeyFileError, SecretError)
    assert issubclass(KeyFileError, ValueError)


def test_missing_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.key"
    with pytest.raises(KeyFileError, match=r"nobody\.key does not exist.*keygen"):
        read_investigator_private_key(missing)
    with pytest.raises(KeyFileError, match=r"nobody\.key does not exist"):
        read_investigator_public_key(missing)
    with pytest.raises(KeyFileError, match=r"nobody\.key does not exist.*operator"):
        read_service_public_key(missing)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=str(tmp_path)):
        read_investigator_private_key(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key\n", b"\xff\xfe\x00binary", b"-----BEGIN CERTIFICATE-----\n"],
)
def test_not_a_pem_key(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match=r"junk\.key is not a PEM key file"):
        read_investigator_private_key(path)


def test_damaged_pem_block(tmp_path: Path) -> None:
    path = tmp_path / "cut.key"
    path.write_bytes(_private_pem(X25519PrivateKey.generate())[:60])
    with pytest.raises(KeyFileError, match=r"cut\.key .*not a valid key") as info:
        read_investigator_private_key(path)
    # The message never quotes the key material.
    assert "MC4C" not in str(info.value)


def test_ed25519_key_where_investigator_key_expected(tmp_path: Path) -> None:
    path = tmp_path / "alice.key"
    path.write_bytes(_private_pem(Ed25519PrivateKey.generate()))
    with pytest.raises(KeyFileError) as info:
        read_investigator_private_key(path)
    message = str(info.value)
    assert "alice.key holds an Ed25519 private key" in message
    assert "investigator's X25519 private key was expected" in message
    assert "linkage keygen --investigator --out FILE" in message


def test_public_key_where_private_expected(tmp_path: Path) -> None:
    pub_path = write_investigator_keypair(tmp_path / "alice.key")
    with pytest.raises(KeyFileError, match=r"alice\.key\.pub holds an X25519 public"):
        read_investigator_private_key(pub_path)


def test_private_key_where_public_expected(tmp_path: Path) -> None:
    path = tmp_path / "alice.key"
    write_investigator_keypair(path)
    with pytest.raises(KeyFileError, match=r"alice\.key holds an X25519 private.*PRIV"):
        read_investigator_public_key(path)
    with pytest.raises(KeyFileError, match=r"^the request holds an X25519 private"):
        load_investigator_public_pem(path.read_text(), "the request")


def test_rsa_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rsa.pem"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path.write_bytes(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    with pytest.raises(KeyFileError, match=r"rsa\.pem holds an RSA public key"):
        read_service_public_key(path)


def test_encrypted_private_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.key"
    path.write_bytes(
        X25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pass phrase"),
        )
    )
    with pytest.raises(KeyFileError, match=r"locked\.key holds a password-protected"):
        read_investigator_private_key(path)


def test_signing_key_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / "service.key"
    first = load_or_create_signing_key(path)
    assert _mode(path) == 0o600
    second = load_or_create_signing_key(path)
    assert key_id(first.public_key()) == key_id(second.public_key())


def test_signing_key_race_loser_reads_the_winner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "service.key"
    winner = Ed25519PrivateKey.generate()
    real_read_bytes = Path.read_bytes
    calls = []

    def racing_read_bytes(self: Path) -> bytes:
        # The first read finds no file; the winner writes it just after.
        calls.append(self)
        if len(calls) == 1:
            path.write_bytes(_private_pem(winner))
            raise FileNotFoundError(self)
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", racing_read_bytes)
    loser = load_or_create_signing_key(path)
    assert key_id(loser.public_key()) == key_id(winner.public_key())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.key"]


def test_signing_key_of_wrong_kind(tmp_path: Path) -> None:
    path = tmp_path / "service.key"
    path.write_bytes(_private_pem(X25519PrivateKey.generate()))
    with pytest.raises(KeyFileError, match=r"service\.key holds an X25519 private"):
        load_or_create_signing_key(path)


def test_service_public_key_round_trip(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "service.pub"
    write_service_public_key(path, key.public_key())
    assert _mode(path) == 0o644
    assert key_id(read_service_public_key(path)) == key_id(key.public_key())
    text = public_pem(key.public_key())
    assert key_id(load_service_public_pem(text, "pinned")) == key_id(key.public_key())


def test_service_private_key_where_public_expected(tmp_path: Path) -> None:
    path = tmp_path / "service.key"
    load_or_create_signing_key(path)
    with pytest.raises(KeyFileError, match=r"service\.key holds an Ed25519 private"):
        read_service_public_key(path)


def test_investigator_public_key_where_service_key_expected(tmp_path: Path) -> None:
    pub_path = write_investigator_keypair(tmp_path / "alice.key")
    with pytest.raises(KeyFileError, match=r"holds an X25519 public key, but the serv"):
        read_service_public_key(pub_path)


def test_key_id_and_raw_b64() -> None:
    public = X25519PrivateKey.generate().public_key()
    fingerprint = key_id(public)
    assert len(fingerprint) == 32
    assert all(c in "0123456789abcdef" for c in fingerprint)
    text = raw_public_b64(public)
    assert len(text) == 43 and "=" not in text
    assert key_id(x25519_public_from_b64(text)) == fingerprint


@pytest.mark.parametrize(
    "text",
    ["", "abc", "A" * 44, "A" * 42 + "=", "!" * 43, "A" * 42 + "B"],
)
def test_bad_raw_b64_is_refused(text: str) -> None:
    with pytest.raises(KeyFileError, match="not an X25519 public key"):
        x25519_public_from_b64(text)
