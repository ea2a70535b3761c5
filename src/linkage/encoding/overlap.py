"""Reading ahead and writing behind, so that encoding never waits on files.

Arrow parses a block of the export and the writer copies a batch to disk with
the GIL released, so both can run while the encoder works on the chunk in
between. Each runs on its own thread, one item ahead or behind: memory holds
at most three chunks, and results keep their order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["ReadAhead", "WriteBehind"]

Item = TypeVar("Item")
_END = object()


class ReadAhead(Generic[Item]):
    """``items``, each read on another thread while the previous is used.

    The first read starts when the object is made, so its caller can go on
    with its own start-up meanwhile. An error reading an item is raised where
    that item would have been returned. :meth:`close` waits for the read under
    way, then closes ``items`` (``contextlib.closing`` does it on leaving a
    block).
    """

    def __init__(self, items: Iterator[Item]) -> None:
        self._items = items
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._pending: Future[object] | None = self._pool.submit(next, items, _END)

    def __iter__(self) -> ReadAhead[Item]:
        return self

    def __next__(self) -> Item:
        if self._pending is None:
            raise StopIteration
        item = self._pending.result()
        if item is _END:
            self.close()
            raise StopIteration
        self._pending = self._pool.submit(next, self._items, _END)
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop reading: wait for the read under way, then close ``items``."""
        pending, self._pending = self._pending, None
        # A generator cannot be closed while another thread runs it.
        if pending is not None and not pending.cancel():
            pending.exception()
        self._pool.shutdown(wait=True)
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


class WriteBehind:
    """Runs one write at a time on its own thread, in the order submitted.

    :meth:`submit` waits for the previous write first, so an error in a write
    is raised by the next call to :meth:`submit` or :meth:`finish`. Leaving
    the ``with`` block always waits for the write under way, so the file is
    never closed under it.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write")
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[..., None], *args: object) -> None:
        """Wait for the previous write, then start ``write(*args)``."""
        self.finish()
        self._pending = self._pool.submit(write, *args)

    def finish(self) -> None:
        """Wait for the write under way; raise its error, if any."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.finish()
            elif self._pending is not None:
                self._pending.exception()  # Wait; the first error wins.
        finally:
            self._pool.shutdown(wait=True)
