"""This node: the one object that owns a process's pool, recorder and background work
(ARCHITECTURE.md, "Processes").

Every process that runs functions — the web server (one granian process with many threads) and each
Celery worker — is one ``Node`` (``current()``), started once by its entry point: ``config/wsgi.py``
for the web, ``worker_ready`` (``invocations/tasks.py``) for a worker. The node owns

* its one environment ``Pool``, built on first use from settings and shut down at exit (a forked
  child builds its own);
* its invocation ``Recorder`` (``invocations/recorder.py``), built on first record, drained at exit;
* its periodic work (``invocations/periodic.py``): the heartbeat, the reconciler of environments
  and code, and in a worker the asynchronous-event sweep (with the hourly history prune), the
  schedules and the event-source supervisor with its pollers.

The node advertises the runtimes its pool can run in a ``WorkerHeartbeat`` row, refreshed every
``HEARTBEAT_SECONDS`` (well inside the ten minutes after which readers —
``invocations.services.runtimes`` — ignore a row), and a clean exit deletes the row.

A web node told to stop (SIGTERM) stops accepting connections and lets the calls it is running
finish (granian); those still running after ``LAMBDA_SHUTDOWN_GRACE_SECONDS`` have their
environments ended (``Node.watch_for_shutdown``), so they answer and are recorded, and the process
then leaves through its exit hooks: records written, environments ended, heartbeat row removed.
"""

from __future__ import annotations

import atexit
import functools
import logging
import multiprocessing.util
import os
import signal
import socket
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Callable, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from invocations.models import WorkerHeartbeat
from invocations.periodic import Periodic

if TYPE_CHECKING:
    from invocations.concurrency import Limiter
    from invocations.engine.pool import Pool, PoolConfig
    from invocations.event_sources.supervisor import Supervisor
    from invocations.recorder import Recorder

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 60.0
CODE_PRUNE_SECONDS: Final = 30.0  # how often the reconciler also removes code nothing uses
HISTORY_PRUNE_SECONDS: Final = 3600.0  # how often a worker's sweep also removes records past the retention
SUPERVISOR_STOP_SECONDS: Final = 10.0  # pollers finishing their batch at a worker's shutdown


def at_exit(func: Callable[[], None], *, priority: int) -> None:
    """Run ``func`` when this process exits cleanly — higher ``priority`` first.

    ``atexit`` alone is not enough: granian runs the WSGI app in a ``multiprocessing`` child, and such
    children leave through ``os._exit`` after running multiprocessing's finalizers, never atexit. So
    both are registered, and every ``func`` must be idempotent.
    """
    multiprocessing.util.Finalize(None, func, exitpriority=priority)
    atexit.register(func)


