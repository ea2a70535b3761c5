"""The oversight pages: the audit trail, the transparency report and the
log's verification (for oversight members and the operator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from linkage.service.console.access import (
    ConsoleProject,
    ConsoleToken,
    read_form,
    require_role,
)
from linkage.service.console.render import PREFIX, page
from linkage.service.console.timeline import (
    AuditFilter,
    ServiceKeys,
    project_report,
    project_timeline,
    verification_status,
    verify_against,
)
from linkage.service.deps import (
    StoreDep,
)
from linkage.storage import Project

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# -- audit -----------------------------------------------------------------


def _audit_reader(project: ConsoleProject, token: ConsoleToken) -> Project:
    require_role(token, "operator", "oversight")
    return project


AuditProject = Annotated[Project, Depends(_audit_reader)]


@router.get("/projects/{project_id}/audit")
def audit_page(
    request: Request,
    project: AuditProject,
    token: ConsoleToken,
    store: StoreDep,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    """The project's audit trail, newest first, with filters, and whether the
    whole log verifies against the service's key."""
    wanted = AuditFilter.parse(action=action, actor=actor, since=since, until=until)
    timeline = project_timeline(store, project.id, wanted)
    return page(
        request,
        "audit.html",
        token,
        project=project,
        timeline=timeline,
        wanted=wanted,
        verification=verification_status(store, _service_keys(request)),
    )


@router.get("/projects/{project_id}/audit/report")
def report_page(
    request: Request,
    project: AuditProject,
    token: ConsoleToken,
    store: StoreDep,
    since: str = "",
    until: str = "",
) -> Response:
    """The transparency report (``linkage audit report``) of the project."""
    wanted = AuditFilter.parse(since=since, until=until)
    return page(
        request,
        "report.html",
        token,
        project=project,
        report=project_report(store, project.id, wanted),
        wanted=wanted,
    )


@router.post("/projects/{project_id}/audit/verify")
async def verify_form(
    request: Request, project: AuditProject, token: ConsoleToken, store: StoreDep
) -> Response:
    """Check the log against an earlier export an oversight body kept."""
    fields = await read_form(request)
    # Reading and checking the whole log takes a while: off the event loop.
    outcome = await run_in_threadpool(
        verify_against, store, _service_keys(request), fields.get("earlier", "")
    )
    return page(request, "verified.html", token, project=project, outcome=outcome)


def _service_keys(request: Request) -> ServiceKeys:
    settings = request.app.state.settings
    return ServiceKeys(request.app.state.signing_key, settings.data_dir)
