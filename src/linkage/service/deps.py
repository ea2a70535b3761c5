"""Dependencies routes declare with ``Annotated``: the store and who is asking.

Access rules, the same on every route:

* no token, or an unknown or revoked one: 401, saying nothing about which;
* a project the token cannot reach: 404, the same answer as for a project
  that does not exist, so a token learns nothing about other projects;
* a reachable project but the wrong role or another party's resource: 403.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from linkage.service.errors import BEARER_CHALLENGE, UNAUTHENTICATED, ApiProblem
from linkage.service.models import ResourceId
from linkage.service.runs import RunWorker
from linkage.service.settings import Settings
from linkage.storage import NotFoundError, Project, Store, TokenRecord
from linkage.storage.audit_log import AuditLog

__all__ = [
    "AuditDep",
    "CurrentToken",
    "Operator",
    "ReachableProject",
    "SettingsDep",
    "StoreDep",
    "WorkerDep",
    "forbidden",
]

_bearer = HTTPBearer(
    auto_error=False, description="A token made by the operator or at project creation."
)


def get_store(request: Request) -> Store:
    """The app's store."""
    return cast(Store, request.app.state.store)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return cast(Settings, request.app.state.settings)


def get_audit(request: Request) -> AuditLog:
    """The app's audit log."""
    return cast(AuditLog, request.app.state.audit)


def get_worker(request: Request) -> RunWorker:
    """The app's run worker."""
    return cast(RunWorker, request.app.state.worker)


StoreDep = Annotated[Store, Depends(get_store)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
WorkerDep = Annotated[RunWorker, Depends(get_worker)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_token(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenRecord:
    """What the request's bearer token grants; 401 if there is none or it is bad.

    The token's holder is kept on the request, so a refusal later on can be
    recorded in the audit log under their name.
    """
    if credentials is None:
        raise ApiProblem(401, UNAUTHENTICATED, headers=BEARER_CHALLENGE)
    token = store.authenticate(token=credentials.credentials)
    request.state.token = token
    return token


CurrentToken = Annotated[TokenRecord, Depends(current_token)]


def forbidden(detail: str) -> ApiProblem:
    """A 403 problem: the token is valid but may not do this."""
    return ApiProblem(403, detail)


def require_operator(token: CurrentToken) -> TokenRecord:
    """The token, if it is the operator's; 403 otherwise."""
    if token.role != "operator":
        raise forbidden("only the operator may do this")
    return token


Operator = Annotated[TokenRecord, Depends(require_operator)]


def reachable_project(
    project_id: ResourceId, token: CurrentToken, store: StoreDep
) -> Project:
    """The path's project, if the token belongs to it (or is a global operator).

    A project the token cannot reach is reported as missing (404).
    """
    if token.project_id is not None and token.project_id != project_id:
        raise NotFoundError(f"there is no project {project_id}")
    if token.project_id is None and token.role != "operator":
        raise NotFoundError(f"there is no project {project_id}")
    return store.get_project(project_id=project_id)


ReachableProject = Annotated[Project, Depends(reachable_project)]
