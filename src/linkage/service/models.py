"""Request and response bodies. Responses never carry a token's hash or a path."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ChangeSetPublic",
    "EncodingsDeleted",
    "PartyName",
    "PartyPublic",
    "PartyToken",
    "ProjectCreate",
    "ProjectCreated",
    "ProjectPublic",
    "ResourceId",
    "RunCreate",
    "RunCreated",
    "RunPublic",
    "UploadPublic",
    "WithdrawalsCreate",
]

PartyName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["police"])
]
# Ids in paths fit a 32-bit SQL INTEGER (PostgreSQL's, the narrowest); a larger
# or non-positive one is malformed (422) rather than an overflow in the driver.
ResourceId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def _unique_names(parties: list[str]) -> list[str]:
    repeated = sorted({name for name in parties if parties.count(name) > 1})
    if repeated:
        raise ValueError(f"party names must be unique (repeated: {repeated})")
    return parties


class ProjectCreate(BaseModel):
    """What the operator gives to create a project."""

    model_config = ConfigDict(extra="forbid")

    # No control characters: names end up in logs, file listings and terminals.
    name: Annotated[
        str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    ]
    schema_fingerprint: Fingerprint
    parties: Annotated[list[PartyName], Field(min_length=1, max_length=100)]
    threshold: Literal["auto"] | Annotated[float, Field(gt=0, le=1)] = "auto"
    mode: Literal["link", "link-dedup"] = "link"
    method: Literal["clk", "probabilistic"] = Field(
        default="clk",
        description="clk: pairs scored by the Dice similarity of whole "
        "encodings. probabilistic: per-field encodings compared field by field "
        "and scored by a Fellegi-Sunter match probability learnt from the data.",
    )
    allow_clkhash_json: bool = False
    retain_encodings: bool = Field(
        default=False,
        description="Keep the encodings after a run, for later runs. By "
        "default they are deleted once the run has completed and every party "
        "has downloaded its results: encodings plus a few known identities "
        "decode everyone else's records. A failed run keeps them either way.",
    )

    @field_validator("parties")
    @classmethod
    def _unique(cls, parties: list[str]) -> list[str]:
        return _unique_names(parties)


class ProjectCreated(BaseModel):
    """The new project's id and each party's token, shown this once only."""

    id: int
    name: str
    party_tokens: dict[str, str]


class PartyToken(BaseModel):
    """A party's new token, shown this once only; its earlier ones are revoked."""

    project_id: int
    party: str
    token: str


class PartyPublic(BaseModel):
    """A party as others in the project see it; record counts only to itself
    and to the operator."""

    name: str
    uploaded: bool
    upload_version: int | None = None
    record_count: int | None = None


class ProjectPublic(BaseModel):
    """A project's settings and upload state, with no record-level data.

    ``retain_encodings`` is the retention setting; ``encodings_deleted_at``
    says when the encodings were deleted (None while the service holds them).
    """

    id: int
    name: str
    schema_fingerprint: str
    threshold: str
    mode: str
    method: str
    allow_clkhash_json: bool
    retain_encodings: bool
    encodings_deleted_at: datetime | None
    created_at: datetime
    parties: list[PartyPublic]


class EncodingsDeleted(BaseModel):
    """What the operator's deletion of a project's encodings removed."""

    project_id: int
    uploads: int
    records: int
    deleted_at: datetime


class UploadPublic(BaseModel):
    """An accepted encodings upload."""

    project_id: int
    party: str
    version: int
    format: Literal["linkage", "clkhash-json"]
    record_count: int
    bit_length: int
    key_check: str | None
    schema_fingerprint: str | None
    created_at: datetime


RunStateName = Literal["queued", "running", "completed", "failed"]
RunKindName = Literal["full", "update"]


class RunCreate(BaseModel):
    """What the operator may say when starting a run (the body is optional)."""

    model_config = ConfigDict(extra="forbid")

    kind: RunKindName = Field(
        default="full",
        description="full: link every party's current upload from scratch. "
        "update: link the agencies' staged change sets into the latest "
        "completed run's groups, keeping unchanged groups' match IDs.",
    )


class RunCreated(BaseModel):
    """A run just queued."""

    run_id: int
    project_id: int
    state: RunStateName
    kind: RunKindName = "full"


class RunPublic(BaseModel):
    """A run's state and, once completed, its aggregate figures.

    ``stats`` never holds a pseudonym: records and matches per party, pairs
    compared, candidate pairs, groups and their sizes, the threshold with how
    it was chosen, and the best-match score histogram.
    """

    run_id: int
    project_id: int
    state: RunStateName
    progress: Annotated[float, Field(ge=0, le=1)]
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stats: dict[str, Any]
    kind: RunKindName = "full"


Pseudonym = Annotated[
    str, Field(pattern=r"^[0-9a-f]{32}$", examples=["0123456789abcdef" * 2])
]


class WithdrawalsCreate(BaseModel):
    """Pseudonyms whose records leave the linkage at the next update run."""

    model_config = ConfigDict(extra="forbid")

    pseudonyms: Annotated[list[Pseudonym], Field(min_length=1, max_length=100_000)]


