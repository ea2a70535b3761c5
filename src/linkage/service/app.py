"""The service as a FastAPI app, built by :func:`create_app`; no globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from linkage import __version__
from linkage.service.errors import install_error_handlers
from linkage.service.routes import health, projects, uploads
from linkage.service.settings import Settings
from linkage.storage import Store

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """Build the service: open (or create) its database and data folders.

    The store is closed when the app's lifespan ends.
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.uploads_dir.mkdir(mode=0o700, exist_ok=True)
    store = Store.open(settings.database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="linkage",
        version=__version__,
        summary="Privacy-preserving record linkage between agencies.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(projects.router)
    app.include_router(uploads.router)
    return app
