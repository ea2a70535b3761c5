"""Prometheus metrics of the service, at ``GET /metrics`` (operator token).

What an operator watches: requests by route template and status, their
duration, runs by outcome and their duration, the length of the run queue,
and failed authentications. Labels are route templates
(``/projects/{project_id}/runs``), never a project's name, a party or a token,
so the numbers say how the service is doing without saying about whom.

Each app has its own registry (no process-wide state), so tests and several
apps in one process keep their numbers apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "MetricsMiddleware", "ServiceMetrics"]

#: The media type of :meth:`ServiceMetrics.render`.
CONTENT_TYPE = CONTENT_TYPE_LATEST

_RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)


class ServiceMetrics:
    """The service's counters, histograms and gauges, in one registry."""

    def __init__(self, queued_runs: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "linkage_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "linkage_http_request_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.runs = Counter(
            "linkage_runs",
            "Runs that ended, by outcome (completed or failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.run_seconds = Histogram(
            "linkage_run_seconds",
            "How long a run took, start to end.",
            buckets=_RUN_BUCKETS,
            registry=self.registry,
        )
        self.failed_authentications = Counter(
            "linkage_failed_authentications",
            "Requests refused for a missing, unknown, revoked or expired token.",
            registry=self.registry,
        )
        queue = Gauge(
            "linkage_runs_queued",
            "Runs waiting in the queue.",
            registry=self.registry,
        )
        queue.set_function(queued_runs)

    def run_ended(self, outcome: str, seconds: float) -> None:
        """Count a run that completed or failed, and how long it took."""
        self.runs.labels(outcome=outcome).inc()
        self.run_seconds.observe(seconds)

    def render(self) -> bytes:
        """Every metric in Prometheus's text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request (outermost, so requests
    refused before routing count too, under the route ``unmatched``)."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self._metrics.requests.labels(method, route, str(status[0])).inc()
            self._metrics.request_seconds.labels(method, route).observe(
                time.perf_counter() - started
            )
            if status[0] == 401:
                self._metrics.failed_authentications.inc()