class ChangeSetPublic(BaseModel):
    """A party's staged change set: counts only."""

    project_id: int
    party: str
    records: int = Field(description="New and corrected records sent.")
    corrections: int = Field(description="Of those, records already linked.")
    additions: int = Field(description="Of those, records new to the linkage.")
    withdrawn: int = Field(description="Pseudonyms to withdraw.")
    updated_at: datetime | None = Field(
        description="When it last changed; null when nothing is staged."
    )


MemberName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", examples=["alice"])
]
# Reasons and purposes may span lines, but hold no NUL or other control
# character a terminal or a log would act on.
FreeText = Annotated[
    str,
    Field(
        min_length=1, max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$"
    ),
]


class MemberCreate(BaseModel):
    """An investigator, approver or oversight member the operator registers
    in a project."""

    model_config = ConfigDict(extra="forbid")

    name: MemberName
    role: Literal["investigator", "approver", "oversight"]
    public_key: Annotated[str, Field(max_length=4000)] | None = Field(
        default=None,
        description="The member's public key (PEM): an investigator's X25519 "
        "key from `linkage keygen --investigator` (identities are sealed to "
        "it), an approver's Ed25519 key from `linkage keygen --signing` (their "
        "approvals are signed with it); none for oversight.",
    )


class MemberCreated(BaseModel):
    """A new member and their token, shown this once only."""

    project_id: int
    member_id: int
    name: str
    role: str
    token: str


class ServiceKeyPublic(BaseModel):
    """The service's Ed25519 public key, which agencies pin."""

    public_key: str
    key_id: str


class RevealCreate(BaseModel):
    """An investigator's request to reveal one match in named agencies."""

    model_config = ConfigDict(extra="forbid")

    match_id: Annotated[str, Field(min_length=1, max_length=64)]
    parties: Annotated[list[PartyName], Field(min_length=1, max_length=100)]
    purpose: FreeText
    legal_basis: FreeText
    case_reference: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @field_validator("parties")
    @classmethod
    def _unique(cls, parties: list[str]) -> list[str]:
        return _unique_names(parties)


class SignedBody(BaseModel):
    """A signed document: base64url payload and signature."""

    model_config = ConfigDict(extra="forbid")

    payload: Annotated[str, Field(max_length=200_000)]
    signature: Annotated[str, Field(max_length=200)]


class PartyApproval(BaseModel):
    """An approver's signed approval of one agency's part of a request."""

    model_config = ConfigDict(extra="forbid")

    party: Annotated[str, Field(min_length=1, max_length=64)]
    approval: SignedBody


class DecisionCreate(BaseModel):
    """An approver's reason for approving or denying; an approval also carries
    the approver's signature of each agency's statement."""

    model_config = ConfigDict(extra="forbid")

    reason: FreeText
    approvals: Annotated[list[PartyApproval], Field(max_length=100)] = []


class StatementPublic(BaseModel):
    """What an approver signs for one agency (`linkage reveal approve` does)."""

    party: str
    statement: dict[str, Any]


class DecisionPublic(BaseModel):
    """One approver's decision."""

    approver: str
    decision: Literal["approve", "deny"]
    reason: str
    created_at: datetime


SignedGrantBody = SignedBody


class TargetPublic(BaseModel):
    """One agency a request names, and where its grant stands."""

    grant_id: int
    party: str
    state: Literal["awaiting", "issued", "fulfilled", "refused", "withdrawn", "empty"]
    records: int | None = Field(
        description="How many records the agency holds in the match; hidden "
        "from the investigator until the request is approved."
    )
    expires_at: datetime | None
    refusal_reason: str | None
    answered_at: datetime | None


class RevealPublic(BaseModel):
    """A reveal request as its investigator, the approvers and the operator see
    it: never an identity, and no pseudonym."""

    request_id: int
    project_id: int
    run_id: int
    match_id: str
    investigator: str
    purpose: str
    legal_basis: str
    case_reference: str | None
    state: Literal["pending", "approved", "denied"]
    approvals: int
    approvals_required: int
    created_at: datetime
    decided_at: datetime | None
    decisions: list[DecisionPublic]
    targets: list[TargetPublic]


class GrantPublic(BaseModel):
    """A signed grant awaiting the agency's answer, with the approvers' own
    signed approvals of it, which the agency checks against its pinned keys."""

    grant_id: int
    request_id: int
    grant: SignedGrantBody
    approvals: list[SignedBody]


class SealedPublic(BaseModel):
    """An agency's sealed answer, for the investigator to open."""

    grant_id: int
    party: str
    grant: SignedGrantBody
    sealed: dict[str, str]


class RevealAnswers(BaseModel):
    """The investigator's collected answers: sealed disclosures and refusals."""

    request: RevealPublic
    sealed: list[SealedPublic]


class FulfilmentCreate(BaseModel):
    """The agency's sealed disclosure (a JSON envelope from `reveal fulfil`)."""

    model_config = ConfigDict(extra="forbid")

    sealed: dict[str, str]


class RefusalCreate(BaseModel):
    """The agency's refusal of a grant, with its reason."""

    model_config = ConfigDict(extra="forbid")

    reason: FreeText


class OpenReport(BaseModel):
    """The investigator's report of opening the answers (or failing to)."""

    model_config = ConfigDict(extra="forbid")

    error: Annotated[str, Field(max_length=2000)] | None = None
