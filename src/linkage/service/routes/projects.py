"""Projects: the operator creates them; their parties may read them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from linkage.service.deps import (
    AuditDep,
    CurrentToken,
    Operator,
    ReachableProject,
    SettingsDep,
    StoreDep,
    forbidden,
)
from linkage.service.models import (
    EncodingsDeleted,
    PartyName,
    PartyPublic,
    PartyToken,
    ProjectCreate,
    ProjectCreated,
    ProjectPublic,
)
from linkage.service.retention import delete_encodings, remove_encodings_files

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post("", status_code=201)
def create_project(
    body: ProjectCreate, operator: Operator, store: StoreDep, audit: AuditDep
) -> ProjectCreated:
    """Create a project; the answer holds each party's token, shown only once."""
    with store.transaction():
        created = store.create_project(
            name=body.name,
            schema_fingerprint=body.schema_fingerprint,
            threshold=body.threshold,
            mode=body.mode,
            method=body.method,
            parties=body.parties,
            allow_clkhash_json=body.allow_clkhash_json,
            retain_encodings=body.retain_encodings,
        )
        audit.append(
            actor=operator.actor,
            action="project.created",
            project_id=created.project.id,
            details={
                "name": body.name,
                "parties": body.parties,
                "mode": body.mode,
                "method": body.method,
                "threshold": created.project.threshold,
                "retain_encodings": body.retain_encodings,
            },
        )
    return ProjectCreated(
        id=created.project.id,
        name=created.project.name,
        party_tokens=created.party_tokens,
    )


@router.get("/{project_id}")
def read_project(
    project: ReachableProject, token: CurrentToken, store: StoreDep
) -> ProjectPublic:
    """A project's settings and which parties have uploaded.

    A party sees its own record count only; the operator sees every count.
    """
    if token.role not in ("operator", "party"):
        raise forbidden("only the operator and the project's parties may read it")
    current = {u.party_id: u for u in store.uploads_for(project_id=project.id)}
    parties = []
    for party in store.parties_of(project_id=project.id):
        upload = current.get(party.id)
        visible = upload is not None and (
            token.role == "operator" or token.party_id == party.id
        )
        parties.append(
            PartyPublic(
                name=party.name,
                uploaded=upload is not None,
                upload_version=upload.version if upload and visible else None,
                record_count=upload.record_count if upload and visible else None,
            )
        )
    return ProjectPublic(
        id=project.id,
        name=project.name,
        schema_fingerprint=project.schema_fingerprint,
        threshold=project.threshold,
        mode=project.mode,
        method=project.method,
        allow_clkhash_json=project.allow_clkhash_json,
        retain_encodings=project.retain_encodings,
        encodings_deleted_at=project.encodings_deleted_at,
        created_at=project.created_at,
        parties=parties,
    )


@router.delete("/{project_id}/parties/{party}/token")
def revoke_party_token(
    party: PartyName,
    project: ReachableProject,
    operator: Operator,
    store: StoreDep,
    audit: AuditDep,
) -> PartyToken:
    """Revoke the party's token(s) and answer with its new one, shown only once.

    Operator only. One call both revokes and reissues, in one transaction, so
    a party is never left without a way in: hand the new token to the party.
    From then on every earlier token of the party gets the same 401 as an
    unknown token.
    """
    found = store.find_party(project_id=project.id, name=party)
    with store.transaction():
        token = store.reissue_party_token(project_id=project.id, party_id=found.id)
        audit.append(
            actor=operator.actor,
            action="token.reissued",
            project_id=project.id,
            details={"party": found.name},
        )
    return PartyToken(project_id=project.id, party=found.name, token=token)


@router.delete(
    "/{project_id}/encodings",
    responses={
        409: {
            "description": "A run of the project is queued or running, or its "
            "encodings were deleted before."
        }
    },
)
async def delete_project_encodings(
    project: ReachableProject,
    operator: Operator,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> EncodingsDeleted:
    """Delete every encodings upload of the project now (operator only).

    For a project that keeps its encodings once it needs them no more, or
    one where a party never downloads its results. Results, match IDs and
    reveals keep working; the project takes no new uploads or runs.
    """

    def delete() -> EncodingsDeleted:
        deleted = delete_encodings(store, audit, project.id, actor=operator.actor)
        # Only once the deletion has committed: see linkage.service.retention.
        remove_encodings_files(settings, deleted)
        return EncodingsDeleted(
            project_id=project.id,
            uploads=len(deleted.uploads),
            records=deleted.records,
            deleted_at=deleted.deleted_at,
        )

    return await run_in_threadpool(delete)
