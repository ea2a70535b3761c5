"""Approvals signed by the approvers themselves, over the exact request.

The service's grant says a request was approved, but the operator runs the
service and holds its key. So each approver signs, with their own Ed25519 key
(``linkage keygen --signing``), the exact thing they approve for each agency:
a :class:`RevealStatement` naming the project, request, run, match, agency,
pseudonyms, the investigator and the key identities will be sealed to, and
the purpose, legal basis and case. The approval adds who approves (their
key's ID), their reason, and when it stops being valid.

An agency counts only approvals that verify against approver keys it pinned
itself (:mod:`linkage.reveal.trust`) and whose statement is the grant's own,
so an operator can neither invent approvers nor point real approvals at other
records or another investigator's key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from linkage.errors import LinkageError
from linkage.reveal.grants import Grant
from linkage.reveal.keys import key_id
from linkage.reveal.wire import (
    SignedDocument,
    canonical_json,
    format_time,
    parse_time,
    read_signed,
)

__all__ = [
    "APPROVAL_VERSION",
    "Approval",
    "ApprovalError",
    "RevealStatement",
    "SignedApproval",
    "claimed_key_id",
    "sign_approval",
    "sign_statements",
    "statements_from_json",
    "verify_approval",
]

#: The version of the approval JSON written by :meth:`Approval.to_json`.
APPROVAL_VERSION = 1

# Signatures are over this label and the payload: no other signature by the
# same key (a disclosure, say) can pass as an approval.
_DOMAIN = b"linkage-approval v1\n"
_STATEMENT_TEXTS = (
    "match_id",
    "party",
    "investigator",
    "investigator_key",
    "purpose",
    "legal_basis",
)
_STATEMENT_INTS = ("project_id", "request_id", "run_id")
_STATEMENT_FIELDS = (
    *_STATEMENT_INTS,
    *_STATEMENT_TEXTS,
    "pseudonyms",
    "case_reference",
)
_STATEMENT_KEYS = frozenset(_STATEMENT_FIELDS)
_APPROVAL_KEYS = frozenset(
    {
        "version",
        "statement",
        "approver_key_id",
        "reason",
        "signed_at",
        "expires_at",
    }
)


class ApprovalError(LinkageError):
    """An approval is malformed or its signature does not verify."""


@dataclass(frozen=True)
class RevealStatement:
    """One agency's part of a reveal request, exactly as approvers sign it.

    ``pseudonyms`` are kept sorted, so the same records always make the same
    statement; ``investigator_key`` is the raw X25519 key, base64url.
    """

    project_id: int
    request_id: int
    run_id: int
    match_id: str
    party: str
    pseudonyms: tuple[str, ...]
    investigator: str
    investigator_key: str
    purpose: str
    legal_basis: str
    case_reference: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pseudonyms", tuple(sorted(self.pseudonyms)))

    @classmethod
    def of_grant(cls, grant: Grant) -> RevealStatement:
        """The statement a grant claims its approvers signed."""
        return cls(**{name: getattr(grant, name) for name in _STATEMENT_FIELDS})

    def grant(
        self,
        grant_id: int,
        *,
        issued_at: datetime,
        lifetime: timedelta,
        service_key_id: str,
    ) -> Grant:
        """The grant that issues this statement (:meth:`of_grant` reads it back)."""
        return Grant(
            grant_id=grant_id,
            issued_at=issued_at,
            expires_at=issued_at + lifetime,
            service_key_id=service_key_id,
            **{name: getattr(self, name) for name in _STATEMENT_FIELDS},
        )

    def to_json(self) -> dict[str, Any]:
        """Return the statement as JSON types."""
        return {
            "project_id": self.project_id,
            "request_id": self.request_id,
            "run_id": self.run_id,
            "match_id": self.match_id,
            "party": self.party,
            "pseudonyms": list(self.pseudonyms),
            "investigator": self.investigator,
            "investigator_key": self.investigator_key,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "case_reference": self.case_reference,
        }

    @classmethod
    def from_json(cls, obj: object, source: str = "the statement") -> RevealStatement:
        """Read a statement written by :meth:`to_json`, strictly.

        Raises:
            ApprovalError: a key is missing or unknown, or a value has the
                wrong type.
        """
        fields = _exact_keys(obj, _STATEMENT_KEYS, source)
        ints = {name: _whole(fields[name], name, source) for name in _STATEMENT_INTS}
        texts = {name: _text(fields[name], name, source) for name in _STATEMENT_TEXTS}
        pseudonyms = fields["pseudonyms"]
        if not isinstance(pseudonyms, list) or not all(
            isinstance(item, str) and item for item in pseudonyms
        ):
            raise ApprovalError(f"{source}: pseudonyms must be a list of texts")
        case_reference = fields["case_reference"]
        if case_reference is not None and not isinstance(case_reference, str):
            raise ApprovalError(f"{source}: case_reference must be text or null")
        return cls(
            project_id=ints["project_id"],
            request_id=ints["request_id"],
            run_id=ints["run_id"],
            match_id=texts["match_id"],
            party=texts["party"],
            pseudonyms=tuple(pseudonyms),
            investigator=texts["investigator"],
            investigator_key=texts["investigator_key"],
            purpose=texts["purpose"],
            legal_basis=texts["legal_basis"],
            case_reference=case_reference,
        )


@dataclass(frozen=True)
class Approval:
    """One approver's signed yes to one statement, valid until ``expires_at``.

    The approver is named by their key's ID only: who that is, an agency
    reads from its own trust file, never from what the operator relays.
    """

    statement: RevealStatement
    approver_key_id: str
    reason: str
    signed_at: datetime
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the approval as JSON types, with ``"version": 1``."""
        return {
            "version": APPROVAL_VERSION,
            "statement": self.statement.to_json(),
            "approver_key_id": self.approver_key_id,
            "reason": self.reason,
            "signed_at": format_time(self.signed_at),
            "expires_at": format_time(self.expires_at),
        }

    @classmethod
    def from_json(cls, obj: object, source: str = "the approval") -> Approval:
        """Read an approval written by :meth:`to_json`, strictly.

        Raises:
            ApprovalError: it is not such an approval.
        """
        fields = _exact_keys(obj, _APPROVAL_KEYS, source)
        if fields["version"] != APPROVAL_VERSION or isinstance(fields["version"], bool):
            raise ApprovalError(
                f"{source}: version {fields['version']!r} is not supported "
                f"(expected {APPROVAL_VERSION}); upgrade linkage"
            )
        signed_at = _time(fields["signed_at"], "signed_at", source)
        expires_at = _time(fields["expires_at"], "expires_at", source)
        if expires_at <= signed_at:
            raise ApprovalError(f"{source}: it expires before it was signed")
        return cls(
            statement=RevealStatement.from_json(
                fields["statement"], f"{source}, statement"
            ),
            approver_key_id=_text(fields["approver_key_id"], "approver_key_id", source),
            reason=_text(fields["reason"], "reason", source),
            signed_at=signed_at,
            expires_at=expires_at,
        )