class Node:
    """This process as a node of the platform: what it owns, started once and stopped once."""

    def __init__(self) -> None:
        self.kind: str | None = None  # "web" or "worker" once started
        self.name: str | None = None
        self.heartbeat: Periodic | None = None
        self.reconciler: Periodic | None = None
        self.sweeper: Periodic | None = None
        self.scheduler: Periodic | None = None
        self.supervisor: Supervisor | None = None
        self._pool: Pool | None = None
        self._pool_pid: int | None = None
        self._pool_lock = threading.Lock()
        self._recorder: Recorder | None = None
        self._recorder_lock = threading.Lock()
        self._limiter: Limiter | None = None
        self._limiter_pid: int | None = None
        self._limiter_lock = threading.Lock()
        self._shutdown_watch: threading.Thread | None = None
        self._code_pruned_at = float("-inf")
        self._history_pruned_at = float("-inf")

    # --- what it owns ---------------------------------------------------------------------------

    @property
    def pool(self) -> Pool:
        """This process's environment pool (built lazily; a forked child builds its own)."""
        pid = os.getpid()
        if self._pool is None or self._pool_pid != pid:
            with self._pool_lock:
                if self._pool is None or self._pool_pid != pid:
                    from invocations.engine.pool import Pool

                    self._pool = Pool(pool_config())
                    self._pool_pid = pid
                    at_exit(functools.partial(self.shutdown_pool, self._pool), priority=20)
        return self._pool

    def built_pool(self) -> Pool | None:
        """This process's pool if it has built one (never builds it)."""
        return self._pool if self._pool is not None and self._pool_pid == os.getpid() else None

    def shutdown_pool(self, pool: Pool) -> None:
        # Pool.shutdown makes a second caller (the exit hook after the shutdown deadline's thread) wait
        # until the first has torn the sandboxes down.
        try:
            pool.shutdown()
        except Exception:
            logger.exception("shutting down the environment pool failed")
        if self._pool is pool:
            self._pool = None

    @property
    def recorder(self) -> Recorder:
        """This process's invocation recorder (built on first use, drained at exit)."""
        if self._recorder is None:
            with self._recorder_lock:
                if self._recorder is None:
                    from invocations.recorder import new_recorder

                    self._recorder = new_recorder()
        return self._recorder

    @property
    def limiter(self) -> Limiter:
        """This process's cluster-wide concurrency limiter and its lease keeper (built on first use;
        a forked child builds its own; stopped at exit, its leases returned)."""
        pid = os.getpid()
        if self._limiter is None or self._limiter_pid != pid:
            with self._limiter_lock:
                if self._limiter is None or self._limiter_pid != pid:
                    from invocations.concurrency import new_limiter

                    self._limiter = new_limiter()
                    self._limiter_pid = pid
                    at_exit(self._limiter.stop, priority=15)
        return self._limiter

    def reset_limiter(self) -> None:
        """Stop and forget the limiter (tests that switch backends)."""
        with self._limiter_lock:
            if self._limiter is not None:
                self._limiter.stop()
            self._limiter = None

    # --- life cycle -----------------------------------------------------------------------------

    def start(self, kind: str) -> None:
        """Start-up work of a process that runs functions: register, start the periodic work, exit
        cleanly. Once per process (a second call does nothing).

        Never raises: a node whose database is not migrated yet still serves (it registers on the next
        heartbeat).
        """
        if self.kind is not None:
            return
        install_sigterm_exit()
        if kind == "web":
            self.watch_for_shutdown(settings.LAMBDA_SHUTDOWN_GRACE_SECONDS)
        self.kind, self.name = kind, node_name(kind)
        try:
            register_node(kind)
        except Exception:
            logger.exception("registering node %s failed; retrying in %.0f s", self.name, HEARTBEAT_SECONDS)
        finally:
            connection.close()
        self.heartbeat = Periodic("node-heartbeat", HEARTBEAT_SECONDS, functools.partial(register_node, kind),
                                  run_first=False)  # fmt: skip
        if settings.LAMBDA_RECONCILE_SECONDS > 0:
            self.reconciler = Periodic("node-reconcile", settings.LAMBDA_RECONCILE_SECONDS, self._reconcile,
                                       run_first=False)  # fmt: skip
        if kind == "worker":
            self._own_worker_work()
        at_exit(self.withdraw, priority=30)
        threading.Thread(target=_recover_records, name="record-recovery", daemon=True).start()
        for job in self.periodic():
            job.start()
        if self.supervisor is not None:
            self.supervisor.start()

    def _own_worker_work(self) -> None:
        """What only workers run (so ``make run``'s single worker needs no separate ``celery beat``)."""
        from invocations.event_sources import scheduler
        from invocations.event_sources.supervisor import Supervisor

        # A sweep right away: a restarted worker recovers what its predecessor was running.
        self.sweeper = Periodic("async-sweep", settings.LAMBDA_ASYNC_SWEEP_SECONDS, self._sweep)
        self.scheduler = Periodic("schedules", settings.LAMBDA_SCHEDULER_SECONDS, scheduler.fire_due)
        if settings.LAMBDA_ESM_MAX_POLLERS > 0:  # 0: this worker polls nothing
            self.supervisor = Supervisor()

    def periodic(self) -> list[Periodic]:
        return [job for job in (self.heartbeat, self.reconciler, self.sweeper, self.scheduler) if job is not None]

    def stop(self) -> None:
        """A worker's shutdown: withdraw, then write the records still queued."""
        self.withdraw()
        self.recorder.close()

    def withdraw(self) -> None:
        """Stop the periodic work and the pollers and remove this node's heartbeat row (idempotent:
        run by a worker's shutdown and again at exit)."""
        for job in self.periodic():
            job.stop()
        supervisor, self.supervisor = self.supervisor, None
        if supervisor is not None:
            supervisor.stop(SUPERVISOR_STOP_SECONDS)
        if self.name is None:
            return
        try:
            WorkerHeartbeat.objects.filter(name=self.name).delete()
        except DatabaseError:
            logger.warning("could not remove heartbeat row %s", self.name)

    # --- the periodic work ----------------------------------------------------------------------

    def _reconcile(self) -> None:
        """End environments of deleted or updated functions, and remove code nothing uses any more
        (services/cleanup.py)."""
        from invocations.services import cleanup

        cleanup.reconcile_environments()
        if time.monotonic() - self._code_pruned_at >= CODE_PRUNE_SECONDS:
            self._code_pruned_at = time.monotonic()
            cleanup.prune_code()

    def _sweep(self) -> None:
        """Publish due retries and deliveries, requeue lost events (services/async_events.py); every
        ``HISTORY_PRUNE_SECONDS`` also remove the records past the retention, even when the sweep failed."""
        from invocations.services import async_events, cleanup

        try:
            async_events.sweep()
        except Exception:
            logger.exception("asynchronous event sweep failed")
        if time.monotonic() - self._history_pruned_at < HISTORY_PRUNE_SECONDS:
            return
        self._history_pruned_at = time.monotonic()
        report = cleanup.PruneReport()
        try:
            if cleanup.prune_history(report=report):
                logger.info("removed %d invocation records past the retention (%d by age, %d by count, %d batches)",
                            report.removed, report.by_age, report.by_count, report.batches)  # fmt: skip
        except Exception:
            logger.exception("removing invocation records past the retention failed")

    # --- a web node's graceful stop -------------------------------------------------------------

    def watch_for_shutdown(self, grace: float) -> bool:
        """Once this process receives SIGTERM or SIGINT, end its environments after ``grace`` seconds.

        The calls still running then end (their environment is gone: an error answer, and a record),
        so the server's graceful stop — which waits for every request in flight — finishes and the exit
        hooks run, instead of granian killing the process with its records queued and its sandboxes
        mounted. granian replaces the process's SIGTERM handler after loading the app, so the signal is
        observed through CPython's wakeup fd, to which the interpreter writes the number of every
        signal that has a Python handler, whichever handler that is. Main thread only, and only when
        nothing else uses the wakeup fd (an asyncio loop in the main thread would); False otherwise.
        """
        if threading.current_thread() is not threading.main_thread() or self._shutdown_watch is not None:
            return False
        read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            os.close(read_fd)
            os.close(write_fd)
            logger.warning("the wakeup fd is taken; running calls will not be ended at the shutdown deadline")
            return False
        self._shutdown_watch = threading.Thread(
            target=self._end_environments_after_grace, args=(read_fd, grace), name="node-shutdown", daemon=True
        )
        self._shutdown_watch.start()
        return True

    def _end_environments_after_grace(self, read_fd: int, grace: float) -> None:
        os.set_blocking(read_fd, True)
        while True:
            received = os.read(read_fd, 64)
            if any(signum in received for signum in STOP_SIGNALS):
                break
        logger.info("stopping: no new connections; calls in flight have %g s to finish", grace)
        time.sleep(grace)
        # Still alive: a call outlived the grace period (a clean exit ends the process before this).
        pool = self.built_pool()
        if pool is None:
            return
        try:
            running = sum(f["in_flight"] for f in pool.stats()["functions"].values())
        except Exception:
            running = -1
        logger.warning("grace period of %g s over: ending this node's environments (%d calls still running)",
                       grace, running)  # fmt: skip
        self.shutdown_pool(pool)


