"""Per-feature hashing keys, derived from the shared secret as clkhash does.

Keys come from HKDF (RFC 5869) in the ``cryptography`` package: ``2 * F`` keys
of ``keySize`` bytes for ``F`` features, ignored features included. Feature
``i`` gets keys ``2i`` (HMAC-SHA1 in doubleHash, the BLAKE2b key in blakeHash)
and ``2i + 1`` (HMAC-MD5 in doubleHash).

The key-check value every encodings file carries is derived here too, under
its own label (which schemas may not use as their HKDF info).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.formats.schema import KEY_CHECK_LABEL, LinkageSchema

FeatureKeys = tuple[bytes, bytes]

_KEY_CHECK_INFO = KEY_CHECK_LABEL + b"v2"
_KEY_CHECK_BYTES = 16
_LEGACY_KEY_CHECK_INFO = KEY_CHECK_LABEL + b"v1"
_LEGACY_KEY_CHECK_BYTES = 8


def derive_feature_keys(schema: LinkageSchema, secret: bytes) -> list[FeatureKeys]:
    """Derive the two hashing keys of every feature, in schema order."""
    algorithm: hashes.HashAlgorithm = (
        hashes.SHA512() if schema.kdf_hash == "SHA512" else hashes.SHA256()
    )
    count = len(schema.features)
    material = HKDF(
        algorithm=algorithm,
        length=2 * count * schema.key_size,
        salt=schema.kdf_salt,
        info=schema.kdf_info,
    ).derive(secret)
    size = schema.key_size
    return [
        (
            material[2 * i * size : (2 * i + 1) * size],
            material[(2 * i + 1) * size : (2 * i + 2) * size],
        )
        for i in range(count)
    ]


def key_check_value(secret: bytes, schema: LinkageSchema) -> str:
    """A short public fingerprint of the secret under ``schema``: 32 hex digits.

    Agencies that encode with the same secret and schema get the same value,
    so the operator can refuse to link files made with different secrets. It
    is salted with the schema's fingerprint (which covers the schema's own
    HKDF salt), so the same secret in another project gives an unrelated
    value, and derived under its own label, so it reveals nothing about the
    hashing keys. ``secret`` is the key the encoder uses: a passphrase has
    already been stretched with scrypt, so each guess of it costs that much.

    Files written before it was salted carry :func:`legacy_key_check_value`,
    16 hex digits; the length tells the two apart.
    """
    return _check_value(
        secret, bytes.fromhex(schema.fingerprint), _KEY_CHECK_INFO, _KEY_CHECK_BYTES
    )


def legacy_key_check_value(secret: bytes) -> str:
    """The unsalted key-check value of files from older versions: 16 hex digits.

    Not written any more: it is the same in every project, and cheap to test
    guesses against. Kept so the guessing attacker can try old files.
    """
    return _check_value(secret, None, _LEGACY_KEY_CHECK_INFO, _LEGACY_KEY_CHECK_BYTES)


def _check_value(secret: bytes, salt: bytes | None, info: bytes, size: int) -> str:
    return (
        HKDF(algorithm=hashes.SHA256(), length=size, salt=salt, info=info)
        .derive(secret)
        .hex()
    )
