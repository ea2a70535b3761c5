"""Downloads of results, and the deletion of encodings they make due.

One part of :class:`~linkage.storage.store.Store`.
"""

from __future__ import annotations

import sqlalchemy as sa

from linkage.storage.records import (
    DeletedEncodings,
    RunResult,
    Upload,
)
from linkage.storage.run_queue import RunsMixin
from linkage.storage.tables import (
    change_sets,
    projects,
    run_results,
    runs,
    uploads,
)


class DeletionMixin(RunsMixin):
    """Downloads of results, and the deletion of encodings they make due."""

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
            # Staged change sets' records files live in the uploads folder
            # and go with it; the withdrawals stay, so reveals stay refused.
            connection.execute(
                sa.update(change_sets)
                .where(change_sets.c.project_id == project_id)
                .values(path=None)
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
