"""The web console: the service's own pages for people who are not on the
command line (approvers, investigators, oversight, the operator, agencies).

Served by ``linkage serve`` under ``/console``: server-rendered HTML
(Jinja2), one stylesheet and one small script from ``/console/static``,
nothing from anywhere else. Logging in takes the same token as the API and
gives a session cookie (:mod:`~linkage.service.console.sessions`); every page
applies the API's own access rules (:mod:`~linkage.service.console.access`),
calling the functions the API routes call (``reachable_project``,
``visible_run``, the reveal desk, ``decide_reveal``, the results route), so a
role sees here what its token may read over the API, and no more:

* operator (:mod:`.runs`): projects, parties and their uploads, runs with live
  progress, the score histogram and threshold, the probabilistic model;
  never a pseudonym or a result row;
* agency (:mod:`.runs`): its own upload and results, nothing of others';
* approver and investigator (:mod:`.reveals`): the queue of requests, what
  to sign and how, approve or deny; an investigator's own requests and how
  to open an answer at home;
* oversight and the operator (:mod:`.audit`): the audit trail, the
  transparency report and the log's verification, also against an earlier
  export.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from linkage.service.console import audit, login, reveals, runs
from linkage.service.console.access import LoginRequired
from linkage.service.console.login import error_page, login_redirect
from linkage.service.console.render import PREFIX
from linkage.service.console.sessions import ConsoleSessions

__all__ = ["PREFIX", "install_console"]

_STATIC = Path(__file__).parent / "static"


def install_console(app: FastAPI) -> None:
    """Add the console's pages, static files and sessions to ``app``."""
    app.state.console_sessions = ConsoleSessions()
    app.state.console_error_page = error_page
    for pages in (login, runs, reveals, audit):
        app.include_router(pages.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=_STATIC), name="console-static")

    async def on_login_required(request: Request, _error: Exception) -> Response:
        return login_redirect(request)

    app.add_exception_handler(LoginRequired, on_login_required)
