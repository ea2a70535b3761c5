"""The console's pages: one router under ``/console``, server-rendered.

Each page reads through the same functions as the API route it mirrors
(``reachable_project``, ``visible_run``, the reveal desk, ``public_request``,
``decide_reveal``, the results route), so a role sees here exactly what its
token may read over the API. What each role gets:

* operator: projects, parties and their uploads, runs with live progress, the
  score histogram and threshold, the probabilistic model; never a pseudonym;
* party (an agency): its own upload and results, nothing of other agencies;
* approver: the queue of requests, what to sign and how, approve or deny;
* investigator: their own requests and how to open an answer at home;
* oversight (and the operator): the audit trail, the transparency report and
  the log's verification, also against an earlier export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from linkage.matching.report import histogram_svg
from linkage.reveal.policy import RevealPolicy, format_duration
from linkage.service.console.access import (
    ConsoleProject,
    ConsoleToken,
    get_sessions,
    parse_form,
    read_form,
    require_role,
)
from linkage.service.console.charts import waterfall_svg, weight_histogram_svg
from linkage.service.console.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    login_csrf,
    same_secret,
)
from linkage.service.console.timeline import (
    AuditFilter,
    ServiceKeys,
    project_report,
    project_timeline,
    verification_status,
    verify_against,
)
from linkage.service.deps import (
    AuditDep,
    SettingsDep,
    StoreDep,
    WorkerDep,
    require_operator,
)
from linkage.service.errors import ApiProblem
from linkage.service.models import DecisionCreate, ResourceId
from linkage.service.routes.results import read_results
from linkage.service.routes.reveals import (
    DeskDep,
    decide_reveal,
    public_request,
)
from linkage.service.routes.runs import start_run, visible_run
from linkage.storage import AuthenticationError, Project, TokenRecord
from linkage.storage.base import hash_token

__all__ = ["router"]

PREFIX: Final = "/console"
_TEMPLATES: Final = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _page(
    request: Request,
    name: str,
    token: TokenRecord | None,
    status: int = 200,
    **context: Any,
) -> Response:
    session = getattr(request.state, "console_session", None)
    return _TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "user": token,
            "csrf": None if session is None else session.csrf,
            "project_id": None if token is None else token.project_id,
            **context,
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- login -----------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = PREFIX) -> Response:
    """The login form: paste the token the operator gave you."""
    return _login_page(request, next)


def _login_page(
    request: Request, next: str, *, status: int = 200, error: str | None = None
) -> Response:
    # A fresh CSRF token in the form and in a cookie only the login path sees.
    form_csrf = login_csrf()
    response = _page(
        request,
        "login.html",
        None,
        status=status,
        next=_local(next),
        form=form_csrf,
        error=error,
    )
    _set_cookie(request, response, LOGIN_COOKIE, form_csrf, path=f"{PREFIX}/login")
    return response


@router.post("/login")
async def login(request: Request, store: StoreDep) -> Response:
    """Exchange a bearer token for a session cookie (the token is not kept)."""
    fields = await _login_fields(request)
    token_text = fields.get("token", "").strip()
    try:
        store.authenticate(token=token_text)
    except AuthenticationError:
        # Counted like the API's failed authentications, never with the token.
        await request.app.state.auth_failures.report(
            client=request.client.host if request.client else "unknown",
            method="POST",
            path=request.url.path,
        )
        return _login_page(
            request,
            fields.get("next", PREFIX),
            status=401,
            error="That token is not valid (unknown, revoked or expired).",
        )
    session_id, _ = get_sessions(request).open(hash_token(token_text))
    response = _see_other(_local(fields.get("next", PREFIX)))
    _set_cookie(request, response, SESSION_COOKIE, session_id, path=PREFIX)
    _delete_cookie(request, response, LOGIN_COOKIE, path=f"{PREFIX}/login")
    return response


async def _login_fields(request: Request) -> dict[str, str]:
    # No session yet: the form's CSRF token must equal the login cookie's.
    fields = await parse_form(request)
    if not same_secret(fields.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")):
        raise ApiProblem(
            403, "the login form expired or came from elsewhere; load it again"
        )
    return fields


@router.post("/logout")
async def logout(request: Request, token: ConsoleToken) -> Response:
    """End the session (the token itself stays valid)."""
    await read_form(request)
    get_sessions(request).close(request.cookies.get(SESSION_COOKIE))
    response = _see_other(f"{PREFIX}/login")
    _delete_cookie(request, response, SESSION_COOKIE, path=PREFIX)
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, path: str
) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _delete_cookie(
    request: Request, response: Response, name: str, *, path: str
) -> None:
    response.delete_cookie(
        name,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _local(target: str) -> str:
    """``target`` if it is a console path, else the console's home: a login
    link never sends the browser elsewhere."""
    if target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return PREFIX


# -- home ------------------------------------------------------------------


@router.get("")
def home(request: Request, token: ConsoleToken, store: StoreDep) -> Response:
    """The operator's projects; anyone else goes to their project."""
    if token.role != "operator" or token.project_id is not None:
        assert token.project_id is not None
        return _see_other(_landing(token))
    return _page(request, "projects.html", token, projects=store.list_projects())


