"""Group commit: threads that each need the same write done hand it to one of them, which does it
for all of them at once.

A web node stores every accepted Event with one INSERT, one COMMIT and one broker round trip. When
eight callers send at once, eight threads each pay for a commit and a round trip. Here the first
thread to arrive becomes the *leader*: it takes every item queued so far, writes them in one
transaction and one pipelined publish (``flush``), and wakes the others, whose items are then done.
Threads that arrive while a flush runs queue up for the next one, so a batch is exactly what piled
up during the previous flush: a lone caller waits for nobody, and a busy node writes in bigger
batches. It is the group commit of database logs (PostgreSQL's ``commit_delay``, MySQL's binlog
group commit) without their wait for company.

``concurrent_flushes`` lets more than one leader flush at once, for a database that commits
concurrent transactions in parallel (PostgreSQL); a caller then waits only when every flush slot is
busy. A caller whose item another leader has taken waits for that leader, never leads an empty batch.

No thread of its own: the leader is a caller, so nothing is left running if no caller comes, and a
caller's item is never written after the caller has given up on it. If ``flush`` raises, every item
of that batch gets the error (the flush must leave none of them half-written).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Entry(Generic[T]):
    __slots__ = ("item", "taken", "done", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        self.taken = False  # in a batch being flushed
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """``submit(item)`` returns once ``flush`` has written ``item`` (with whatever else was waiting),
    or raises ``FlushFailed`` carrying the error ``flush`` raised for that batch."""

    def __init__(
        self, flush: Callable[[Sequence[T]], None], *, max_batch: int = 64, concurrent_flushes: int = 1
    ) -> None:
        if max_batch < 1 or concurrent_flushes < 1:
            raise ValueError("max_batch and concurrent_flushes must be at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._concurrent_flushes = concurrent_flushes
        self._lock = threading.Condition(threading.Lock())
        self._queue: list[_Entry[T]] = []
        self._flushing = 0  # flushes running
        self.batches = 0  # flushes done, and items written: for tests and benchmarks
        self.items = 0

    def submit(self, item: T) -> None:
        entry = _Entry(item)
        with self._lock:
            self._queue.append(entry)
            while not entry.done:
                if entry.taken or self._flushing >= self._concurrent_flushes:
                    self._lock.wait()
                    continue
                self._lead()
        if entry.error is not None:
            raise FlushFailed(entry.error)

    def _lead(self) -> None:
        """Flush the oldest queued items; called and returns with the lock held."""
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        for entry in batch:
            entry.taken = True
        self._flushing += 1
        self._lock.release()
        error: BaseException | None = None
        try:
            self._flush([entry.item for entry in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, who raises it
            error = exc
        finally:
            self._lock.acquire()
            for entry in batch:
                entry.done, entry.error = True, error
            self._flushing -= 1
            self.batches += 1
            self.items += len(batch)
            self._lock.notify_all()


class FlushFailed(Exception):
    """The batch holding this item was not written; ``__cause__`` is what ``flush`` raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.__cause__ = error
