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
    "b64decode",
    "b64encode",
    "canonical_json",
    "format_time",
    "parse_time",
]

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
