"""Reading ahead and writing behind, so that encoding never waits on files.

Arrow parses a block of the export and the writer copies a batch to disk with
the GIL released, so both can run while the encoder works on the chunk in
between. Each runs on its own thread, one item ahead or behind: memory holds
at most three chunks, and results keep their order.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

__all__ = ["WriteBehind", "read_ahead"]

Item = TypeVar("Item")
_END = object()


def read_ahead(items: Iterator[Item]) -> Generator[Item, None, None]:
    """``items``, each read on another thread while the previous is used.

    An error reading an item is raised where that item would have been
    yielded. Closing the returned iterator waits for the read under way,
    then closes ``items``.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        pending: Future[object] = pool.submit(next, items, _END)
        try:
            while (item := pending.result()) is not _END:
                pending = pool.submit(next, items, _END)
                yield item  # type: ignore[misc]
        finally:
            # A generator cannot be closed while another thread runs it.
            if not pending.cancel():
                pending.exception()
            close = getattr(items, "close", None)
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
