"""Rows as they leave the store: frozen dataclasses, times in UTC."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

from sqlalchemy.engine import RowMapping

__all__ = [
    "CreatedProject",
    "DeletedEncodings",
    "Member",
    "Mode",
    "Party",
    "Project",
    "RecordedUpload",
    "RevealDecision",
    "RevealRequest",
    "RevealState",
    "RevealTarget",
    "Role",
    "Run",
    "RunKind",
    "RunResult",
    "RunState",
    "StoredChangeSet",
    "TargetState",
    "TokenRecord",
    "Upload",
]

# oversight: an oversight body's member, who reads the audit log (no key).
Role = Literal["operator", "party", "investigator", "approver", "oversight"]
Mode = Literal["link", "link-dedup"]
Method = Literal["clk", "probabilistic"]
RunState = Literal["queued", "running", "completed", "failed"]
# full: every party's current upload linked from scratch; update: the staged
# change sets linked into the latest completed run's groups.
RunKind = Literal["full", "update"]


def _utc(value: datetime) -> datetime:
    # SQLite drops the zone; every time we store is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


@dataclass(frozen=True)
class Project:
    """A linkage project. ``threshold`` is ``"auto"`` or a number in (0, 1].

    ``retain_encodings`` is False unless the operator chose to keep the
    encodings for later runs; ``encodings_deleted_at`` is set once they were
    deleted: after run ``encodings_deleted_after_run`` (every party had
    downloaded its results), or by the operator (that field is then None).
    """

    id: int
    name: str
    schema_fingerprint: str
    threshold: str
    mode: Mode
    allow_clkhash_json: bool
    created_at: datetime
    method: Method = "clk"
    retain_encodings: bool = False
    encodings_deleted_at: datetime | None = None
    encodings_deleted_after_run: int | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from a ``projects`` row."""
        return cls(
            id=row["id"],
            name=row["name"],
            schema_fingerprint=row["schema_fingerprint"],
            threshold=row["threshold"],
            mode=row["mode"],
            method=row["method"],
            allow_clkhash_json=bool(row["allow_clkhash_json"]),
            created_at=_utc(row["created_at"]),
            retain_encodings=bool(row["retain_encodings"]),
            encodings_deleted_at=_utc_or_none(row["encodings_deleted_at"]),
            encodings_deleted_after_run=row["encodings_deleted_after_run"],
        )


@dataclass(frozen=True)
class Party:
    """An agency taking part in one project."""

    id: int
    project_id: int
    name: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from a ``parties`` row."""
        return cls(id=row["id"], project_id=row["project_id"], name=row["name"])


@dataclass(frozen=True)
class TokenRecord:
    """What a token grants; never its text or its hash.

    ``name`` is the party's or the member's name (None for the operator);
    ``member_id`` is set for investigators and approvers.
    """

    id: int
    role: Role
    project_id: int | None
    party_id: int | None
    created_at: datetime
    revoked_at: datetime | None
    member_id: int | None = None
    name: str | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping, name: str | None = None) -> Self:
        """Build from a ``tokens`` row, with the holder's name if known."""
        return cls(
            id=row["id"],
            role=row["role"],
            project_id=row["project_id"],
            party_id=row["party_id"],
            created_at=_utc(row["created_at"]),
            revoked_at=_utc_or_none(row["revoked_at"]),
            member_id=row["member_id"],
            name=name,
            expires_at=_utc_or_none(row["expires_at"]),
        )

    @property
    def actor(self) -> str:
        """Who holds the token, as the audit log names them: ``role:name``."""
        return self.role if self.name is None else f"{self.role}:{self.name}"


