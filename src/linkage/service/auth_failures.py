"""Failed authentications in the audit log: counted per client, not one by one.

Each audit entry is a signed, serialised write. A client trying tokens, one
entry per attempt, would grow the log without bound and make every other
request that audits wait behind the flood. So failures are counted per client
address and window (60 seconds by default):

* the first failure from an address in a window is written at once, with the
  address, method and path, and ``count`` 1;
* later ones in that window are only counted; the count is written as one
  ``auth.failed`` entry (``client``, ``count``, ``since``: the first failure it
  counts) once the window is over: at the next failure from anyone after that,
  at the periodic flush, or when the service stops.

Nothing is lost: the ``count`` of all ``auth.failed`` entries adds up to the
number of failed authentications (``linkage audit report`` sums them).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from fastapi.concurrency import run_in_threadpool

from linkage.audit.chain import format_time
from linkage.storage.audit_log import AuditLog

__all__ = ["DEFAULT_WINDOW", "FailedAuthentications"]

logger = logging.getLogger(__name__)

DEFAULT_WINDOW: Final = timedelta(seconds=60)
ACTION: Final = "auth.failed"
# Who failed to authenticate is unknown by definition.
_ACTOR: Final = "anonymous"


@dataclass
class _Window:
    """One client's current window: when it opened, what is not yet written."""

    opened: datetime
    count: int = 0
    first_counted: datetime | None = None


class FailedAuthentications:
    """Writes failed authentications to ``audit``, counted per client address.

    Thread-safe: requests report failures from the thread pool.
    """

    def __init__(
        self,
        audit: AuditLog,
        clock: Callable[[], datetime],
        *,
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError(f"the window must be positive (got {window})")
        self._audit = audit
        self._clock = clock
        self._window = window
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def record(self, *, client: str, method: str, path: str) -> None:
        """Count one failed authentication from ``client``; write what is due."""
        now = self._clock()
        with self._lock:
            due = self._take_closed(now)
            window = self._windows.get(client)
            first = window is None
            if window is None:
                self._windows[client] = _Window(opened=now)
            else:
                window.count += 1
                window.first_counted = window.first_counted or now
        # Written outside the lock: one slow write must not hold up counting.
        self._write_counts(due)
        if first:
            self._audit.append(
                actor=_ACTOR,
                action=ACTION,
                details={
                    "client": client,
                    "method": method,
                    "path": path,
                    "status": 401,
                    "count": 1,
                },
            )

    async def report(self, *, client: str, method: str, path: str) -> None:
        """:meth:`record` off the event loop; a failure to write is logged,
        never raised: the refusal stands whether or not it was recorded."""
        try:
            await run_in_threadpool(
                self.record, client=client, method=method, path=path
            )
        except Exception:
            logger.exception("could not record a failed authentication")

    def flush(self, *, everything: bool = False) -> None:
        """Write the counts of windows that are over (all of them if
        ``everything``, as when the service stops)."""
        now = self._clock()
        with self._lock:
            if everything:
                due = list(self._windows.items())
                self._windows.clear()
            else:
                due = self._take_closed(now)
        self._write_counts(due)

    async def flush_every(self, seconds: float) -> None:
        """Flush closed windows every ``seconds`` until cancelled, so a count
        is written even if its client never comes back."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await run_in_threadpool(self.flush)
            except Exception:
                logger.exception("could not write counted failed authentications")

    def _take_closed(self, now: datetime) -> list[tuple[str, _Window]]:
        """Remove and return the windows over at ``now``; the lock is held."""
        closed = [
            (client, window)
            for client, window in self._windows.items()
            if now - window.opened >= self._window
        ]
        for client, _ in closed:
            del self._windows[client]
        return closed

    def _write_counts(self, windows: list[tuple[str, _Window]]) -> None:
        for client, window in windows:
            if window.count == 0 or window.first_counted is None:
                continue  # Its only failure was written when it happened.
            try:
                self._audit.append(
                    actor=_ACTOR,
                    action=ACTION,
                    details={
                        "client": client,
                        "count": window.count,
                        "since": format_time(window.first_counted),
                    },
                )
            except Exception:
                # One client's count must not keep the others from the log.
                logger.exception(
                    "could not write %d failed authentications from %s",
                    window.count,
                    client,
                )
