"""Run the LSH blocking tables, or a few records against many, on a Dask cluster.

Each LSH table is a pure function of the CLKs and the plan
(:func:`~linkage.matching.clk.blocking.lsh_table`), so tables can be computed on
other machines and merged here exactly as if they had run locally:
``run_lsh(..., tables=dask_tables(...))`` gives the same candidates, scores
and counts as ``run_lsh(...)``.

:class:`DaskRectangles` compares a few CLKs (an update's changed records)
with many (every record they may link to) the same way: the many are
scattered once per comparison, the few go in chunks, one task each, and the
pairs come back in chunk order, as
:func:`~linkage.matching.clk.similarity.iter_candidates` yields them locally.

**Running a cluster.** On one machine start the scheduler::

    dask scheduler                      # listens on tcp://<host>:8786

and on each machine that should do the work, a worker::

    dask worker tcp://<scheduler-host>:8786 --nthreads 2

Every worker needs ``linkage`` installed in the same version as the operator's
(the tables must sample the same bits); :func:`dask_tables` checks the
versions before it submits anything. Each table already uses every core of its
worker (numba), and a worker runs one table at a time, so ``--nthreads`` above
1 only overlaps data transfer with work. Then point the matcher at
``tcp://<scheduler-host>:8786``.

**What leaves the operator's machine.** Only the CLKs (as 64-bit words), their
popcounts and each record's party number are sent to the workers, once each
(scattered to every worker). Pseudonyms, record ids and any other column never
leave the operator's machine; the tasks return pairs of row indices and their
Dice scores. Run the cluster on a network you trust all the same: CLKs are
pseudonymous, not anonymous, and Dask's TCP traffic is not encrypted unless
the cluster is configured with TLS (then pass a configured ``Client``).
"""

from __future__ import annotations

import importlib.metadata
import threading
import uuid
from collections.abc import Iterator
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
from distributed import Client, Future, as_completed
from distributed.scheduler import KilledWorker

from linkage.errors import LinkageError
from linkage.matching.candidates import CandidatePairs
from linkage.matching.clk.blocking import LshPlan, TableResult, clks_to_words, lsh_table
from linkage.matching.clk.similarity import iter_candidates, popcounts

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DaskRectangles", "SchedulerError", "dask_tables"]

_T = TypeVar("_T")

DEFAULT_CONNECT_TIMEOUT: Final = 10.0  # Seconds to reach the scheduler and a worker.
_PACKAGE: Final = "linkage"

# One table at a time per worker process: each table's numba kernels already
# use every core, and numba's fallback threading layer ("workqueue") aborts the
# process if two threads enter parallel code at once.
_TABLE_LOCK: Final = threading.Lock()


class SchedulerError(LinkageError):
    """The Dask scheduler cannot be reached, or its cluster cannot run tables."""


