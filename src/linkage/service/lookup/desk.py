"""The service's lookup desk: one in-memory index per project, the rate
limiter and the policy, shared by every lookup request.

An index is built on a project's first lookup after a run completes (from
the run's files: seconds for a million records) and kept until a newer run
completes or the project's encodings are deleted; every lookup asks the
store for the latest completed run, so a new run is picked up at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from linkage.formats.clkfile import Encodings
from linkage.service.lookup.index import (
    LinkedRecords,
    LookupQueryError,
    LookupUnavailableError,
    load_linked_records,
)
from linkage.service.lookup.policy import LookupPolicy
from linkage.service.lookup.ratelimit import LookupLimiter
from linkage.storage import Store
from linkage.storage.records import Project

__all__ = ["MAX_LOOKUP_RECORDS", "LookupDesk", "check_count", "check_query"]

#: The most records one lookup request may hold: a lookup is for a few
#: people; a list of people is a run.
MAX_LOOKUP_RECORDS = 100


class LookupDesk:
    """Indexes per project, built once and replaced when a newer run completes."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        policy: LookupPolicy,
        limiter: LookupLimiter,
    ) -> None:
        self.policy = policy
        self.limiter = limiter
        self._store = store
        self._data_dir = data_dir
        self._indexes: dict[int, LinkedRecords] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def records_for(self, project: Project) -> LinkedRecords:
        """The project's latest completed run, indexed.

        Raises:
            LookupUnavailableError: the project does not keep its encodings,
                they were deleted, it links by the probabilistic method, or
                no run has completed.
        """
        if not project.retain_encodings or project.encodings_deleted_at is not None:
            # Deleted encodings must not live on in memory either.
            self._indexes.pop(project.id, None)
        _check_project(project)
        run = self._store.latest_completed_run(project_id=project.id)
        if run is None:
            raise LookupUnavailableError(
                f"no run of project {project.id} has completed yet; lookups "
                "answer from the latest completed run"
            )
        cached = self._indexes.get(project.id)
        if cached is not None and cached.run_id == run.id:
            return cached
        with self._lock(project.id):
            cached = self._indexes.get(project.id)
            if cached is None or cached.run_id != run.id:
                # The old index is let go first: two in memory at once could
                # double the service's footprint on a large project.
                self._indexes.pop(project.id, None)
                cached = load_linked_records(self._store, self._data_dir, project, run)
                self._indexes[project.id] = cached
            return cached

    def _lock(self, project_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(project_id, threading.Lock())


def _check_project(project: Project) -> None:
    if not project.retain_encodings or project.encodings_deleted_at is not None:
        raise LookupUnavailableError(
            f"project {project.id} does not keep its encodings, so lookups "
            "cannot be answered: a lookup compares your record with every "
            "linked record's encoding. The operator creates a project that "
            "keeps them with `linkage project create --keep-encodings`"
        )
    if project.method != "clk":
        raise LookupUnavailableError(
            f"project {project.id} links by the {project.method} method; "
            "lookups score whole CLKs and answer only for projects that link "
            "with the clk method"
        )


def check_count(query: Encodings, burst: int) -> None:
    """Refuse a file of no records, or of more than one request may hold
    (:data:`MAX_LOOKUP_RECORDS`, and no more than the rate's burst, which
    could never pay for it).

    Raises:
        LookupQueryError: the count is out of range.
    """
    most = min(MAX_LOOKUP_RECORDS, burst)
    if not 1 <= len(query) <= most:
        raise LookupQueryError(
            f"the file holds {len(query)} records; a lookup takes 1 to {most} "
            "(send fewer at a time, or link a larger list in a run)"
        )


def check_query(records: LinkedRecords, asker: int, query: Encodings) -> None:
    """Check that the query's header agrees with the asker's upload to the
    run (schema, secret, length, views and fields held).

    Raises:
        LookupQueryError: it disagrees; the message names what and what to do.
    """
    mine, theirs = records.headers[asker], query.header
    if mine is None or theirs is None:
        raise LookupQueryError(
            "lookups compare linkage encodings files only; your upload to the "
            "run was clkhash JSON, which carries nothing to check a lookup with"
        )
    for name, attribute, fix in _HEADER_CHECKS:
        given, expected = getattr(theirs, attribute), getattr(mine, attribute)
        if given != expected:
            raise LookupQueryError(
                f"the file's {name} ({_show(given)}) is not that of your upload "
                f"to run {records.run_id} ({_show(expected)}); {fix}"
            )


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(getattr(item, "name", str(item)) for item in value) or "none"
    return str(value)


# What must agree, the header attribute, and what to do when it does not.
_HEADER_CHECKS = (
    ("schema fingerprint", "schema_fingerprint", "encode with the project's schema"),
    ("key-check value", "key_check", "encode with the project's shared secret"),
    ("bit length", "bit_length", "encode with the project's schema"),
    ("views", "views", "encode with the project's schema"),
    ("fields not held", "absent_fields", "encode with the mapping you uploaded with"),
)
