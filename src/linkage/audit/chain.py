"""Hash-chained audit entries and the signed heads that pin them down.

Each entry carries the hash of the one before it, so changing, removing or
reordering an entry breaks the chain. A chain alone can be rewritten from the
changed entry onwards; the Ed25519-signed heads stop that for anyone who lacks
the service key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from linkage.errors import InputError, Problem
from linkage.reveal.keys import key_id

GENESIS_HASH = "0" * 64

_ENTRY_DOMAIN = b"linkage-audit-entry v1\n"
_HEAD_DOMAIN = b"linkage-audit-head v1\n"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_HASH_RE = re.compile(r"[0-9a-f]{64}")
_SIGNATURE_RE = re.compile(r"[A-Za-z0-9_-]{86}")

ProblemKind = Literal[
    "changed",
    "removed",
    "reordered",
    "inserted",
    "bad-signature",
    "unpinned-key",
    "head-mismatch",
    "unsigned",
    "empty",
    "rewritten",
]


class AuditFormatError(InputError):
    """An audit entry, head or export is not in the expected format."""


def _bad_field(what: str, field: str, message: str) -> AuditFormatError:
    return AuditFormatError(f"not a valid {what}", [Problem(message, field=field)])


# --- time -------------------------------------------------------------------


def format_time(dt: datetime) -> str:
    """Render an aware datetime as UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Raises:
        ValueError: ``dt`` is naive, so its instant is unknown.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware (e.g. datetime.now(UTC))")
    return dt.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Parse text written by :func:`format_time` into an aware UTC datetime.

    Raises:
        AuditFormatError: the text is not exactly in that format.
    """
    if not isinstance(text, str) or not _TIME_RE.fullmatch(text):
        raise AuditFormatError(
            f"not a valid audit time: {text!r}",
            hint="Expected UTC time like 2025-01-31T09:15:00.000000Z.",
        )
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise AuditFormatError(f"not a valid audit time: {text!r}") from None


# --- JSON values --------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def _json_problem(value: Any, path: str) -> str | None:
    """Why ``value`` cannot be stored in a hashed entry, or None when it can."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        # NaN and infinities are not JSON; json.dumps would write them anyway.
        return None if math.isfinite(value) else f"{path} is {value!r}, not JSON"
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                # json.dumps would turn 1 into "1", so the entry would not
                # read back as it was written.
                return f"{path} has key {key!r}, but JSON keys must be text"
            problem = _json_problem(item, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    return f"{path} is a {type(value).__name__}, which JSON cannot hold"


def _json_copy(details: Mapping[str, Any]) -> dict[str, Any]:
    """A deep, JSON-only copy, so later changes by the caller cannot leak in."""
    copied: dict[str, Any] = json.loads(_canonical(dict(details)))
    return copied


# --- entries ------------------------------------------------------------------


def entry_hash(
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    project_id: int | None,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The SHA-256 (hex) binding one entry's contents to its predecessor."""
    body = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "project_id": project_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_ENTRY_DOMAIN + _canonical(body)).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One event in the audit log, chained to the entry before it."""

    seq: int
    at: str
    actor: str
    action: str
    project_id: int | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        """All fields as a JSON-able dict."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "project_id": self.project_id,
            "details": _json_copy(self.details),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_json(cls, obj: Any) -> AuditEntry:
        """Read an entry written by :meth:`to_json`, checking every field.

        The hash is not checked here: that is :func:`verify_log`'s job, which
        can say what the mismatch means.

        Raises:
            AuditFormatError: a field is missing, unknown or of the wrong type.
        """
        fields = _check_keys(obj, "audit entry", _ENTRY_FIELDS)
        details = fields["details"]
        if not isinstance(details, dict):
            raise _bad_field("audit entry", "details", "must be a JSON object")
        problem = _json_problem(details, "details")
        if problem:
            raise _bad_field("audit entry", "details", problem)
        return cls(
            seq=_positive_int(fields["seq"], "audit entry", "seq"),
            at=_time_text(fields["at"], "audit entry", "at"),
            actor=_text(fields["actor"], "audit entry", "actor"),
            action=_text(fields["action"], "audit entry", "action"),
            project_id=_project_id(fields["project_id"]),
            details=details,
            prev_hash=_hash_text(fields["prev_hash"], "audit entry", "prev_hash"),
            hash=_hash_text(fields["hash"], "audit entry", "hash"),
        )


_ENTRY_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "project_id",
    "details",
    "prev_hash",
    "hash",
)