def dask_tables(
    scheduler: str | Client,
    clks: npt.NDArray[np.uint8],
    party_of: npt.NDArray[np.int64],
    plan: LshPlan,
    *,
    across: bool,
    within: bool,
    tables_per_task: int = 8,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[TableResult]:
    """Compute every table of ``plan`` on a Dask cluster; yield them in table order.

    ``scheduler`` is the scheduler's address (``tcp://host:8786``) or a
    connected :class:`distributed.Client`; a client made here is closed when
    the iteration ends, one passed in is left open. The arrays are scattered
    to every worker once, then one task runs each run of ``tables_per_task``
    tables. Results arriving out of order are held until their turn, so
    ``run_lsh(..., tables=dask_tables(...))`` merges exactly as a local run.

    This is a generator: nothing is contacted until the first table is asked for.

    Raises:
        SchedulerError: the scheduler cannot be reached within
            ``connect_timeout`` seconds, no worker joins within that time, a
            worker runs another version of ``linkage``, or a worker dies.
        InputError: a table is degenerate (raised by the worker, re-raised
            here as itself, with its message).
        ValueError: ``tables_per_task`` is below 1.
    """
    if tables_per_task < 1:
        raise ValueError(f"tables_per_task must be at least 1 (got {tables_per_task})")
    client = (
        scheduler
        if isinstance(scheduler, Client)
        else _connect(scheduler, connect_timeout)
    )
    futures: list[Future[list[TableResult]]] = []
    try:
        _check_cluster(client, connect_timeout)
        # Exactly what run_lsh computes locally, so both give the same tables.
        words = clks_to_words(clks)
        counts = popcounts(clks).astype(np.int64)
        # broadcast: every worker gets a copy up front, rather than fetching it
        # from a peer when its first task starts (all tasks need all of it).
        shared = client.scatter([words, counts, party_of], broadcast=True)  # type: ignore[no-untyped-call]
        run = uuid.uuid4().hex[:8]  # Fresh keys: never reuse another run's results.
        starts = range(0, plan.tables, tables_per_task)
        futures = [
            client.submit(
                _run_tables,
                *shared,
                plan,
                start,
                min(start + tables_per_task, plan.tables),
                across,
                within,
                key=f"lsh-tables-{run}-{start}",
                pure=False,
            )
            for start in starts
        ]
        position = {future.key: index for index, future in enumerate(futures)}
        waiting: dict[int, list[TableResult]] = {}
        next_index = 0
        # loop=: as_completed otherwise looks for a default client, and ours
        # is deliberately not the default.
        completed = as_completed(futures, loop=client.loop)  # type: ignore[no-untyped-call]
        for future in completed:
            waiting[position[future.key]] = _result(future)
            future.release()  # Let the worker forget it: we hold the result now.
            while next_index in waiting:
                yield from waiting.pop(next_index)
                next_index += 1
    finally:
        # Also reached when the caller stops early (e.g. too many pairs):
        # don't leave the cluster computing tables nobody will read.
        if futures:
            client.cancel(futures)  # type: ignore[no-untyped-call]
        if client is not scheduler:
            client.close()  # type: ignore[no-untyped-call]


def _connect(address: str, timeout: float) -> Client:
    try:
        # set_as_default=False: don't become the process's implicit Dask client.
        return Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as error:
        raise SchedulerError(
            f"Cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({error}). Check that `dask scheduler` is running there and that "
            "this machine can reach that address and port."
        ) from error


def _check_cluster(client: Client, timeout: float) -> None:
    """Fail early and clearly, rather than hang or merge mismatched tables."""
    address = str(getattr(client.scheduler, "address", "the scheduler"))
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as error:
        raise SchedulerError(
            f"No Dask worker joined the scheduler at {address} "
            f"within {timeout:g} s. Start workers with "
            f"`dask worker {address}`."
        ) from error
    ours = importlib.metadata.version(_PACKAGE)
    # By reference to the standard library, so it runs even where linkage is
    # missing; on_error="return" hands back that worker's exception instead.
    theirs = client.run(importlib.metadata.version, _PACKAGE, on_error="return")
    wrong = {worker: version for worker, version in theirs.items() if version != ours}
    if wrong:
        found = ", ".join(
            f"{worker}: {'not installed' if isinstance(v, Exception) else v}"
            for worker, v in sorted(wrong.items())
        )
        raise SchedulerError(
            f"Every Dask worker must run linkage {ours}, as this machine does; "
            f"found {found}. Install the same version there and restart the workers."
        )


def _result(future: Future[_T]) -> _T:
    """The task's result; a task's own error (e.g. InputError) passes through."""
    try:
        return future.result()
    except KilledWorker as error:
        raise SchedulerError(
            f"A Dask worker died while running a task ({error}). Check the "
            "workers' logs: a worker short of memory is the usual cause."
        ) from error


def _run_tables(
    words: npt.NDArray[np.uint64],
    counts: npt.NDArray[np.int64],
    party_of: npt.NDArray[np.int64],
    plan: LshPlan,
    start: int,
    stop: int,
    across: bool,
    within: bool,
) -> list[TableResult]:
    """Tables ``start`` to ``stop - 1`` (runs on a worker)."""
    with _TABLE_LOCK:
        return [
            lsh_table(words, counts, party_of, plan, t, across=across, within=within)
            for t in range(start, stop)
        ]


class DaskRectangles:
    """Compare a few CLKs with many on a Dask cluster: a drop-in for
    :func:`~linkage.matching.clk.similarity.iter_candidates` with two sides.

    Connects on first use and checks the cluster as :func:`dask_tables`
    does; :meth:`close` (or leaving a ``with`` block) closes a client it
    made. Each task scores ``rows_per_task`` of the few against all of the
    many with the same kernel, so the pairs and scores are the local ones.
    """

    def __init__(
        self,
        scheduler: str | Client,
        *,
        rows_per_task: int = 2048,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        if rows_per_task < 1:
            raise ValueError(f"rows_per_task must be at least 1 (got {rows_per_task})")
        self._scheduler = scheduler
        self._rows = rows_per_task
        self._timeout = connect_timeout
        self._client: Client | None = None

    def __enter__(self) -> DaskRectangles:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client this made (one passed in stays open)."""
        if self._client is not None and self._client is not self._scheduler:
            self._client.close()  # type: ignore[no-untyped-call]
        self._client = None

    def __call__(
        self,
        left: npt.NDArray[np.uint8],
        right: npt.NDArray[np.uint8],
        threshold: float,
    ) -> Iterator[CandidatePairs]:
        """Every pair of ``left`` and ``right`` rows with Dice >= ``threshold``,
        one chunk of ``left`` rows at a time, in order (indices as local)."""
        client = self._connected()
        many = client.scatter(right, broadcast=True)  # type: ignore[no-untyped-call]
        run = uuid.uuid4().hex[:8]
        starts = range(0, len(left), self._rows)
        futures = [
            client.submit(
                _rectangle,
                left[start : start + self._rows],
                many,
                threshold,
                key=f"rectangle-{run}-{start}",
                pure=False,
            )
            for start in starts
        ]
        try:
            for start, future in zip(starts, futures, strict=True):
                found = _result(future)
                future.release()  # type: ignore[no-untyped-call]
                yield CandidatePairs(
                    found.left + start, found.right, found.score, found.compared
                )
        finally:
            client.cancel(futures)  # type: ignore[no-untyped-call]

    def _connected(self) -> Client:
        if self._client is None:
            client = (
                self._scheduler
                if isinstance(self._scheduler, Client)
                else _connect(self._scheduler, self._timeout)
            )
            _check_cluster(client, self._timeout)
            self._client = client
        return self._client


def _rectangle(
    left: npt.NDArray[np.uint8], right: npt.NDArray[np.uint8], threshold: float
) -> CandidatePairs:
    """Every pair of ``left`` and ``right`` at or above ``threshold`` (runs on
    a worker), in one piece."""
    with _TABLE_LOCK:
        chunks = list(iter_candidates(left, right, threshold))
    if not chunks:
        empty = np.zeros(0, dtype=np.int64)
        return CandidatePairs(empty, empty.copy(), np.zeros(0))
    return CandidatePairs(
        np.concatenate([c.left for c in chunks]).astype(np.int64),
        np.concatenate([c.right for c in chunks]).astype(np.int64),
        np.concatenate([c.score for c in chunks]),
        sum(c.compared for c in chunks),
    )
