"""``PUT /projects/{id}/parties/{name}/encodings``: a party's encodings file.

The request body is the file itself, in the linkage binary format or (where
the project allows it) clkhash JSON. It is streamed to a temporary file with
the size limit enforced, validated, moved into place and recorded in one
transaction; a refused upload leaves neither a file nor a row behind.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from linkage.service.deps import (
    AuditDep,
    CurrentToken,
    ReachableProject,
    SettingsDep,
    StoreDep,
    forbidden,
)
from linkage.service.errors import ApiProblem, body_too_large
from linkage.service.models import PartyName, UploadPublic
from linkage.service.routes.bodies import file_body
from linkage.service.uploads import accept_upload, receive_upload
from linkage.storage import Upload
from linkage.storage.store import encodings_deleted_message

router = APIRouter(tags=["uploads"])

ENCODINGS_PATH = "/projects/{project_id}/parties/{party}/encodings"

_FILE_BODY = file_body(also_json=True)


@router.put(
    ENCODINGS_PATH,
    openapi_extra=_FILE_BODY,
    responses={
        409: {
            "description": "A run of the project is queued or running, or the "
            "project's encodings were deleted after its run."
        },
        413: {"description": "The file is larger than the service accepts."},
    },
)
async def put_encodings(
    party: PartyName,
    request: Request,
    project: ReachableProject,
    token: CurrentToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> UploadPublic:
    """Upload (or replace) this party's encodings file.

    Before any run, a re-upload replaces the previous file. While a run of the
    project is queued or running it is refused (409): wait for the run. After
    a run, it starts a new version; the file the run used is kept until the
    project's encodings are deleted. Once they are (after the run, per the
    project's retention setting, or by the operator), it is refused (409).
    """
    if token.role != "party":
        raise forbidden("only a party's own token may upload its encodings")
    found = await run_in_threadpool(store.find_party, project_id=project.id, name=party)
    if found.id != token.party_id:
        raise forbidden(f"this token may not upload for party {party!r}")
    # Both checked again when the upload is recorded; this spares streaming a
    # file that would be refused.
    if project.encodings_deleted_at is not None:
        raise ApiProblem(409, encodings_deleted_message(project))
    pending = await run_in_threadpool(store.pending_run, project_id=project.id)
    if pending is not None:
        raise ApiProblem(
            409,
            f"run {pending} of project {project.id} is queued or running and "
            "reads the current uploads; wait for the run to finish, then upload "
            "again",
        )
    # The declared and the streamed size were checked before the route ran
    # (linkage.service.limits); receive_upload checks again.
    incoming = await receive_upload(
        request.stream(), settings.uploads_dir, settings.max_upload_bytes
    )
    if incoming is None:
        raise ApiProblem(413, body_too_large(settings.max_upload_bytes))

    def record(upload: Upload) -> None:
        audit.append(
            actor=token.actor,
            action="encodings.uploaded",
            project_id=project.id,
            details={
                "party": found.name,
                "version": upload.version,
                "records": upload.record_count,
                "clkhash_json": upload.key_check is None,
            },
        )

    return await run_in_threadpool(
        accept_upload, store, settings, project, found, incoming, record
    )
