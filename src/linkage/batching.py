"""Requests that arrive while one is being served are served together.

Scoring a lookup reads every linked record's CLK, and an audit entry costs a
commit: doing either once for several requests costs little more than for
one. A :class:`Combiner` lets the
first caller serve every request waiting when it starts, and the callers
that arrived meanwhile wait for their answers instead of queueing a pass of
their own (one leader at a time; the rest follow).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Combiner"]

Request = TypeVar("Request")
Answer = TypeVar("Answer")


@dataclass
class _Waiting(Generic[Request, Answer]):
    request: Request
    done: bool = False
    answer: Answer | None = None
    error: BaseException | None = field(default=None, repr=False)


class Combiner(Generic[Request, Answer]):
    """Serves requests in batches with ``serve`` (requests in, one answer
    each, in order), one batch at a time."""

    def __init__(self, serve: Callable[[Sequence[Request]], list[Answer]]) -> None:
        self._serve = serve
        self._changed = threading.Condition()
        self._waiting: list[_Waiting[Request, Answer]] = []
        self._busy = False

    def run(self, request: Request) -> Answer:
        """``request``'s answer, served alone or with others waiting; an
        error raised serving the batch is raised to each of its callers."""
        mine: _Waiting[Request, Answer] = _Waiting(request)
        with self._changed:
            self._waiting.append(mine)
            while self._busy and not mine.done:
                self._changed.wait()
            if not mine.done:
                self._busy = True
                batch, self._waiting = self._waiting, []
        if not mine.done:
            self._serve_batch(batch)
        if mine.error is not None:
            raise mine.error
        return mine.answer  # type: ignore[return-value]

    def _serve_batch(self, batch: list[_Waiting[Request, Answer]]) -> None:
        try:
            answers = self._serve([waiting.request for waiting in batch])
            for waiting, answer in zip(batch, answers, strict=True):
                waiting.answer = answer
        except BaseException as error:
            for waiting in batch:
                waiting.error = error
        finally:
            with self._changed:
                for waiting in batch:
                    waiting.done = True
                self._busy = False
                self._changed.notify_all()
