"""Request and response bodies. Responses never carry a token's hash or a path."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "PartyName",
    "PartyPublic",
    "PartyToken",
    "ProjectCreate",
    "ProjectCreated",
    "ProjectPublic",
    "ResourceId",
    "RunCreated",
    "RunPublic",
    "UploadPublic",
]

PartyName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["police"])
]
# Ids in paths fit a 32-bit SQL INTEGER (PostgreSQL's, the narrowest); a larger
# or non-positive one is malformed (422) rather than an overflow in the driver.
ResourceId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ProjectCreate(BaseModel):
    """What the operator gives to create a project."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    schema_fingerprint: Fingerprint
    parties: Annotated[list[PartyName], Field(min_length=1, max_length=100)]
    threshold: Literal["auto"] | Annotated[float, Field(gt=0, le=1)] = "auto"
    mode: Literal["link", "link-dedup"] = "link"
    allow_clkhash_json: bool = False

    @field_validator("parties")
    @classmethod
    def _unique(cls, parties: list[str]) -> list[str]:
        repeated = sorted({name for name in parties if parties.count(name) > 1})
        if repeated:
            raise ValueError(f"party names must be unique (repeated: {repeated})")
        return parties


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
    """A project's settings and upload state, with no record-level data."""

    id: int
    name: str
    schema_fingerprint: str
    threshold: str
    mode: str
    allow_clkhash_json: bool
    created_at: datetime
    parties: list[PartyPublic]


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


class RunCreated(BaseModel):
    """A run just queued."""

    run_id: int
    project_id: int
    state: RunStateName


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
