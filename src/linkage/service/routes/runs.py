"""Runs: the operator starts them; the operator and the project's parties
follow them. Answers carry aggregate figures only, never a pseudonym."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from linkage.service.deps import (
    AuditDep,
    CurrentToken,
    Operator,
    ReachableProject,
    StoreDep,
    WorkerDep,
    forbidden,
)
from linkage.service.models import ResourceId, RunCreate, RunCreated, RunPublic
from linkage.service.runs import PER_PARTY_STATS
from linkage.storage import Project, Run, Store, TokenRecord

router = APIRouter(prefix="/projects/{project_id}/runs", tags=["runs"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "A party has not uploaded, or a run is pending; for an "
        "update run, the project cannot take one now (the detail says why)."
    }
}


def run_public(run: Run) -> RunPublic:
    """What any reader of the run may see."""
    return RunPublic(
        run_id=run.id,
        project_id=run.project_id,
        state=run.state,
        progress=run.progress,
        message=run.message,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        stats=run.stats,
        kind=run.kind,
    )


@router.post("", status_code=202, responses=_CONFLICT)
async def start_run(
    project: ReachableProject,
    operator: Operator,
    store: StoreDep,
    worker: WorkerDep,
    audit: AuditDep,
    body: RunCreate | None = None,
) -> RunCreated:
    """Queue a run of the project; the worker starts it as soon as it is free.

    Without a body, or with ``{"kind": "full"}``, every party's current
    upload is linked from scratch. ``{"kind": "update"}`` links the staged
    change sets into the latest completed run's groups instead (409 unless
    the project links with CLKs, keeps its encodings, has a completed run
    and has changes staged).
    """
    kind = "full" if body is None else body.kind

    def queue() -> Run:
        with store.transaction():
            run = store.create_run(project_id=project.id, kind=kind)
            details: dict[str, object] = {"run_id": run.id}
            if kind != "full":
                details["kind"] = kind
            audit.append(
                actor=operator.actor,
                action="run.queued",
                project_id=project.id,
                details=details,
            )
            return run

    run = await run_in_threadpool(queue)
    worker.wake()
    return RunCreated(
        run_id=run.id, project_id=run.project_id, state=run.state, kind=run.kind
    )


@router.get("")
def list_runs(
    project: ReachableProject, _operator: Operator, store: StoreDep
) -> list[RunPublic]:
    """The project's runs, newest first."""
    return [run_public(run) for run in store.runs_of(project_id=project.id)]


@router.get("/{run_id}")
def read_run(
    run_id: ResourceId, project: ReachableProject, token: CurrentToken, store: StoreDep
) -> RunPublic:
    """One run's state, progress and aggregate figures."""
    return visible_run(token, project, run_id, store)


def visible_run(
    token: TokenRecord, project: Project, run_id: int, store: Store
) -> RunPublic:
    """What ``token`` may read of a run: all of it for the operator, a party's
    own figures for a party (403 for anyone else). The web console calls this
    too, so both answer alike."""
    if token.role not in ("operator", "party"):
        raise forbidden("only the operator and the project's parties may read runs")
    public = run_public(store.get_run(project_id=project.id, run_id=run_id))
    if token.role == "operator":
        return public
    # A party sees the per-party figures of its own records only.
    own = next(
        p.name
        for p in store.parties_of(project_id=project.id)
        if p.id == token.party_id
    )
    stats = {
        key: {own: value[own]} if key in PER_PARTY_STATS and own in value else value
        for key, value in public.stats.items()
        if key not in PER_PARTY_STATS or own in value
    }
    return public.model_copy(update={"stats": stats})