def _check_keys(obj: Any, what: str, names: Sequence[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise AuditFormatError(f"not a valid {what}: expected a JSON object")
    for name in names:
        if name not in obj:
            raise _bad_field(what, name, "is missing")
    for name in obj:
        if name not in names:
            raise _bad_field(what, str(name), "is not a known field")
    return obj


def _positive_int(value: Any, what: str, field: str) -> int:
    # bool is an int subclass, but True is not a sequence number.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad_field(what, field, f"must be a whole number ≥ 1, found {value!r}")
    return value


def _text(value: Any, what: str, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad_field(what, field, f"must be non-empty text, found {value!r}")
    return value


def _time_text(value: Any, what: str, field: str) -> str:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise _bad_field(
            what,
            field,
            f"must be UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ, found {value!r}",
        )
    try:
        parse_time(value)
    except AuditFormatError:
        raise _bad_field(
            what, field, f"is not a real date and time: {value!r}"
        ) from None
    return value


def _hash_text(value: Any, what: str, field: str) -> str:
    if not isinstance(value, str) or not _HASH_RE.fullmatch(value):
        raise _bad_field(
            what, field, f"must be 64 lowercase hex digits, found {value!r}"
        )
    return value


def _project_id(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_field(
            "audit entry",
            "project_id",
            f"must be a whole number or null, found {value!r}",
        )
    return value


def next_entry(
    previous: AuditEntry | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    project_id: int | None,
    details: Mapping[str, Any],
) -> AuditEntry:
    """The entry that follows ``previous`` (or the first entry, when None).

    Raises:
        TypeError: ``details`` (or another argument) holds something JSON
            cannot represent, such as a datetime, a set or bytes.
        ValueError: ``at`` is naive, a float in ``details`` is NaN or
            infinite, or ``actor``/``action`` is empty.
    """
    _check_new_entry(actor, action, project_id, details)
    fields: dict[str, Any] = {
        "seq": 1 if previous is None else previous.seq + 1,
        "at": format_time(at),
        "actor": actor,
        "action": action,
        "project_id": project_id,
        "details": _json_copy(details),
        "prev_hash": GENESIS_HASH if previous is None else previous.hash,
    }
    return AuditEntry(**fields, hash=entry_hash(**fields))


def _check_new_entry(
    actor: str, action: str, project_id: int | None, details: Mapping[str, Any]
) -> None:
    for name, value in (("actor", actor), ("action", action)):
        if not isinstance(value, str):
            raise TypeError(f"audit {name} must be text, not {type(value).__name__}")
        if not value:
            raise ValueError(f"audit {name} must not be empty")
    if project_id is not None and (
        isinstance(project_id, bool) or not isinstance(project_id, int)
    ):
        raise TypeError("audit project_id must be an int or None")
    if not isinstance(details, Mapping):
        raise TypeError(
            f"audit details must be a mapping, not {type(details).__name__}"
        )
    problem = _json_problem(dict(details), "details")
    if problem is None:
        return
    if "not JSON" in problem:
        raise ValueError(f"audit details cannot be stored: {problem}")
    raise TypeError(f"audit details cannot be stored: {problem}")


# --- signed heads -------------------------------------------------------------


def head_message(seq: int, hash: str, signed_at: str) -> bytes:
    """The exact bytes the service key signs for a head."""
    return _HEAD_DOMAIN + f"{seq}\n{hash}\n{signed_at}".encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SignedHead:
    """The service key's signature over the hash of entry ``seq``."""

    seq: int
    hash: str
    signed_at: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        """All fields as a JSON-able dict."""
        return {
            "seq": self.seq,
            "hash": self.hash,
            "signed_at": self.signed_at,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, obj: Any) -> SignedHead:
        """Read a head written by :meth:`to_json`, checking every field.

        Raises:
            AuditFormatError: a field is missing, unknown or of the wrong type.
        """
        what = "signed head"
        fields = _check_keys(obj, what, ("seq", "hash", "signed_at", "signature"))
        signature = fields["signature"]
        if not isinstance(signature, str) or not _SIGNATURE_RE.fullmatch(signature):
            raise _bad_field(
                what,
                "signature",
                "must be an Ed25519 signature in base64url without padding "
                "(86 characters)",
            )
        return cls(
            seq=_positive_int(fields["seq"], what, "seq"),
            hash=_hash_text(fields["hash"], what, "hash"),
            signed_at=_time_text(fields["signed_at"], what, "signed_at"),
            signature=signature,
        )


def sign_head(
    private_key: Ed25519PrivateKey, entry: AuditEntry, signed_at: datetime
) -> SignedHead:
    """Sign ``entry``'s hash, vouching for it and everything before it."""
    at = format_time(signed_at)
    signature = private_key.sign(head_message(entry.seq, entry.hash, at))
    return SignedHead(
        seq=entry.seq, hash=entry.hash, signed_at=at, signature=_b64url(signature)
    )


def _signature_ok(head: SignedHead, public_key: Ed25519PublicKey) -> bool:
    try:
        signature = _unb64url(head.signature)
        public_key.verify(signature, head_message(head.seq, head.hash, head.signed_at))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


# --- verification -------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """The first thing found wrong with a log.

    ``position`` is the 0-based index in the entries given, or -1 when the
    problem is about a signed head; ``seq`` is the entry number it concerns.
    """

    position: int
    seq: int | None
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify_log`: what was checked and what failed."""

    entries: int
    heads: int
    problem: AuditProblem | None

    @property
    def ok(self) -> bool:
        """True when the log is intact and fully covered by signed heads."""
        return self.problem is None


def verify_log(
    entries: Sequence[AuditEntry],
    heads: Sequence[SignedHead],
    public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey],
) -> Verification:
    """Check the chain of ``entries`` and the ``heads`` signed over it.

    ``public_key`` is the service key, or every service key the log was
    signed with when the key was rotated: each head must be signed by the key
    in force at its entry, as the log's ``key.rotated`` entries say (a
    rotation entry is signed by the old key and hands over to the new one),
    so an old key cannot sign heads after its rotation.

    Only the first problem is reported: after one break, later findings are
    consequences of it rather than separate tampering.
    """
    keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else public_key
    problem = _chain_problem(entries) or _heads_problem(
        entries, heads, KeySchedule(entries, keys)
    )
    return Verification(entries=len(entries), heads=len(heads), problem=problem)


#: The action of the entry that hands the signing over to a new service key;
#: its details hold ``old_key_id`` and ``new_key_id``.
KEY_ROTATED = "key.rotated"


class KeySchedule:
    """Which pinned service key signs the head of each entry."""

    def __init__(
        self, entries: Sequence[AuditEntry], keys: Sequence[Ed25519PublicKey]
    ) -> None:
        self._keys = {key_id(key): key for key in keys}
        self._rotations = [
            (entry.seq, str(entry.details.get("old_key_id")),
             str(entry.details.get("new_key_id")))
            for entry in entries
            if entry.action == KEY_ROTATED
        ]  # fmt: skip

    def keys_for(self, seq: int) -> tuple[list[Ed25519PublicKey], str | None]:
        """The keys that may sign entry ``seq``'s head, and the ID of the key
        in force when it is known but not pinned."""
        for rotation_seq, old, _new in self._rotations:
            if seq <= rotation_seq:
                return self._pinned(old)
        if self._rotations:
            return self._pinned(self._rotations[-1][2])
        return list(self._keys.values()), None

    def _pinned(self, wanted: str) -> tuple[list[Ed25519PublicKey], str | None]:
        key = self._keys.get(wanted)
        return ([key], None) if key is not None else ([], wanted)


@dataclass(frozen=True)
class EarlierProblem:
    """Why a log fails against an earlier copy of it: the copy does not
    verify on its own (``in_copy``: the copy is at fault, not the log), or
    the log no longer holds the copy's entries unchanged."""

    problem: AuditProblem
    in_copy: bool


def verify_against_earlier(
    entries: Sequence[AuditEntry],
    earlier_entries: Sequence[AuditEntry],
    earlier_heads: Sequence[SignedHead],
    public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey],
) -> EarlierProblem | None:
    """The earlier copy verified on its own first (a damaged copy would show
    up as entries the log "changed"), then :func:`verify_extends`."""
    copy = verify_log(earlier_entries, earlier_heads, public_key).problem
    if copy is not None:
        return EarlierProblem(copy, in_copy=True)
    problem = verify_extends(entries, earlier_entries)
    return None if problem is None else EarlierProblem(problem, in_copy=False)


def verify_extends(
    entries: Sequence[AuditEntry], earlier: Sequence[AuditEntry]
) -> AuditProblem | None:
    """Check that ``entries`` still hold every entry of an ``earlier`` copy
    of the log (an export kept by an oversight body), unchanged.

    A log can be verified on its own and still have lost its newest entries
    with the heads that signed them, or been rewritten whole by whoever holds
    the signing key; an earlier copy kept elsewhere exposes both.
    """
    by_seq = {entry.seq: entry for entry in entries}
    for position, old in enumerate(earlier):
        now = by_seq.get(old.seq)
        if now is None:
            return AuditProblem(
                position,
                old.seq,
                "removed",
                f"entry {old.seq}, present in the earlier copy, is missing: "
                "the log was cut short since that copy was made",
            )
        if now.hash != old.hash:
            return AuditProblem(
                position,
                old.seq,
                "rewritten",
                f"entry {old.seq} differs from the earlier copy: the log was "
                "rewritten since that copy was made",
            )
    return None


def _chain_problem(entries: Sequence[AuditEntry]) -> AuditProblem | None:
    previous: AuditEntry | None = None
    for position, entry in enumerate(entries):
        problem = _hash_problem(position, entry) or _link_problem(
            entries, position, previous
        )
        if problem:
            return problem
        previous = entry
    return None


def _hash_problem(position: int, entry: AuditEntry) -> AuditProblem | None:
    recomputed = entry_hash(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        project_id=entry.project_id,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )
    if recomputed == entry.hash:
        return None
    return AuditProblem(
        position,
        entry.seq,
        "changed",
        f"entry {entry.seq} was changed after it was written: "
        "its contents no longer match its hash",
    )


def _link_problem(
    entries: Sequence[AuditEntry], position: int, previous: AuditEntry | None
) -> AuditProblem | None:
    entry = entries[position]
    expected_seq = 1 if previous is None else previous.seq + 1
    expected_prev = GENESIS_HASH if previous is None else previous.hash
    if entry.seq > expected_seq:
        return _gap_problem(entries, position, expected_seq)
    if entry.seq < expected_seq:
        return _backwards_problem(position, entry, previous)
    if entry.prev_hash != expected_prev:
        if previous is None:
            message = (
                f"entry {entry.seq} does not start the log: entries before it "
                "were removed and the rest renumbered, or it was replaced"
            )
        else:
            message = (
                f"the chain breaks between entry {previous.seq} and {entry.seq}: "
                f"entry {previous.seq} was replaced or an entry was inserted"
            )
        return AuditProblem(position, entry.seq, "changed", message)
    return None


def _gap_problem(
    entries: Sequence[AuditEntry], position: int, expected_seq: int
) -> AuditProblem:
    # A missing number that turns up later means the entries were shuffled,
    # not deleted.
    if any(later.seq == expected_seq for later in entries[position + 1 :]):
        found = entries[position].seq
        return AuditProblem(
            position,
            found,
            "reordered",
            f"entry {found} comes where entry {expected_seq} should be: "
            "the entries were reordered",
        )
    last_missing = entries[position].seq - 1
    if last_missing == expected_seq:
        message = f"entry {expected_seq} is missing: it was removed"
    else:
        message = (
            f"entries {expected_seq}..{last_missing} are missing: they were removed"
        )
    return AuditProblem(position, expected_seq, "removed", message)


def _backwards_problem(
    position: int, entry: AuditEntry, previous: AuditEntry | None
) -> AuditProblem:
    assert previous is not None  # seq ≥ 1 cannot go below the first expected 1.
    if entry.seq == previous.seq:
        return AuditProblem(
            position,
            entry.seq,
            "inserted",
            f"entry {entry.seq} appears twice: an entry was inserted or copied",
        )
    return AuditProblem(
        position,
        entry.seq,
        "reordered",
        f"entry {entry.seq} comes after entry {previous.seq}: "
        "the entries were reordered",
    )


def _heads_problem(
    entries: Sequence[AuditEntry],
    heads: Sequence[SignedHead],
    schedule: KeySchedule,
) -> AuditProblem | None:
    if not entries and not heads:
        return AuditProblem(
            -1, None, "empty", "the log is empty: an empty log proves nothing"
        )
    by_seq = {entry.seq: entry for entry in entries}
    last_seq = entries[-1].seq if entries else 0
    for head in heads:
        problem = _head_problem(head, by_seq, last_seq, schedule)
        if problem:
            return problem
    return _coverage_problem(heads, last_seq)


def _head_problem(
    head: SignedHead,
    by_seq: Mapping[int, AuditEntry],
    last_seq: int,
    schedule: KeySchedule,
) -> AuditProblem | None:
    keys, unpinned = schedule.keys_for(head.seq)
    if unpinned is not None:
        return AuditProblem(
            -1,
            head.seq,
            "unpinned-key",
            f"the head for entry {head.seq} is signed by the service key "
            f"{unpinned}, in force then (the log's key.rotated entries say so), "
            "which is not among the keys given: give its public key too "
            "(service-signing-<key id>.pub, kept beside the current one)",
        )
    if not any(_signature_ok(head, key) for key in keys):
        return AuditProblem(
            -1,
            head.seq,
            "bad-signature",
            f"the signed head for entry {head.seq} was not signed by the service "
            "key: it was forged or altered",
        )
    if head.seq > last_seq:
        message = (
            f"entries after {last_seq} were removed: "
            f"a signed head covers entry {head.seq}"
        )
    elif head.seq not in by_seq or by_seq[head.seq].hash != head.hash:
        message = (
            f"entry {head.seq} does not match the signed head for it: "
            "the log was rewritten after it was signed"
        )
    else:
        return None
    return AuditProblem(-1, head.seq, "head-mismatch", message)


def _coverage_problem(
    heads: Sequence[SignedHead], last_seq: int
) -> AuditProblem | None:
    covered = max((head.seq for head in heads), default=0)
    if covered == last_seq:
        return None
    first = covered + 1
    if first == last_seq:
        span, pronoun = f"entry {last_seq} is", "it was"
    else:
        span, pronoun = f"entries {first}..{last_seq} are", "they were"
    return AuditProblem(
        -1,
        first,
        "unsigned",
        f"{span} not covered by a signed head: {pronoun} appended or changed "
        "without the service key",
    )
