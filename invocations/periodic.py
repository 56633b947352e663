"""Work a node repeats every few seconds, each on a daemon thread of its own.

The node's heartbeat, its reconciling of environments, the workers' asynchronous-event sweep, their
schedules and the event-source supervisor's tick (``invocations/node.py``) are each a function run
every N seconds until the process stops. They share this one loop, so they share its rules:

* an exception is logged and the next run comes as usual — a database that is briefly unreachable
  must not end a node's heartbeat for the rest of its life;
* the thread's database connection is closed after every run: between runs the thread only waits,
  and a waiting thread must not keep one of PostgreSQL's pooled connections (or a SQLite file
  handle) from the threads that serve calls;
* ``stop()`` wakes the thread at once, not after its interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connection

logger = logging.getLogger(__name__)


class Periodic:
    """Run ``func`` every ``every_seconds`` on a thread named ``name`` — first at once, unless
    ``run_first`` is False (then first after one interval)."""

    def __init__(self, name: str, every_seconds: float, func: Callable[[], object], *, run_first: bool = True) -> None:
        self.name = name
        self.every_seconds = every_seconds
        self.func = func
        self.run_first = run_first
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread, unless it is running (so a second start is harmless)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end: at once while it waits, after the run it is in otherwise."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> None:
        try:
            self.func()
        except Exception:
            logger.exception("%s failed; it runs again in %g s", self.name, self.every_seconds)
        finally:
            connection.close()

    def _loop(self) -> None:
        if not self.run_first and self._stop.wait(self.every_seconds):
            return
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every_seconds)
