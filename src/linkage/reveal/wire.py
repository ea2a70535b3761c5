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
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SIGNATURE_BYTES",
    "b64decode",
    "b64encode",
    "canonical_json",
    "format_time",
    "parse_time",
    "read_signed",
    "signed_json",
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


def signed_json(payload: bytes, signature: bytes) -> dict[str, str]:
    """A signed document as JSON: ``{"payload": ..., "signature": ...}``,
    both base64url without padding."""
    return {"payload": b64encode(payload), "signature": b64encode(signature)}


def read_signed(obj: object) -> tuple[bytes, bytes]:
    """The payload and signature of what :func:`signed_json` wrote (its shape
    only: whoever uses it verifies the signature first).

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
