"""What changed in one agency's rows between two completed runs.

Computed by comparing the agency's results of the two runs, pseudonym by
pseudonym, and reading the withdrawals of the update runs in between from
their changes files. Each changed pseudonym gets one row (the columns of
:data:`~linkage.service.continuing.folders.CHANGES_COLUMNS`):

- ``added``: in a group now, in none before (a new record, or one that now
  matches);
- ``moved``: in another group now (merged, split, or a corrected record);
- ``left``: in no group any more;
- ``withdrawn``: the agency withdrew it (its match ID after is empty).

A pseudonym whose match ID is the same in both runs is not listed. After a
full run, whose match IDs are new, every grouped record is ``moved``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from linkage.service.continuing.folders import CHANGES_COLUMNS, changes_file
from linkage.service.settings import Settings
from linkage.storage import Run, Store

__all__ = ["ChangesSince", "changes_since"]

Row = tuple[str, str, str, str]


@dataclass(frozen=True)
class ChangesSince:
    """One agency's changes from run ``since_run`` (None: it downloaded
    nothing before) to run ``run_id``."""

    since_run: int | None
    run_id: int
    rows: list[Row]

    def counts(self) -> dict[str, int]:
        """How many rows of each kind."""
        kinds = [row[1] for row in self.rows]
        return {kind: kinds.count(kind) for kind in sorted(set(kinds))}

    def csv_text(self) -> str:
        """The rows as CSV with a header line."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CHANGES_COLUMNS)
        writer.writerows(self.rows)
        return out.getvalue()


def changes_since(
    store: Store,
    settings: Settings,
    party_id: int,
    party: str,
    latest: Run,
    since: int | None,
) -> ChangesSince:
    """The changes in ``party``'s rows from run ``since`` to run ``latest``."""
    after = _match_ids(store, settings, latest.id, party_id)
    before = {} if since is None else _match_ids(store, settings, since, party_id)
    withdrawn = _withdrawn(store, settings, latest, since, party)
    rows: list[Row] = []
    for pseudonym in sorted(set(before) | set(after) | withdrawn):
        old, new = before.get(pseudonym), after.get(pseudonym)
        if old == new and pseudonym not in withdrawn:
            continue
        if new is None:
            kind = "withdrawn" if pseudonym in withdrawn else "left"
        else:
            kind = "added" if old is None else "moved"
        rows.append((pseudonym, kind, old or "", new or ""))
    rows.sort(key=lambda row: (row[1], row[0]))
    return ChangesSince(since, latest.id, rows)


def _match_ids(
    store: Store, settings: Settings, run_id: int, party_id: int
) -> dict[str, str]:
    result = store.run_result(run_id=run_id, party_id=party_id)
    with (settings.data_dir / result.path).open(encoding="utf-8", newline="") as f:
        return {row["pseudonym"]: row["match_id"] for row in csv.DictReader(f)}


def _withdrawn(
    store: Store, settings: Settings, latest: Run, since: int | None, party: str
) -> set[str]:
    """The party's pseudonyms withdrawn by the update runs after ``since``,
    up to ``latest``."""
    withdrawn: set[str] = set()
    if since == latest.id:
        return withdrawn
    runs = store.completed_runs_between(
        project_id=latest.project_id, after=since, up_to=latest.id
    )
    for run in runs:
        if run.kind != "update" or run.result_dir is None:
            continue
        path = changes_file(settings.data_dir / run.result_dir, party)
        withdrawn |= _withdrawn_in(path)
    return withdrawn


def _withdrawn_in(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as changes:
        return {
            row["pseudonym"]
            for row in csv.DictReader(changes)
            if row["kind"] == "withdrawn"
        }
