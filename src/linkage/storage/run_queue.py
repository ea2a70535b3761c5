"""Runs: the queue, their progress, their results.

One part of :class:`~linkage.storage.store.Store`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linkage.storage.base import (
    ClaimedRun,
    ConflictError,
    EncodingsDeletedError,
    RunConflictError,
    StoreBase,
    encodings_deleted_message,
)
from linkage.storage.records import (
    Party,
    Project,
    Run,
    RunKind,
    RunResult,
)
from linkage.storage.sql import insert_row, only_row
from linkage.storage.tables import (
    change_sets,
    run_results,
    runs,
    uploads,
)


class RunsMixin(StoreBase):
    """Runs: the queue, their progress, their results."""

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

    def create_run(self, *, project_id: int, kind: RunKind = "full") -> Run:
        """Queue a run of the project: a full run, or an update run that links
        the staged change sets into the latest completed run's groups.

        Raises:
            NotFoundError: there is no such project.
            RunConflictError: a party has no accepted upload (the message names
                them), or a run of the project is queued or running; for an
                update, see :func:`_check_update`.
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
            if kind == "update":
                _check_update(connection, project, members)
            run_id = insert_row(
                connection,
                runs,
                {
                    "project_id": project_id,
                    "state": "queued",
                    "progress": 0.0,
                    "message": "waiting for the worker",
                    "created_at": self._clock(),
                    "kind": kind,
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


def _check_update(
    connection: Connection, project: Project, members: Sequence[Party]
) -> None:
    """Refuse an update run the project cannot have: it must link with CLKs,
    keep its encodings, have a completed run whose uploads are still the
    current ones, and have a change set staged."""
    if project.method != "clk":
        raise RunConflictError(
            f"project {project.id} links with the {project.method} method; only "
            "projects linked with CLKs take update runs: start a full run"
        )
    if not project.retain_encodings:
        raise RunConflictError(
            f"project {project.id} does not keep its encodings, and an update "
            "run links changes into the encodings of the last run; create the "
            "project with --keep-encodings to continue linkage"
        )
    latest = connection.scalar(
        sa.select(sa.func.max(runs.c.id)).where(
            runs.c.project_id == project.id, runs.c.state == "completed"
        )
    )
    if latest is None:
        raise RunConflictError(
            f"no run of project {project.id} has completed yet; an update run "
            "changes a completed run's groups: start a full run first"
        )
    used = dict(
        connection.execute(
            sa.select(run_results.c.party_id, run_results.c.upload_id).where(
                run_results.c.run_id == latest
            )
        ).all()
    )
    current = dict(
        connection.execute(
            sa.select(uploads.c.party_id, uploads.c.id).where(
                uploads.c.project_id == project.id,
                sa.not_(uploads.c.superseded),
                uploads.c.deleted_at.is_(None),
            )
        ).all()
    )
    moved = [p.name for p in members if current.get(p.id) != used.get(p.id)]
    if moved:
        raise RunConflictError(
            "a new encodings file was uploaded since run "
            f"{latest} for: {', '.join(repr(name) for name in moved)}; a new "
            "upload is linked by a full run, not an update run"
        )
    staged = connection.scalar(
        sa.select(sa.func.count())
        .select_from(change_sets)
        .where(change_sets.c.project_id == project.id, change_sets.c.run_id.is_(None))
    )
    if not staged:
        raise RunConflictError(
            f"no agency of project {project.id} has sent changes since the last "
            "update; nothing to link in"
        )
