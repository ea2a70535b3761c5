"""Agencies' change sets: staged, then linked in by an update run.

One part of :class:`~linkage.storage.store.Store`. Each party has at most one
staged change set (``run_id`` null) per project; sending more changes before
the next update run replaces it with the merged one. The update run that
links it in records its id there, in the transaction that completes the run,
with the new upload versions that hold the agencies' records after it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linkage.storage.base import EncodingsDeletedError, encodings_deleted_message
from linkage.storage.records import Run, RunResult, StoredChangeSet
from linkage.storage.run_queue import RunsMixin
from linkage.storage.sql import insert_row
from linkage.storage.tables import change_sets, run_results, runs, uploads
from linkage.storage.upload_records import UploadsMixin

__all__ = ["ChangeSetsMixin", "UpdatedRecords"]


@dataclass(frozen=True)
class UpdatedRecords:
    """A party's records after an update run: its new upload version."""

    party_id: int
    path: str
    record_count: int
    bit_length: int
    key_check: str
    schema_fingerprint: str


class ChangeSetsMixin(UploadsMixin, RunsMixin):
    """Agencies' change sets: staged, then linked in by an update run."""

    def stage_change_set(
        self,
        *,
        project_id: int,
        party_id: int,
        path: str | None,
        record_count: int,
        withdrawn: Sequence[str],
    ) -> tuple[StoredChangeSet, StoredChangeSet | None]:
        """Make this the party's staged change set; return it and the one it
        replaced (whose records file, if other, the caller deletes after the
        commit).

        Raises:
            NotFoundError: the party is not one of the project's.
            RunConflictError: a run of the project is queued or running.
            EncodingsDeletedError: the project's encodings were deleted.
        """
        with self.transaction() as connection:
            project = self._project(connection, project_id, for_update=True)
            self._party(connection, project_id, party_id)
            self._check_encodings_free(
                connection,
                project,
                "the staged changes; wait for the run to finish, then send again",
            )
            before = self._staged(connection, project_id, party_id)
            now = self._clock()
            values = {
                "path": path,
                "record_count": record_count,
                "withdrawn": json.dumps(list(withdrawn)),
                "updated_at": now,
            }
            if before is None:
                row_id = insert_row(
                    connection,
                    change_sets,
                    {
                        "project_id": project_id,
                        "party_id": party_id,
                        "created_at": now,
                        **values,
                    },
                )
            else:
                row_id = before.id
                connection.execute(
                    sa.update(change_sets)
                    .where(change_sets.c.id == row_id)
                    .values(**values)
                )
            row = connection.execute(
                sa.select(change_sets).where(change_sets.c.id == row_id)
            ).mappings()
            return StoredChangeSet.from_row(row.one()), before

    def discard_change_set(
        self, *, project_id: int, party_id: int
    ) -> StoredChangeSet | None:
        """Drop the party's staged change set (its file is the caller's to
        delete after the commit); None when none was staged.

        Raises:
            RunConflictError: a run of the project is queued or running.
        """
        with self.transaction() as connection:
            project = self._project(connection, project_id, for_update=True)
            self._check_encodings_free(
                connection, project, "the staged changes; wait for it to finish"
            )
            staged = self._staged(connection, project_id, party_id)
            if staged is not None:
                connection.execute(
                    sa.delete(change_sets).where(change_sets.c.id == staged.id)
                )
            return staged

    def staged_change_set(
        self, *, project_id: int, party_id: int
    ) -> StoredChangeSet | None:
        """The party's staged change set, if any."""
        with self.reading() as connection:
            return self._staged(connection, project_id, party_id)

    def staged_change_sets(self, *, project_id: int) -> list[StoredChangeSet]:
        """Every party's staged change set, in party order."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(change_sets)
                .where(
                    change_sets.c.project_id == project_id,
                    change_sets.c.run_id.is_(None),
                )
                .order_by(change_sets.c.party_id)
            ).mappings()
            return [StoredChangeSet.from_row(row) for row in rows]

    def withdrawn_pseudonyms(self, *, project_id: int) -> dict[int, set[str]]:
        """Per party id, every pseudonym it withdrew, staged or linked in:
        from the moment an agency withdraws a record, no reveal names it."""
        with self.reading() as connection:
            rows = connection.execute(
                sa.select(change_sets.c.party_id, change_sets.c.withdrawn).where(
                    change_sets.c.project_id == project_id
                )
            )
            withdrawn: dict[int, set[str]] = {}
            for party_id, listed in rows:
                withdrawn.setdefault(party_id, set()).update(json.loads(listed))
            return withdrawn

    def last_downloaded_run(self, *, project_id: int, party_id: int) -> int | None:
        """The newest completed run of the project whose results the party
        has downloaded, if any."""
        with self.reading() as connection:
            found = connection.scalar(
                sa.select(sa.func.max(run_results.c.run_id))
                .join(runs, runs.c.id == run_results.c.run_id)
                .where(
                    runs.c.project_id == project_id,
                    runs.c.state == "completed",
                    run_results.c.party_id == party_id,
                    run_results.c.downloaded_at.is_not(None),
                )
            )
        return None if found is None else int(found)

    def completed_runs_between(
        self, *, project_id: int, after: int | None, up_to: int
    ) -> list[Run]:
        """The project's completed runs with ``after < id <= up_to``, oldest
        first (``after`` None: from the first)."""
        with self.reading() as connection:
            query = sa.select(runs).where(
                runs.c.project_id == project_id,
                runs.c.state == "completed",
                runs.c.id <= up_to,
            )
            if after is not None:
                query = query.where(runs.c.id > after)
            rows = connection.execute(query.order_by(runs.c.id)).mappings()
            return [Run.from_row(row) for row in rows]

    def complete_update_run(
        self,
        *,
        run_id: int,
        stats: Mapping[str, Any],
        result_dir: str,
        results: Sequence[RunResult],
        updated: Sequence[UpdatedRecords],
        change_set_ids: Sequence[int],
        message: str = "completed",
    ) -> Run:
        """Complete an update run: the changed parties' records become new
        upload versions (their results name those), the run is marked
        completed, and the change sets it linked in are consumed; all in one
        transaction.

        Raises:
            ConflictError: the run is not running (it was failed meanwhile).
            EncodingsDeletedError: the project's encodings were deleted.
        """
        with self.transaction() as connection:
            run = self._run_by_id(connection, run_id)
            project = self._project(connection, run.project_id, for_update=True)
            if project.encodings_deleted_at is not None:
                raise EncodingsDeletedError(encodings_deleted_message(project))
            upload_of = {}
            for records in updated:
                recorded = self._insert_upload(
                    connection,
                    project_id=run.project_id,
                    party_id=records.party_id,
                    path=records.path,
                    record_count=records.record_count,
                    bit_length=records.bit_length,
                    key_check=records.key_check,
                    schema_fingerprint=records.schema_fingerprint,
                )
                upload_of[records.party_id] = recorded.upload.id
            linked = [
                replace(r, upload_id=upload_of.get(r.party_id, r.upload_id))
                for r in results
            ]
            completed = self.complete_run(
                run_id=run_id,
                stats=stats,
                result_dir=result_dir,
                results=linked,
                message=message,
            )
            connection.execute(
                sa.update(change_sets)
                .where(
                    change_sets.c.id.in_(list(change_set_ids)),
                    change_sets.c.run_id.is_(None),
                )
                .values(run_id=run_id)
            )
            return completed

    def retire_replaced_encodings(self, *, project_id: int, run_id: int) -> list[str]:
        """After update run ``run_id`` completed: mark deleted every upload
        of the project its results do not name and that a newer version
        replaced, and forget the records files of the change sets it linked
        in; return those files' paths, for the caller to delete after the
        commit. They hold encodings the run's uploads now hold, or withdrawn
        and corrected records' old encodings, which a withdrawal removes."""
        with self.transaction() as connection:
            named = sa.select(run_results.c.upload_id).where(
                run_results.c.run_id == run_id
            )
            replaced = list(
                connection.execute(
                    sa.select(uploads.c.id, uploads.c.path).where(
                        uploads.c.project_id == project_id,
                        uploads.c.superseded,
                        uploads.c.deleted_at.is_(None),
                        uploads.c.id.not_in(named),
                    )
                )
            )
            connection.execute(
                sa.update(uploads)
                .where(uploads.c.id.in_([row.id for row in replaced]))
                .values(deleted_at=self._clock(), path="")
            )
            linked = list(
                connection.execute(
                    sa.select(change_sets.c.id, change_sets.c.path).where(
                        change_sets.c.run_id == run_id,
                        change_sets.c.path.is_not(None),
                    )
                )
            )
            connection.execute(
                sa.update(change_sets)
                .where(change_sets.c.id.in_([row.id for row in linked]))
                .values(path=None)
            )
            return [row.path for row in [*replaced, *linked] if row.path]

    def _staged(
        self, connection: Connection, project_id: int, party_id: int
    ) -> StoredChangeSet | None:
        row = (
            connection.execute(
                sa.select(change_sets).where(
                    change_sets.c.project_id == project_id,
                    change_sets.c.party_id == party_id,
                    change_sets.c.run_id.is_(None),
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else StoredChangeSet.from_row(row)

    def _run_by_id(self, connection: Connection, run_id: int) -> Run:
        row = connection.execute(sa.select(runs).where(runs.c.id == run_id))
        return Run.from_row(row.mappings().one())
