"""Change sets and what changed: an agency's side of continuing linkage.

- ``PUT /projects/{id}/changes``: new and corrected records, as an encodings
  file (the body, as for an upload); replaces the records staged before.
- ``POST /projects/{id}/withdrawals``: ``{"pseudonyms": [...]}``, records
  that leave the linkage; added to those staged before.
- ``GET`` / ``DELETE /projects/{id}/changes``: the staged change set's counts;
  discard it.
- ``GET /projects/{id}/results/changes``: what changed in the agency's own
  rows since the results it last downloaded (CSV, see
  :mod:`linkage.service.continuing.since`).

Every route takes the agency's own token only. Staged changes are linked in
by the operator's next update run (``POST /projects/{id}/runs`` with
``{"kind": "update"}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from linkage.service.continuing.since import changes_since
from linkage.service.continuing.staging import (
    accept_change_records,
    accept_withdrawals,
    change_set_public,
    check_continuing,
)
from linkage.service.continuing.withdrawals import refuse_withdrawn_grants
from linkage.service.deps import (
    AuditDep,
    CurrentToken,
    ReachableProject,
    SettingsDep,
    StoreDep,
    forbidden,
)
from linkage.service.errors import ApiProblem, body_too_large
from linkage.service.models import ChangeSetPublic, WithdrawalsCreate
from linkage.service.retention import delete_encodings_if_due, remove_encodings_files
from linkage.service.routes.bodies import file_body
from linkage.service.uploads import receive_upload
from linkage.storage import Party, Project, Store, TokenRecord
from linkage.storage.audit_log import AuditLog

router = APIRouter(tags=["changes"])

CHANGES_PATH = "/projects/{project_id}/changes"

_FILE_BODY = file_body()
_REFUSALS: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The project takes no change sets now: it does not "
        "link with CLKs or keep its encodings, no run has completed, or a run "
        "is queued or running."
    },
    422: {"description": "The change set does not fit the agency's records."},
}


def _own_party(token: TokenRecord, project: Project, store: Store) -> Party:
    if token.role != "party" or token.party_id is None:
        raise forbidden("only an agency's own token may send or read its changes")
    return next(
        p for p in store.parties_of(project_id=project.id) if p.id == token.party_id
    )


def _audit_staged(
    audit: AuditLog, token: TokenRecord, project: Project, what: str
) -> Callable[[ChangeSetPublic], None]:
    def record(public: ChangeSetPublic) -> None:
        audit.append(
            actor=token.actor,
            action="changes.received",
            project_id=project.id,
            details={
                "party": public.party,
                "sent": what,
                "records": public.records,
                "corrections": public.corrections,
                "additions": public.additions,
                "withdrawn": public.withdrawn,
            },
        )

    return record


@router.put(CHANGES_PATH, openapi_extra=_FILE_BODY, responses=_REFUSALS)
async def put_changes(
    request: Request,
    project: ReachableProject,
    token: CurrentToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> ChangeSetPublic:
    """Stage new and corrected records: an encodings file made with the
    project's schema and secret. A pseudonym the agency already linked is a
    correction, a new one an addition. Replaces the records staged before
    (the staged withdrawals stay)."""
    party = await run_in_threadpool(_own_party, token, project, store)
    # Checked again once the file is in; this spares streaming it in vain.
    await run_in_threadpool(check_continuing, store, project)
    incoming = await receive_upload(
        request.stream(), settings.uploads_dir, settings.max_upload_bytes
    )
    if incoming is None:
        raise ApiProblem(413, body_too_large(settings.max_upload_bytes))
    record = _audit_staged(audit, token, project, "records")
    return await run_in_threadpool(
        accept_change_records, store, settings, project, party, incoming, record
    )


@router.post("/projects/{project_id}/withdrawals", responses=_REFUSALS)
def post_withdrawals(
    body: WithdrawalsCreate,
    project: ReachableProject,
    token: CurrentToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> ChangeSetPublic:
    """Stage withdrawals: the agency's pseudonyms whose records leave the
    linkage at the next update run. From now on no reveal names them."""
    party = _own_party(token, project, store)
    audit_staged = _audit_staged(audit, token, project, "withdrawals")

    def record(public: ChangeSetPublic) -> None:
        audit_staged(public)
        # In the same transaction: no grant outlives the withdrawal.
        refuse_withdrawn_grants(store, audit, project.id, party, set(body.pseudonyms))

    return accept_withdrawals(store, settings, project, party, body.pseudonyms, record)


@router.get(CHANGES_PATH)
def read_changes(
    project: ReachableProject,
    token: CurrentToken,
    store: StoreDep,
    settings: SettingsDep,
) -> ChangeSetPublic:
    """The agency's staged change set, as counts."""
    party = _own_party(token, project, store)
    return change_set_public(store, settings, project, party)


@router.delete(CHANGES_PATH, responses=_REFUSALS)
def discard_changes(
    project: ReachableProject,
    token: CurrentToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> ChangeSetPublic:
    """Discard the agency's staged change set (records and withdrawals)."""
    party = _own_party(token, project, store)
    with store.transaction():
        dropped = store.discard_change_set(project_id=project.id, party_id=party.id)
        if dropped is not None:
            audit.append(
                actor=token.actor,
                action="changes.discarded",
                project_id=project.id,
                details={
                    "party": party.name,
                    "records": dropped.record_count,
                    "withdrawn": len(dropped.withdrawn),
                },
            )
    if dropped is not None and dropped.path:
        (settings.data_dir / dropped.path).unlink(missing_ok=True)
    return change_set_public(store, settings, project, party)


@router.get(
    "/projects/{project_id}/results/changes",
    response_class=Response,
    responses={
        200: {
            "description": "pseudonym,kind,match_id_before,match_id_after",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        409: {"description": "No run of the project has completed yet."},
    },
)
def read_result_changes(
    project: ReachableProject,
    token: CurrentToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
    since_run: int | None = Query(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Compare with this completed run instead of the one whose "
        "results the agency last downloaded.",
    ),
) -> Response:
    """What changed in the agency's own rows from the results it last
    downloaded (or run ``since_run``) to the latest completed run; counts as
    a download of the latest run's results. ``X-Linkage-Since-Run-Id`` is
    empty when it had downloaded none (every grouped row is then added)."""
    party = _own_party(token, project, store)
    latest = store.latest_completed_run(project_id=project.id)
    if latest is None:
        raise ApiProblem(
            409, f"no run of project {project.id} has completed yet; wait for one"
        )
    since = since_run or store.last_downloaded_run(
        project_id=project.id, party_id=party.id
    )
    if since is not None:
        # Raises 404 unless it is a completed run with results for the party.
        store.run_result(run_id=since, party_id=party.id)
    changes = changes_since(store, settings, party.id, party.name, latest, since)
    with store.transaction():
        store.record_download(run_id=latest.id, party_id=party.id)
        audit.append(
            actor=token.actor,
            action="results.changes_downloaded",
            project_id=project.id,
            details={"run_id": latest.id, "since_run_id": since, **changes.counts()},
        )
        deleted = delete_encodings_if_due(store, audit, project.id)
    if deleted is not None:
        remove_encodings_files(settings, deleted)
    return Response(
        changes.csv_text(),
        media_type="text/csv",
        headers={
            "X-Linkage-Run-Id": str(latest.id),
            "X-Linkage-Since-Run-Id": "" if since is None else str(since),
            "Content-Disposition": (
                f'attachment; filename="{party.name}-changes-run-{latest.id}.csv"'
            ),
        },
    )
