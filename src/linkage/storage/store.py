"""The service's database: projects, parties, tokens, uploads and runs.

SQLAlchemy Core with portable SQL only, so the embedded SQLite default and a
PostgreSQL server differ by the database URL alone. Every public method of
:class:`Store` is keyword-only and runs in one transaction: it either happens
whole or not at all.

Tokens are stored as the SHA-256 of their text, never as the text itself; the
plaintext is returned once, when the token is made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from linkage.errors import LinkageError
from linkage.formats.clkfile import secret_mismatch_hint
from linkage.storage.migrations import upgrade_database
from linkage.storage.records import (
    CreatedProject,
    DeletedEncodings,
    Member,
    Method,
    Mode,
    Party,
    Project,
    RecordedUpload,
    Role,
    Run,
    RunResult,
    TokenRecord,
    Upload,
)
from linkage.storage.sql import NotFoundError, StoreError, insert_row, only_row
from linkage.storage.tables import (
    members,
    parties,
    projects,
    run_results,
    runs,
    tokens,
    uploads,
)

__all__ = [
    "AuthenticationError",
    "ClaimedRun",
    "ConflictError",
    "EncodingsDeletedError",
    "NotFoundError",
    "RunConflictError",
    "Store",
    "StoreError",
    "UploadRejectedError",
    "hash_token",
]

ROLES: Final = frozenset(get_args(Role))
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


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


class Store:
    """Projects, parties, tokens and uploads in one SQL database.

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
    ) -> Store:
        """Connect to ``database_url`` and bring its schema to the newest
        version (:mod:`linkage.storage.migrations`). Tokens it issues expire
        after ``token_lifetime`` (None: only when revoked)."""
        engine = sa.create_engine(database_url)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _configure_sqlite)
            sa.event.listen(engine, "begin", _begin_immediate)
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
            connection.info["read_only"] = True
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.info.pop("read_only", None)

    # -- projects and parties ----------------------------------------------

    def create_project(
        self,
        *,
        name: str,
        schema_fingerprint: str,
        threshold: str | float,
        mode: Mode,
        parties: Sequence[str] = (),
        allow_clkhash_json: bool = False,
        retain_encodings: bool = False,
        method: Method = "clk",
    ) -> CreatedProject:
        """Create a project with its parties and one party token each.

        With ``retain_encodings`` False (the default) the project's encodings
        are to be deleted once its latest run has completed and every party
        has downloaded its results (see :meth:`encodings_due_for_deletion`).

        Raises:
            ValueError: ``threshold`` or ``mode`` is invalid, or a party name
                is repeated.
            ConflictError: a project called ``name`` exists.
        """
        if mode not in MODES:
            raise ValueError(f"'mode' must be in {sorted(MODES)} (got {mode!r})")
        if method not in METHODS:
            raise ValueError(f"'method' must be in {sorted(METHODS)} (got {method!r})")
        stored_threshold = _check_threshold(threshold)
        if len(set(parties)) != len(parties):
            raise ValueError(f"party names must be unique (got {list(parties)!r})")
        with self.transaction() as connection:
            if connection.scalar(
                sa.select(projects.c.id).where(projects.c.name == name)
            ):
                raise ConflictError(f"a project called {name!r} already exists")
            values = {
                "name": name,
                "schema_fingerprint": schema_fingerprint,
                "threshold": stored_threshold,
                "mode": mode,
                "method": method,
                "allow_clkhash_json": allow_clkhash_json,
                "created_at": self._clock(),
                "retain_encodings": retain_encodings,
            }
            project_id = insert_row(connection, projects, values)
            made = [self._add_party(connection, project_id, party) for party in parties]
            party_tokens = {
                party.name: self._create_token(
                    connection, "party", project_id, party.id
                )
                for party in made
            }
            project = self._project(connection, project_id)
        return CreatedProject(project, tuple(made), party_tokens)

    def get_project(self, *, project_id: int) -> Project:
        """Return the project.

        Raises:
            NotFoundError: there is no such project.
        """
        with self.reading() as connection:
            return self._project(connection, project_id)

    def add_party(self, *, project_id: int, name: str) -> Party:
        """Add a party to a project.

        Raises:
            NotFoundError: there is no such project.
            ConflictError: the project has a party called ``name``.
        """
        with self.transaction() as connection:
            self._project(connection, project_id)
            return self._add_party(connection, project_id, name)

    def parties_of(self, *, project_id: int) -> list[Party]:
        """Return the project's parties, in the order they were added."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(parties)
                .where(parties.c.project_id == project_id)
                .order_by(parties.c.id)
            )
            return [Party.from_row(row) for row in rows.mappings()]

    def find_party(self, *, project_id: int, name: str) -> Party:
        """Return the project's party called ``name``.

        Raises:
            NotFoundError: the project has no such party.
        """
        query = sa.select(parties).where(
            parties.c.project_id == project_id, parties.c.name == name
        )
        with self.reading() as connection:
            row = only_row(
                connection, query, f"project {project_id} has no party called {name!r}"
            )
        return Party.from_row(row)

    # -- tokens ------------------------------------------------------------

    def create_token(
        self, *, role: Role, project_id: int | None = None, party_id: int | None = None
    ) -> str:
        """Make a token and return its text; only its hash is kept.

        Raises:
            ValueError: ``role`` is unknown, or the scope does not fit it (a
                party token needs its party, other roles none).
            NotFoundError: the party is not one of the project's.
        """
        with self.transaction() as connection:
            return self._create_token(connection, role, project_id, party_id)

    def authenticate(self, *, token: str) -> TokenRecord:
        """Return what ``token`` grants.

        Raises:
            AuthenticationError: the token is unknown or revoked; the message
                does not say which.
        """
        wanted = hash_token(token)
        with self.reading() as connection:
            row = (
                connection.execute(
                    sa.select(tokens).where(tokens.c.token_hash == wanted)
                )
                .mappings()
                .first()
            )
            name = None if row is None else self._holder_name(connection, row)
        # The lookup already matched; the comparison keeps the rule explicit.
        stored = row["token_hash"] if row is not None else hash_token("")
        if (
            row is None
            or not hmac.compare_digest(stored, wanted)
            or row["revoked_at"] is not None
            or _expired(row["expires_at"], self._clock())
        ):
            raise AuthenticationError("the token is not valid")
        return TokenRecord.from_row(row, name)

    def _holder_name(self, connection: Connection, row: RowMapping) -> str | None:
        if row["party_id"] is not None:
            return connection.scalar(
                sa.select(parties.c.name).where(parties.c.id == row["party_id"])
            )
        if row["member_id"] is not None:
            return connection.scalar(
                sa.select(members.c.name).where(members.c.id == row["member_id"])
            )
        return None

    # -- investigators and approvers ----------------------------------------

    def add_member(
        self, *, project_id: int, name: str, role: Role, public_key: str | None
    ) -> tuple[Member, str]:
        """Register an investigator or approver; return them and their token.

        An investigator gives the X25519 public key identities will be sealed
        to; an approver the Ed25519 key their approvals are signed with (the
        caller checks which kind).

        Raises:
            ValueError: ``role`` is neither, or the key is missing.
            NotFoundError: there is no such project.
            ConflictError: the project has a member of that name and role.
        """
        if role not in ("investigator", "approver"):
            raise ValueError(
                f"a member is an investigator or an approver, not {role!r}"
            )
        if public_key is None:
            raise ValueError(f"an {role} needs a public key")
        with self.transaction() as connection:
            self._project(connection, project_id)
            taken = connection.scalar(
                sa.select(members.c.id).where(
                    members.c.project_id == project_id,
                    members.c.name == name,
                    members.c.role == role,
                )
            )
            if taken is not None:
                raise ConflictError(
                    f"project {project_id} already has an {role} called {name!r}"
                )
            values = {
                "project_id": project_id,
                "name": name,
                "role": role,
                "public_key": public_key,
                "created_at": self._clock(),
            }
            member_id = insert_row(connection, members, values)
            token = self._create_token(connection, role, project_id, None, member_id)
            row = connection.execute(
                sa.select(members).where(members.c.id == member_id)
            ).mappings()
            return Member.from_row(row.one()), token

    def get_member(self, *, project_id: int, member_id: int) -> Member:
        """Return the project's member.

        Raises:
            NotFoundError: the project has no such member.
        """
        query = sa.select(members).where(
            members.c.id == member_id, members.c.project_id == project_id
        )
        with self.reading() as connection:
            row = only_row(
                connection, query, f"project {project_id} has no member {member_id}"
            )
        return Member.from_row(row)

    def revoke_member(self, *, project_id: int, member_id: int) -> Member:
        """Revoke every token of the project's member (they keep their history).

        Raises:
            NotFoundError: the project has no such member.
        """
        with self.transaction() as connection:
            # Joins this transaction: the lookup and the revocation are one.
            member = self.get_member(project_id=project_id, member_id=member_id)
            connection.execute(
                sa.update(tokens)
                .where(tokens.c.member_id == member_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
            return member

    def members_of(self, *, project_id: int) -> list[Member]:
        """Return the project's investigators and approvers, oldest first."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(members)
                .where(members.c.project_id == project_id)
                .order_by(members.c.id)
            ).mappings()
            return [Member.from_row(row) for row in rows]

    def revoke_token(self, *, token_id: int) -> None:
        """Revoke a token; revoking twice keeps the first time.

        Raises:
            NotFoundError: there is no such token.
        """
        with self.transaction() as connection:
            found = connection.execute(
                sa.update(tokens)
                .where(tokens.c.id == token_id)
                .values(revoked_at=sa.func.coalesce(tokens.c.revoked_at, self._clock()))
            )
            if found.rowcount == 0:
                raise NotFoundError(f"there is no token {token_id}")

    def rotate_operator_token(self) -> str:
        """Revoke every live operator token and return a new one's text, in
        one transaction (the service is never left without an operator, nor
        with two)."""
        with self.transaction() as connection:
            connection.execute(
                sa.update(tokens)
                .where(tokens.c.role == "operator", tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
            return self._create_token(connection, "operator", None, None)

    def reissue_member_token(self, *, project_id: int, member_id: int) -> str:
        """Revoke every live token of the member and return a new one's text,
        in one transaction.

        Raises:
            NotFoundError: the project has no such member.
        """
        with self.transaction() as connection:
            member = self.get_member(project_id=project_id, member_id=member_id)
            connection.execute(
                sa.update(tokens)
                .where(tokens.c.member_id == member_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
            return self._create_token(
                connection, member.role, project_id, None, member_id
            )

    def reissue_party_token(self, *, project_id: int, party_id: int) -> str:
        """Revoke every live token of the party and return a new one's text.

        Both happen in one transaction: the party is never left with two live
        tokens, nor with none.

        Raises:
            NotFoundError: the party is not one of the project's.
        """
        with self.transaction() as connection:
            self._party(connection, project_id, party_id)
            connection.execute(
                sa.update(tokens)
                .where(
                    tokens.c.role == "party",
                    tokens.c.project_id == project_id,
                    tokens.c.party_id == party_id,
                    tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=self._clock())
            )
            return self._create_token(connection, "party", project_id, party_id)

    # -- uploads -----------------------------------------------------------

    def record_upload(
        self,
        *,
        project_id: int,
        party_id: int,
        path: str,
        record_count: int,
        bit_length: int,
        key_check: str | None,
        schema_fingerprint: str | None,
    ) -> RecordedUpload:
        """Record a party's accepted encodings file; it replaces the last one.

        The file must agree with the project's schema fingerprint and with the
        other parties' current uploads (bit length and key-check value); both
        are checked in the same transaction as the insert.

        The replaced upload is marked superseded. If a finished (completed or
        failed) run of the project used it, it is also returned in
        ``retained``: its row and file must stay, since the run refers to
        them. Otherwise its file may be deleted.

        Raises:
            NotFoundError: the party is not one of the project's.
            RunConflictError: a run of the project is queued or running; it
                reads the current uploads, so none may change until it ends.
            EncodingsDeletedError: the project's encodings were deleted.
            UploadRejectedError: the file disagrees with the project or the
                other parties; the message says how.
        """
        with self.transaction() as connection:
            # Locks the project row (where the database can), so two uploads
            # to one project are checked against each other one at a time.
            project = self._project(connection, project_id, for_update=True)
            self._party(connection, project_id, party_id)
            self._check_encodings_free(
                connection,
                project,
                "the current uploads; wait for the run to finish, then upload again",
            )
            if schema_fingerprint is not None and (
                schema_fingerprint != project.schema_fingerprint
            ):
                raise UploadRejectedError(
                    f"the file's schema fingerprint {schema_fingerprint} is not the "
                    f"project's {project.schema_fingerprint}; encode with the "
                    "project's schema"
                )
            current = self._current_uploads(connection, project_id)
            others = [upload for upload in current if upload.party_id != party_id]
            _check_consistent(bit_length, key_check, others)
            replaced = tuple(u for u in current if u.party_id == party_id)
            retained = tuple(u for u in replaced if self._used_by_a_run(connection, u))
            version = 1 + (
                connection.scalar(
                    sa.select(sa.func.max(uploads.c.version)).where(
                        uploads.c.project_id == project_id,
                        uploads.c.party_id == party_id,
                    )
                )
                or 0
            )
            connection.execute(
                sa.update(uploads)
                .where(uploads.c.id.in_([u.id for u in replaced]))
                .values(superseded=True)
            )
            upload_id = insert_row(
                connection,
                uploads,
                {
                    "project_id": project_id,
                    "party_id": party_id,
                    "version": version,
                    "path": path,
                    "record_count": record_count,
                    "bit_length": bit_length,
                    "key_check": key_check,
                    "schema_fingerprint": schema_fingerprint,
                    "created_at": self._clock(),
                    "superseded": False,
                },
            )
            row = connection.execute(
                sa.select(uploads).where(uploads.c.id == upload_id)
            ).mappings()
            return RecordedUpload(Upload.from_row(row.one()), replaced, retained)

    def uploads_for(
        self, *, project_id: int, include_superseded: bool = False
    ) -> list[Upload]:
        """Return the project's uploads: the current ones, or every version."""
        with self.reading() as connection:
            if include_superseded:
                query = sa.select(uploads).where(uploads.c.project_id == project_id)
                rows = connection.execute(query.order_by(uploads.c.id)).mappings()
                return [Upload.from_row(row) for row in rows]
            return self._current_uploads(connection, project_id)

    # -- runs --------------------------------------------------------------

    def queued_runs(self) -> int:
        """How many runs wait in the queue, across projects."""
        with self.reading() as connection:
            count = connection.scalar(
                sa.select(sa.func.count()).where(runs.c.state == "queued")
            )
        return int(count or 0)

    def pending_run(self, *, project_id: int) -> int | None:
        """Return the id of the project's queued or running run, if any."""
        with self.reading() as connection:
            return self._pending_run(connection, project_id)

    def create_run(self, *, project_id: int) -> Run:
        """Queue a run of the project.

        Raises:
            NotFoundError: there is no such project.
            RunConflictError: a party has no accepted upload (the message names
                them), or a run of the project is queued or running.
            EncodingsDeletedError: the project's encodings were deleted.
        """
        with self.transaction() as connection:
            project = self._project(connection, project_id, for_update=True)
            if project.encodings_deleted_at is not None:
                raise EncodingsDeletedError(encodings_deleted_message(project))
            members = self._parties(connection, project_id)
            current = {
                u.party_id for u in self._current_uploads(connection, project_id)
            }
            missing = [party.name for party in members if party.id not in current]
            if missing:
                names = ", ".join(repr(name) for name in missing)
                raise RunConflictError(
                    f"a run needs every party's encodings; not uploaded yet: {names}"
                )
            pending = self._pending_run(connection, project_id)
            if pending is not None:
                raise RunConflictError(
                    f"run {pending} of project {project_id} has not finished; "
                    "wait for it before starting another"
                )
            run_id = insert_row(
                connection,
                runs,
                {
                    "project_id": project_id,
                    "state": "queued",
                    "progress": 0.0,
                    "message": "waiting for the worker",
                    "created_at": self._clock(),
                },
            )
            return self._run(connection, project_id, run_id)

    def get_run(self, *, project_id: int, run_id: int) -> Run:
        """Return the project's run.

        Raises:
            NotFoundError: the project has no such run.
        """
        with self.reading() as connection:
            return self._run(connection, project_id, run_id)

    def runs_of(self, *, project_id: int) -> list[Run]:
        """Return the project's runs, newest first."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(runs)
                .where(runs.c.project_id == project_id)
                .order_by(runs.c.id.desc())
            ).mappings()
            return [Run.from_row(row) for row in rows]

    def latest_completed_run(self, *, project_id: int) -> Run | None:
        """Return the project's newest completed run, if any."""
        with self.reading() as connection:
            row = (
                connection.execute(
                    sa.select(runs)
                    .where(runs.c.project_id == project_id, runs.c.state == "completed")
                    .order_by(runs.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return None if row is None else Run.from_row(row)

    def run_result(self, *, run_id: int, party_id: int) -> RunResult:
        """Return a party's results file of a completed run.

        Raises:
            NotFoundError: the run is not completed or has no file for the party.
        """
        with self.reading() as connection:
            query = (
                sa.select(run_results)
                .join(runs, runs.c.id == run_results.c.run_id)
                .where(
                    run_results.c.run_id == run_id,
                    run_results.c.party_id == party_id,
                    runs.c.state == "completed",
                )
            )
            row = only_row(
                connection, query, f"run {run_id} has no results for this party"
            )
        return RunResult.from_row(row)

    def claim_next_run(self) -> ClaimedRun | None:
        """Mark the oldest queued run running and return it with its inputs.

        Returns None when no run is queued.
        """
        with self.transaction() as connection:
            row = (
                connection.execute(
                    sa.select(runs)
                    .where(runs.c.state == "queued")
                    .order_by(runs.c.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            claimed = connection.execute(
                sa.update(runs)
                .where(runs.c.id == row["id"], runs.c.state == "queued")
                .values(
                    state="running",
                    progress=0.0,
                    message="starting",
                    started_at=self._clock(),
                )
            )
            if claimed.rowcount != 1:
                return None
            project_id = int(row["project_id"])
            current = self._current_uploads(connection, project_id)
            return ClaimedRun(
                run=self._run(connection, project_id, int(row["id"])),
                project=self._project(connection, project_id),
                parties=tuple(self._parties(connection, project_id)),
                uploads={upload.party_id: upload for upload in current},
            )

    def update_run_progress(
        self, *, run_id: int, progress: float, message: str
    ) -> None:
        """Record how far a running run has come (ignored once it has ended)."""
        with self.transaction() as connection:
            connection.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state == "running")
                .values(progress=min(max(float(progress), 0.0), 1.0), message=message)
            )

    def complete_run(
        self,
        *,
        run_id: int,
        stats: Mapping[str, Any],
        result_dir: str,
        results: Sequence[RunResult],
        message: str = "completed",
    ) -> Run:
        """Mark a running run completed with its figures and results files.

        Raises:
            ConflictError: the run is not running (it was failed meanwhile).
        """
        with self.transaction() as connection:
            done = connection.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state == "running")
                .values(
                    state="completed",
                    progress=1.0,
                    message=message,
                    stats=json.dumps(dict(stats), sort_keys=True),
                    finished_at=self._clock(),
                    result_dir=result_dir,
                )
            )
            if done.rowcount != 1:
                raise ConflictError(f"run {run_id} is no longer running")
            for result in results:
                insert_row(
                    connection,
                    run_results,
                    {
                        "run_id": run_id,
                        "party_id": result.party_id,
                        "upload_id": result.upload_id,
                        "path": result.path,
                        "row_count": result.row_count,
                    },
                )
            row = connection.execute(sa.select(runs).where(runs.c.id == run_id))
            return Run.from_row(row.mappings().one())

    def fail_run(self, *, run_id: int, message: str) -> None:
        """Mark a queued or running run failed with ``message``."""
        with self.transaction() as connection:
            connection.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state.in_(("queued", "running")))
                .values(state="failed", message=message, finished_at=self._clock())
            )

    def requeue_run(self, *, run_id: int) -> None:
        """Put a running run back in the queue (the service is stopping)."""
        with self.transaction() as connection:
            connection.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state == "running")
                .values(
                    state="queued",
                    progress=0.0,
                    message="waiting for the worker (the service restarted)",
                    started_at=None,
                )
            )

    def fail_interrupted_runs(self, *, message: str) -> list[Run]:
        """Mark every running run failed; return them as they are now.

        Call once at startup, before any worker runs: a run still marked
        running then was cut off by the service's end.
        """
        with self.transaction() as connection:
            ids = list(
                connection.scalars(
                    sa.select(runs.c.id).where(runs.c.state == "running")
                )
            )
            if not ids:
                return []
            connection.execute(
                sa.update(runs)
                .where(runs.c.id.in_(ids), runs.c.state == "running")
                .values(state="failed", message=message, finished_at=self._clock())
            )
            rows = connection.execute(
                sa.select(runs).where(runs.c.id.in_(ids)).order_by(runs.c.id)
            ).mappings()
            return [Run.from_row(row) for row in rows]

    # -- downloads and retention ---------------------------------------------

    def record_download(self, *, run_id: int, party_id: int) -> RunResult:
        """Note that the party downloaded its results of a completed run.

        The first download's time is kept; later ones change nothing.

        Raises:
            NotFoundError: the run is not completed or has no file for the party.
        """
        with self.transaction() as connection:
            # Raises NotFoundError unless the run is completed and has a file.
            self.run_result(run_id=run_id, party_id=party_id)
            connection.execute(
                sa.update(run_results)
                .where(
                    run_results.c.run_id == run_id,
                    run_results.c.party_id == party_id,
                    run_results.c.downloaded_at.is_(None),
                )
                .values(downloaded_at=self._clock())
            )
            return self.run_result(run_id=run_id, party_id=party_id)

    def encodings_due_for_deletion(self, *, project_id: int) -> int | None:
        """The run after which the project's encodings are due for deletion.

        They are due when the project does not retain its encodings, they
        have not been deleted yet, and its newest run has completed and every
        party of that run has downloaded its results. A newer failed run, or
        a queued or running one, keeps them: it needs them to be retried or
        to run. Returns that completed run's id, or None when not due.
        """
        with self.transaction() as connection:
            project = self._project(connection, project_id, for_update=True)
            if project.retain_encodings or project.encodings_deleted_at is not None:
                return None
            newest = (
                connection.execute(
                    sa.select(runs.c.id, runs.c.state)
                    .where(runs.c.project_id == project_id)
                    .order_by(runs.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if newest is None or newest["state"] != "completed":
                return None
            run_id = int(newest["id"])
            waiting = connection.scalar(
                sa.select(sa.func.count())
                .select_from(run_results)
                .where(
                    run_results.c.run_id == run_id,
                    run_results.c.downloaded_at.is_(None),
                )
            )
            return run_id if not waiting else None

    def delete_encodings(
        self, *, project_id: int, after_run: int | None = None
    ) -> DeletedEncodings:
        """Mark every encodings upload of the project deleted, and the project.

        The rows stay (they hold counts only, and results refer to them) but
        lose their file paths, and no upload or run of the project is accepted
        any more. The files are the caller's to delete, *after* this
        transaction commits (see :class:`DeletedEncodings`); files a crash
        left behind are found again with
        :meth:`projects_with_deleted_encodings`. ``after_run`` is the
        completed run whose last download made them due, or None when the
        operator deletes them.

        Raises:
            NotFoundError: there is no such project.
            EncodingsDeletedError: they were deleted before.
            RunConflictError: a run of the project is queued or running and
                reads them.
        """
        with self.transaction() as connection:
            project = self._project(connection, project_id, for_update=True)
            self._check_encodings_free(
                connection, project, "the encodings; wait for it to finish"
            )
            rows = connection.execute(
                sa.select(uploads)
                .where(
                    uploads.c.project_id == project_id,
                    uploads.c.deleted_at.is_(None),
                )
                .order_by(uploads.c.id)
            ).mappings()
            gone = tuple(Upload.from_row(row) for row in rows)
            now = self._clock()
            connection.execute(
                sa.update(uploads)
                .where(uploads.c.id.in_([upload.id for upload in gone]))
                .values(deleted_at=now, path="")
            )
            connection.execute(
                sa.update(projects)
                .where(projects.c.id == project_id)
                .values(encodings_deleted_at=now, encodings_deleted_after_run=after_run)
            )
            return DeletedEncodings(project_id, after_run, gone, now)

    def projects_with_deleted_encodings(self) -> list[int]:
        """The ids of the projects whose encodings were deleted: any file
        still in their uploads folder is a leftover to remove."""
        with self.reading() as connection:
            return list(
                connection.scalars(
                    sa.select(projects.c.id)
                    .where(projects.c.encodings_deleted_at.is_not(None))
                    .order_by(projects.c.id)
                )
            )

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
        if (role in ("investigator", "approver")) != (member_id is not None):
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


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event start transactions, not the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # SQLite's default deferred transactions fail with "database is locked"
    # when two readers both try to write; taking the write lock up front makes
    # concurrent transactions wait their turn (up to the busy timeout). A
    # transaction that only reads (Store.reading) needs no write lock.
    if connection.info.get("read_only"):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    # SQLite drops the zone; every time stored is UTC.
    if expires_at is None:
        return False
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at <= now
