"""Console sessions: a cookie in the browser, the token's hash on the server.

Logging in exchanges a bearer token (the same one the API takes) for a random
session ID sent as a cookie (HttpOnly, SameSite=Strict, Secure when the
service speaks TLS). The server keeps, under the SHA-256 of that ID, only the
hash of the token, as the database does: every page authenticates that hash
again, so a revoked or expired token ends its sessions at once. Each session
also has a CSRF token, which every form carries and every state change checks
in constant time. Sessions live in memory (a restart logs everyone out) and
end after ``idle`` seconds without use or ``lifetime`` seconds in all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "ConsoleSession",
    "ConsoleSessions",
    "login_csrf",
    "same_secret",
]

SESSION_COOKIE: Final = "linkage_console"
# Before a session exists, the login form's CSRF token travels in this cookie
# and in the form (double submit).
LOGIN_COOKIE: Final = "linkage_console_login"
_ID_BYTES: Final = 32
# A bound on memory: each session needs a valid token, but a token holder
# should not be able to fill the service's memory by logging in forever.
_MAX_SESSIONS: Final = 10_000


@dataclass
class ConsoleSession:
    """What the server keeps of one browser's login."""

    token_hash: str
    csrf: str
    opened: float
    last_seen: float


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def login_csrf() -> str:
    """A fresh CSRF token for a login form (and its cookie)."""
    return secrets.token_urlsafe(_ID_BYTES)


def same_secret(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class ConsoleSessions:
    """The open sessions, keyed by the hash of their cookie's value."""

    def __init__(
        self,
        *,
        idle: float = 30 * 60,
        lifetime: float = 8 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle = idle
        self._lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, ConsoleSession] = OrderedDict()

    def open(self, token_hash: str) -> tuple[str, ConsoleSession]:
        """Start a session for the token stored under ``token_hash``; return
        the cookie value (shown to the browser only) and the session."""
        session_id = secrets.token_urlsafe(_ID_BYTES)
        now = self._clock()
        session = ConsoleSession(
            token_hash=token_hash,
            csrf=secrets.token_urlsafe(_ID_BYTES),
            opened=now,
            last_seen=now,
        )
        with self._lock:
            self._sessions[_key(session_id)] = session
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session_id, session

    def find(self, session_id: str | None) -> ConsoleSession | None:
        """The live session of this cookie value (its use noted), or None."""
        if not session_id:
            return None
        key = _key(session_id)
        now = self._clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if (
                now - session.last_seen > self._idle
                or now - session.opened > self._lifetime
            ):
                del self._sessions[key]
                return None
            session.last_seen = now
            self._sessions.move_to_end(key)
            return session

    def close(self, session_id: str | None) -> None:
        """End the session of this cookie value, if there is one."""
        if session_id:
            with self._lock:
                self._sessions.pop(_key(session_id), None)