def _landing(token: TokenRecord) -> str:
    base = f"{PREFIX}/projects/{token.project_id}"
    return {
        "party": base,
        "approver": f"{base}/reveals",
        "investigator": f"{base}/reveals",
        "oversight": f"{base}/audit",
    }.get(token.role, base)


# -- projects, uploads, runs ----------------------------------------------


@router.get("/projects/{project_id}")
def project_page(
    request: Request, project: ConsoleProject, token: ConsoleToken, store: StoreDep
) -> Response:
    """The operator's view of a project, or an agency's view of its own part."""
    require_role(token, "operator", "party")
    parties = store.parties_of(project_id=project.id)
    # Every version, the latest kept per party: once the encodings are
    # deleted (after the run) their counts and fingerprints still show.
    every = store.uploads_for(project_id=project.id, include_superseded=True)
    uploads = {u.party_id: u for u in sorted(every, key=lambda u: u.id)}
    runs = store.runs_of(project_id=project.id)
    if token.role == "party":
        own = next(p for p in parties if p.id == token.party_id)
        latest = store.latest_completed_run(project_id=project.id)
        return _page(
            request,
            "agency.html",
            token,
            project=project,
            party=own,
            upload=uploads.get(own.id),
            runs=[visible_run(token, project, run.id, store) for run in runs],
            latest=latest,
        )
    return _page(
        request,
        "project.html",
        token,
        project=project,
        parties=parties,
        uploads=uploads,
        runs=runs,
    )


@router.post("/projects/{project_id}/runs")
async def start_run_form(
    request: Request,
    project: ConsoleProject,
    token: ConsoleToken,
    store: StoreDep,
    worker: WorkerDep,
    audit: AuditDep,
) -> Response:
    """Queue a run, as ``POST /projects/{id}/runs`` does (operator only)."""
    operator = require_operator(token)
    await read_form(request)
    created = await start_run(project, operator, store, worker, audit)
    return _see_other(f"{PREFIX}/projects/{project.id}/runs/{created.run_id}")


@router.get("/projects/{project_id}/runs/{run_id}")
def run_page(
    request: Request,
    run_id: ResourceId,
    project: ConsoleProject,
    token: ConsoleToken,
    store: StoreDep,
) -> Response:
    """A run: live progress, then the histogram, threshold and model."""
    run = visible_run(token, project, run_id, store)
    stats = run.stats
    charts = []
    if stats.get("histogram_counts"):
        charts = [
            histogram_svg(
                stats["histogram_edges"],
                stats["histogram_counts"],
                float(stats["threshold"]),
                log=log,
            )
            for log in (False, True)
        ]
    model = stats.get("model")
    return _page(
        request,
        "run.html",
        token,
        project=project,
        run=run,
        stats=stats,
        charts=charts,
        model=model,
        weight_chart=""
        if not model
        else weight_histogram_svg(
            model["histogram"]["edges"],
            model["histogram"]["counts"],
            float(model["threshold"]["weight"]),
        ),
        waterfalls=[
            (
                waterfall_svg(call),
                f"Pair {call['pair']}: match weight {call['weight']:+.2f}, "
                f"probability {call['probability']:.3f}",
            )
            for call in (model or {}).get("closest_calls", [])
        ],
        shown=_shown_stats(stats),
    )


