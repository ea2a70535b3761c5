"""An update run: the staged change sets linked into the latest run's groups.

The worker loads the standing linkage the latest completed run kept, applies
every agency's staged change set (:meth:`StandingLinkage.apply`), and writes,
in the new run's folder: each party's full results (stable match IDs), each
party's changes file, the new standing linkage, the linkage rule, and each
changed agency's records after the change (its next upload version). The
caller then completes the run, records those uploads and consumes the change
sets in one transaction (:meth:`Store.complete_update_run`); until then
nothing refers to the folder, and a failure or crash removes it whole.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linkage.atomic import private_output, private_text_output
from linkage.errors import LinkageError
from linkage.formats.clkfile import read_encodings, write_encodings
from linkage.matching.clk.distributed import DaskRectangles
from linkage.matching.matcher import MatchRows
from linkage.matching.standing import (
    ChangeSet,
    RecordChange,
    StandingLinkage,
    Update,
    load_standing,
    save_standing,
)
from linkage.service.continuing.folders import (
    CHANGES_COLUMNS,
    ENCODINGS,
    STANDING,
    changes_file,
    write_parameters,
)
from linkage.service.continuing.merges import write_merges
from linkage.service.settings import Settings
from linkage.storage import (
    ClaimedRun,
    RunResult,
    Store,
    StoredChangeSet,
    UpdatedRecords,
)

__all__ = ["UpdateInputError", "UpdateOutcome", "run_update"]

RESULT_COLUMNS = ("pseudonym", "match_id", "score")


class UpdateInputError(LinkageError):
    """What an update run needs is missing: a full run must come first."""


@dataclass(frozen=True)
class UpdateOutcome:
    """What an update run wrote, for the transaction that completes it."""

    results: list[RunResult]
    stats: dict[str, Any]
    updated: list[UpdatedRecords]
    change_set_ids: list[int]


def run_update(
    store: Store,
    settings: Settings,
    claimed: ClaimedRun,
    folder: Path,
    report: Callable[[float, str], None] = lambda _share, _message: None,
) -> UpdateOutcome:
    """Link the project's staged change sets in, writing into ``folder``.

    Raises:
        UpdateInputError: the latest completed run kept no standing linkage.
        InputError: a change set does not fit the records (the message names
            the agency and what is wrong).
    """
    project_id = claimed.project.id
    report(0.0, "loading the standing linkage")
    standing = load_standing(_standing_of_latest(store, settings, project_id))
    staged = store.staged_change_sets(project_id=project_id)
    names = {party.id: party.name for party in claimed.parties}
    change_sets = [_change_set(settings, names[s.party_id], s) for s in staged]
    report(0.1, "linking the changes in")
    if settings.dask_scheduler is None:
        update = standing.apply(change_sets)
    else:
        with DaskRectangles(settings.dask_scheduler) as compare:
            update = standing.apply(change_sets, compare=compare)
    report(0.8, "writing the results")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    rows = standing.rows()
    results = _write_results(settings, claimed, rows, update, folder)
    save_standing(standing, folder / STANDING)
    write_parameters(folder, standing.parameters.document())
    write_merges(folder, standing.registry.merged_into)
    changed = {names[s.party_id] for s in staged}
    updated = _write_records(settings, claimed, standing, changed, folder)
    stats = _stats(claimed, standing, rows, update)
    return UpdateOutcome(results, stats, updated, [s.id for s in staged])


def _standing_of_latest(store: Store, settings: Settings, project_id: int) -> Path:
    latest = store.latest_completed_run(project_id=project_id)
    folder = (
        None
        if latest is None or latest.result_dir is None
        else settings.data_dir / latest.result_dir / STANDING
    )
    if latest is None or folder is None or not folder.is_dir():
        which = "no run" if latest is None else f"run {latest.id}"
        raise UpdateInputError(
            f"{which} of project {project_id} kept a standing linkage to update "
            "(only a completed CLK run of a project that keeps its encodings "
            "does); start a full run"
        )
    return folder


def _change_set(settings: Settings, party: str, staged: StoredChangeSet) -> ChangeSet:
    records = (
        None if staged.path is None else read_encodings(settings.data_dir / staged.path)
    )
    return ChangeSet(party, records, staged.withdrawn)


def _write_results(
    settings: Settings,
    claimed: ClaimedRun,
    rows: MatchRows,
    update: Update,
    folder: Path,
) -> list[RunResult]:
    results = []
    for party in claimed.parties:
        own = rows.of_party(party.name)
        path = folder / f"{party.name}.csv"
        with private_output(path) as out:
            own.write_csv(out, RESULT_COLUMNS)
        _write_changes(
            changes_file(folder, party.name),
            [c for c in update.changes if c.party == party.name],
        )
        results.append(
            RunResult(
                run_id=claimed.run.id,
                party_id=party.id,
                # The changed parties' uploads are replaced by the records
                # written below, when the run completes.
                upload_id=claimed.uploads[party.id].id,
                path=str(path.relative_to(settings.data_dir)),
                row_count=len(own),
            )
        )
    return results


def _write_changes(path: Path, changes: Sequence[RecordChange]) -> None:
    with private_text_output(path) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CHANGES_COLUMNS)
        for change in sorted(changes, key=lambda c: (c.kind, c.pseudonym)):
            writer.writerow(
                [change.pseudonym, change.kind, change.before or "", change.after or ""]
            )


def _write_records(
    settings: Settings,
    claimed: ClaimedRun,
    standing: StandingLinkage,
    changed: set[str],
    folder: Path,
) -> list[UpdatedRecords]:
    """Each changed agency's records after the update, as its next upload,
    so that a later full run links the same population."""
    ids = {party.name: party.id for party in claimed.parties}
    (folder / ENCODINGS).mkdir(mode=0o700)
    updated = []
    for party in standing.parties.parties:
        if party.name not in changed:
            continue
        encodings = party.encodings
        header = encodings.header
        assert header is not None  # A standing linkage needs headers.
        path = folder / ENCODINGS / f"{ids[party.name]}.lnk"
        write_encodings(path, encodings)
        updated.append(
            UpdatedRecords(
                party_id=ids[party.name],
                path=str(path.relative_to(settings.data_dir)),
                record_count=len(encodings),
                bit_length=encodings.bit_length,
                key_check=header.key_check,
                schema_fingerprint=header.schema_fingerprint,
            )
        )
    return updated


def _stats(
    claimed: ClaimedRun,
    standing: StandingLinkage,
    rows: MatchRows,
    update: Update,
) -> dict[str, Any]:
    """Counts only: never a pseudonym or a match ID."""
    names = [party.name for party in claimed.parties]
    groups = len(set(rows.match_id))
    handover = update.handover
    kinds = [change.kind for change in update.changes]
    return {
        "kind": "update",
        "parties": len(names),
        "records_per_party": {
            party.name: len(party) for party in standing.parties.parties
        },
        "matched_per_party": {name: rows.party.count(name) for name in names},
        "records": standing.parties.total,
        "groups": groups,
        "records_matched": len(rows),
        "threshold": round(float(standing.parameters.threshold), 4),
        "threshold_method": "kept from the full run",
        "records_added": update.records_added,
        "records_corrected": update.records_corrected,
        "records_withdrawn": update.records_withdrawn,
        "groups_merged": len(handover.merged),
        "groups_created": len(handover.created),
        "groups_dissolved": len(handover.dissolved),
        "records_grouped_again": update.records_grouped_again,
        "pairs_scored": update.pairs_scored,
        "rows_added": kinds.count("added"),
        "rows_moved": kinds.count("moved"),
        "rows_left": kinds.count("left"),
    }
