"""Every error answer as one RFC 9457 ``application/problem+json`` body.

The body always has ``type``, ``title``, ``status`` and ``detail``. Errors a
caller caused map to 4xx and name what to fix; anything else is a 500 whose
detail says nothing about the internals::

    AuthenticationError, missing token            401 (no hint which)
    ApiProblem                                    its own status
    NotFoundError                                 404
    ConflictError                                 409
    EncodingFileError, UploadRejectedError,
    SchemaError, InputError, request validation   422
    any other LinkageError                        400
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from linkage.errors import EncodingFileError, InputError, LinkageError, SchemaError
from linkage.storage import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    UploadRejectedError,
)

__all__ = [
    "PROBLEM_JSON",
    "ApiProblem",
    "install_error_handlers",
    "problem_response",
]

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


async def _on_problem(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiProblem)
    return problem_response(error.status, error.detail, error.headers)


async def _on_linkage_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LinkageError)
    status = _status_of(error)
    if status == 401:
        return problem_response(401, UNAUTHENTICATED, BEARER_CHALLENGE)
    return problem_response(status, str(error))


async def _on_http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return problem_response(error.status_code, str(error.detail), error.headers)


async def _on_validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return problem_response(422, "; ".join(parts) or "the request is invalid")


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
