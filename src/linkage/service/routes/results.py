"""``GET /projects/{id}/results``: a party's own rows of the latest completed
run, as CSV ``pseudonym,match_id,score``. Only the party's token may read
them; the operator sees aggregate figures only, on the run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from linkage.service.deps import (
    AuditDep,
    CurrentToken,
    ReachableProject,
    SettingsDep,
    StoreDep,
    forbidden,
)
from linkage.service.errors import ApiProblem
from linkage.service.retention import delete_encodings_if_due, remove_encodings_files

router = APIRouter(tags=["results"])

_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The party's pseudonyms with their match IDs and scores.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    409: {"description": "No run of the project has completed yet."},
}


@router.get(
    "/projects/{project_id}/results", response_class=FileResponse, responses=_CSV
)
def read_results(
    project: ReachableProject,
    token: CurrentToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> FileResponse:
    """This party's results from the project's latest completed run.

    The first download by the last party of the run deletes the project's
    encodings, unless the project retains them (see
    :mod:`linkage.service.retention`); the results themselves are kept and
    may be downloaded again.
    """
    if token.role != "party" or token.party_id is None:
        raise forbidden(
            "only a party's own token may read its results; the operator sees "
            "the run's aggregate figures"
        )
    run = store.latest_completed_run(project_id=project.id)
    if run is None:
        raise ApiProblem(
            409, f"no run of project {project.id} has completed yet; wait for one"
        )
    party = next(
        p for p in store.parties_of(project_id=project.id) if p.id == token.party_id
    )
    # The download, its audit entry and (when it was the last one due) the
    # deletion of the encodings rows commit together.
    with store.transaction():
        result = store.record_download(run_id=run.id, party_id=token.party_id)
        audit.append(
            actor=token.actor,
            action="results.downloaded",
            project_id=project.id,
            details={"run_id": run.id, "rows": result.row_count},
        )
        deleted = delete_encodings_if_due(store, audit, project.id)
    if deleted is not None:
        # After the commit, never before: see linkage.service.retention.
        remove_encodings_files(settings, deleted)
    return FileResponse(
        settings.data_dir / result.path,
        media_type="text/csv",
        filename=f"{party.name}-run-{run.id}.csv",
        headers={"X-Linkage-Run-Id": str(run.id)},
    )
