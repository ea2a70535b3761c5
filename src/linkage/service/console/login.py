"""Logging in and out, the start page, and the pages for refusals."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from linkage.service.console.access import (
    ConsoleToken,
    get_sessions,
    parse_form,
    read_form,
)
from linkage.service.console.render import PREFIX, page, see_other
from linkage.service.console.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    login_csrf,
    same_secret,
)
from linkage.service.deps import (
    StoreDep,
)
from linkage.service.errors import ApiProblem, client_address
from linkage.storage import AuthenticationError, TokenRecord
from linkage.storage.base import hash_token

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)


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
    response = page(
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
        await run_in_threadpool(store.authenticate, token=token_text)
    except AuthenticationError:
        # Counted like the API's failed authentications, never with the token.
        await request.app.state.auth_failures.report(
            client=client_address(request.scope),
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
    response = see_other(_local(fields.get("next", PREFIX)))
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
    response = see_other(f"{PREFIX}/login")
    _delete_cookie(request, response, SESSION_COOKIE, path=PREFIX)
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, path: str
) -> None:
    response.set_cookie(name, value, path=path, **_cookie_flags(request))


def _delete_cookie(
    request: Request, response: Response, name: str, *, path: str
) -> None:
    # A cleared cookie carries the same flags as the one it replaces.
    response.delete_cookie(name, path=path, **_cookie_flags(request))


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
    }


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
        return see_other(_landing(token))
    return page(request, "projects.html", token, projects=store.list_projects())


def _landing(token: TokenRecord) -> str:
    base = f"{PREFIX}/projects/{token.project_id}"
    return {
        "party": base,
        "approver": f"{base}/reveals",
        "investigator": f"{base}/reveals",
        "oversight": f"{base}/audit",
    }.get(token.role, base)


def login_redirect(request: Request) -> Response:
    """Where a request without a live session goes: the login page (a GET),
    or a 401 page (a form sent after the session ended)."""
    if request.method == "GET":
        target = request.url.path
        if request.url.query:
            target += f"?{request.url.query}"
        return see_other(f"{PREFIX}/login?next={quote(target, safe='/')}")
    return page(
        request,
        "error.html",
        None,
        status=401,
        detail="Your session ended; log in again, then send the form again.",
    )


def error_page(request: Request, status: int, detail: str) -> Response:
    """The HTML answer to a refused console request (same status as the API's)."""
    token = getattr(request.state, "token", None)
    return page(request, "error.html", token, status=status, detail=detail)
