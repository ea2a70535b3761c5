"""The service as a FastAPI app, built by :func:`create_app`; no globals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from linkage import __version__
from linkage.reveal.keys import load_or_create_signing_key
from linkage.service.auth_failures import FailedAuthentications
from linkage.service.console import install_console
from linkage.service.console.headers import SecurityHeaders
from linkage.service.datadir import prepare_data_dir
from linkage.service.errors import install_error_handlers
from linkage.service.limits import RequestLimits
from linkage.service.lookup.desk import LookupDesk
from linkage.service.lookup.ratelimit import LookupLimiter
from linkage.service.metrics import MetricsMiddleware, ServiceMetrics
from linkage.service.retention import sweep_deleted_encodings
from linkage.service.reveals import RevealDesk
from linkage.service.routes import (
    audit,
    changes,
    health,
    lookup,
    members,
    projects,
    results,
    reveals,
    runs,
    uploads,
)
from linkage.service.runs import RunWorker, recover_interrupted_runs
from linkage.service.settings import Settings
from linkage.storage import Store
from linkage.storage.audit_log import AuditLog

__all__ = ["create_app"]

# How often counted failed authentications are written once their window is
# over (see linkage.service.auth_failures).
_FLUSH_SECONDS = 10.0


def create_app(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """Build the service: open (or create) its database and data folders.

    ``clock`` is the service's time (UTC; default: the system's), what it
    stamps on rows, audit entries and grants; tests move it instead of waiting.

    When the app's lifespan starts, runs a killed service left running are
    marked failed, encodings files a crash left after their deletion are
    removed, and the run worker starts; when it ends, the worker stops (a run
    in progress goes back to the queue) and the store is closed.

    Every request passes :class:`~linkage.service.limits.RequestLimits`
    first: body size caps, and no body read without a bearer token.
    """
    prepare_data_dir(settings)
    store = Store.open(
        settings.database, clock=clock, token_lifetime=settings.token_lifetime
    )
    signing_key = load_or_create_signing_key(settings.signing_key_path)
    audit_log = AuditLog(store, signing_key)
    metrics = ServiceMetrics(store.queued_runs)
    worker = RunWorker(store, settings, audit_log, on_ended=metrics.run_ended)
    auth_failures = FailedAuthentications(audit_log, store.now)
    reveal_desk = RevealDesk(
        store, audit_log, signing_key, settings.policy, settings.data_dir
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            recover_interrupted_runs(store, settings)
            sweep_deleted_encodings(store, settings, audit_log)
            # After a key rotation: agencies pin the new key only.
            reveal_desk.resign_outstanding_grants()
            worker.start()
            flusher = asyncio.create_task(auth_failures.flush_every(_FLUSH_SECONDS))
            try:
                yield
            finally:
                flusher.cancel()
                await run_in_threadpool(auth_failures.flush, everything=True)
                await run_in_threadpool(worker.stop)
        finally:
            store.close()

    app = FastAPI(
        # FastAPI's Swagger UI and ReDoc pages load their scripts from a CDN,
        # which air-gapped sites cannot reach and the console's CSP forbids;
        # the API is described by /openapi.json, and people use /console.
        docs_url=None,
        redoc_url=None,
        title="linkage",
        version=__version__,
        summary="Privacy-preserving record linkage between agencies.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.worker = worker
    app.state.signing_key = signing_key
    app.state.audit = audit_log
    app.state.auth_failures = auth_failures
    app.state.reveals = reveal_desk
    app.state.lookup = LookupDesk(
        store,
        settings.data_dir,
        settings.lookup_policy,
        LookupLimiter(settings.lookup_rate),
    )
    install_error_handlers(app)
    app.add_middleware(RequestLimits, settings=settings, failures=auth_failures)
    app.add_middleware(SecurityHeaders)
    # Added last, so outermost: it sees requests the limits refuse, too.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.metrics = metrics
    app.include_router(health.router)
    app.include_router(projects.router)
    app.include_router(uploads.router)
    app.include_router(runs.router)
    app.include_router(results.router)
    app.include_router(changes.router)
    app.include_router(members.router)
    app.include_router(reveals.router)
    app.include_router(lookup.router)
    app.include_router(audit.router)
    install_console(app)
    return app
