"""Per-feature hashing keys, derived from the shared secret as clkhash does.

Keys come from HKDF (RFC 5869) in the ``cryptography`` package: ``2 * F`` keys
of ``keySize`` bytes for ``F`` features, ignored features included. Feature
``i`` gets keys ``2i`` (HMAC-SHA1 in doubleHash, the BLAKE2b key in blakeHash)
and ``2i + 1`` (HMAC-MD5 in doubleHash).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.formats.schema import LinkageSchema

FeatureKeys = tuple[bytes, bytes]

_KEY_CHECK_INFO = b"linkage/key-check-value/v1"
_KEY_CHECK_BYTES = 8


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


def key_check_value(secret: bytes) -> str:
    """A short public fingerprint of the secret.

    Agencies that used the same secret get the same value, so the operator can
    refuse to link files made with different secrets. It is derived through
    HKDF under its own label, so it reveals nothing about the hashing keys; a
    secret of at least 128 bits (``linkage keygen``) keeps it from being
    guessed.
    """
    check = HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY_CHECK_BYTES,
        salt=None,
        info=_KEY_CHECK_INFO,
    ).derive(secret)
    return check.hex()
