"""How signed reveal documents are written: canonical JSON, base64url, UTC times.

Grants, approvals and signed disclosures are signed over their exact bytes, so
each has exactly one spelling: canonical JSON (sorted keys, no spaces, UTF-8),
unpadded base64url without stray low bits, and UTC times with a ``Z``. The
readers here refuse any other spelling, so no two parties can read one signed
document differently.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SIGNATURE_BYTES",
    "SignedDocument",
    "b64decode",
    "b64encode",
    "canonical_json",
    "format_time",
    "parse_time",
    "read_signed",
]

#: The length of an Ed25519 signature.
SIGNATURE_BYTES = 64

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z")


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as the canonical JSON bytes that documents are signed over."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def b64encode(data: bytes) -> str:
    """Return ``data`` as base64url text without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(value: object) -> bytes | None:
    """Decode base64url text without padding; None unless it is the one
    canonical spelling (no padding, no stray low bits, no length 4n+1)."""
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        return None
    if len(value) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if b64encode(data) == value else None


def format_time(value: datetime) -> str:
    """Write ``value`` in UTC as ISO-8601 with a ``Z`` (microseconds if any)."""
    utc = value.astimezone(UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_time(value: object) -> datetime | None:
    """Read a time written by :func:`format_time`; None for anything else."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class SignedDocument:
    """A document's exact payload bytes and an Ed25519 signature of them.

    The payload is kept as bytes, not re-encoded: the signature is over these
    bytes, and any other serialisation of the same document does not verify.
    """

    payload: bytes
    signature: bytes

    def to_json(self) -> dict[str, str]:
        """Return ``{"payload": ..., "signature": ...}``, base64url unpadded."""
        return {
            "payload": b64encode(self.payload),
            "signature": b64encode(self.signature),
        }


def read_signed(obj: object) -> tuple[bytes, bytes]:
    """The payload and signature of what :meth:`SignedDocument.to_json`
    wrote (its shape only: whoever uses it verifies the signature first).

    Raises:
        ValueError: with a message saying what is wrong.
    """
    if not isinstance(obj, dict) or set(obj) != {"payload", "signature"}:
        raise ValueError(
            "expected a JSON object with exactly the keys payload and signature"
        )
    payload = b64decode(obj["payload"])
    signature = b64decode(obj["signature"])
    if payload is None or signature is None:
        raise ValueError("payload and signature must be base64url text without padding")
    if len(signature) != SIGNATURE_BYTES:
        raise ValueError(
            f"the signature has {len(signature)} bytes, not {SIGNATURE_BYTES}"
        )
    return payload, signature