# What the run page lists as plain figures (the rest is drawn).
_FIGURES: Final = (
    "records",
    "records_per_party",
    "matched_per_party",
    "pairs_compared",
    "blocking",
    "reduction_ratio",
    "estimated_pair_completeness",
    "candidate_pairs",
    "groups",
    "records_matched",
    "group_sizes",
    "compared_on_views",
    "view_score_shifts",
    "seconds",
)


def _shown_stats(stats: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for key in _FIGURES:
        if key not in stats:
            continue
        value = stats[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v:,}" for k, v in value.items())
        elif isinstance(value, int):
            value = f"{value:,}"
        shown.append((key.replace("_", " "), str(value)))
    return shown


@router.get("/projects/{project_id}/runs/{run_id}/progress")
def run_progress(
    run_id: ResourceId, project: ConsoleProject, token: ConsoleToken, store: StoreDep
) -> dict[str, Any]:
    """The run's state and progress, for the page's script to follow."""
    run = visible_run(token, project, run_id, store)
    return {"state": run.state, "progress": run.progress, "message": run.message}


@router.get("/projects/{project_id}/results")
def results_download(
    project: ConsoleProject,
    token: ConsoleToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> FileResponse:
    """The agency's own results, through the API's own route (its rules,
    audit entry and retention)."""
    return read_results(project, token, store, settings, audit)


# -- reveals ---------------------------------------------------------------


@router.get("/projects/{project_id}/reveals")
def reveals_page(
    request: Request, project: ConsoleProject, token: ConsoleToken, desk: DeskDep
) -> Response:
    """The approvers' queue, an investigator's own requests, or (operator)
    every request."""
    requests = [public_request(r, token) for r in desk.visible_requests(token, project)]
    return _page(request, "reveals.html", token, project=project, requests=requests)


@router.get("/projects/{project_id}/reveals/{request_id}")
def reveal_page(
    request: Request,
    request_id: ResourceId,
    project: ConsoleProject,
    token: ConsoleToken,
    desk: DeskDep,
    error: str | None = None,
) -> Response:
    """One request; approvers also see what they sign and how."""
    found = desk.visible_request(token, project, request_id)
    policy = RevealPolicy.from_json(found.policy)
    statements = (
        desk.statements(token, project, request_id)
        if token.role == "approver" and found.state == "pending"
        else []
    )
    return _page(
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
        error=error,
    )


@router.get("/projects/{project_id}/reveals/{request_id}/statements")
def statements_file(
    request_id: ResourceId, project: ConsoleProject, token: ConsoleToken, desk: DeskDep
) -> Response:
    """The statements to sign, as the API's ``/statements`` gives them, for
    ``linkage reveal sign`` on the approver's own machine."""
    body = [
        {"party": s.party, "statement": s.to_json()}
        for s in desk.statements(token, project, request_id)
    ]
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
    decide_reveal(request_id, "approve", body, project, token, desk)
    return _see_other(f"{PREFIX}/projects/{project.id}/reveals/{request_id}")


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
    decide_reveal(request_id, "deny", body, project, token, desk)
    return _see_other(f"{PREFIX}/projects/{project.id}/reveals/{request_id}")


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
    return _page(
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
    return _page(
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
    outcome = verify_against(store, _service_keys(request), fields.get("earlier", ""))
    return _page(request, "verified.html", token, project=project, outcome=outcome)


def _service_keys(request: Request) -> ServiceKeys:
    settings = request.app.state.settings
    return ServiceKeys(request.app.state.signing_key, settings.data_dir)


def login_redirect(request: Request) -> Response:
    """Where a request without a live session goes: the login page (a GET),
    or a 401 page (a form sent after the session ended)."""
    if request.method == "GET":
        target = request.url.path
        if request.url.query:
            target += f"?{request.url.query}"
        return _see_other(f"{PREFIX}/login?next={quote(target, safe='/')}")
    return _page(
        request,
        "error.html",
        None,
        status=401,
        detail="Your session ended; log in again, then send the form again.",
    )


def error_page(request: Request, status: int, detail: str) -> Response:
    """The HTML answer to a refused console request (same status as the API's)."""
    token = getattr(request.state, "token", None)
    return _page(request, "error.html", token, status=status, detail=detail)
