"""Who is asking, for the console's pages: the API's rules, from a session.

A page depends on :data:`ConsoleToken` (the session's token, authenticated
again on every request) and, under a project, on :data:`ConsoleProject`,
which applies the API's own :func:`~linkage.service.deps.reachable_project`.
Role checks are the API routes' own functions or the same words, so a token
sees in the browser what it may read with ``curl``, and nothing more.
Refusals raise the API's errors; the service's handlers record them in the
audit log and answer with an HTML page on console paths.
"""

from __future__ import annotations

from typing import Annotated, Final, cast
from urllib.parse import parse_qs

from fastapi import Depends, Request

from linkage.service.console.sessions import (
    SESSION_COOKIE,
    ConsoleSession,
    ConsoleSessions,
    same_secret,
)
from linkage.service.deps import StoreDep, forbidden, reachable_project
from linkage.service.errors import ApiProblem
from linkage.service.models import ResourceId
from linkage.storage import AuthenticationError, Project, TokenRecord

__all__ = [
    "ConsoleProject",
    "ConsoleToken",
    "LoginRequired",
    "console_session",
    "parse_form",
    "read_form",
    "require_role",
]

_FORM: Final = "application/x-www-form-urlencoded"
# The console's forms have a handful of fields; anything more is not ours.
_MAX_FIELDS: Final = 20


class LoginRequired(Exception):
    """No live session: the browser is sent to the login page."""


def get_sessions(request: Request) -> ConsoleSessions:
    """The app's console sessions."""
    return cast(ConsoleSessions, request.app.state.console_sessions)


def console_session(request: Request) -> ConsoleSession | None:
    """The request's session, if it has a live one."""
    return get_sessions(request).find(request.cookies.get(SESSION_COOKIE))


def console_token(request: Request, store: StoreDep) -> TokenRecord:
    """The token behind the request's session, checked as the API checks a
    bearer token (a revoked or expired one ends the session).

    Raises:
        LoginRequired: no session, or its token is no longer valid.
    """
    session = console_session(request)
    if session is None:
        raise LoginRequired
    try:
        token = store.authenticate_hash(token_hash=session.token_hash)
    except AuthenticationError:
        get_sessions(request).close(request.cookies.get(SESSION_COOKIE))
        raise LoginRequired from None
    # As the API's current_token does: refusals are audited under this name.
    request.state.token = token
    request.state.console_session = session
    return token


ConsoleToken = Annotated[TokenRecord, Depends(console_token)]


def console_project(
    project_id: ResourceId, token: ConsoleToken, store: StoreDep
) -> Project:
    """The path's project if the token reaches it (404 otherwise): the API's
    rule, called as is."""
    return reachable_project(project_id, token, store)


ConsoleProject = Annotated[Project, Depends(console_project)]


def require_role(token: TokenRecord, *roles: str) -> None:
    """403 unless the token has one of ``roles``.

    Raises:
        ApiProblem: 403, recorded in the audit log as the API's are.
    """
    if token.role not in roles:
        raise forbidden(f"this page is for {' or '.join(roles)} only")


async def parse_form(request: Request) -> dict[str, str]:
    """The posted form's fields (a field sent twice keeps its first value),
    with no check of who sent it: :func:`read_form` checks that.

    Raises:
        ApiProblem: 415 for another body than a form; 422 for a form with
            more fields than the console's have.
    """
    if request.headers.get("content-type", "").split(";")[0].strip() != _FORM:
        raise ApiProblem(415, f"the console takes forms ({_FORM}) only")
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        parsed = parse_qs(body, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise ApiProblem(422, "the form has too many fields") from None
    return {name: values[0] for name, values in parsed.items()}


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields, once its CSRF token matched the session's.

    Raises:
        ApiProblem: as :func:`parse_form`; 403 when the CSRF token is
            missing or wrong.
    """
    fields = await parse_form(request)
    session: ConsoleSession | None = getattr(request.state, "console_session", None)
    if session is None or not same_secret(fields.get("csrf"), session.csrf):
        raise forbidden(
            "the form's CSRF token does not match this session; reload the "
            "page and send the form again"
        )
    return fields
