"""The web console: the service's own pages for people who are not on the
command line (approvers, investigators, oversight, the operator, agencies).

Served by ``linkage serve`` under ``/console``: server-rendered HTML
(Jinja2), one stylesheet and one small script from ``/console/static``,
nothing from anywhere else. Logging in takes the same token as the API and
gives a session cookie (:mod:`~linkage.service.console.sessions`); every page
applies the API's own access rules (:mod:`~linkage.service.console.access`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from linkage.service.console.access import LoginRequired
from linkage.service.console.pages import PREFIX, error_page, login_redirect, router
from linkage.service.console.sessions import ConsoleSessions

__all__ = ["PREFIX", "install_console", "is_console_path"]

_STATIC = Path(__file__).parent / "static"


def is_console_path(path: str) -> bool:
    """Whether ``path`` is one of the console's (answered in HTML)."""
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def install_console(app: FastAPI) -> None:
    """Add the console's pages, static files and sessions to ``app``."""
    app.state.console_sessions = ConsoleSessions()
    app.state.console_error_page = error_page
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=_STATIC), name="console-static")

    async def on_login_required(request: Request, _error: Exception) -> Response:
        return login_redirect(request)

    app.add_exception_handler(LoginRequired, on_login_required)
