"""Receiving an encodings upload: stream to disk, validate, move, record.

Files live under ``<data-dir>/uploads/<project id>/``. A file arrives as a
hidden ``.incoming-*.part`` file in ``uploads/``, mode 0600; it is renamed
into its project's folder only once it has been read in full and found
consistent, and the rename is undone if the database refuses the row. They
are deleted again once the project's run is done with them (see
:mod:`linkage.service.retention`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from fastapi.concurrency import run_in_threadpool

from linkage.errors import EncodingFileError
from linkage.formats.clkfile import (
    Encodings,
    read_encodings,
    starts_like_clkhash_json,
)
from linkage.service.models import UploadPublic
from linkage.service.settings import Settings
from linkage.storage import Party, Project, Store, Upload, UploadRejectedError

__all__ = ["accept_upload", "receive_upload"]

_UPLOAD_NAME: Final = "the upload"


async def receive_upload(
    chunks: AsyncIterator[bytes], directory: Path, limit: int
) -> Path | None:
    """Write ``chunks`` to a new private file in ``directory``.

    Returns:
        The file, or None if the body passed ``limit`` bytes; the partial file
        is then deleted.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f".incoming-{secrets.token_hex(16)}.part"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    path.unlink()
                    return None
                await run_in_threadpool(out.write, chunk)
            await run_in_threadpool(_sync, out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _sync(descriptor: int) -> None:
    os.fsync(descriptor)


def accept_upload(
    store: Store,
    settings: Settings,
    project: Project,
    party: Party,
    incoming: Path,
    on_recorded: Callable[[Upload], None] = lambda _upload: None,
) -> UploadPublic:
    """Validate ``incoming`` for ``party`` and keep it, or delete it and raise.

    ``on_recorded`` runs in the transaction that records the upload (the
    service writes its audit entry there), so both happen or neither.

    Raises:
        EncodingFileError: the file is not a readable encodings file.
        UploadRejectedError: it disagrees with the project or the other
            parties' uploads.
    """
    try:
        encodings = _validate(project, incoming)
        return _keep(store, settings, project, party, incoming, encodings, on_recorded)
    finally:
        incoming.unlink(missing_ok=True)


def _validate(project: Project, incoming: Path) -> Encodings:
    # Refused on its first bytes: a format the project refuses is not parsed.
    if not project.allow_clkhash_json and starts_like_clkhash_json(incoming):
        raise UploadRejectedError(
            "this project accepts linkage encodings files only: clkhash JSON "
            "carries no schema fingerprint to check; upload the file written "
            "by 'linkage encode'"
        )
    try:
        encodings = read_encodings(incoming)
    except EncodingFileError as error:
        # The temporary name means nothing to the uploader.
        message = str(error).replace(str(incoming), _UPLOAD_NAME)
        raise EncodingFileError(message) from None
    header = encodings.header
    if header is not None and header.schema_fingerprint != project.schema_fingerprint:
        raise UploadRejectedError(
            f"the file's schema fingerprint {header.schema_fingerprint} is not the "
            f"project's {project.schema_fingerprint}; encode with the project's "
            "schema"
        )
    if len(encodings) == 0:
        raise UploadRejectedError("the file holds no records; nothing to link")
    return encodings


def _keep(
    store: Store,
    settings: Settings,
    project: Project,
    party: Party,
    incoming: Path,
    encodings: Encodings,
    on_recorded: Callable[[Upload], None],
) -> UploadPublic:
    header = encodings.header
    suffix = ".lnk" if header is not None else ".json"
    folder = settings.uploads_dir / str(project.id)
    folder.mkdir(mode=0o700, exist_ok=True)
    final = folder / f"{party.id}-{secrets.token_hex(8)}{suffix}"
    os.replace(incoming, final)
    try:
        with store.transaction():
            recorded = store.record_upload(
                project_id=project.id,
                party_id=party.id,
                path=str(final.relative_to(settings.data_dir)),
                record_count=len(encodings),
                bit_length=encodings.bit_length,
                key_check=header.key_check if header is not None else None,
                schema_fingerprint=header.schema_fingerprint if header else None,
            )
            on_recorded(recorded.upload)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    for old in recorded.deletable:
        # No run used these; a file a run used is kept with its row.
        with contextlib.suppress(OSError):
            (settings.data_dir / old.path).unlink()
    upload = recorded.upload
    return UploadPublic(
        project_id=project.id,
        party=party.name,
        version=upload.version,
        format="linkage" if header is not None else "clkhash-json",
        record_count=upload.record_count,
        bit_length=upload.bit_length,
        key_check=upload.key_check,
        schema_fingerprint=upload.schema_fingerprint,
        created_at=upload.created_at,
    )
