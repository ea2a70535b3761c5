"""The background worker that executes queued runs, one at a time.

A run is taken from the queue (marked running in the same transaction), its
parties' current uploads are matched with the project's threshold policy and
mode, each party's results are written atomically under
``<data-dir>/results/<project>/<run>/<party>.csv``, and only then is the run
marked completed, in one transaction with the list of its files. An update
run links the staged change sets into the latest completed run's groups
instead (:mod:`linkage.service.continuing.update_run`). Results are
served for completed runs only, so a half-written run is never visible.

At startup, :func:`recover_interrupted_runs` fails every run still marked
running (the service was killed during it) and deletes its files; queued runs
simply wait for the worker. One service process per database is assumed.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pandas as pd

from linkage.atomic import private_text_output
from linkage.errors import LinkageError
from linkage.formats.clkfile import read_encodings
from linkage.matching.clk.blocking import LSH_STEP
from linkage.matching.matcher import Matcher, MatchResult, MatchSettings
from linkage.matching.parties import Party as MatchParty
from linkage.matching.parties import PartySet
from linkage.service.continuing.folders import (
    REMOVALS,
    keep_standing,
    note_removals,
    remove_replaced,
)
from linkage.service.continuing.update_run import run_update
from linkage.service.settings import Settings
from linkage.storage import ClaimedRun, Run, RunResult, Store
from linkage.storage.audit_log import AuditLog

__all__ = [
    "INTERRUPTED_MESSAGE",
    "PER_PARTY_STATS",
    "RunWorker",
    "recover_interrupted_runs",
    "result_dir",
]

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE: Final = "the service stopped during this run; start a new run"
RESULT_COLUMNS: Final = ("pseudonym", "match_id", "score")
# Figures given per party, as {party name: number}: a party sees its own only.
PER_PARTY_STATS: Final = frozenset({"records_per_party", "matched_per_party"})

# An update run's counts, in its run.completed audit entry.
UPDATE_AUDITED: Final = (
    "records_added",
    "records_corrected",
    "records_withdrawn",
    "groups_merged",
    "groups_created",
    "groups_dissolved",
)

_IDLE_POLL_SECONDS: Final = 1.0
_PROGRESS_EVERY_SECONDS: Final = 0.25
# Shares of the progress bar: loading, then comparing, then writing.
_LOADED: Final = 0.05
_COMPARED: Final = 0.9


class _Stopping(Exception):
    """Raised from the progress callback when the service shuts down."""


def result_dir(settings: Settings, project_id: int, run_id: int) -> Path:
    """Where a run's per-party results files are kept."""
    return settings.data_dir / "results" / str(project_id) / str(run_id)


def recover_interrupted_runs(store: Store, settings: Settings) -> list[Run]:
    """Fail the runs a killed service left running and delete their files."""
    failed = store.fail_interrupted_runs(message=INTERRUPTED_MESSAGE)
    for run in failed:
        logger.warning("run %d of project %d was interrupted", run.id, run.project_id)
        shutil.rmtree(result_dir(settings, run.project_id, run.id), ignore_errors=True)
    return failed


