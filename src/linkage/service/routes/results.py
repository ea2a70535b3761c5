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
    """This party's results from the project's latest completed run."""
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
    result = store.run_result(run_id=run.id, party_id=token.party_id)
    party = next(
        p for p in store.parties_of(project_id=project.id) if p.id == token.party_id
    )
    audit.append(
        actor=token.actor,
        action="results.downloaded",
        project_id=project.id,
        details={"run_id": run.id, "rows": result.row_count},
    )
    return FileResponse(
        settings.data_dir / result.path,
        media_type="text/csv",
        filename=f"{party.name}-run-{run.id}.csv",
        headers={"X-Linkage-Run-Id": str(run.id)},
    )
