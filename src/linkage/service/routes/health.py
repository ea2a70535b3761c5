"""``GET /health`` and ``GET /ready``: the routes that need no token.

``/health`` says the process answers (a liveness probe); ``/ready`` says it
can do its work: the database answers and the run worker is running (a
readiness probe: a load balancer sends no traffic while it is 503).
``/metrics`` (operator token) gives Prometheus the service's numbers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from linkage.service.deps import Operator
from linkage.service.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Say the service is up."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready; see checks."}})
async def ready(request: Request) -> JSONResponse:
    """Whether the database answers and the run worker runs (503 if not)."""
    state = request.app.state
    checks = {
        "database": await run_in_threadpool(state.store.reachable),
        "worker": state.worker.alive,
    }
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "checks": checks},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, _operator: Operator) -> Response:
    """The service's metrics in Prometheus's text format (operator token)."""
    body = await run_in_threadpool(request.app.state.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)
