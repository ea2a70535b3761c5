"""Limits that hold before any work: body size caps and "no token, no body".

FastAPI reads and parses a request's whole body before the route's
dependencies (authentication among them) run, so without this a client with
no token could make the service read and parse gigabytes. :class:`RequestLimits`
is a pure ASGI middleware (it sees the body as it streams, which Starlette's
``BaseHTTPMiddleware`` would not let it do) that, before the app runs:

* answers 431 to a request whose line and headers pass
  ``MAX_REQUEST_HEAD_BYTES`` (uvicorn's h11 parser enforces that limit only
  on a head that arrives in pieces);
* answers 401 to a request that carries a body but no
  ``Authorization: Bearer ...`` header, without reading the body (a request
  with a token goes through normal authentication), unless it is a web
  console form with the console's cookie, which the console checks;
* answers 413 to a request whose declared ``Content-Length`` is over its
  route's cap, without reading the body;

and while the app runs, stops a body (chunked, or longer than it declared)
with 413 as soon as it passes the cap, so no more than the cap is ever
buffered. The cap is ``Settings.max_upload_bytes`` on the encodings upload
and change-set routes and ``Settings.max_json_bytes`` everywhere else.

When the service answers before reading a body to its end, it also closes the
connection: the server would otherwise read the rest of the body just to
throw it away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linkage.service.auth_failures import FailedAuthentications
from linkage.service.console.sessions import LOGIN_COOKIE, SESSION_COOKIE
from linkage.service.errors import (
    BEARER_CHALLENGE,
    CONSOLE_PREFIX,
    UNAUTHENTICATED,
    body_too_large,
    client_address,
    problem_response,
)
from linkage.service.routes.changes import CHANGES_PATH
from linkage.service.routes.uploads import ENCODINGS_PATH
from linkage.service.settings import MAX_REQUEST_HEAD_BYTES, Settings

__all__ = ["UPLOAD_PATH", "RequestLimits"]

# The routes whose body is an encodings file; everything else takes JSON.
UPLOAD_PATH: Final = compile_path(ENCODINGS_PATH)[0]
CHANGES_UPLOAD_PATH: Final = compile_path(CHANGES_PATH)[0]
_CLOSE: Final = {"Connection": "close"}
_HEAD_TOO_LARGE: Final = (
    f"the request's headers are larger than this service accepts "
    f"({MAX_REQUEST_HEAD_BYTES} bytes); send only the headers the API needs"
)


class RequestLimits:
    """The ASGI middleware described in the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        failures: FailedAuthentications,
    ) -> None:
        self._app = app
        self._upload_cap = settings.max_upload_bytes
        self._json_cap = settings.max_json_bytes
        self._failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if _head_size(scope) > MAX_REQUEST_HEAD_BYTES:
            await _refuse(scope, receive, send, 431, _HEAD_TOO_LARGE)
            return
        headers = Headers(scope=scope)
        declared = _declared_length(headers)
        has_body = bool(declared) or "transfer-encoding" in headers
        if not has_body:
            await self._app(scope, receive, send)
            return
        if not _has_bearer(headers) and not _console_form(scope["path"], headers):
            await self._failures.report(
                client=client_address(scope),
                method=scope["method"],
                path=scope["path"],
            )
            await _refuse(scope, receive, send, 401, UNAUTHENTICATED, BEARER_CHALLENGE)
            return
        cap = self._cap(scope["path"])
        if declared is not None and declared > cap:
            await _refuse(scope, receive, send, 413, body_too_large(cap))
            return
        body = _CappedBody(receive, send, cap)
        await self._app(scope, body.receive, body.send)

    def _cap(self, path: str) -> int:
        files = UPLOAD_PATH.match(path) or CHANGES_UPLOAD_PATH.match(path)
        return self._upload_cap if files else self._json_cap


class _CappedBody:
    """One request's ``receive`` and ``send``, counting the body as it comes."""

    def __init__(self, receive: Receive, send: Send, cap: int) -> None:
        self._receive = receive
        self._send = send
        self._cap = cap
        self._received = 0
        self._complete = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._cap:
                # FastAPI passes an HTTPException from reading the body through
                # unchanged; the service's handler makes it a problem+json 413.
                raise HTTPException(413, body_too_large(self._cap), headers=_CLOSE)
            self._complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self._complete:
            # Answered before the body's end (a bad token, a refused upload):
            # close rather than let the server read the rest to discard it.
            headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.lower() != b"connection"
            ]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)


def _head_size(scope: Scope) -> int:
    # h11 refuses a head still incomplete past MAX_REQUEST_HEAD_BYTES, but one
    # that arrives whole in a single read gets through it; this catches those.
    return len(scope.get("raw_path", b"")) + sum(
        len(name) + len(value) for name, value in scope["headers"]
    )


def _declared_length(headers: Headers) -> int | None:
    # The server (h11) has already refused a malformed Content-Length.
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _console_form(path: str, headers: Headers) -> bool:
    # The web console's forms carry a session cookie (or, to log in, the
    # login form's cookie) instead of a bearer token; the console checks it,
    # and the body is small and capped like any JSON body.
    if not path.startswith(f"{CONSOLE_PREFIX}/"):
        return False
    names = {
        pair.partition("=")[0].strip() for pair in headers.get("cookie", "").split(";")
    }
    return not names.isdisjoint((SESSION_COOKIE, LOGIN_COOKIE))


def _has_bearer(headers: Headers) -> bool:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    response = problem_response(status, detail, {**(headers or {}), **_CLOSE})
    await response(scope, receive, send)
