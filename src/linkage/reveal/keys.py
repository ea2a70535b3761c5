"""Key files of the reveal: investigators' X25519 keys and Ed25519 signing keys.

Three kinds of asymmetric key take part in a reveal:

- each *investigator* holds an X25519 key pair made by
  ``linkage keygen --investigator --out FILE``; the private key stays in
  ``FILE`` (PKCS8 PEM, mode 0600) and the public key is written beside it to
  ``FILE.pub`` (SubjectPublicKeyInfo PEM) to be registered with the service.
  Agencies seal revealed identities to that public key;
- the *service* holds an Ed25519 signing key with which it signs the grants
  that let an agency fulfil an approved request. Agencies pin the matching
  public key and refuse grants that do not verify against it;
- each *approver* and each *agency* holds an Ed25519 signing key pair made by
  ``linkage keygen --signing --out FILE``: approvers sign the exact request
  they approve, agencies what they disclose. An agency pins the approvers'
  public keys it accepts, and an investigator the agencies' keys
  (:mod:`linkage.reveal.trust`), so the operator can forge neither.

Keys are compared by :func:`key_id`, a short fingerprint two people can read
to each other over the phone. As in :mod:`linkage.encoding.keyfiles`, no
message here contains key material: errors name the file and say what to do.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa, x448
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from linkage.atomic import private_output
from linkage.errors import SecretError
from linkage.reveal.wire import b64decode, b64encode

__all__ = [
    "KeyFileError",
    "ed25519_public_from_b64",
    "key_id",
    "load_investigator_public_pem",
    "load_or_create_signing_key",
    "load_service_public_pem",
    "load_signing_public_pem",
    "public_key_path",
    "public_pem",
    "raw_public_b64",
    "read_investigator_private_key",
    "read_investigator_public_key",
    "read_service_public_key",
    "read_signing_private_key",
    "read_signing_public_key",
    "write_investigator_keypair",
    "write_service_public_key",
    "write_signing_keypair",
    "x25519_public_from_b64",
]

#: Hex characters of a key fingerprint (128 bits of SHA-256).
KEY_ID_CHARS = 32

_INVESTIGATOR_HINT = "make one with `linkage keygen --investigator --out FILE`"
_INVESTIGATOR_PUB_HINT = (
    "give the public key file written beside the private key by "
    "`linkage keygen --investigator --out FILE` (FILE.pub)"
)
_SERVICE_PUB_HINT = (
    "ask the linkage operator for the service's public key file and compare "
    "its key id with them by phone"
)
_SERVICE_KEY_HINT = (
    "the service creates its signing key itself when the file is missing; "
    "point it at the right file, or move the wrong one away"
)

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_RAW_KEY_B64 = re.compile(r"[A-Za-z0-9_-]{43}")


class KeyFileError(SecretError):
    """A reveal key file is missing, unreadable, not a PEM key, or the wrong kind."""


# --- investigator keys (X25519) ----------------------------------------------


def public_key_path(path: Path) -> Path:
    """Return where the public half of the key pair at ``path`` is written.

    Example:
        >>> public_key_path(Path("alice.key"))
        PosixPath('alice.key.pub')
    """
    return Path(str(path) + ".pub")


def write_investigator_keypair(path: Path, *, force: bool = False) -> Path:
    """Make a new X25519 key pair for an investigator and return the public path.

    The private key goes to ``path`` (PKCS8 PEM, unencrypted, mode 0600) and
    the public key to :func:`public_key_path` of it (SubjectPublicKeyInfo PEM,
    mode 0644: it is meant to be handed to the service). Both are written
    atomically, so a reader never sees half a key.

    Raises:
        KeyFileError: either file exists and ``force`` is false, or a file
            cannot be written.
    """
    return _write_keypair(path, X25519PrivateKey.generate(), force=force)


def write_signing_keypair(path: Path, *, force: bool = False) -> Path:
    """Make a new Ed25519 signing key pair and return the public key's path.

    Approvers sign their approvals with it and agencies what they disclose;
    whoever relies on those signatures pins the public key (``FILE.pub``).
    Written as :func:`write_investigator_keypair` writes its pair.

    Raises:
        KeyFileError: either file exists and ``force`` is false, or a file
            cannot be written.
    """
    return _write_keypair(path, Ed25519PrivateKey.generate(), force=force)


def _write_keypair(
    path: Path, key: X25519PrivateKey | Ed25519PrivateKey, *, force: bool
) -> Path:
    pub_path = public_key_path(path)
    exists_message = (
        "key file {} already exists; refusing to replace it (use --force to "
        "replace it; whatever relies on the old key stops working)"
    )
    if not force:
        # Refuse on either file: an existing .pub may already be registered.
        for existing in (path, pub_path):
            if existing.exists():
                raise KeyFileError(exists_message.format(existing))
    private_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        with private_output(path, overwrite=force) as out:
            out.write(private_bytes)
    except FileExistsError:
        raise KeyFileError(exists_message.format(path)) from None
    except OSError as error:
        raise KeyFileError(f"cannot write key file {path}: {error.strerror}") from None
    _write_public(pub_path, key.public_key())
    return pub_path


def read_investigator_private_key(path: Path) -> X25519PrivateKey:
    """Read an investigator's X25519 private key from a PKCS8 PEM file.

    Raises:
        KeyFileError: the file is missing or unreadable, is not a PEM key, or
            holds another kind of key (a public key, an Ed25519 key, ...).
    """
    key = _read_private(
        path,
        "investigator private key file",
        _INVESTIGATOR_HINT,
        X25519PublicKey,
        "an investigator's X25519 private key",
    )
    if isinstance(key, X25519PrivateKey):
        return key
    raise _wrong_kind(
        str(path), key, "an investigator's X25519 private key", _INVESTIGATOR_HINT
    )


def read_investigator_public_key(path: Path) -> X25519PublicKey:
    """Read an investigator's X25519 public key from a SubjectPublicKeyInfo PEM file.

    Raises:
        KeyFileError: the file is missing or unreadable, is not a PEM key, or
            holds another kind of key (notably the private key).
    """
    what = "investigator public key file"
    data = _read_file(path, what, _INVESTIGATOR_PUB_HINT)
    return _investigator_public(_load_pem(data, str(path)), str(path))


def load_investigator_public_pem(text: str, source: str) -> X25519PublicKey:
    """Read an investigator's X25519 public key from PEM text.

    ``source`` says where the text came from (a file name, "the request of
    user alice") and is used in error messages.

    Raises:
        KeyFileError: the text is not a PEM key or holds another kind of key.
    """
    return _investigator_public(_load_pem(text.encode("utf-8"), source), source)


def _investigator_public(key: _AnyKey, source: str) -> X25519PublicKey:
    if isinstance(key, X25519PublicKey):
        return key
    hint = _INVESTIGATOR_PUB_HINT
    if isinstance(key, X25519PrivateKey):
        # The private key must never leave the investigator's machine.
        hint = (
            "this is the PRIVATE key: keep it secret and give the .pub file "
            "written beside it instead"
        )
    raise _wrong_kind(source, key, "an investigator's X25519 public key", hint)


# --- the service's signing key (Ed25519) -------------------------------------


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the service's Ed25519 signing key, creating it first if missing.

    A new key is written atomically as PKCS8 PEM with mode 0600. When two
    processes start together, both may generate a key but only one file is
    created; the process that loses the race reads the winner's key, so both
    sign with the same key.

    Raises:
        KeyFileError: the file cannot be read or written, is not a PEM key, or
            holds another kind of key.
    """
    what = "service signing key file"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            with private_output(path, overwrite=False) as out:
                out.write(pem)
        except FileExistsError:
            # Another process created it between our read and our write.
            data = _read_file(path, what, _SERVICE_KEY_HINT)
        except OSError as error:
            raise KeyFileError(
                f"cannot write {what} {path}: {error.strerror}"
            ) from None
        else:
            return key
    except OSError as error:
        raise KeyFileError(f"cannot read {what} {path}: {error.strerror}") from None
    key_read = _load_pem(data, str(path))
    if isinstance(key_read, Ed25519PrivateKey):
        return key_read
    raise _wrong_kind(
        str(path), key_read, "the service's Ed25519 signing key", _SERVICE_KEY_HINT
    )


def write_service_public_key(path: Path, key: Ed25519PublicKey) -> None:
    """Write the service's public key as SubjectPublicKeyInfo PEM (mode 0644).

    The file is written atomically and replaces any file at ``path``.

    Raises:
        KeyFileError: the file cannot be written.
    """
    _write_public(path, key)


def read_service_public_key(path: Path) -> Ed25519PublicKey:
    """Read the service's Ed25519 public key that agencies pin.

    Raises:
        KeyFileError: the file is missing or unreadable, is not a PEM key, or
            holds another kind of key.
    """
    data = _read_file(path, "service public key file", _SERVICE_PUB_HINT)
    return _service_public(_load_pem(data, str(path)), str(path))


def load_service_public_pem(text: str, source: str) -> Ed25519PublicKey:
    """Read the service's Ed25519 public key from PEM text (``source`` for messages).

    Raises:
        KeyFileError: the text is not a PEM key or holds another kind of key.
    """
    return _service_public(_load_pem(text.encode("utf-8"), source), source)


def _service_public(key: _AnyKey, source: str) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    hint = _SERVICE_PUB_HINT
    if isinstance(key, Ed25519PrivateKey):
        hint = (
            "this is the service's PRIVATE signing key: it must stay with the "
            "service; use the public key file instead"
        )
    raise _wrong_kind(source, key, "the service's Ed25519 public key", hint)


# --- approvers' and agencies' signing keys (Ed25519) -------------------------

_SIGNING_HINT = "make one with `linkage keygen --signing --out FILE`"
_SIGNING_PUB_HINT = (
    "give the public key file written beside the private key by "
    "`linkage keygen --signing --out FILE` (FILE.pub)"
)


def read_signing_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an approver's or agency's Ed25519 signing key (PKCS8 PEM).

    Raises:
        KeyFileError: the file is missing or unreadable, is not a PEM key, or
            holds another kind of key (a public key, an investigator's key).
    """
    key = _read_private(
        path,
        "signing key file",
        _SIGNING_HINT,
        Ed25519PublicKey,
        "an Ed25519 signing key",
    )
    if isinstance(key, Ed25519PrivateKey):
        return key
    raise _wrong_kind(str(path), key, "an Ed25519 signing key", _SIGNING_HINT)


def read_signing_public_key(path: Path) -> Ed25519PublicKey:
    """Read an approver's or agency's Ed25519 public key (SubjectPublicKeyInfo PEM).

    Raises:
        KeyFileError: the file is missing or unreadable, is not a PEM key, or
            holds another kind of key (notably the private key).
    """
    data = _read_file(path, "public key file", _SIGNING_PUB_HINT)
    return load_signing_public_pem(data.decode("utf-8", "replace"), str(path))


def load_signing_public_pem(text: str, source: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key from PEM text (``source`` for messages).

    Raises:
        KeyFileError: the text is not a PEM key or holds another kind of key.
    """
    key = _load_pem(text.encode("utf-8"), source)
    if isinstance(key, Ed25519PublicKey):
        return key
    hint = _SIGNING_PUB_HINT
    if isinstance(key, Ed25519PrivateKey):
        hint = (
            "this is the PRIVATE signing key: keep it secret and give the .pub "
            "file written beside it instead"
        )
    raise _wrong_kind(source, key, "an Ed25519 public key", hint)


# --- encodings and fingerprints ----------------------------------------------


def public_pem(key: X25519PublicKey | Ed25519PublicKey) -> str:
    """Return ``key`` as SubjectPublicKeyInfo PEM text."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(key: X25519PublicKey | Ed25519PublicKey) -> str:
    """Return the fingerprint of ``key``: the first 32 hex characters of SHA-256.

    It is computed over the raw 32 public bytes, so the same key has the same
    id whichever file format carried it; it is short enough to read aloud.
    """
    return hashlib.sha256(_raw(key)).hexdigest()[:KEY_ID_CHARS]


def raw_public_b64(key: X25519PublicKey | Ed25519PublicKey) -> str:
    """Return the raw 32 public bytes of ``key``, base64url without padding."""
    return b64encode(_raw(key))


def x25519_public_from_b64(
    text: str, *, source: str = "the investigator key"
) -> X25519PublicKey:
    """Read an X25519 public key written by :func:`raw_public_b64`.

    Raises:
        KeyFileError: ``text`` is not 43 base64url characters encoding 32 bytes.
    """
    return X25519PublicKey.from_public_bytes(_raw_from_b64(text, source, "X25519"))


def ed25519_public_from_b64(text: str, *, source: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key written by :func:`raw_public_b64`.

    Raises:
        KeyFileError: ``text`` is not 43 base64url characters encoding 32
            bytes of an Ed25519 public key.
    """
    raw = _raw_from_b64(text, source, "Ed25519")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise KeyFileError(f"{source} is not an Ed25519 public key") from None


def _raw_from_b64(text: str, source: str, kind: str) -> bytes:
    invalid = KeyFileError(
        f"{source} is not an {kind} public key: expected 43 base64url "
        "characters that encode 32 bytes"
    )
    if not isinstance(text, str) or not _RAW_KEY_B64.fullmatch(text):
        raise invalid
    # Canonical text only (no stray low bits in the last character), so that
    # one key has exactly one textual form.
    raw = b64decode(text)
    if raw is None or len(raw) != 32:
        raise invalid
    return raw


def _raw(key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- reading and writing ------------------------------------------------------

# Whatever a PEM file may hold; checked against the kind expected by the caller.
_AnyKey = PrivateKeyTypes | PublicKeyTypes

_KIND_NAMES: tuple[tuple[type, str], ...] = (
    (X25519PrivateKey, "an X25519 private key"),
    (X25519PublicKey, "an X25519 public key"),
    (Ed25519PrivateKey, "an Ed25519 private key"),
    (Ed25519PublicKey, "an Ed25519 public key"),
    (rsa.RSAPrivateKey, "an RSA private key"),
    (rsa.RSAPublicKey, "an RSA public key"),
    (ec.EllipticCurvePrivateKey, "an elliptic-curve (EC) private key"),
    (ec.EllipticCurvePublicKey, "an elliptic-curve (EC) public key"),
    (ed448.Ed448PrivateKey, "an Ed448 private key"),
    (ed448.Ed448PublicKey, "an Ed448 public key"),
    (x448.X448PrivateKey, "an X448 private key"),
    (x448.X448PublicKey, "an X448 public key"),
)


def _kind(key: object) -> str:
    for cls, name in _KIND_NAMES:
        if isinstance(key, cls):
            return name
    return "a key of another kind"


def _wrong_kind(source: str, key: object, expected: str, hint: str) -> KeyFileError:
    return KeyFileError(
        f"{source} holds {_kind(key)}, but {expected} was expected; {hint}"
    )


def _read_private(
    path: Path, what: str, hint: str, public_kind: type, expected: str
) -> _AnyKey:
    """The key in ``path``, refusing the public half of the expected kind with
    a message that says so (the caller checks for the private kind)."""
    key = _load_pem(_read_file(path, what, hint), str(path))
    if isinstance(key, public_kind):
        raise _wrong_kind(
            str(path),
            key,
            expected,
            "give the private key file, not the .pub file written beside it",
        )
    return key


def _read_file(path: Path, what: str, hint: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{what} {path} does not exist; {hint}") from None
    except IsADirectoryError:
        raise KeyFileError(f"{what} {path} is a directory, not a key file") from None
    except OSError as error:
        raise KeyFileError(f"cannot read {what} {path}: {error.strerror}") from None


def _load_pem(data: bytes, source: str) -> _AnyKey:
    """Parse the first PEM block of ``data`` as a private or public key.

    The block's label decides which loader to use, so that a public key given
    where a private one is expected (or the reverse) gets a message saying so
    rather than "not a key".
    """
    not_pem = KeyFileError(
        f"{source} is not a PEM key file: expected a '-----BEGIN PRIVATE KEY-----' "
        "or '-----BEGIN PUBLIC KEY-----' block"
    )
    block = _PEM_BLOCK.search(data)
    if block is None:
        raise not_pem
    label = block.group(1)
    if label.startswith(b"ENCRYPTED"):
        raise KeyFileError(
            f"{source} holds a password-protected private key; linkage "
            "reads unencrypted PKCS8 keys kept in a file of mode 0600"
        )
    try:
        if label.endswith(b"PRIVATE KEY"):
            return serialization.load_pem_private_key(data, password=None)
        if label.endswith(b"PUBLIC KEY"):
            return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The library's message may quote file content: say only what is wrong.
        raise KeyFileError(
            f"{source} has a PEM block that is not a valid key (damaged or truncated?)"
        ) from None
    raise not_pem


def _write_public(path: Path, key: X25519PublicKey | Ed25519PublicKey) -> None:
    try:
        with private_output(path) as out:
            # A public key is meant to be shared: readable by all, not 0600.
            os.fchmod(out.fileno(), 0o644)
            out.write(public_pem(key).encode("ascii"))
    except OSError as error:
        raise KeyFileError(
            f"cannot write public key file {path}: {error.strerror}"
        ) from None
