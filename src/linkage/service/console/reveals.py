"""The approvers' and investigators' pages: reveal requests and decisions."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from linkage.reveal.policy import RevealPolicy, format_duration
from linkage.service.console.access import (
    ConsoleProject,
    ConsoleToken,
    read_form,
)
from linkage.service.console.render import PREFIX, page, see_other
from linkage.service.errors import ApiProblem
from linkage.service.models import DecisionCreate, ResourceId
from linkage.service.routes.reveals import (
    DeskDep,
    decide_reveal,
    public_request,
    reveal_statements,
)

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# -- reveals ---------------------------------------------------------------


@router.get("/projects/{project_id}/reveals")
def reveals_page(
    request: Request, project: ConsoleProject, token: ConsoleToken, desk: DeskDep
) -> Response:
    """The approvers' queue, an investigator's own requests, or (operator)
    every request."""
    requests = [public_request(r, token) for r in desk.visible_requests(token, project)]
    return page(request, "reveals.html", token, project=project, requests=requests)


@router.get("/projects/{project_id}/reveals/{request_id}")
def reveal_page(
    request: Request,
    request_id: ResourceId,
    project: ConsoleProject,
    token: ConsoleToken,
    desk: DeskDep,
) -> Response:
    """One request; approvers also see what they sign and how."""
    found = desk.visible_request(token, project, request_id)
    policy = RevealPolicy.from_json(found.policy)
    statements = (
        desk.statements(token, project, request_id)
        if token.role == "approver" and found.state == "pending"
        else []
    )
    return page(
        request,
        "reveal.html",
        token,
        project=project,
        reveal=public_request(found, token),
        policy=policy,
        lifetime=format_duration(policy.grant_lifetime),
        statements=statements,
        own=token.role == "approver" and token.name == found.investigator,
        server=str(request.base_url).rstrip("/"),
    )


@router.get("/projects/{project_id}/reveals/{request_id}/statements")
def statements_file(
    request_id: ResourceId, project: ConsoleProject, token: ConsoleToken, desk: DeskDep
) -> Response:
    """The statements to sign, as the API's ``/statements`` gives them, for
    ``linkage reveal sign`` on the approver's own machine."""
    statements = reveal_statements(request_id, project, token, desk)
    body = [statement.model_dump() for statement in statements]
    return Response(
        json.dumps(body, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="request-{request_id}'
            '-statements.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/projects/{project_id}/reveals/{request_id}/approve")
async def approve_form(
    request: Request,
    request_id: ResourceId,
    project: ConsoleProject,
    token: ConsoleToken,
    desk: DeskDep,
) -> Response:
    """Approve with the signed approval file ``linkage reveal sign`` wrote;
    checked exactly as ``POST .../approve`` checks it."""
    fields = await read_form(request)
    try:
        body = DecisionCreate.model_validate_json(fields.get("signed", ""))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}"
            for e in error.errors()[:3]
        )
        raise ApiProblem(
            422, f"that is not a signed approval from `linkage reveal sign`: {problems}"
        ) from None
    # The database work runs off the event loop, as the API's sync routes do.
    await run_in_threadpool(
        decide_reveal, request_id, "approve", body, project, token, desk
    )
    return see_other(f"{PREFIX}/projects/{project.id}/reveals/{request_id}")


@router.post("/projects/{project_id}/reveals/{request_id}/deny")
async def deny_form(
    request: Request,
    request_id: ResourceId,
    project: ConsoleProject,
    token: ConsoleToken,
    desk: DeskDep,
) -> Response:
    """Deny with a reason, as ``POST .../deny`` does (no signature needed)."""
    fields = await read_form(request)
    try:
        body = DecisionCreate(reason=fields.get("reason", ""))
    except ValidationError:
        raise ApiProblem(
            422, "give a reason for denying (1 to 2,000 characters)"
        ) from None
    await run_in_threadpool(
        decide_reveal, request_id, "deny", body, project, token, desk
    )
    return see_other(f"{PREFIX}/projects/{project.id}/reveals/{request_id}")
