"""The base of the service's store: errors, the connection, transactions,
and the private helpers the parts of :class:`~linkage.storage.store.Store`
share.

SQLAlchemy Core with portable SQL only, so the embedded SQLite default and a
PostgreSQL server differ by the database URL alone.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Self, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from linkage.errors import LinkageError
from linkage.formats.clkfile import secret_mismatch_hint
from linkage.storage.engine import READ_ONLY, open_engine
from linkage.storage.migrations import upgrade_database
from linkage.storage.records import (
    Method,
    Mode,
    Party,
    Project,
    Role,
    Run,
    Upload,
)
from linkage.storage.sql import StoreError, insert_row, only_row
from linkage.storage.tables import (
    parties,
    projects,
    run_results,
    runs,
    tokens,
    uploads,
)

ROLES: Final = frozenset(get_args(Role))
# The roles of members the operator registers in a project (a token each).
MEMBER_ROLES: Final = frozenset({"investigator", "approver", "oversight"})
MODES: Final = frozenset(get_args(Mode))
METHODS: Final = frozenset(get_args(Method))

TOKEN_BYTES: Final = 32  # 256 random bits.


class ConflictError(StoreError, ValueError):
    """The change would break a uniqueness rule (a name already in use)."""


class UploadRejectedError(StoreError, ValueError):
    """An upload disagrees with the project or with the other parties' uploads."""


class RunConflictError(ConflictError):
    """A run cannot start now: a party has not uploaded, or a run is pending."""


class EncodingsDeletedError(ConflictError):
    """The project's encodings were deleted: no upload or run is accepted."""


def encodings_deleted_message(project: Project) -> str:
    """Why ``project`` (whose encodings were deleted) takes no upload or run."""
    when = project.encodings_deleted_at
    day = when.date().isoformat() if when is not None else "an earlier date"
    if project.encodings_deleted_after_run is not None:
        why = (
            f"after run {project.encodings_deleted_after_run} completed and every "
            "party downloaded its results, as the project's retention setting "
            "says (it was created without --keep-encodings)"
        )
    else:
        why = "by the operator"
    return (
        f"the encodings of project {project.id} were deleted on {day} {why}; "
        "it takes no new uploads or runs. Its results and match IDs still "
        "work; to link again, create a new project (with --keep-encodings if "
        "its encodings must serve later runs)"
    )


@dataclass(frozen=True)
class ClaimedRun:
    """A run the worker has just marked running, with what it is to match:
    the project, its parties in order, and each party's current upload."""

    run: Run
    project: Project
    parties: tuple[Party, ...]
    uploads: dict[int, Upload]


class AuthenticationError(LinkageError):
    """The token is unknown or revoked. The message never says which."""


