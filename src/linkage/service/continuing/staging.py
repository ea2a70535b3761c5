"""Receiving change sets: checked against the agency's linked records, staged.

An agency's change set is checked in full when it arrives, the way the next
update run will apply it (:func:`~linkage.matching.standing.changes.
apply_change_sets` on the agency's records as of the latest completed run):
the header must match those records (schema, secret, bit length, fields
held), no pseudonym may be listed twice, a withdrawn pseudonym must be one of
the agency's linked records, and no record may be both sent and withdrawn.
A refused change set changes nothing. An accepted records file replaces the
one staged before; withdrawals add to those staged before.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from linkage.errors import EncodingFileError
from linkage.formats.clkfile import Encodings, read_encodings
from linkage.matching.parties import Party as MatchParty
from linkage.matching.parties import PartySet
from linkage.matching.standing import ChangeSet
from linkage.matching.standing.changes import apply_change_sets
from linkage.service.errors import ApiProblem
from linkage.service.models import ChangeSetPublic
from linkage.service.settings import Settings
from linkage.storage import (
    Party,
    Project,
    Store,
    StoredChangeSet,
    UploadRejectedError,
)
from linkage.storage.store import encodings_deleted_message

__all__ = [
    "accept_change_records",
    "accept_withdrawals",
    "change_set_public",
    "check_continuing",
]

_FILE_NAME = "the change set"

# Called in the transaction that stages the change set (the audit entry).
OnStaged = Callable[[ChangeSetPublic], None]


def check_continuing(store: Store, project: Project) -> int:
    """Refuse (409) a change set the project cannot take; return the id of
    the latest completed run, whose records a change set changes."""
    if project.method != "clk":
        raise ApiProblem(
            409,
            f"project {project.id} links with the {project.method} method; only "
            "projects linked with CLKs take change sets",
        )
    if not project.retain_encodings:
        raise ApiProblem(
            409,
            f"project {project.id} does not keep its encodings, which continuing "
            "linkage needs; send the records in a new project created with "
            "--keep-encodings",
        )
    if project.encodings_deleted_at is not None:
        raise ApiProblem(409, encodings_deleted_message(project))
    pending = store.pending_run(project_id=project.id)
    if pending is not None:
        raise ApiProblem(
            409,
            f"run {pending} of project {project.id} is queued or running; send "
            "the changes once it has finished",
        )
    latest = store.latest_completed_run(project_id=project.id)
    if latest is None:
        raise ApiProblem(
            409,
            f"no run of project {project.id} has completed yet; upload the "
            "records as encodings and wait for the first run",
        )
    return latest.id


def accept_change_records(
    store: Store,
    settings: Settings,
    project: Project,
    party: Party,
    incoming: Path,
    on_staged: OnStaged,
) -> ChangeSetPublic:
    """Check ``incoming`` (new and corrected records) and stage it, or
    delete it and raise.

    Raises:
        ApiProblem: 409 when the project takes no change sets now.
        EncodingFileError, UploadRejectedError, InputError: the file is not a
            readable encodings file, or does not fit the agency's records.
    """
    try:
        run_id = check_continuing(store, project)
        records = _read(incoming)
        staged = store.staged_change_set(project_id=project.id, party_id=party.id)
        withdrawn = staged.withdrawn if staged else ()
        linked = _linked_records(store, settings, run_id, party)
        _dry_run(party, linked, records, withdrawn)
        final = settings.uploads_dir / str(project.id) / _change_name(party)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(incoming, final)
        try:
            with store.transaction():
                now, before = store.stage_change_set(
                    project_id=project.id,
                    party_id=party.id,
                    path=str(final.relative_to(settings.data_dir)),
                    record_count=len(records),
                    withdrawn=withdrawn,
                )
                public = _public(project, party, now, linked, records)
                on_staged(public)
        except BaseException:
            final.unlink(missing_ok=True)
            raise
    finally:
        incoming.unlink(missing_ok=True)
    if before is not None and before.path:
        # Replaced: nothing refers to the old file any more.
        with contextlib.suppress(OSError):
            (settings.data_dir / before.path).unlink()
    return public


def accept_withdrawals(
    store: Store,
    settings: Settings,
    project: Project,
    party: Party,
    pseudonyms: Sequence[str],
    on_staged: OnStaged,
) -> ChangeSetPublic:
    """Add ``pseudonyms`` to the party's staged withdrawals, or raise.

    Raises:
        ApiProblem: 409 when the project takes no change sets now.
        InputError: a pseudonym is not one of the agency's linked records, or
            is sent as a record in the staged change set.
    """
    run_id = check_continuing(store, project)
    staged = store.staged_change_set(project_id=project.id, party_id=party.id)
    # Withdrawing a pseudonym already staged for withdrawal changes nothing.
    withdrawn = list(
        dict.fromkeys([*(staged.withdrawn if staged else ()), *pseudonyms])
    )
    records = _staged_records(settings, staged)
    linked = _linked_records(store, settings, run_id, party)
    _dry_run(party, linked, records, withdrawn)
    with store.transaction():
        now, _ = store.stage_change_set(
            project_id=project.id,
            party_id=party.id,
            path=staged.path if staged else None,
            record_count=staged.record_count if staged else 0,
            withdrawn=withdrawn,
        )
        public = _public(project, party, now, linked, records)
        on_staged(public)
    return public


def change_set_public(
    store: Store, settings: Settings, project: Project, party: Party
) -> ChangeSetPublic:
    """The party's staged change set, as counts."""
    staged = store.staged_change_set(project_id=project.id, party_id=party.id)
    if staged is None:
        return ChangeSetPublic(
            project_id=project.id,
            party=party.name,
            records=0,
            corrections=0,
            additions=0,
            withdrawn=0,
            updated_at=None,
        )
    latest = store.latest_completed_run(project_id=project.id)
    records = _staged_records(settings, staged)
    linked = (
        None
        if latest is None or records is None
        else _linked_records(store, settings, latest.id, party)
    )
    return _public(project, party, staged, linked, records)