class RunWorker:
    """A thread that takes queued runs in order and executes them.

    Call :meth:`start` once, :meth:`wake` after queueing a run and
    :meth:`stop` at shutdown: a run in progress is then interrupted at its
    next progress report and put back in the queue.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        audit: AuditLog,
        on_ended: Callable[[str, float], None] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._audit = audit
        # Told each run's outcome ("completed" or "failed") and its seconds.
        self._on_ended = on_ended or (lambda _outcome, _seconds: None)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="linkage-run-worker", daemon=True
        )

    def start(self) -> None:
        """Start taking runs."""
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the worker thread is running (and so takes queued runs)."""
        return self._thread.is_alive() and not self._stop.is_set()

    def wake(self) -> None:
        """Look at the queue now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, waiting up to ``timeout`` seconds for it."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("the run worker did not stop within %.0f s", timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self._store.claim_next_run()
            except Exception:
                logger.exception("the run worker could not read the queue")
                claimed = None
            if claimed is None:
                self._wake.wait(_IDLE_POLL_SECONDS)
                self._wake.clear()
                continue
            self._execute(claimed)

    def _execute(self, claimed: ClaimedRun) -> None:
        run = claimed.run
        folder = result_dir(self._settings, run.project_id, run.id)
        started = time.perf_counter()
        logger.info("run %d of project %d started", run.id, run.project_id)
        try:
            if run.kind == "update":
                self._update(claimed, folder, started)
            else:
                results, stats = self._match(claimed, folder)
                stats["seconds"] = round(time.perf_counter() - started, 2)
                with self._store.transaction():
                    self._store.complete_run(
                        run_id=run.id,
                        stats=stats,
                        result_dir=str(folder.relative_to(self._settings.data_dir)),
                        results=results,
                        message=_completed_message(stats),
                    )
                    self._record(run, "run.completed", groups=stats.get("groups"))
            self._on_ended("completed", time.perf_counter() - started)
        except _Stopping:
            shutil.rmtree(folder, ignore_errors=True)
            self._store.requeue_run(run_id=run.id)
            logger.info("run %d put back in the queue: the service is stopping", run.id)
            return
        except BaseException as error:
            shutil.rmtree(folder, ignore_errors=True)
            message = self._failure_message(claimed, error)
            if isinstance(error, LinkageError):
                logger.warning("run %d failed: %s", run.id, message)
            else:
                logger.exception("run %d failed unexpectedly", run.id)
            try:
                with self._store.transaction():
                    self._store.fail_run(run_id=run.id, message=message)
                    self._record(run, "run.failed", reason=message)
            except Exception:
                logger.exception("run %d could not be marked failed", run.id)
            self._on_ended("failed", time.perf_counter() - started)
            if not isinstance(error, Exception):
                raise
            return
        logger.info("run %d of project %d completed", run.id, run.project_id)

    def _update(self, claimed: ClaimedRun, folder: Path, started: float) -> None:
        """Link the staged change sets in; complete the run, record the new
        uploads and consume the change sets in one transaction."""
        run = claimed.run

        def report(share: float, message: str) -> None:
            self.report(run.id, share, message)

        outcome = run_update(self._store, self._settings, claimed, folder, report)
        self.check_stop()
        stats = {**outcome.stats, "seconds": round(time.perf_counter() - started, 2)}
        with self._store.transaction():
            self._store.complete_update_run(
                run_id=run.id,
                stats=stats,
                result_dir=str(folder.relative_to(self._settings.data_dir)),
                results=outcome.results,
                updated=outcome.updated,
                change_set_ids=outcome.change_set_ids,
                message=(
                    f"completed: update of {stats['groups']} groups "
                    f"({stats['groups_merged']} merged, {stats['groups_created']} "
                    f"created, {stats['groups_dissolved']} dissolved)"
                ),
            )
            self._record(
                run,
                "run.completed",
                kind="update",
                groups=stats["groups"],
                **{key: stats[key] for key in UPDATE_AUDITED},
            )
            replaced = self._store.retire_replaced_encodings(
                project_id=run.project_id, run_id=run.id
            )
            note_removals(folder, replaced)
        remove_replaced(self._settings, run.project_id, run.id, replaced)
        (folder / REMOVALS).unlink(missing_ok=True)

    def _record(self, run: Run, action: str, **details: object) -> None:
        self._audit.append(
            actor="service",
            action=action,
            project_id=run.project_id,
            details={"run_id": run.id, **details},
        )

    def _match(
        self, claimed: ClaimedRun, folder: Path
    ) -> tuple[list[RunResult], dict[str, Any]]:
        project = claimed.project
        missing = [p.name for p in claimed.parties if p.id not in claimed.uploads]
        if missing:
            raise _RunInputError(
                "a party's upload is missing: "
                + ", ".join(repr(name) for name in missing)
                + "; upload again and start a new run"
            )
        dedup = project.mode == "link-dedup"
        if len(claimed.parties) == 1 and not dedup:
            raise _RunInputError(
                "a project with one party can only be deduplicated; create the "
                "project with mode 'link-dedup' or with more parties"
            )
        self.report(claimed.run.id, 0.0, "loading the parties' encodings")
        party_set = PartySet(
            tuple(
                MatchParty(
                    party.name,
                    read_encodings(
                        self._settings.data_dir / claimed.uploads[party.id].path
                    ),
                )
                for party in claimed.parties
            )
        )
        threshold: float | str = project.threshold
        settings = MatchSettings(
            threshold="auto" if threshold == "auto" else float(threshold),
            dedup=dedup,
            scheduler=self._settings.dask_scheduler,
            method=project.method,
        )
        self.report(claimed.run.id, _LOADED, "choosing the threshold")
        progress = _Progress(self, claimed.run.id, len(claimed.parties), dedup)
        result = Matcher(party_set, settings, progress=progress).run()
        self.check_stop()
        self.report(claimed.run.id, _LOADED + _COMPARED, "writing the results")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if project.retain_encodings and result.parameters is not None:
            # Continuing linkage needs the run's encodings and pairs, so only
            # a project that keeps its encodings keeps them here too.
            keep_standing(folder, party_set, result)
        results = []
        for party in claimed.parties:
            rows = result.for_party(party.name)
            path = folder / f"{party.name}.csv"
            _write_csv(rows, path)
            results.append(
                RunResult(
                    run_id=claimed.run.id,
                    party_id=party.id,
                    upload_id=claimed.uploads[party.id].id,
                    path=str(path.relative_to(self._settings.data_dir)),
                    row_count=len(rows),
                )
            )
        return results, _aggregate_stats(claimed, result)

    def report(self, run_id: int, progress: float, message: str) -> None:
        """Record a running run's progress (or stop it if the service stops)."""
        self.check_stop()
        self._store.update_run_progress(
            run_id=run_id, progress=progress, message=message
        )

    def check_stop(self) -> None:
        """Raise :class:`_Stopping` once :meth:`stop` has been called."""
        if self._stop.is_set():
            raise _Stopping

    def _failure_message(self, claimed: ClaimedRun, error: BaseException) -> str:
        if isinstance(error, MemoryError):
            return (
                "the run ran out of memory; set a higher fixed threshold for the "
                "project or give the service more memory, then start a new run"
            )
        if isinstance(error, FileNotFoundError):
            return (
                "a party's encodings file was replaced or removed while the run "
                "started; start a new run"
            )
        if not isinstance(error, LinkageError):
            return (
                f"the run failed unexpectedly ({type(error).__name__}); the "
                "operator will find the reason in the service log; start a new run"
            )
        message = str(error)
        # Name the parties rather than the service's internal file paths.
        for party in claimed.parties:
            upload = claimed.uploads.get(party.id)
            if upload is not None:
                path = str(self._settings.data_dir / upload.path)
                message = message.replace(path, f"party {party.name!r}'s upload")
        message = message.replace(str(self._settings.data_dir), "<data-dir>")
        return message.replace("--threshold", "the project's threshold")