class SignedApproval(SignedDocument):
    """An approval's exact payload bytes and the approver's signature of them."""

    @classmethod
    def from_json(cls, obj: object) -> SignedApproval:
        """Read a signed approval written by :meth:`to_json` (shape only;
        call :func:`verify_approval` before trusting it).

        Raises:
            ApprovalError: it is not such an object.
        """
        try:
            payload, signature = read_signed(obj)
        except ValueError as error:
            raise ApprovalError(f"a signed approval is malformed: {error}") from None
        return cls(payload=payload, signature=signature)


def sign_approval(
    statement: RevealStatement,
    key: Ed25519PrivateKey,
    *,
    reason: str,
    now: datetime,
    valid_for: timedelta,
) -> SignedApproval:
    """Approve ``statement`` with the approver's own key, until ``now + valid_for``.

    Raises:
        ValueError: ``now`` is naive or ``valid_for`` is not positive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("sign_approval needs a timezone-aware `now`")
    if valid_for <= timedelta(0):
        raise ValueError("an approval must be valid for some time")
    approval = Approval(
        statement=statement,
        approver_key_id=key_id(key.public_key()),
        reason=reason,
        signed_at=now,
        expires_at=now + valid_for,
    )
    payload = canonical_json(approval.to_json())
    return SignedApproval(payload=payload, signature=key.sign(_DOMAIN + payload))


def sign_statements(
    statements: Sequence[RevealStatement],
    key: Ed25519PrivateKey,
    *,
    reason: str,
    now: datetime,
    valid_for: timedelta,
) -> dict[str, SignedApproval]:
    """Each agency's statement of a request approved with the approver's own
    key (:func:`sign_approval`), by agency: what approving a request sends."""
    return {
        statement.party: sign_approval(
            statement, key, reason=reason, now=now, valid_for=valid_for
        )
        for statement in statements
    }


def statements_from_json(items: Any) -> list[RevealStatement]:
    """A request's statements as the service lists them: ``[{"party": ...,
    "statement": {...}}, ...]`` (``GET .../statements``, and the file the web
    console offers to sign).

    Raises:
        ApprovalError: ``items`` is not such a list, or a statement is malformed.
    """
    try:
        return [RevealStatement.from_json(item["statement"]) for item in items]
    except (KeyError, TypeError) as error:
        raise ApprovalError(f"not a list of statements ({error})") from None


def verify_approval(signed: SignedApproval, public_key: Ed25519PublicKey) -> Approval:
    """Check the signature against ``public_key``, then read the approval.

    The approval must name that key's ID, and its payload must be canonical.
    Whether it is still valid, and for what, is the caller's question.

    Raises:
        ApprovalError: the signature does not verify, or the payload is not a
            canonical approval naming that key.
    """
    try:
        public_key.verify(signed.signature, _DOMAIN + signed.payload)
    except InvalidSignature:
        raise ApprovalError(
            "an approval's signature does not verify against the approver key "
            "it names: it was forged or altered"
        ) from None
    obj = _json(signed.payload)
    approval = Approval.from_json(obj)
    if canonical_json(obj) != signed.payload:
        raise ApprovalError("an approval's payload is not canonical JSON")
    if approval.approver_key_id != key_id(public_key):
        raise ApprovalError("an approval names another key than the one that signed it")
    return approval


def claimed_key_id(signed: SignedApproval) -> str | None:
    """The approver key ID the payload claims, WITHOUT checking the signature:
    only for finding which pinned key to verify it with."""
    try:
        obj = _json(signed.payload)
    except ApprovalError:
        return None
    value = obj.get("approver_key_id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApprovalError("an approval's payload is not UTF-8 JSON") from None


def _exact_keys(obj: object, keys: frozenset[str], source: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ApprovalError(f"{source}: expected a JSON object")
    missing = sorted(keys - set(obj))
    unknown = sorted(str(key) for key in set(obj) - keys)
    if missing or unknown:
        raise ApprovalError(
            f"{source}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}"
        )
    return obj


def _whole(value: object, name: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApprovalError(f"{source}: {name} must be a whole number")
    return value


def _text(value: object, name: str, source: str) -> str:
    if not isinstance(value, str) or not value:
        raise ApprovalError(f"{source}: {name} must be non-empty text")
    return value


def _time(value: object, name: str, source: str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise ApprovalError(
            f"{source}: {name} must be an ISO-8601 UTC time such as "
            "2024-05-01T12:00:00Z"
        )
    return parsed