def hash_token(token: str) -> str:
    """Return the SHA-256 (lowercase hex) under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_threshold(threshold: str | float) -> str:
    if threshold == "auto":
        return "auto"
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"'threshold' must be 'auto' or a number (got {threshold!r})")
    if not 0 < threshold <= 1:
        raise ValueError(f"'threshold' must be in (0, 1] (got {threshold!r})")
    return repr(float(threshold))


class StoreBase:
    """The connection to the database, its transactions, and the helpers every
    part of the store shares (each inside the caller's transaction).

    Open with :meth:`open`; ``clock`` gives the time stamped on new rows and
    exists so tests can fix it.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] | None = None,
        token_lifetime: timedelta | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        # How long the tokens this store issues are valid (None: until revoked).
        self._token_lifetime = token_lifetime
        # The connection of the transaction this thread has open, if any.
        self._local = threading.local()

    def now(self) -> datetime:
        """The store's clock (UTC): what it stamps on new rows."""
        return self._clock()

    @classmethod
    def open(
        cls,
        database_url: str,
        *,
        clock: Callable[[], datetime] | None = None,
        token_lifetime: timedelta | None = None,
    ) -> Self:
        """Connect to ``database_url`` and bring its schema to the newest
        version (:mod:`linkage.storage.migrations`). Tokens it issues expire
        after ``token_lifetime`` (None: only when revoked)."""
        engine = open_engine(database_url)
        upgrade_database(engine)
        return cls(engine, clock=clock, token_lifetime=token_lifetime)

    def reachable(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            with self._engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One database transaction; nested calls in a thread join the outer one.

        So a caller can make several store methods (and the audit entry that
        records them) happen whole or not at all::

            with store.transaction():
                store.add_member(...)
                audit.append(...)
        """
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        try:
            with self._engine.begin() as connection:
                self._local.connection = connection
                try:
                    yield connection
                finally:
                    self._local.connection = None
        except sa.exc.IntegrityError:
            # Only a concurrent writer gets here: the methods check uniqueness
            # first, with a clearer message.
            raise ConflictError(
                "the change conflicts with one made at the same time; try again"
            ) from None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A transaction that only reads: on SQLite it does not take the
        write lock (so a flood of authenticated reads does not queue behind,
        or in front of, the writes). Joins an open transaction of this thread.
        """
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self._engine.connect() as connection:
            # The flag lives on the pooled connection: it must not outlive
            # this transaction, or a later writer would begin without the lock.
            connection.info[READ_ONLY] = True
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.info.pop(READ_ONLY, None)

    # -- helpers, each inside the caller's transaction ---------------------

    def _project(
        self, connection: Connection, project_id: int, *, for_update: bool = False
    ) -> Project:
        query = sa.select(projects).where(projects.c.id == project_id)
        if for_update:
            query = query.with_for_update()
        row = only_row(connection, query, f"there is no project {project_id}")
        return Project.from_row(row)

    def _run(self, connection: Connection, project_id: int, run_id: int) -> Run:
        query = sa.select(runs).where(
            runs.c.id == run_id, runs.c.project_id == project_id
        )
        row = only_row(connection, query, f"project {project_id} has no run {run_id}")
        return Run.from_row(row)

    def _check_encodings_free(
        self, connection: Connection, project: Project, reads: str
    ) -> None:
        """Refuse to touch the encodings once deleted, or while a run reads them.

        ``reads`` ends the conflict message: what the run reads, what to do.
        """
        if project.encodings_deleted_at is not None:
            raise EncodingsDeletedError(encodings_deleted_message(project))
        pending = self._pending_run(connection, project.id)
        if pending is not None:
            raise RunConflictError(
                f"run {pending} of project {project.id} is queued or running "
                f"and reads {reads}"
            )

    def _pending_run(self, connection: Connection, project_id: int) -> int | None:
        """The id of the project's oldest queued or running run, if any."""
        return connection.scalar(
            sa.select(runs.c.id)
            .where(
                runs.c.project_id == project_id,
                runs.c.state.in_(("queued", "running")),
            )
            .order_by(runs.c.id)
            .limit(1)
        )

    def _used_by_a_run(self, connection: Connection, upload: Upload) -> bool:
        """Whether a run may have read ``upload``: a run has results from it,
        or a run of its project was created once it was current. (A run takes
        every party's current upload, and a failed run records none, so the
        time is the only trace; ties count as used, to keep the file.)"""
        cited = connection.scalar(
            sa.select(run_results.c.id)
            .where(run_results.c.upload_id == upload.id)
            .limit(1)
        )
        if cited is not None:
            return True
        later = connection.scalar(
            sa.select(runs.c.id)
            .where(
                runs.c.project_id == upload.project_id,
                runs.c.created_at
                >= sa.select(uploads.c.created_at)
                .where(uploads.c.id == upload.id)
                .scalar_subquery(),
            )
            .limit(1)
        )
        return later is not None

    def _parties(self, connection: Connection, project_id: int) -> list[Party]:
        rows = connection.execute(
            sa.select(parties)
            .where(parties.c.project_id == project_id)
            .order_by(parties.c.id)
        )
        return [Party.from_row(row) for row in rows.mappings()]

    def _party(self, connection: Connection, project_id: int, party_id: int) -> Party:
        query = sa.select(parties).where(
            parties.c.id == party_id, parties.c.project_id == project_id
        )
        message = f"project {project_id} has no party {party_id}"
        return Party.from_row(only_row(connection, query, message))

    def _add_party(self, connection: Connection, project_id: int, name: str) -> Party:
        taken = connection.scalar(
            sa.select(parties.c.id).where(
                parties.c.project_id == project_id, parties.c.name == name
            )
        )
        if taken is not None:
            raise ConflictError(f"project {project_id} has a party called {name!r}")
        values = {"project_id": project_id, "name": name}
        return Party(insert_row(connection, parties, values), project_id, name)

    def _create_token(
        self,
        connection: Connection,
        role: Role,
        project_id: int | None,
        party_id: int | None,
        member_id: int | None = None,
    ) -> str:
        if role not in ROLES:
            raise ValueError(f"'role' must be in {sorted(ROLES)} (got {role!r})")
        if (role == "party") != (party_id is not None):
            raise ValueError("a party token needs a party_id, and only it may have one")
        if (role in MEMBER_ROLES) != (member_id is not None):
            raise ValueError("a member's token needs its member_id, and only it")
        if party_id is not None:
            if project_id is None:
                raise ValueError("a party token needs the party's project_id")
            self._party(connection, project_id, party_id)
        elif project_id is not None:
            self._project(connection, project_id)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        lifetime = self._token_lifetime
        values = {
            "token_hash": hash_token(token),
            "role": role,
            "project_id": project_id,
            "party_id": party_id,
            "member_id": member_id,
            "created_at": now,
            "expires_at": None if lifetime is None else now + lifetime,
        }
        insert_row(connection, tokens, values)
        return token

    def _current_uploads(self, connection: Connection, project_id: int) -> list[Upload]:
        # A deleted upload is no longer current: the service holds no file.
        rows = connection.execute(
            sa.select(uploads)
            .where(
                uploads.c.project_id == project_id,
                sa.not_(uploads.c.superseded),
                uploads.c.deleted_at.is_(None),
            )
            .order_by(uploads.c.party_id)
        ).mappings()
        return [Upload.from_row(row) for row in rows]


def _check_consistent(
    bit_length: int, key_check: str | None, others: Sequence[Upload]
) -> None:
    """Refuse an upload that could not be compared with the other parties'."""
    for other in others:
        # clkhash JSON knows only whole bytes, so compare bytes when one is.
        exact = key_check is not None and other.key_check is not None
        mine = bit_length if exact else -(-bit_length // 8)
        theirs = other.bit_length if exact else -(-other.bit_length // 8)
        if mine != theirs:
            unit = "bits" if exact else "bytes per CLK"
            raise UploadRejectedError(
                f"the file's CLKs have {mine} {unit} but another party's have "
                f"{theirs} {unit}; every party must encode with the same schema"
            )
        if exact and key_check != other.key_check:
            assert key_check is not None and other.key_check is not None
            raise UploadRejectedError(
                f"the file's key-check value {key_check} differs from another "
                f"party's {other.key_check}. "
                + secret_mismatch_hint([key_check, other.key_check])
            )


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    # SQLite drops the zone; every time stored is UTC.
    if expires_at is None:
        return False
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at <= now
