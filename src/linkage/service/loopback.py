"""The linkage service on a free loopback port, in a background thread.

:func:`running_service` prepares a data folder (database and operator token
file), serves :func:`~linkage.service.create_app` with uvicorn on a free port
of 127.0.0.1, waits until ``/health`` answers, and stops the server when the
block ends, whether it ends cleanly or with an error. The demo and the tests
use it, so both exercise the same real server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import httpx

from linkage.client import ServiceError
from linkage.reveal.policy import DEFAULT_POLICY, RevealPolicy
from linkage.service import Settings, create_app, initialise
from linkage.service.lookup.policy import DEFAULT_LOOKUP_POLICY, LookupPolicy
from linkage.service.lookup.ratelimit import LookupRate
from linkage.service.settings import (
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES,
    server_limits,
)
from linkage.trusted_authorities import trusted_tls_context

__all__ = ["SERVICE_THREAD_NAME", "RunningService", "running_service"]

SERVICE_THREAD_NAME: Final = "linkage-service"
_START_TIMEOUT_SECONDS: Final = 30.0
_STOP_TIMEOUT_SECONDS: Final = 60.0


@dataclass(frozen=True)
class RunningService:
    """Where the service listens and where its operator token is."""

    url: str
    data_dir: Path
    operator_token_file: Path

    @property
    def public_key_file(self) -> Path:
        """The service's public key: agencies and oversight bodies pin it."""
        return Settings(data_dir=self.data_dir).public_key_path

    @property
    def operator_token(self) -> str:
        """The operator's token, read from the file the service wrote."""
        return self.operator_token_file.read_text(encoding="ascii").strip()


@contextmanager
def running_service(
    data_dir: Path,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    policy: RevealPolicy = DEFAULT_POLICY,
    dask_scheduler: str | None = None,
    clock: Callable[[], datetime] | None = None,
    database_url: str | None = None,
    lookup_rate: LookupRate | None = None,
    lookup_policy: LookupPolicy = DEFAULT_LOOKUP_POLICY,
) -> Iterator[RunningService]:
    """Serve the linkage service from ``data_dir`` on a free loopback port,
    under the reveal ``policy`` (runs on ``dask_scheduler``'s cluster if given),
    on ``clock`` (see :func:`~linkage.service.create_app`), with its database
    at ``database_url`` (default: SQLite in ``data_dir``), holding agencies
    to ``lookup_rate`` (default: :class:`LookupRate`'s) and answering lookups
    as ``lookup_policy`` allows.

    Raises:
        ServiceError: the server did not start or did not answer ``/health``.
        OSError: the data folder cannot be written or no port can be bound.
    """
    import uvicorn

    token_file = initialise(data_dir, database_url=database_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(
                Settings(
                    data_dir=data_dir,
                    database_url=database_url,
                    max_upload_bytes=max_upload_bytes,
                    max_json_bytes=max_json_bytes,
                    policy=policy,
                    dask_scheduler=dask_scheduler,
                    lookup_rate=lookup_rate or LookupRate(),
                    lookup_policy=lookup_policy,
                ),
                clock=clock,
            ),
            log_level="warning",
            lifespan="on",
            **server_limits(),
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=SERVICE_THREAD_NAME,
            daemon=True,
        )
        thread.start()
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for_health(url, thread)
            yield RunningService(url, data_dir, token_file)
        finally:
            server.should_exit = True
            thread.join(timeout=_STOP_TIMEOUT_SECONDS)
    finally:
        sock.close()


def _wait_for_health(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while True:
        if not thread.is_alive():
            raise ServiceError(
                f"the linkage service at {url} stopped while starting; "
                "its log above says why"
            )
        try:
            health = httpx.get(f"{url}/health", timeout=1, verify=trusted_tls_context())
            if health.status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ServiceError(
                f"the linkage service at {url} did not answer /health within "
                f"{_START_TIMEOUT_SECONDS:g} seconds"
            )
        time.sleep(0.02)