_node: Final = Node()


def current() -> Node:
    """This process's node."""
    return _node


def get_pool() -> Pool:
    """This process's environment pool (built lazily; a forked child builds its own)."""
    return _node.pool


def current_pool() -> Pool | None:
    """This process's pool if it has built one (never builds it)."""
    return _node.built_pool()


def current_node_name() -> str:
    """This process's node name once its node started ("" before: tests, management commands)."""
    return _node.name or ""


def pool_config() -> PoolConfig:
    from invocations.engine.pool import PoolConfig

    return PoolConfig(
        max_environments=settings.LAMBDA_MAX_ENVIRONMENTS,
        keep_alive_s=settings.LAMBDA_KEEP_ALIVE_SECONDS,
        runtimes_dir=str(settings.LAMBDA_RUNTIMES_DIR),
        work_dir=str(settings.DATA_DIR / "environments"),
        sandbox=settings.LAMBDA_SANDBOX,
        egress=settings.LAMBDA_EGRESS,
        sandbox_uid=settings.LAMBDA_SANDBOX_UID,
        spare_slots=settings.LAMBDA_SANDBOX_SPARES,
        ready_environments=settings.LAMBDA_READY_ENVIRONMENTS,
        internal_endpoints=internal_endpoints(),
    )


def internal_endpoints() -> tuple[tuple[str, int], ...]:
    """Where this installation's database, broker and result store listen: no function may reach
    them (invocations/engine/sandbox/egress.py). SQLite and the embedded broker listen nowhere."""
    found = []
    database = settings.DATABASES["default"]
    if database.get("HOST"):
        found.append((str(database["HOST"]), int(database.get("PORT") or 5432)))
    for url in (settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND):
        parsed = urlsplit(url)
        if parsed.hostname and parsed.scheme in DEFAULT_PORTS:
            found.append((parsed.hostname, parsed.port or DEFAULT_PORTS[parsed.scheme]))
    return tuple(dict.fromkeys(found))


DEFAULT_PORTS = {"redis": 6379, "rediss": 6380, "amqp": 5672, "amqps": 5671, "pyamqp": 5672,
                 "db+postgresql": 5432, "db+postgres": 5432, "postgres": 5432, "postgresql": 5432}


def node_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def available_runtimes() -> list[str]:
    return sorted(name for name, info in get_pool().runtimes().items() if info.available)


def register_node(kind: str) -> WorkerHeartbeat:
    """Upsert this process's heartbeat row with the runtimes its pool can run."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        name=node_name(kind),
        defaults={"kind": kind, "runtimes": available_runtimes(), "seen_at": timezone.now()},
    )
    return heartbeat


def _recover_records() -> None:
    """Write what dead processes left in their record journals (recorder.py)."""
    from invocations import recorder

    try:
        recorder.recover_orphans()
    except Exception:
        logger.exception("recovering journalled invocation records failed; the next start tries again")
    finally:
        connection.close()


def install_sigterm_exit() -> None:
    """Make SIGTERM leave through ``SystemExit`` so atexit hooks run (records flushed, pool stopped).

    Only where SIGTERM still has its default action (which would kill the process without atexit)
    and only from the main thread; servers that handle SIGTERM themselves (granian, Celery) are
    left alone: their clean shutdown already returns through the interpreter.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