class _RunInputError(LinkageError):
    """The run's inputs are not what matching needs."""


class _Progress:
    """Turns the matcher's per-comparison progress into one fraction."""

    def __init__(
        self, worker: RunWorker, run_id: int, parties: int, dedup: bool
    ) -> None:
        self._worker = worker
        self._run_id = run_id
        self._comparisons = max(
            1, parties * (parties - 1) // 2 + (parties if dedup else 0)
        )
        self._labels: list[str] = []
        self._last = 0.0

    def __call__(self, label: str, done: int, total: int) -> None:
        self._worker.check_stop()
        fraction = done / total if total else 1.0
        # "Step (details)": LSH blocking is one step over all the parties.
        step = label.split(" (")[0]
        if step == LSH_STEP:
            share = fraction
        else:
            if step not in self._labels:
                self._labels.append(step)
            finished = len(self._labels) - 1 + fraction
            share = min(finished / self._comparisons, 1.0)
        now = time.monotonic()
        if now - self._last < _PROGRESS_EVERY_SECONDS and done < total:
            return
        self._last = now
        self._worker.report(self._run_id, _LOADED + _COMPARED * share, label)


def _write_csv(rows: pd.DataFrame, path: Path) -> None:
    with private_text_output(path) as out:
        rows.to_csv(out, columns=list(RESULT_COLUMNS), index=False)


def _aggregate_stats(claimed: ClaimedRun, result: MatchResult) -> dict[str, Any]:
    """Counts, group sizes and the score histogram: never a pseudonym."""
    matches = result.matches
    names = [party.name for party in claimed.parties]
    per_party = Counter(matches["party"].tolist())
    sizes = Counter(matches.groupby("match_id").size().tolist())
    choice = result.choice
    return {
        "parties": len(names),
        "records_per_party": {
            party.name: claimed.uploads[party.id].record_count
            for party in claimed.parties
        },
        "matched_per_party": {name: int(per_party.get(name, 0)) for name in names},
        "records": int(result.stats.get("records", 0)),
        "pairs_compared": int(result.stats.get("pairs compared", 0)),
        "blocking": str(result.stats.get("blocking", "")),
        "reduction_ratio": float(result.stats.get("reduction ratio", 0.0)),
        "estimated_pair_completeness": float(
            result.stats.get("estimated pair completeness", 1.0)
        ),
        "candidate_pairs": int(result.stats.get("candidate pairs", 0)),
        "groups": int(result.stats.get("groups", 0)),
        "records_matched": int(result.stats.get("records matched", 0)),
        "group_sizes": {str(size): int(n) for size, n in sorted(sizes.items())},
        "threshold": round(float(choice.threshold), 4),
        "threshold_method": choice.method,
        "threshold_explanation": choice.explanation,
        # Which pairs of agencies were compared on a view, and the shift of
        # each view's scores: aggregates the operator needs to read a run.
        "compared_on_views": str(result.stats.get("compared on views", "none")),
        "view_score_shifts": str(result.stats.get("view score shifts", "none")),
        "histogram_edges": [round(float(edge), 6) for edge in choice.histogram_edges],
        "histogram_counts": [int(count) for count in choice.histogram_counts],
        # The probabilistic model's own doubts (an implausible share of
        # matches, EM not converging): the operator should see them.
        "model_warnings": []
        if result.model is None
        else list(result.model.model.warnings),
        # m, u and weights per field and level, the weight histogram and the
        # waterfalls of the closest calls (no pseudonym): the web console
        # draws them, as `linkage match --model-out` writes them.
        "model": None if result.model is None else result.model.document(),
    }


def _completed_message(stats: dict[str, Any]) -> str:
    return (
        f"completed: {stats['groups']} groups at threshold {stats['threshold']} "
        f"({stats['threshold_method']})"
    )
