"""Signed grants: the service's word that a reveal request was approved.

When a reveal request meets the policy, the service issues a :class:`Grant`
naming the match, the agency (``party``) that should disclose, the pseudonyms
to look up, the investigator and the key to seal the identities to, and when
the grant expires. It signs the grant's canonical JSON bytes with its Ed25519
key (:func:`sign_grant`); an agency verifies the grant against the service key
it has pinned (:func:`verify_grant`) before it opens its vault.

The signature covers the exact payload bytes, prefixed with a domain label so
that a signature made for another purpose can never pass as a grant. Nothing
in a payload is read before its signature has been checked, except by
:func:`unverified_grant_id`, which is for display only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from linkage.errors import LinkageError
from linkage.reveal.keys import KeyFileError, key_id, x25519_public_from_b64
from linkage.reveal.wire import (
    SignedDocument,
    canonical_json,
    format_time,
    parse_time,
    read_signed,
)

__all__ = [
    "GRANT_VERSION",
    "MAX_CLOCK_SKEW",
    "Grant",
    "GrantRejected",
    "SignedGrant",
    "canonical_json",
    "sign_grant",
    "unverified_grant_id",
    "verify_grant",
]

#: The version of the grant JSON written by :meth:`Grant.to_json`.
GRANT_VERSION = 1
#: How far in the future ``issued_at`` may be: the service's and the agency's
#: clocks differ a little, but a grant from tomorrow is not a clock problem.
MAX_CLOCK_SKEW = timedelta(minutes=5)

# Signatures are over this label and the payload, never the payload alone.
_DOMAIN = b"linkage-grant v1\n"

_FIELDS = (
    "grant_id",
    "request_id",
    "project_id",
    "run_id",
    "match_id",
    "party",
    "pseudonyms",
    "investigator",
    "investigator_key",
    "purpose",
    "legal_basis",
    "case_reference",
    "issued_at",
    "expires_at",
    "service_key_id",
)


class GrantRejected(LinkageError):
    """A grant must not be fulfilled; ``reason`` says why, as a stable code.

    Codes: ``bad-signature``, ``malformed``, ``wrong-project``, ``wrong-party``,
    ``expired``, ``not-yet-valid``.
    """

    def __init__(self, message: str, *, reason: str, grant_id: int | None = None):
        self.reason = reason
        self.grant_id = grant_id
        super().__init__(message)


def _malformed(detail: str, grant_id: int | None = None) -> GrantRejected:
    name = "grant" if grant_id is None else f"grant {grant_id}"
    return GrantRejected(
        f"{name} is malformed: {detail}; do not fulfil it, and tell the operator",
        reason="malformed",
        grant_id=grant_id,
    )


@dataclass(frozen=True)
class Grant:
    """An approved reveal request, as the service signs it.

    Times are timezone-aware; :meth:`to_json` writes them in UTC. The
    investigator's key is the raw X25519 public key, base64url without padding
    (:func:`linkage.reveal.keys.raw_public_b64`), and ``service_key_id`` the
    :func:`~linkage.reveal.keys.key_id` of the service key that signs it.
    """

    grant_id: int
    request_id: int
    project_id: int
    run_id: int
    match_id: str
    party: str
    pseudonyms: tuple[str, ...]
    investigator: str
    investigator_key: str
    purpose: str
    legal_basis: str
    case_reference: str | None
    issued_at: datetime
    expires_at: datetime
    service_key_id: str

    def __post_init__(self) -> None:
        # Naive times would be read in whatever zone the reader is in.
        for name in ("issued_at", "expires_at"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Grant.{name} must be a timezone-aware datetime")

    def to_json(self) -> dict[str, Any]:
        """Return the grant as JSON types, with ``"version": 1``."""
        return {
            "version": GRANT_VERSION,
            "grant_id": self.grant_id,
            "request_id": self.request_id,
            "project_id": self.project_id,
            "run_id": self.run_id,
            "match_id": self.match_id,
            "party": self.party,
            "pseudonyms": list(self.pseudonyms),
            "investigator": self.investigator,
            "investigator_key": self.investigator_key,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "case_reference": self.case_reference,
            "issued_at": format_time(self.issued_at),
            "expires_at": format_time(self.expires_at),
            "service_key_id": self.service_key_id,
        }

    @classmethod
    def from_json(cls, obj: object) -> Grant:
        """Read a grant written by :meth:`to_json`, strictly.

        Every key must be present with its exact type, and no other key.

        Raises:
            GrantRejected: with reason ``malformed``.
        """
        if not isinstance(obj, dict):
            raise _malformed("expected a JSON object")
        grant_id = _peek_id(obj)
        expected = {"version", *_FIELDS}
        unknown = sorted(str(key) for key in obj if key not in expected)
        missing = sorted(key for key in expected if key not in obj)
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown key(s) {', '.join(unknown)}")
            raise _malformed("; ".join(parts), grant_id)
        if obj["version"] != GRANT_VERSION or isinstance(obj["version"], bool):
            raise _malformed(
                f"version {obj['version']!r} is not supported (expected "
                f"{GRANT_VERSION}); upgrade linkage",
                grant_id,
            )
        ints = {}
        for name in ("grant_id", "request_id", "project_id", "run_id"):
            value = obj[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _malformed(f"{name} must be a whole number", grant_id)
            ints[name] = value
        texts = {}
        for name in (
            "match_id",
            "party",
            "investigator",
            "investigator_key",
            "purpose",
            "legal_basis",
            "service_key_id",
        ):
            value = obj[name]
            if not isinstance(value, str) or not value:
                raise _malformed(f"{name} must be non-empty text", grant_id)
            texts[name] = value
        case_reference = obj["case_reference"]
        if case_reference is not None and not isinstance(case_reference, str):
            raise _malformed("case_reference must be text or null", grant_id)
        pseudonyms = obj["pseudonyms"]
        if not isinstance(pseudonyms, list) or not all(
            isinstance(item, str) and item for item in pseudonyms
        ):
            raise _malformed("pseudonyms must be a list of non-empty texts", grant_id)
        try:
            x25519_public_from_b64(texts["investigator_key"])
        except KeyFileError:
            raise _malformed(
                "investigator_key is not a base64url X25519 public key", grant_id
            ) from None
        issued_at = _parse_time(obj["issued_at"], "issued_at", grant_id)
        expires_at = _parse_time(obj["expires_at"], "expires_at", grant_id)
        if expires_at <= issued_at:
            raise _malformed("it expires before it was issued", grant_id)
        return cls(
            grant_id=ints["grant_id"],
            request_id=ints["request_id"],
            project_id=ints["project_id"],
            run_id=ints["run_id"],
            match_id=texts["match_id"],
            party=texts["party"],
            pseudonyms=tuple(pseudonyms),
            investigator=texts["investigator"],
            investigator_key=texts["investigator_key"],
            purpose=texts["purpose"],
            legal_basis=texts["legal_basis"],
            case_reference=case_reference,
            issued_at=issued_at,
            expires_at=expires_at,
            service_key_id=texts["service_key_id"],
        )


class SignedGrant(SignedDocument):
    """A grant's exact payload bytes and the service's signature of them."""

    @classmethod
    def from_json(cls, obj: object) -> SignedGrant:
        """Read a signed grant written by :meth:`to_json`, strictly.

        This checks the shape only; call :func:`verify_grant` before use.

        Raises:
            GrantRejected: with reason ``malformed``.
        """
        try:
            payload, signature = read_signed(obj)
        except ValueError as error:
            raise _malformed(str(error)) from None
        return cls(payload=payload, signature=signature)


def sign_grant(grant: Grant, key: Ed25519PrivateKey) -> SignedGrant:
    """Sign ``grant`` with the service key.

    Raises:
        ValueError: ``grant.service_key_id`` is not the id of ``key``'s public
            key (the grant would name the wrong key to its verifiers).
    """
    own_id = key_id(key.public_key())
    if grant.service_key_id != own_id:
        raise ValueError(
            f"grant {grant.grant_id} names service key {grant.service_key_id}, "
            f"but is being signed with key {own_id}"
        )
    payload = canonical_json(grant.to_json())
    return SignedGrant(payload=payload, signature=key.sign(_DOMAIN + payload))


def verify_grant(
    signed: SignedGrant,
    public_key: Ed25519PublicKey,
    *,
    now: datetime,
    party: str,
    project_id: int,
) -> Grant:
    """Check a signed grant and return it if ``party`` may fulfil it at ``now``.

    Checks, in order: the signature against the pinned service key, the shape
    of the payload, the project, the party, expiry (``now >= expires_at``), and
    that it was not issued more than :data:`MAX_CLOCK_SKEW` in the future.

    Raises:
        GrantRejected: with ``reason`` ``bad-signature``, ``malformed``,
            ``wrong-project``, ``wrong-party``, ``expired`` or ``not-yet-valid``.
        ValueError: ``now`` is a naive datetime (a programming error).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("verify_grant needs a timezone-aware `now`")
    try:
        public_key.verify(signed.signature, _DOMAIN + signed.payload)
    except InvalidSignature:
        claimed = unverified_grant_id(signed)
        name = "the grant" if claimed is None else f"the grant (claiming id {claimed})"
        raise GrantRejected(
            f"{name} was refused: the grant's signature does not verify against "
            "the pinned service key: it was forged or altered; do not fulfil it, "
            "and tell the operator",
            reason="bad-signature",
        ) from None
    grant = _parse_payload(signed.payload)
    if grant.project_id != project_id:
        raise GrantRejected(
            f"grant {grant.grant_id} is for project {grant.project_id}, not "
            f"{project_id}: do not fulfil it; check which project you are "
            "serving and tell the operator",
            reason="wrong-project",
            grant_id=grant.grant_id,
        )
    if grant.party != party:
        raise GrantRejected(
            f"grant {grant.grant_id} is for party {grant.party!r}, not {party!r}: "
            "only that agency may fulfil it; do not fulfil it, and tell the operator",
            reason="wrong-party",
            grant_id=grant.grant_id,
        )
    if now >= grant.expires_at:
        raise GrantRejected(
            f"grant {grant.grant_id} expired at {format_time(grant.expires_at)}; "
            "it can no longer be fulfilled: the investigator must make a new "
            "reveal request",
            reason="expired",
            grant_id=grant.grant_id,
        )
    if grant.issued_at > now + MAX_CLOCK_SKEW:
        raise GrantRejected(
            f"grant {grant.grant_id} was issued at "
            f"{format_time(grant.issued_at)}, which is in the future "
            f"(now {format_time(now)}): check this machine's clock, and tell "
            "the operator",
            reason="not-yet-valid",
            grant_id=grant.grant_id,
        )
    return grant


def unverified_grant_id(signed: SignedGrant) -> int | None:
    """Return the grant id the payload claims, WITHOUT checking the signature.

    For display and reporting only (such as naming a rejected grant in a log):
    never decide anything on it. Returns ``None`` when there is no such id.
    """
    try:
        obj = json.loads(signed.payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return _peek_id(obj)


def _parse_payload(payload: bytes) -> Grant:
    """Read a verified payload; it must be the canonical encoding of a grant."""
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed("the payload is not UTF-8 JSON") from None
    grant = Grant.from_json(obj)
    # One grant, one encoding: refuse a signed payload that is not canonical
    # (duplicate keys, extra spaces), so no two readers can see it differently.
    if canonical_json(obj) != payload:
        raise _malformed("the payload is not canonical JSON", grant.grant_id)
    return grant


def _peek_id(obj: object) -> int | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get("grant_id")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _parse_time(value: object, name: str, grant_id: int | None) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise _malformed(
            f"{name} must be an ISO-8601 UTC time such as 2024-05-01T12:00:00Z",
            grant_id,
        )
    return parsed
