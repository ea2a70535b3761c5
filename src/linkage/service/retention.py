"""How long the service keeps a project's encodings: no longer than needed.

Encodings plus a few known identities (learnt, say, through a reveal) let an
attacker decode everyone else's records (a known-plaintext attack), so by
default a project's encodings are deleted once its newest run has completed
and every party has downloaded its results. A project created with
``retain_encodings`` keeps them for later runs until the operator deletes
them. A failed (or queued, or running) newest run keeps them too, so the run
can be retried. Continuing linkage (change sets and update runs) needs the
encodings of the last run, so only a project that retains them keeps a
standing linkage in its runs' folders, and deleting the encodings deletes
those folders too.

Deletion is crash-safe in two steps. First, in one transaction with the
``encodings.deleted`` audit entry, the upload rows lose their paths and the
project is marked: from that commit on, no upload or run of the project is
accepted and nothing refers to the files. Only then are the files unlinked.
Unlinking before the commit could lose encodings a rolled-back transaction
still lists as current; unlinking after it can at worst leave files behind
(a crash, a full disk), and :func:`sweep_deleted_encodings` removes those at
the next start: every file in the uploads folder of a project marked
deleted is a leftover.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Final

from linkage.service.continuing.folders import finish_removals, remove_kept_encodings
from linkage.service.settings import Settings
from linkage.storage import DeletedEncodings, Store
from linkage.storage.audit_log import AuditLog

__all__ = [
    "STALE_INCOMING_SECONDS",
    "delete_encodings",
    "delete_encodings_if_due",
    "remove_encodings_files",
    "sweep_deleted_encodings",
]

logger = logging.getLogger(__name__)

# An upload being received writes its ``.incoming-*.part`` file continuously;
# one untouched for this long was left by a killed service.
STALE_INCOMING_SECONDS: Final = 3600.0


def delete_encodings_if_due(
    store: Store, audit: AuditLog, project_id: int
) -> DeletedEncodings | None:
    """Delete the project's encodings rows if its retention setting says so.

    Call inside the transaction that recorded a results download; the audit
    entry joins it. Returns what was deleted (its files are the caller's to
    remove with :func:`remove_encodings_files` once the transaction has
    committed), or None when nothing is due.
    """
    with store.transaction():
        run_id = store.encodings_due_for_deletion(project_id=project_id)
        if run_id is None:
            return None
        return delete_encodings(
            store, audit, project_id, actor="service", after_run=run_id
        )


def delete_encodings(
    store: Store,
    audit: AuditLog,
    project_id: int,
    *,
    actor: str,
    after_run: int | None = None,
) -> DeletedEncodings:
    """Delete the project's encodings rows and record it in the audit log.

    One transaction (the caller's, if open). The files stay until the caller
    calls :func:`remove_encodings_files` after the commit.

    Raises:
        EncodingsDeletedError: they were deleted before.
        RunConflictError: a run of the project is queued or running.
    """
    with store.transaction():
        deleted = store.delete_encodings(project_id=project_id, after_run=after_run)
        names = {p.id: p.name for p in store.parties_of(project_id=project_id)}
        audit.append(
            actor=actor,
            action="encodings.deleted",
            project_id=project_id,
            details={
                "reason": "retention" if after_run is not None else "operator",
                "run_id": after_run,
                "uploads": [
                    {
                        "party": names.get(upload.party_id, str(upload.party_id)),
                        "version": upload.version,
                        "records": upload.record_count,
                    }
                    for upload in deleted.uploads
                ],
                "files": len(deleted.paths),
                "records": deleted.records,
            },
        )
    return deleted


def remove_encodings_files(settings: Settings, deleted: DeletedEncodings) -> int:
    """Unlink the deleted uploads' files, and anything else in the project's
    uploads folder (an upload refused meanwhile, a crash's leftovers).

    Call only after the deletion has committed. A file that cannot be removed
    is logged and left for :func:`sweep_deleted_encodings` at the next start.
    Returns how many files (and standing folders) were removed.
    """
    removed = 0
    for path in deleted.paths:
        removed += _unlink(settings.data_dir / path)
    # The runs' standing linkages hold every party's encodings too.
    removed += remove_kept_encodings(settings, deleted.project_id)
    return removed + _empty_folder(_project_folder(settings, deleted.project_id))


def sweep_deleted_encodings(
    store: Store, settings: Settings, audit: AuditLog | None = None
) -> int:
    """Finish deletions a crash interrupted; call once at startup.

    Removes the files a completed update run replaced where a crash came
    between its commit and their deletion (its note of removals), every file
    left in the uploads folder of a project whose encodings are marked
    deleted, and every ``.incoming-*.part`` file a killed upload left
    (untouched for :data:`STALE_INCOMING_SECONDS`): all hold encodings
    nothing refers to. Returns how many files were removed,
    and records that number in ``audit`` (action ``service.swept``) when
    there were any.
    """
    removed = finish_removals(store, settings)
    for project_id in store.projects_with_deleted_encodings():
        removed += _empty_folder(_project_folder(settings, project_id))
        removed += remove_kept_encodings(settings, project_id)
    cutoff = time.time() - STALE_INCOMING_SECONDS
    if settings.uploads_dir.is_dir():
        for part in settings.uploads_dir.glob(".incoming-*.part"):
            try:
                stale = part.stat().st_mtime < cutoff
            except OSError:
                continue
            if stale:
                removed += _unlink(part)
    if removed:
        logger.warning("removed %d leftover encodings file(s)", removed)
        if audit is not None:
            audit.append(
                actor="service",
                action="service.swept",
                project_id=None,
                details={"files_removed": removed},
            )
    return removed


def _project_folder(settings: Settings, project_id: int) -> Path:
    return settings.uploads_dir / str(project_id)


def _empty_folder(folder: Path) -> int:
    """Unlink every file in ``folder``; the folder itself stays, so an upload
    renaming its file in at this moment is refused with 409, not an error."""
    if not folder.is_dir():
        return 0
    return sum(_unlink(path) for path in folder.iterdir() if not path.is_dir())


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as error:
        logger.error(
            "could not delete the encodings file %s (%s); it is removed at the "
            "next start",
            path,
            error.strerror or error,
        )
        return 0
    return 1
