"""The operator's and the agencies' pages: projects, uploads, runs, results."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from linkage.matching.report import histogram_svg
from linkage.service.console.access import (
    ConsoleProject,
    ConsoleToken,
    read_form,
    require_role,
)
from linkage.service.console.charts import waterfall_svg, weight_histogram_svg
from linkage.service.console.render import PREFIX, page, see_other
from linkage.service.deps import (
    AuditDep,
    SettingsDep,
    StoreDep,
    WorkerDep,
    require_operator,
)
from linkage.service.models import ResourceId
from linkage.service.routes.results import read_results
from linkage.service.routes.reveals import DeskDep
from linkage.service.routes.runs import start_run, visible_run

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# -- projects, uploads, runs ----------------------------------------------


@router.get("/projects/{project_id}")
def project_page(
    request: Request,
    project: ConsoleProject,
    token: ConsoleToken,
    store: StoreDep,
    desk: DeskDep,
) -> Response:
    """The operator's view of a project, or an agency's view of its own part
    (with the grants awaiting its answer, as ``GET .../grants`` lists them)."""
    require_role(token, "operator", "party")
    parties = store.parties_of(project_id=project.id)
    # Every version, the latest kept per party: once the encodings are
    # deleted (after the run) their counts and fingerprints still show.
    every = store.uploads_for(project_id=project.id, include_superseded=True)
    uploads = {u.party_id: u for u in sorted(every, key=lambda u: u.id)}
    runs = store.runs_of(project_id=project.id)
    if token.role == "party":
        own = next(p for p in parties if p.id == token.party_id)
        latest = store.latest_completed_run(project_id=project.id)
        return page(
            request,
            "agency.html",
            token,
            project=project,
            party=own,
            upload=uploads.get(own.id),
            runs=[visible_run(token, project, run.id, store) for run in runs],
            latest=latest,
            grants=desk.grants_for(token, project),
            now=store.now(),
        )
    return page(
        request,
        "project.html",
        token,
        project=project,
        parties=parties,
        uploads=uploads,
        runs=runs,
    )


@router.post("/projects/{project_id}/runs")
async def start_run_form(
    request: Request,
    project: ConsoleProject,
    token: ConsoleToken,
    store: StoreDep,
    worker: WorkerDep,
    audit: AuditDep,
) -> Response:
    """Queue a run, as ``POST /projects/{id}/runs`` does (operator only)."""
    operator = require_operator(token)
    await read_form(request)
    created = await start_run(project, operator, store, worker, audit)
    return see_other(f"{PREFIX}/projects/{project.id}/runs/{created.run_id}")


@router.get("/projects/{project_id}/runs/{run_id}")
def run_page(
    request: Request,
    run_id: ResourceId,
    project: ConsoleProject,
    token: ConsoleToken,
    store: StoreDep,
) -> Response:
    """A run: live progress, then the histogram, threshold and model."""
    run = visible_run(token, project, run_id, store)
    stats = run.stats
    charts = []
    if stats.get("histogram_counts"):
        charts = [
            histogram_svg(
                stats["histogram_edges"],
                stats["histogram_counts"],
                float(stats["threshold"]),
                log=log,
            )
            for log in (False, True)
        ]
    model = stats.get("model")
    return page(
        request,
        "run.html",
        token,
        project=project,
        run=run,
        stats=stats,
        charts=charts,
        model=model,
        weight_chart=""
        if not model
        else weight_histogram_svg(
            model["histogram"]["edges"],
            model["histogram"]["counts"],
            float(model["threshold"]["weight"]),
        ),
        waterfalls=[
            (
                waterfall_svg(call),
                f"Pair {call['pair']}: match weight {call['weight']:+.2f}, "
                f"probability {call['probability']:.3f}",
            )
            for call in (model or {}).get("closest_calls", [])
        ],
        shown=_shown_stats(stats),
    )


# What the run page lists as plain figures (the rest is drawn).
_FIGURES: Final = (
    "records",
    "records_per_party",
    "matched_per_party",
    "pairs_compared",
    "blocking",
    "reduction_ratio",
    "estimated_pair_completeness",
    "candidate_pairs",
    "groups",
    "records_matched",
    "group_sizes",
    "compared_on_views",
    "view_score_shifts",
    "seconds",
)


def _shown_stats(stats: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for key in _FIGURES:
        if key not in stats:
            continue
        value = stats[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v:,}" for k, v in value.items())
        elif isinstance(value, int):
            value = f"{value:,}"
        shown.append((key.replace("_", " "), str(value)))
    return shown


@router.get("/projects/{project_id}/runs/{run_id}/progress")
def run_progress(
    run_id: ResourceId, project: ConsoleProject, token: ConsoleToken, store: StoreDep
) -> dict[str, Any]:
    """The run's state and progress, for the page's script to follow."""
    run = visible_run(token, project, run_id, store)
    return {"state": run.state, "progress": run.progress, "message": run.message}


@router.get("/projects/{project_id}/results")
def results_download(
    project: ConsoleProject,
    token: ConsoleToken,
    store: StoreDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> FileResponse:
    """The agency's own results, through the API's own route (its rules,
    audit entry and retention)."""
    return read_results(project, token, store, settings, audit)
