"""This node: its one environment pool and what it tells the others (ARCHITECTURE.md, "Processes").

Every process that runs functions — the web server (one granian process with many threads) and each
Celery worker — has exactly one ``Pool``, built on first use from settings and shut down at exit.
The node advertises the runtimes its pool can run in a ``WorkerHeartbeat`` row, refreshed every
``HEARTBEAT_SECONDS`` (well inside the ten minutes after which readers —
``invocations.services.runtimes`` — ignore a row), and a clean exit deletes the row.

A web node told to stop (SIGTERM) stops accepting connections and lets the calls it is running
finish (granian); those still running after ``LAMBDA_SHUTDOWN_GRACE_SECONDS`` have their
environments ended (``watch_for_shutdown``), so they answer and are recorded, and the process then
leaves through its exit hooks: records written, environments ended, heartbeat row removed.
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

if TYPE_CHECKING:
    from invocations.engine.pool import Pool, PoolConfig

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 60.0

_pool: Pool | None = None
_pool_pid: int | None = None
_lock = threading.Lock()
_heartbeat_stop = threading.Event()
_heartbeat_thread: threading.Thread | None = None
_reconcile_thread: threading.Thread | None = None
CODE_PRUNE_SECONDS: Final = 30.0
_node_name: str | None = None


def at_exit(func: Callable[[], None], *, priority: int) -> None:
    """Run ``func`` when this process exits cleanly — higher ``priority`` first.

    ``atexit`` alone is not enough: granian runs the WSGI app in a ``multiprocessing`` child, and such
    children leave through ``os._exit`` after running multiprocessing's finalizers, never atexit. So
    both are registered, and every ``func`` must be idempotent.
    """
    multiprocessing.util.Finalize(None, func, exitpriority=priority)
    atexit.register(func)


def get_pool() -> Pool:
    """This process's environment pool (built lazily; a forked child builds its own)."""
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _lock:
            if _pool is None or _pool_pid != pid:
                from invocations.engine.pool import Pool

                _pool = Pool(pool_config())
                _pool_pid = pid
                at_exit(functools.partial(_shutdown_pool, _pool), priority=20)
    return _pool


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


def current_pool() -> Pool | None:
    """This process's pool if it has built one (never builds it)."""
    return _pool if _pool is not None and _pool_pid == os.getpid() else None


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


def _shutdown_pool(pool: Pool) -> None:
    global _pool
    # Pool.shutdown makes a second caller (the exit hook after the shutdown deadline's thread) wait
    # until the first has torn the sandboxes down.
    try:
        pool.shutdown()
    except Exception:
        logger.exception("shutting down the environment pool failed")
    if _pool is pool:
        _pool = None


def node_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def current_node_name() -> str:
    """This process's node name once ``start_node`` ran ("" before: tests, management commands)."""
    return _node_name or ""


def available_runtimes() -> list[str]:
    return sorted(name for name, info in get_pool().runtimes().items() if info.available)


