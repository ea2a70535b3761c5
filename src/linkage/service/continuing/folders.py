"""What a run keeps beside its results, so that linkage can continue.

In a completed run's folder ``<data-dir>/results/<project>/<run>/``:

- ``standing/``: the standing linkage (every party's encodings, the candidate
  pairs, the match IDs; :func:`~linkage.matching.standing.save_standing`),
  kept only for a project that keeps its encodings;
- ``parameters.json``: the linkage rule (threshold, views, ...) the run
  used, which an update run and the lookup reuse; it holds no encodings;
- ``encodings/<party id>.lnk``: after an update run, each changed agency's
  records, which become its current upload;
- ``<party>.changes.csv``: after an update run, what changed in the party's
  own rows (:data:`CHANGES_COLUMNS`);
- ``removals.json``: while an update run completes, the files it replaced
  (:func:`note_removals`), deleted once they are gone.

The standing folder and the encodings hold CLKs: they go when the project's
encodings are deleted (:func:`remove_kept_encodings`).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Final

from linkage.atomic import private_text_output
from linkage.matching.matcher import MatchResult
from linkage.matching.parties import PartySet
from linkage.matching.standing import StandingLinkage, save_standing
from linkage.service.settings import Settings
from linkage.storage import NotFoundError, Store

__all__ = [
    "CHANGES_COLUMNS",
    "ENCODINGS",
    "PARAMETERS",
    "STANDING",
    "changes_file",
    "finish_removals",
    "keep_standing",
    "note_removals",
    "remove_kept_encodings",
    "remove_replaced",
    "write_parameters",
]

logger = logging.getLogger(__name__)

STANDING: Final = "standing"
PARAMETERS: Final = "parameters.json"
ENCODINGS: Final = "encodings"
REMOVALS: Final = "removals.json"
# A changes file's columns: the party's pseudonym, what happened to it
# (added, moved, left or withdrawn) and its match ID before and after (empty
# for none).
CHANGES_COLUMNS: Final = ("pseudonym", "kind", "match_id_before", "match_id_after")


def changes_file(folder: Path, party: str) -> Path:
    """Where an update run writes ``party``'s changes."""
    return folder / f"{party}.changes.csv"


def keep_standing(folder: Path, parties: PartySet, result: MatchResult) -> None:
    """Keep a full CLK run's standing linkage and rule in its ``folder``."""
    save_standing(StandingLinkage.from_run(parties, result), folder / STANDING)
    assert result.parameters is not None  # from_run refused it otherwise.
    write_parameters(folder, result.parameters.document())


def write_parameters(folder: Path, document: object) -> None:
    """Write the linkage rule as ``parameters.json``, whole or not at all."""
    with private_text_output(folder / PARAMETERS) as out:
        json.dump(document, out, indent=2, sort_keys=True)


def remove_kept_encodings(settings: Settings, project_id: int) -> int:
    """Delete every run's standing folder and kept encodings of the project;
    return how many folders went. Call after the deletion has committed."""
    runs = settings.data_dir / "results" / str(project_id)
    removed = 0
    if not runs.is_dir():
        return 0
    for run in runs.iterdir():
        for name in (STANDING, ENCODINGS):
            kept = run / name
            if kept.is_dir():
                shutil.rmtree(kept, ignore_errors=True)
                if kept.exists():
                    logger.error(
                        "could not delete %s; it is removed at the next start", kept
                    )
                else:
                    removed += 1
    return removed


def remove_replaced(
    settings: Settings, project_id: int, latest_run: int, files: list[str]
) -> int:
    """After an update run: delete ``files`` (replaced uploads and linked
    change sets, relative to the data folder) and every other run's standing
    folder, so that only the latest state holds encodings, and a withdrawn
    record's encoding is nowhere; return how many went. Call after the
    transaction that retired them has committed."""
    removed = 0
    for name in files:
        path = settings.data_dir / name
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError:
            logger.exception("could not delete the replaced encodings %s", path)
    runs = settings.data_dir / "results" / str(project_id)
    for run in runs.iterdir() if runs.is_dir() else ():
        kept = run / STANDING
        if run.name != str(latest_run) and kept.is_dir():
            shutil.rmtree(kept, ignore_errors=True)
            removed += not kept.exists()
    return removed


def note_removals(folder: Path, files: list[str]) -> None:
    """Note in the run's ``folder`` the files an update run replaced, in the
    transaction that completes it, before the commit: a service killed
    between the commit and their deletion leaves the note, and its next
    start deletes them (:func:`finish_removals`)."""
    with private_text_output(folder / REMOVALS) as out:
        json.dump({"files": files}, out)


def finish_removals(store: Store, settings: Settings) -> int:
    """At startup: delete the files each note names if its run completed
    (the commit went through; else the database still names them), never for
    a run the database does not know or a note it cannot read, and the note
    either way. Returns how many files and folders went."""
    removed = 0
    results = settings.data_dir / "results"
    for note in sorted(results.glob(f"*/*/{REMOVALS}")):
        folder = note.parent
        try:
            project_id, run_id = int(folder.parent.name), int(folder.name)
            run = store.get_run(project_id=project_id, run_id=run_id)
            files = json.loads(note.read_text(encoding="utf-8"))["files"]
        except (ValueError, KeyError, TypeError, NotFoundError, OSError):
            logger.warning(
                "ignored an unreadable note of removals, or one of no known run: %s",
                note,
            )
            note.unlink(missing_ok=True)
            continue
        if run.state == "completed":
            removed += remove_replaced(settings, project_id, run_id, files)
        note.unlink(missing_ok=True)
    return removed