def _read(incoming: Path) -> Encodings:
    try:
        records = read_encodings(incoming)
    except EncodingFileError as error:
        # The temporary name means nothing to the agency.
        raise EncodingFileError(str(error).replace(str(incoming), _FILE_NAME)) from None
    if len(records) == 0:
        raise UploadRejectedError("the change set holds no records; nothing to send")
    return records


def _linked_records(
    store: Store, settings: Settings, run_id: int, party: Party
) -> Encodings:
    """The agency's records as of run ``run_id``: the upload it linked."""
    result = store.run_result(run_id=run_id, party_id=party.id)
    upload = next(
        u
        for u in store.uploads_for(project_id=party.project_id, include_superseded=True)
        if u.id == result.upload_id
    )
    return read_encodings(settings.data_dir / upload.path)


def _staged_records(
    settings: Settings, staged: StoredChangeSet | None
) -> Encodings | None:
    if staged is None or staged.path is None:
        return None
    return read_encodings(settings.data_dir / staged.path)


def _dry_run(
    party: Party,
    linked: Encodings,
    records: Encodings | None,
    withdrawn: Sequence[str],
) -> None:
    """Raise what the update run would raise for this change set."""
    parties = PartySet((MatchParty(party.name, linked),))
    apply_change_sets(parties, [ChangeSet(party.name, records, tuple(withdrawn))])


def _change_name(party: Party) -> str:
    # In the project's uploads folder, so that deleting the project's
    # encodings (or the sweep at start) takes it too.
    return f"change-{party.id}-{secrets.token_hex(8)}.lnk"


def _public(
    project: Project,
    party: Party,
    staged: StoredChangeSet,
    linked: Encodings | None,
    records: Encodings | None,
) -> ChangeSetPublic:
    sent = [] if records is None else records.pseudonym_strings()
    held = set() if linked is None else set(linked.pseudonym_strings())
    corrections = sum(1 for name in sent if name in held)
    return ChangeSetPublic(
        project_id=project.id,
        party=party.name,
        records=len(sent),
        corrections=corrections,
        additions=len(sent) - corrections,
        withdrawn=len(staged.withdrawn),
        updated_at=staged.updated_at,
    )
