"""The agency's signature on what it discloses, inside the sealed envelope.

Sealing alone (HPKE base mode) says nothing about who sealed: the operator
relays every answer and could seal invented identities to the investigator's
public key itself. So the agency signs the disclosure with its own Ed25519 key
(``linkage keygen --signing``), and the investigator accepts a disclosure only
if it verifies against the key they pinned for that agency
(:mod:`linkage.reveal.trust`).

The signature covers a domain label, the investigator's raw X25519 key (the
disclosure was made for them, not for whoever forwards it) and the exact
disclosure bytes. It travels *inside* the sealed envelope: a signature in the
clear would let anyone holding the agency's public key test guesses of who
was disclosed. The sealed plaintext is canonical JSON::

    {"disclosure": "<base64url>", "signature": "<base64url>",
     "signer_key_id": "<key id>", "version": 1}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from linkage.reveal.disclosure import Disclosure, DisclosureError
from linkage.reveal.keys import key_id, raw_public_b64
from linkage.reveal.wire import b64decode, b64encode, canonical_json

__all__ = ["SIGNED_VERSION", "sign_disclosure", "verify_disclosure"]

SIGNED_VERSION: Final = 1

_DOMAIN: Final = b"linkage-disclosure v1\n"
_KEYS: Final = frozenset({"version", "disclosure", "signature", "signer_key_id"})


def sign_disclosure(
    disclosure: Disclosure, key: Ed25519PrivateKey, recipient: X25519PublicKey
) -> bytes:
    """The plaintext to seal: ``disclosure`` signed by the agency for ``recipient``."""
    body = disclosure.to_bytes()
    signature = key.sign(_signed_bytes(recipient, body))
    return canonical_json(
        {
            "version": SIGNED_VERSION,
            "disclosure": b64encode(body),
            "signature": b64encode(signature),
            "signer_key_id": key_id(key.public_key()),
        }
    )


def verify_disclosure(
    data: bytes,
    agency_keys: Mapping[str, Ed25519PublicKey],
    recipient: X25519PublicKey,
    source: str,
) -> Disclosure:
    """Read a signed disclosure and check it against the disclosing agency's
    pinned key; ``source`` names it in messages.

    Raises:
        DisclosureError: it is malformed, its agency has no pinned key, or
            the signature does not verify (the answer was not made by the
            agency, or not for this investigator).
    """
    document = _document(data, source)
    body = b64decode(document["disclosure"])
    signature = b64decode(document["signature"])
    if body is None or signature is None:
        raise DisclosureError(f"{source}: the disclosure or signature is not base64url")
    disclosure = Disclosure.from_bytes(body, source)
    key = agency_keys.get(disclosure.party)
    if key is None:
        raise DisclosureError(
            f"{source}: no key is pinned for agency {disclosure.party!r}, so "
            "nothing says the agency made this answer; add its public key to "
            "your trust file (`linkage reveal trust --agency "
            f"{disclosure.party}=FILE.pub`), after checking its key ID with them"
        )
    try:
        key.verify(signature, _signed_bytes(recipient, body))
    except InvalidSignature:
        raise DisclosureError(
            f"{source}: the answer is not signed by agency {disclosure.party!r}'s "
            "pinned key (it names key "
            f"{document['signer_key_id']!r}): someone else made it, perhaps the "
            "operator; do not rely on it, and tell the agency"
        ) from None
    return disclosure


def _signed_bytes(recipient: X25519PublicKey, body: bytes) -> bytes:
    return _DOMAIN + raw_public_b64(recipient).encode("ascii") + b"\n" + body


def _document(data: bytes, source: str) -> dict[str, object]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DisclosureError(f"{source}: not a signed disclosure (not JSON)") from None
    if not isinstance(document, dict) or set(document) != _KEYS:
        raise DisclosureError(
            f"{source}: not a signed disclosure (expected the keys "
            f"{', '.join(sorted(_KEYS))}); the agency may run an older linkage"
        )
    if document["version"] != SIGNED_VERSION:
        raise DisclosureError(
            f"{source}: signed disclosure version {document['version']!r} is "
            f"not supported (expected {SIGNED_VERSION})"
        )
    return document