def register_node(kind: str) -> WorkerHeartbeat:
    """Upsert this process's heartbeat row with the runtimes its pool can run."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        name=node_name(kind),
        defaults={"kind": kind, "runtimes": available_runtimes(), "seen_at": timezone.now()},
    )
    return heartbeat


def start_node(kind: str) -> None:
    """Start-up work of a process that runs functions: register, keep the heartbeat fresh, exit cleanly.

    Never raises: a node whose database is not migrated yet still serves (it registers on the next
    heartbeat).
    """
    global _heartbeat_thread, _node_name
    install_sigterm_exit()
    if kind == "web":
        watch_for_shutdown(settings.LAMBDA_SHUTDOWN_GRACE_SECONDS)
    _node_name = node_name(kind)
    try:
        register_node(kind)
    except Exception:
        logger.exception("registering node %s failed; retrying in %.0f s", _node_name, HEARTBEAT_SECONDS)
    finally:
        connection.close()
    if _heartbeat_thread is None or not _heartbeat_thread.is_alive():
        _heartbeat_stop.clear()
        _heartbeat_thread = threading.Thread(target=_heartbeat, args=(kind,), name="node-heartbeat", daemon=True)
        _heartbeat_thread.start()
        at_exit(stop_node, priority=30)
    threading.Thread(target=_recover_records, name="record-recovery", daemon=True).start()
    global _reconcile_thread
    if settings.LAMBDA_RECONCILE_SECONDS > 0 and (_reconcile_thread is None or not _reconcile_thread.is_alive()):
        _reconcile_thread = threading.Thread(target=_reconcile, name="node-reconcile", daemon=True)
        _reconcile_thread.start()


def _recover_records() -> None:
    """Write what dead processes left in their record journals (recorder.py)."""
    from invocations import recorder

    try:
        recorder.recover_orphans()
    except Exception:
        logger.exception("recovering journalled invocation records failed; the next start tries again")
    finally:
        connection.close()


def _heartbeat(kind: str) -> None:
    while not _heartbeat_stop.wait(HEARTBEAT_SECONDS):
        try:
            register_node(kind)
        except Exception:
            logger.exception("node heartbeat failed")
        finally:
            connection.close()


def _reconcile() -> None:
    """End environments of deleted or updated functions, and remove code nothing uses any more
    (services/cleanup.py), for as long as this node runs."""
    from invocations.services import cleanup

    last_prune = 0.0
    while not _heartbeat_stop.wait(settings.LAMBDA_RECONCILE_SECONDS):
        try:
            cleanup.reconcile_environments()
            if time.monotonic() - last_prune >= CODE_PRUNE_SECONDS:
                last_prune = time.monotonic()
                cleanup.prune_code()
        except Exception:
            logger.exception("reconciling environments failed")
        finally:
            connection.close()


def stop_node() -> None:
    """Stop the heartbeat and withdraw this node's row (a clean exit)."""
    _heartbeat_stop.set()
    if _node_name is None:
        return
    try:
        WorkerHeartbeat.objects.filter(name=_node_name).delete()
    except DatabaseError:
        logger.warning("could not remove heartbeat row %s", _node_name)


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
_shutdown_watch: threading.Thread | None = None


def watch_for_shutdown(grace: float) -> bool:
    """Once this process receives SIGTERM or SIGINT, end its environments after ``grace`` seconds.

    The calls still running then end (their environment is gone: an error answer, and a record),
    so the server's graceful stop — which waits for every request in flight — finishes and the exit
    hooks run, instead of granian killing the process with its records queued and its sandboxes
    mounted. granian replaces the process's SIGTERM handler after loading the app, so the signal is
    observed through CPython's wakeup fd, to which the interpreter writes the number of every
    signal that has a Python handler, whichever handler that is. Main thread only, and only when
    nothing else uses the wakeup fd (an asyncio loop in the main thread would); False otherwise.
    """
    global _shutdown_watch
    if threading.current_thread() is not threading.main_thread() or _shutdown_watch is not None:
        return False
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    if previous != -1:
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
        logger.warning("the wakeup fd is taken; running calls will not be ended at the shutdown deadline")
        return False
    _shutdown_watch = threading.Thread(
        target=_end_environments_after_grace, args=(read_fd, grace), name="node-shutdown", daemon=True
    )
    _shutdown_watch.start()
    return True


def _end_environments_after_grace(read_fd: int, grace: float) -> None:
    os.set_blocking(read_fd, True)
    while True:
        received = os.read(read_fd, 64)
        if any(signum in received for signum in STOP_SIGNALS):
            break
    logger.info("stopping: no new connections; calls in flight have %g s to finish", grace)
    time.sleep(grace)
    # Still alive: a call outlived the grace period (a clean exit ends the process before this).
    pool = current_pool()
    if pool is None:
        return
    try:
        running = sum(f["in_flight"] for f in pool.stats()["functions"].values())
    except Exception:
        running = -1
    logger.warning("grace period of %g s over: ending this node's environments (%d calls still running)",
                   grace, running)  # fmt: skip
    _shutdown_pool(pool)
