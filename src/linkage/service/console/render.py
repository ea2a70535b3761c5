"""What every console page shares: the templates, the page around them and
the redirect after a form."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from linkage.service.errors import CONSOLE_PREFIX
from linkage.storage import TokenRecord

__all__ = ["PREFIX", "page", "see_other"]

PREFIX: Final = CONSOLE_PREFIX
_TEMPLATES: Final = Jinja2Templates(directory=Path(__file__).parent / "templates")


def page(
    request: Request,
    name: str,
    token: TokenRecord | None,
    status: int = 200,
    **context: Any,
) -> Response:
    """The template ``name`` with the signed-in user and the session's CSRF
    token (every form carries it); never cached."""
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


def see_other(url: str) -> RedirectResponse:
    """303: where the browser goes after a form (or without a session)."""
    return RedirectResponse(url, status_code=303)
