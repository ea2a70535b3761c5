"""Seal a disclosure to one investigator's X25519 public key.

An agency discloses identity fields to one named investigator; the linkage
operator only relays the sealed blob and must not be able to read it. Two
schemes, both built from ``cryptography`` primitives only:

``hpke-base-x25519-sha256-aes256gcm``
    RFC 9180 HPKE, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
    AES-256-GCM, through ``cryptography.hazmat.primitives.hpke``. The binding
    is passed as HPKE ``info``: the single-shot API has no separate AAD, and
    ``info`` enters the key schedule, so another binding derives another key.

``x25519-hkdf-sha256-aes256gcm``
    For ``cryptography`` releases without HPKE: a fresh ephemeral X25519 key,
    ``HKDF-SHA256(salt = ephemeral_public || recipient_public,
    info = "linkage-reveal-seal v1")`` over the shared secret, then AES-256-GCM
    under a random 12-byte nonce with the binding as associated data.

Either way the envelope is ``enc`` (the 32-byte ephemeral public key) and
``ciphertext``; a wrong key, a changed byte or another binding opens nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.errors import LinkageError
from linkage.reveal.wire import b64decode, b64encode

try:
    from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

    _HPKE_SUITE: Suite | None = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
except ImportError:  # pragma: no cover - only on cryptography without HPKE
    _HPKE_SUITE = None

__all__ = [
    "DEFAULT_SCHEME",
    "ENC_BYTES",
    "HPKE_SCHEME",
    "SCHEMES",
    "X25519_HKDF_SCHEME",
    "SealError",
    "SealedEnvelope",
    "binding",
    "hpke_available",
    "open_sealed",
    "seal",
]

HPKE_SCHEME: Final = "hpke-base-x25519-sha256-aes256gcm"
X25519_HKDF_SCHEME: Final = "x25519-hkdf-sha256-aes256gcm"
#: Every scheme this module can open, the preferred one first.
SCHEMES: Final = (HPKE_SCHEME, X25519_HKDF_SCHEME)
#: Length of ``enc``: an X25519 public key in both schemes.
ENC_BYTES: Final = 32

_BINDING_PREFIX: Final = b"linkage-reveal v1\n"
_HKDF_INFO: Final = b"linkage-reveal-seal v1"
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_CANNOT_OPEN: Final = (
    "the disclosure cannot be opened with this key: it was sealed to another "
    "investigator's key, was altered in transit, or belongs to another request"
)


class SealError(LinkageError, ValueError):
    """A sealed disclosure is malformed, of an unknown scheme, or does not open."""


def hpke_available() -> bool:
    """Whether the installed ``cryptography`` offers RFC 9180 HPKE."""
    return _HPKE_SUITE is not None


#: The scheme :func:`seal` uses unless told otherwise.
DEFAULT_SCHEME: Final = HPKE_SCHEME if hpke_available() else X25519_HKDF_SCHEME


@dataclass(frozen=True)
class SealedEnvelope:
    """A sealed blob: its scheme, the encapsulated key and the ciphertext."""

    scheme: str
    enc: bytes
    ciphertext: bytes

    def to_json(self) -> dict[str, str]:
        """Return a JSON-ready dict; bytes are base64url without padding."""
        return {
            "scheme": self.scheme,
            "enc": b64encode(self.enc),
            "ciphertext": b64encode(self.ciphertext),
        }

    @classmethod
    def from_json(cls, obj: object) -> SealedEnvelope:
        """Parse what :meth:`to_json` produced, strictly.

        Raises:
            SealError: ``obj`` is not such a dict; the message names the field.
        """
        if not isinstance(obj, dict):
            raise SealError(
                f"a sealed envelope must be a JSON object (got {type(obj).__name__})"
            )
        expected = {"scheme", "enc", "ciphertext"}
        if set(obj) != expected:
            missing = sorted(expected - set(obj))
            extra = sorted(str(key) for key in set(obj) - expected)
            raise SealError(
                "a sealed envelope must have exactly the fields "
                f"'scheme', 'enc', 'ciphertext' (missing {missing}, unexpected {extra})"
            )
        scheme = obj["scheme"]
        if not isinstance(scheme, str) or scheme not in SCHEMES:
            raise SealError(
                f"sealed envelope field 'scheme': unknown scheme {scheme!r} "
                f"(known: {', '.join(SCHEMES)})"
            )
        enc = _b64decode(obj["enc"], "enc")
        if len(enc) != ENC_BYTES:
            raise SealError(
                f"sealed envelope field 'enc': must be {ENC_BYTES} bytes "
                f"(got {len(enc)})"
            )
        return cls(scheme, enc, _b64decode(obj["ciphertext"], "ciphertext"))


def _b64decode(value: object, field: str) -> bytes:
    data = b64decode(value)
    if data is None:
        raise SealError(
            f"sealed envelope field '{field}': must be base64url text without padding"
        )
    return data


def binding(*, project_id: int, request_id: int, grant_id: int, party: str) -> bytes:
    """Return the context a sealed disclosure is bound to, canonically encoded.

    A blob sealed under one binding does not open under another, so it cannot
    be moved to another project, request, grant or party.

    Raises:
        ValueError: an ID is not a non-negative int, or ``party`` is empty.
    """
    ids = {"project_id": project_id, "request_id": request_id, "grant_id": grant_id}
    for name, value in ids.items():
        # bool is an int subclass; True must not pass for 1.
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"'{name}' must be a non-negative int (got {value!r})")
    if not isinstance(party, str) or not party:
        raise ValueError(f"'party' must be a non-empty str (got {party!r})")
    # Sorted keys and fixed separators: one context, one byte string.
    body = json.dumps(
        {**ids, "party": party},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return _BINDING_PREFIX + body.encode("utf-8")


def seal(
    plaintext: bytes,
    recipient: X25519PublicKey,
    binding: bytes,
    *,
    scheme: str | None = None,
) -> SealedEnvelope:
    """Seal ``plaintext`` so that only ``recipient``'s private key opens it.

    Raises:
        SealError: ``scheme`` is unknown, or is HPKE and HPKE is unavailable.
    """
    chosen = DEFAULT_SCHEME if scheme is None else scheme
    if chosen == HPKE_SCHEME:
        return _seal_hpke(plaintext, recipient, binding)
    if chosen == X25519_HKDF_SCHEME:
        return _seal_x25519(plaintext, recipient, binding)
    raise _unknown_scheme(chosen)


def open_sealed(
    envelope: SealedEnvelope, private_key: X25519PrivateKey, binding: bytes
) -> bytes:
    """Open ``envelope`` with the investigator's private key.

    Raises:
        SealError: the scheme is unknown or unavailable here, or the envelope
            does not open (another key, altered, or another binding).
    """
    if envelope.scheme == HPKE_SCHEME:
        return _open_hpke(envelope, private_key, binding)
    if envelope.scheme == X25519_HKDF_SCHEME:
        return _open_x25519(envelope, private_key, binding)
    raise _unknown_scheme(envelope.scheme)


def _unknown_scheme(scheme: str) -> SealError:
    return SealError(f"unknown sealing scheme {scheme!r} (known: {', '.join(SCHEMES)})")


def _hpke_suite() -> Suite:
    if _HPKE_SUITE is None:
        raise SealError(
            f"scheme {HPKE_SCHEME!r} needs RFC 9180 HPKE, which this "
            "installation's `cryptography` lacks: upgrade `cryptography` "
            "(pip install --upgrade cryptography)"
        )
    return _HPKE_SUITE


def _seal_hpke(
    plaintext: bytes, recipient: X25519PublicKey, binding: bytes
) -> SealedEnvelope:
    sealed = _hpke_suite().encrypt(plaintext, recipient, info=binding)
    # The single-shot API returns enc || ciphertext; enc is the X25519 key.
    return SealedEnvelope(HPKE_SCHEME, sealed[:ENC_BYTES], sealed[ENC_BYTES:])


def _open_hpke(
    envelope: SealedEnvelope, private_key: X25519PrivateKey, binding: bytes
) -> bytes:
    suite = _hpke_suite()
    if len(envelope.enc) != ENC_BYTES:
        raise SealError(_CANNOT_OPEN)
    try:
        return suite.decrypt(
            envelope.enc + envelope.ciphertext, private_key, info=binding
        )
    except (InvalidTag, ValueError):
        raise SealError(_CANNOT_OPEN) from None


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _x25519_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    # Both public keys in the salt tie the key to this very exchange.
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral + recipient,
        info=_HKDF_INFO,
    ).derive(shared)
    return AESGCM(key)


def _seal_x25519(
    plaintext: bytes, recipient: X25519PublicKey, binding: bytes
) -> SealedEnvelope:
    ephemeral = X25519PrivateKey.generate()
    enc = _raw(ephemeral.public_key())
    cipher = _x25519_key(ephemeral.exchange(recipient), enc, _raw(recipient))
    nonce = os.urandom(_NONCE_BYTES)
    sealed = cipher.encrypt(nonce, plaintext, binding)
    return SealedEnvelope(X25519_HKDF_SCHEME, enc, nonce + sealed)


def _open_x25519(
    envelope: SealedEnvelope, private_key: X25519PrivateKey, binding: bytes
) -> bytes:
    data = envelope.ciphertext
    if len(envelope.enc) != ENC_BYTES or len(data) < _NONCE_BYTES + _TAG_BYTES:
        raise SealError(_CANNOT_OPEN)
    try:
        ephemeral = X25519PublicKey.from_public_bytes(envelope.enc)
        # exchange() raises ValueError on a low-order point (all-zero secret).
        shared = private_key.exchange(ephemeral)
        cipher = _x25519_key(shared, envelope.enc, _raw(private_key.public_key()))
        return cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], binding)
    except (InvalidTag, ValueError):
        raise SealError(_CANNOT_OPEN) from None
