"""Every error answer as one RFC 9457 ``application/problem+json`` body
(on the web console's paths, the same refusal as an HTML page).

The body always has ``type``, ``title``, ``status`` and ``detail``. Errors a
caller caused map to 4xx and name what to fix; anything else is a 500 whose
detail says nothing about the internals::

    AuthenticationError, missing token            401 (no hint which)
    ApiProblem                                    its own status
    NotFoundError                                 404
    ConflictError                                 409
    EncodingFileError, UploadRejectedError,
    SchemaError, InputError, request validation,
    a JSON body nested too deeply                 422
    a body over its route's cap                   413 (see limits)
    any other LinkageError                        400
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Final

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Scope

from linkage.errors import EncodingFileError, InputError, LinkageError, SchemaError
from linkage.formats.jsondoc import TOO_DEEP
from linkage.storage import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UploadRejectedError,
)

__all__ = [
    "BEARER_CHALLENGE",
    "PROBLEM_JSON",
    "UNAUTHENTICATED",
    "ApiProblem",
    "body_too_large",
    "client_address",
    "install_error_handlers",
    "problem_response",
]

logger = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
BEARER_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}
UNAUTHENTICATED: Final = (
    "a valid token is required, sent as 'Authorization: Bearer <token>'"
)

_UNPROCESSABLE: Final = (
    EncodingFileError,
    UploadRejectedError,
    SchemaError,
    InputError,
)


class ApiProblem(Exception):
    """Raise in a route to answer with a problem body of ``status``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


def problem_response(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Build the problem+json answer; ``title`` is the status's phrase."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def body_too_large(limit: int) -> str:
    """The detail of a 413: what the limit is and what to do about it."""
    return (
        f"the request body is larger than this service accepts here ({limit} "
        "bytes); send less, or ask the operator to raise the limit"
    )


def client_address(scope: Scope) -> str:
    """The address the request came from (a proxy's, behind one)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _status_of(error: LinkageError) -> int:
    if isinstance(error, AuthenticationError):
        return 401
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, _UNPROCESSABLE):
        return 422
    return 400


CONSOLE_PREFIX: Final = "/console"
"""Where the web console's pages live; refusals there are HTML pages."""


def is_console_path(path: str) -> bool:
    """Whether ``path`` is one of the web console's (answered in HTML)."""
    return path == CONSOLE_PREFIX or path.startswith(f"{CONSOLE_PREFIX}/")


def _answer(
    request: Request,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The problem body, or on the web console's paths the same refusal as
    an HTML page (the console installs ``console_error_page``)."""
    page = getattr(request.app.state, "console_error_page", None)
    if page is not None and is_console_path(request.url.path):
        answer: Response = page(request, status, detail)
        return answer
    return problem_response(status, detail, headers)


async def _on_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiProblem)
    await _record_refusal(request, error.status, error.detail)
    return _answer(request, error.status, error.detail, error.headers)


async def _on_linkage_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, LinkageError)
    status = _status_of(error)
    await _record_refusal(request, status, str(error))
    if status == 401:
        return _answer(request, 401, UNAUTHENTICATED, BEARER_CHALLENGE)
    return _answer(request, status, str(error))


# Every refusal on these paths is part of a reveal's story, and is audited.
_REVEAL_PATH = re.compile(r"/projects/[^/]+/(reveals|grants)(/|$)")


async def _record_refusal(request: Request, status: int, detail: str) -> None:
    """Put a refused request in the audit log: every failed authentication,
    every forbidden action, and every refused step of a reveal."""
    path = request.url.path
    if status == 401:
        action = "auth.failed"
    elif status == 403:
        action = "access.denied"
    elif 400 <= status < 500 and _REVEAL_PATH.search(path):
        action = "reveal.step_refused"
    else:
        return
    if status == 401:
        # Counted per client rather than one signed entry each: see
        # linkage.service.auth_failures.
        failures = getattr(request.app.state, "auth_failures", None)
        if failures is not None:
            await failures.report(
                client=client_address(request.scope),
                method=request.method,
                path=path,
            )
        return
    token = getattr(request.state, "token", None)
    details: dict[str, object] = {
        "method": request.method,
        "path": path,
        "status": status,
        "reason": detail,
    }
    audit = getattr(request.app.state, "audit", None)
    if audit is None:
        return
    try:
        await run_in_threadpool(
            audit.append,
            actor=token.actor if token is not None else "anonymous",
            action=action,
            project_id=getattr(token, "project_id", None),
            details=details,
        )
    except Exception:
        # The refusal stands whether or not it could be recorded.
        logger.exception("could not record a refused request in the audit log")


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if isinstance(error.__cause__, RecursionError):
        # FastAPI reports any failure to parse a JSON body as a vague 400; a
        # document nested too deeply for the parser is the client's to fix.
        return problem_response(422, f"the request body: {TOO_DEEP}")
    return _answer(request, error.status_code, str(error.detail), error.headers)


async def _on_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return _answer(request, 422, "; ".join(parts) or "the request is invalid")


async def _on_unexpected(_request: Request, _error: Exception) -> JSONResponse:
    return problem_response(
        500, "the service failed; the operator will find the reason in its log"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error ``app`` answers a problem+json body."""
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(LinkageError, _on_linkage_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