@dataclass(frozen=True)
class Member:
    """An investigator or approver registered in a project by the operator."""

    id: int
    project_id: int
    name: str
    role: Role
    public_key: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from a ``members`` row."""
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            name=row["name"],
            role=row["role"],
            public_key=row["public_key"],
            created_at=_utc(row["created_at"]),
        )


@dataclass(frozen=True)
class Upload:
    """One accepted encodings file. ``key_check`` and ``schema_fingerprint``
    are None for clkhash JSON, which has no header. ``deleted_at`` is set once
    the file was deleted; ``path`` is then empty."""

    id: int
    project_id: int
    party_id: int
    version: int
    path: str
    record_count: int
    bit_length: int
    key_check: str | None
    schema_fingerprint: str | None
    created_at: datetime
    superseded: bool
    deleted_at: datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from an ``uploads`` row."""
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            party_id=row["party_id"],
            version=row["version"],
            path=row["path"],
            record_count=row["record_count"],
            bit_length=row["bit_length"],
            key_check=row["key_check"],
            schema_fingerprint=row["schema_fingerprint"],
            created_at=_utc(row["created_at"]),
            superseded=bool(row["superseded"]),
            deleted_at=_utc_or_none(row["deleted_at"]),
        )


@dataclass(frozen=True)
class CreatedProject:
    """A new project, its parties and each party's token (shown only once)."""

    project: Project
    parties: tuple[Party, ...]
    party_tokens: dict[str, str]


@dataclass(frozen=True)
class RecordedUpload:
    """The upload just recorded and the earlier uploads it replaced.

    ``retained`` are the replaced uploads a finished run used: their rows and
    files are kept, because the run refers to them. The other replaced
    uploads were never used, and their files may be deleted.
    """

    upload: Upload
    replaced: tuple[Upload, ...]
    retained: tuple[Upload, ...] = ()

    @property
    def deletable(self) -> tuple[Upload, ...]:
        """The replaced uploads no run used, whose files may be deleted."""
        kept = {upload.id for upload in self.retained}
        return tuple(upload for upload in self.replaced if upload.id not in kept)


@dataclass(frozen=True)
class DeletedEncodings:
    """What :meth:`Store.delete_encodings` removed from the database.

    ``uploads`` are the rows as they were before (with their file paths,
    relative to the data folder): the caller deletes those files once the
    transaction has committed. ``run_id`` is the completed run whose results
    every party had downloaded, or None when the operator deleted them.
    """

    project_id: int
    run_id: int | None
    uploads: tuple[Upload, ...]
    deleted_at: datetime

    @property
    def records(self) -> int:
        """How many records' encodings were deleted, over every upload."""
        return sum(upload.record_count for upload in self.uploads)

    @property
    def paths(self) -> tuple[str, ...]:
        """The deleted uploads' files, relative to the data folder."""
        return tuple(upload.path for upload in self.uploads if upload.path)


@dataclass(frozen=True)
class Run:
    """One matching run of a project.

    ``stats`` holds aggregate figures only (empty until the run completes);
    ``result_dir`` is relative to the data folder, None before the run starts.
    """

    id: int
    project_id: int
    state: RunState
    progress: float
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result_dir: str | None
    stats: dict[str, Any] = field(default_factory=dict)
    kind: RunKind = "full"

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from a ``runs`` row."""
        stats = json.loads(row["stats"]) if row["stats"] else {}
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            state=row["state"],
            progress=float(row["progress"]),
            message=row["message"],
            created_at=_utc(row["created_at"]),
            started_at=_utc_or_none(row["started_at"]),
            finished_at=_utc_or_none(row["finished_at"]),
            result_dir=row["result_dir"],
            stats=stats if isinstance(stats, dict) else {},
            kind=row["kind"],
        )


@dataclass(frozen=True)
class RunResult:
    """One party's results file of a completed run (path relative to the data
    folder)."""

    run_id: int
    party_id: int
    upload_id: int
    path: str
    row_count: int
    downloaded_at: datetime | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from a ``run_results`` row."""
        return cls(
            run_id=row["run_id"],
            party_id=row["party_id"],
            upload_id=row["upload_id"],
            path=row["path"],
            row_count=row["row_count"],
            downloaded_at=_utc_or_none(row["downloaded_at"]),
        )


