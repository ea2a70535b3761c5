"""The oversight pages' figures: the audit trail, its report, its checks.

All of it comes from the audit log through the functions the CLI uses
(:func:`~linkage.audit.chain.verify_log`,
:func:`~linkage.audit.chain.verify_against_earlier`,
:func:`~linkage.audit.report.transparency_report`,
:func:`~linkage.audit.export.parse_export_lines`), so the console and
``linkage audit verify|report`` say the same thing about the same log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from linkage.audit.chain import (
    AuditEntry,
    SignedHead,
    parse_time,
    verify_against_earlier,
    verify_log,
)
from linkage.audit.export import parse_export_lines
from linkage.audit.report import TransparencyReport, transparency_report
from linkage.errors import LinkageError
from linkage.reveal.keys import read_service_public_key
from linkage.service.errors import ApiProblem
from linkage.storage import Store
from linkage.storage.audit_log import read_audit_log

__all__ = [
    "AuditFilter",
    "ServiceKeys",
    "Timeline",
    "Verified",
    "project_report",
    "project_timeline",
    "verification_status",
    "verify_against",
]

# A page shows at most this many entries (the newest); filters narrow it.
MAX_SHOWN: Final = 500


@dataclass(frozen=True)
class AuditFilter:
    """Which entries a page shows: an action (or its prefix, ``reveal.``),
    a piece of the actor's name, and a period ``since <= at < until``."""

    action: str = ""
    actor: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(
        cls, *, action: str = "", actor: str = "", since: str = "", until: str = ""
    ) -> AuditFilter:
        """Read the filter form's fields (dates as YYYY-MM-DD).

        Raises:
            ApiProblem: 422 for a date that is not YYYY-MM-DD.
        """
        return cls(
            action.strip(), actor.strip(), _day(since, "since"), _day(until, "until")
        )

    @property
    def start(self) -> datetime | None:
        """The period's first instant (UTC), if bounded."""
        return None if self.since is None else datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime | None:
        """The instant after the period (UTC): ``until`` is included whole."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)

    def keeps(self, entry: AuditEntry) -> bool:
        """Whether ``entry`` passes the filter."""
        if self.action and not (
            entry.action == self.action
            or (self.action.endswith(".") and entry.action.startswith(self.action))
        ):
            return False
        if self.actor and self.actor.lower() not in entry.actor.lower():
            return False
        at = parse_time(entry.at)
        start, end = self.start, self.end
        return (start is None or start <= at) and (end is None or at < end)


def _day(text: str, name: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ApiProblem(
            422, f"'{name}' must be a date as YYYY-MM-DD (got {text[:40]!r})"
        ) from None


@dataclass(frozen=True)
class Timeline:
    """The entries a page shows, newest first, and the actions to filter by."""

    entries: list[AuditEntry]
    matching: int
    actions: list[str]


def _project_entries(store: Store, project_id: int) -> list[AuditEntry]:
    entries, _heads = read_audit_log(store)
    return [entry for entry in entries if entry.project_id == project_id]


def project_timeline(store: Store, project_id: int, wanted: AuditFilter) -> Timeline:
    """The project's entries that pass ``wanted``, newest first (the newest
    :data:`MAX_SHOWN`)."""
    entries = _project_entries(store, project_id)
    kept = [entry for entry in reversed(entries) if wanted.keeps(entry)]
    actions = sorted({entry.action for entry in entries})
    return Timeline(kept[:MAX_SHOWN], len(kept), actions)


def project_report(
    store: Store, project_id: int, wanted: AuditFilter
) -> TransparencyReport:
    """The transparency report of the project's entries over the period."""
    return transparency_report(
        _project_entries(store, project_id), since=wanted.start, until=wanted.end
    )


@dataclass(frozen=True)
class ServiceKeys:
    """The service's key in force and the public keys it rotated away from
    (kept in its data folder as ``service-signing-<key id>.pub``): each head
    of the log must be signed by the key in force at its entry."""

    signing_key: Ed25519PrivateKey
    data_dir: Path

    def all(self) -> list[Ed25519PublicKey]:
        """Every public key the log may have been signed with."""
        earlier = [
            read_service_public_key(path)
            for path in sorted(self.data_dir.glob("service-signing-*.pub"))
        ]
        return [self.signing_key.public_key(), *earlier]


@dataclass(frozen=True)
class Verified:
    """Whether a check passed, and what it found, in words."""

    ok: bool
    message: str


def verification_status(store: Store, keys: ServiceKeys) -> Verified:
    """The whole log checked against the service's public key: the hash
    chain and the signed heads, as ``linkage audit verify`` checks them."""
    entries, heads = read_audit_log(store)
    return _status(entries, heads, keys.all())


def _status(
    entries: list[AuditEntry],
    heads: list[SignedHead],
    public_keys: list[Ed25519PublicKey],
) -> Verified:
    result = verify_log(entries, heads, public_keys)
    if result.problem is not None:
        return Verified(False, result.problem.message)
    return Verified(
        True,
        f"{result.entries} entries and {result.heads} signed heads: the hash "
        "chain is intact and every entry is covered by a head signed with the "
        "service's key",
    )


def verify_against(store: Store, keys: ServiceKeys, earlier_text: str) -> Verified:
    """The log checked on its own, then against an earlier export (the text
    of the ``.jsonl`` file an oversight body kept).

    Raises:
        ApiProblem: 422 when the text is not an audit export.
    """
    try:
        earlier = parse_export_lines(earlier_text.splitlines(), "the earlier export")
    except LinkageError as error:
        raise ApiProblem(422, str(error)) from None
    entries, heads = read_audit_log(store)
    public_keys = keys.all()
    own = _status(entries, heads, public_keys)
    if not own.ok:
        return own
    # The earlier copy must be a log this service signed, or comparing with
    # it proves nothing.
    found = verify_against_earlier(entries, earlier.entries, earlier.heads, public_keys)
    if found is not None and found.in_copy:
        return Verified(
            False, f"the earlier export itself does not verify: {found.problem.message}"
        )
    if found is not None:
        return Verified(False, found.problem.message)
    return Verified(
        True,
        f"the log still holds all {len(earlier.entries)} entries of the export "
        f"made at {earlier.exported_at}, unchanged; {own.message}",
    )
