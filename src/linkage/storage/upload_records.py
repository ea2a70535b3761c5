"""Uploads of encodings: recorded, versioned and checked against the others.

One part of :class:`~linkage.storage.store.Store`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linkage.storage.base import (
    StoreBase,
    UploadRejectedError,
    _check_consistent,
)
from linkage.storage.records import (
    RecordedUpload,
    Upload,
)
from linkage.storage.sql import insert_row
from linkage.storage.tables import (
    uploads,
)


class UploadsMixin(StoreBase):
    """Uploads of encodings: recorded, versioned and checked against the others."""

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
            return self._insert_upload(
                connection,
                project_id=project_id,
                party_id=party_id,
                path=path,
                record_count=record_count,
                bit_length=bit_length,
                key_check=key_check,
                schema_fingerprint=schema_fingerprint,
            )

    def _insert_upload(
        self,
        connection: Connection,
        *,
        project_id: int,
        party_id: int,
        path: str,
        record_count: int,
        bit_length: int,
        key_check: str | None,
        schema_fingerprint: str | None,
    ) -> RecordedUpload:
        """Record a new version of the party's upload, superseding the current
        one, inside the caller's transaction; the caller has checked it."""
        current = self._current_uploads(connection, project_id)
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