@dataclass(frozen=True)
class StoredChangeSet:
    """One agency's change set: staged while ``run_id`` is None, then the
    update run that linked it in. ``path`` is its records file (relative to
    the data folder), None when it only withdraws or once deleted."""

    id: int
    project_id: int
    party_id: int
    path: str | None
    record_count: int
    withdrawn: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    run_id: int | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from a ``change_sets`` row."""
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            party_id=row["party_id"],
            path=row["path"],
            record_count=row["record_count"],
            withdrawn=tuple(json.loads(row["withdrawn"])),
            created_at=_utc(row["created_at"]),
            updated_at=_utc(row["updated_at"]),
            run_id=row["run_id"],
        )


RevealState = Literal["pending", "approved", "denied"]
TargetState = Literal[
    "awaiting", "issued", "fulfilled", "refused", "withdrawn", "empty"
]


@dataclass(frozen=True)
class RevealDecision:
    """One approver's approval or denial of a reveal request."""

    member_id: int
    approver: str
    decision: Literal["approve", "deny"]
    reason: str
    created_at: datetime
    #: Party name -> the approver's signed approval (payload, signature),
    #: both base64url, as the approver sent them.
    approvals: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        """Build from a ``reveal_decisions`` row joined with the approver's name."""
        signed = json.loads(row["approvals"]) if row["approvals"] else []
        return cls(
            member_id=row["member_id"],
            approver=row["approver"],
            decision=row["decision"],
            reason=row["reason"],
            created_at=_utc(row["created_at"]),
            approvals={
                item["party"]: {
                    "payload": item["payload"],
                    "signature": item["signature"],
                }
                for item in signed
            },
        )


@dataclass(frozen=True)
class RevealTarget:
    """One agency named by a reveal request; its ``id`` is the grant's id.

    ``grant_payload`` and ``grant_signature`` are set once the request is
    approved; ``sealed`` once the agency fulfils it (a JSON envelope only the
    investigator's private key opens).
    """

    id: int
    request_id: int
    party_id: int
    party: str
    pseudonyms: tuple[str, ...]
    state: TargetState
    grant_payload: bytes | None
    grant_signature: bytes | None
    expires_at: datetime | None
    sealed: str | None
    refusal_reason: str | None
    answered_at: datetime | None

    @classmethod
    def from_row(cls, row: RowMapping, party: str) -> Self:
        """Build from a ``reveal_targets`` row and the party's name."""
        return cls(
            id=row["id"],
            request_id=row["request_id"],
            party_id=row["party_id"],
            party=party,
            pseudonyms=tuple(json.loads(row["pseudonyms"])),
            state=row["state"],
            grant_payload=row["grant_payload"],
            grant_signature=row["grant_signature"],
            expires_at=_utc_or_none(row["expires_at"]),
            sealed=row["sealed"],
            refusal_reason=row["refusal_reason"],
            answered_at=_utc_or_none(row["answered_at"]),
        )


@dataclass(frozen=True)
class RevealRequest:
    """An investigator's request to reveal who is behind one match ID."""

    id: int
    project_id: int
    run_id: int
    match_id: str
    investigator_id: int
    investigator: str
    purpose: str
    legal_basis: str
    case_reference: str | None
    state: RevealState
    policy: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None
    investigator_key: str | None = None
    decisions: tuple[RevealDecision, ...] = ()
    targets: tuple[RevealTarget, ...] = ()

    @classmethod
    def from_row(
        cls,
        row: RowMapping,
        decisions: tuple[RevealDecision, ...],
        targets: tuple[RevealTarget, ...],
    ) -> Self:
        """Build from a ``reveal_requests`` row joined with the investigator's
        name, and the request's decisions and targets."""
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            run_id=row["run_id"],
            match_id=row["match_id"],
            investigator_id=row["investigator_id"],
            investigator=row["investigator"],
            purpose=row["purpose"],
            legal_basis=row["legal_basis"],
            case_reference=row["case_reference"],
            state=row["state"],
            policy=json.loads(row["policy"]),
            created_at=_utc(row["created_at"]),
            decided_at=_utc_or_none(row["decided_at"]),
            investigator_key=row["investigator_key"],
            decisions=decisions,
            targets=targets,
        )

    @property
    def approvals(self) -> int:
        """How many approvers have approved it so far."""
        return sum(1 for d in self.decisions if d.decision == "approve")
