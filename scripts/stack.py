"""Start, supervise and stop the whole stack: migrations, the web server (granian WSGI) and a Celery worker.

Used by ``scripts/run.py`` (``make run``), by the live and fault tests and by the benchmarks.
Standard library only, so importing it costs nothing::

    from scripts.stack import Stack, free_port

    with Stack(data_dir, port=free_port(), log_dir=data_dir / "logs") as stack:
        print(stack.endpoint)              # http://127.0.0.1:PORT
        print(stack.manage("createaccesskey", "admin"))

The web server is ONE granian process with many blocking threads: callers who wait (a
RequestResponse invoke sleeping for seconds) each hold a thread, and one process means one
environment pool per node (ARCHITECTURE.md, "Processes"). Measured here: 256 threads serve 200
concurrent 2-second requests in 2.06 s.

Supervision (``Stack.supervise``): a child that exits without being asked to is started again after
a back-off (``restart_delay``: 0.5 s doubling to 30 s, back to 0.5 s once it has stayed up a
minute), with a log line naming it, its status and the delay; the other keeps serving. Stopping
(``Stack.stop``) sends SIGTERM to both, gives them ``LAMBDA_SHUTDOWN_GRACE_SECONDS`` (in-flight
synchronous invokes finish; workers finish or hand back their events) plus ``EXIT_SECONDS`` to
write their records and end their environments, then SIGKILLs what is left of each process group.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "manage.py"

WEB_THREADS = 256
WORKER_CONCURRENCY = 8

# How long a stopping child's in-flight work may take (LAMBDA_SHUTDOWN_GRACE_SECONDS; the web node
# reads the same variable through config/settings.py, whose default must stay equal to this one).
SHUTDOWN_GRACE_SECONDS = 30.0
# After the grace period: what a clean exit still does (write queued records — the recorder allows
# itself 8 s —, end environments, withdraw the heartbeat) before it is killed.
EXIT_SECONDS = 15.0

RESTART_DELAY_FIRST = 0.5
RESTART_DELAY_MAX = 30.0
RESTART_RESET_AFTER = 60.0  # a child that stayed up this long is healthy again: back to the first delay


def restart_delay(previous: float | None, uptime: float) -> float:
    """Seconds to wait before restarting a child that died after ``uptime`` seconds, when the delay
    before its previous restart was ``previous`` (None: it never died before)."""
    if previous is None or uptime >= RESTART_RESET_AFTER:
        return RESTART_DELAY_FIRST
    return min(previous * 2, RESTART_DELAY_MAX)


def describe_status(status: int) -> str:
    """``-9`` → ``"signal SIGKILL"``, ``1`` → ``"status 1"`` (Popen.returncode conventions)."""
    if status < 0:
        try:
            return f"signal {signal.Signals(-status).name}"
        except ValueError:
            return f"signal {-status}"
    return f"status {status}"


def _log_to_stderr(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} supervisor: {line}", file=sys.stderr, flush=True)


def ipv6_available() -> bool:
    """True when this host can bind a dual-stack IPv6 socket."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port that is free on both loopback addresses right now (racy, as all such helpers)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if not ipv6_available():
            return port
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                s6.bind(("::1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found")


def default_listen_address() -> str:
    address = os.environ.get("LISTEN_ADDRESS", "::")
    if address == "::" and not ipv6_available():
        return "0.0.0.0"
    return address


class StackError(RuntimeError):
    pass


class Stack:
    """The web server and one Celery worker over one DATA_DIR.

    ``worker=False`` makes a web-only node, ``web=False`` a worker-only one: several such stacks,
    each with its own DATA_DIR and port, sharing ``DATABASE_URL`` and ``CELERY_BROKER_URL`` (and
    ``SECRET_KEY``) through ``env``, are a cluster (tests/live/test_scale_out.py). A worker-only
    stack still takes a ``port``: it names its Celery worker (``worker-PORT@host``).

    ``env`` is added to (and overrides) this process's environment for every child, e.g.
    ``{"DATABASE_URL": ..., "CELERY_BROKER_URL": ...}``. With ``log_dir`` the children's output goes
    to ``web.log`` / ``worker.log`` there; without it they share this terminal. ``shutdown_grace``
    defaults to ``LAMBDA_SHUTDOWN_GRACE_SECONDS`` (30); ``log`` receives the supervisor's lines
    (default: stderr).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        port: int = 8000,
        env: Mapping[str, str] | None = None,
        *,
        listen_address: str | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        web_threads: int = WEB_THREADS,
        worker_concurrency: int = WORKER_CONCURRENCY,
        worker: bool = True,
        web: bool = True,
        python: str = sys.executable,
        shutdown_grace: float | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.listen_address = listen_address or default_listen_address()
        self.log_dir = Path(log_dir).resolve() if log_dir is not None else None
        self.web_threads = web_threads
        self.worker_concurrency = worker_concurrency
        self.with_worker = worker
        self.with_web = web
        if not (web or worker):
            raise ValueError("a stack runs the web server, a worker, or both")
        self.python = python
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env["DATA_DIR"] = str(self.data_dir)
        self.env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        # Where `make` (scripts/install_runtimes.py) puts awslambdaric + boto3, whatever DATA_DIR is.
        self.env.setdefault("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes"))
        self.env["PYTHONUNBUFFERED"] = "1"
        if shutdown_grace is None:
            shutdown_grace = float(self.env.get("LAMBDA_SHUTDOWN_GRACE_SECONDS", SHUTDOWN_GRACE_SECONDS))
        self.shutdown_grace = shutdown_grace
        # The web node ends what is still running when its grace period is over (invocations/node.py).
        self.env["LAMBDA_SHUTDOWN_GRACE_SECONDS"] = f"{shutdown_grace:g}"
        self.log = log or _log_to_stderr
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.restarts: dict[str, int] = {"web": 0, "worker": 0}  # by supervise(), for tests and logs
        self._log_files: dict[str, IO[bytes]] = {}
        self._log_start: dict[str, int] = {}  # size of each log when its current process started
        self._started_at: dict[str, float] = {}
        self._lock = threading.Lock()  # held while a child is spawned or while all are stopped
        self._stopping = threading.Event()

    # --- addresses ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address a local client should use (loopback for wildcard binds)."""
        if self.listen_address in ("::", "0.0.0.0", ""):
            return "127.0.0.1"
        return self.listen_address

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def endpoint_v6(self) -> str | None:
        """``http://[::1]:PORT`` when the server listens on IPv6 loopback too."""
        if self.listen_address in ("::", "::1"):
            return f"http://[::1]:{self.port}"
        return None

    # --- commands -------------------------------------------------------------------------------

    def manage(self, *args: str, input: str | None = None, check: bool = True) -> str:
        """Run ``manage.py ARGS`` against this stack's data; return its stdout."""
        result = subprocess.run(
            [self.python, str(MANAGE), *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise StackError(
                f"manage.py {' '.join(args)} exited {result.returncode}\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def prepare(self) -> None:
        """Migrate the database and collect static files (both idempotent)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")

    # --- processes ------------------------------------------------------------------------------

    def web_command(self) -> list[str]:
        static_root = self.data_dir / "static"
        static_root.mkdir(parents=True, exist_ok=True)
        return [
            self.python, "-m", "granian",
            "--interface", "wsgi",
            "--host", self.listen_address,
            "--port", str(self.port),
            "--workers", "1",
            "--blocking-threads", str(self.web_threads),
            "--backpressure", str(max(1024, self.web_threads)),
            "--static-path-route", "/static",
            "--static-path-mount", str(static_root),
            # granian's own backstop: after SIGTERM its worker process has the grace period to let
            # in-flight calls finish (the node then ends what still runs), and EXIT_SECONDS to write
            # its records and end its environments; only then is it killed.
            "--workers-kill-timeout", str(max(1, round(self.shutdown_grace + EXIT_SECONDS))),
            "config.wsgi:application",
        ]  # fmt: skip

    def worker_command(self) -> list[str]:
        return [
            self.python, "-m", "celery", "-A", "config", "worker",
            "-P", "threads", "-c", str(self.worker_concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"worker-{self.port}@%h",
            "-l", "info",
        ]  # fmt: skip

    def command(self, name: str) -> list[str]:
        """The command line of child ``name`` ("web" or "worker")."""
        return self.web_command() if name == "web" else self.worker_command()

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        stdout: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            path = self.log_dir / f"{name}.log"
            previous = self._log_files.pop(name, None)
            if previous is not None:
                previous.close()
            stdout = open(path, "ab")  # noqa: SIM115 - closed in stop() or at the next spawn
            self._log_files[name] = stdout
            self._log_start[name] = path.stat().st_size
        self._started_at[name] = time.monotonic()
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            # Own process group: a terminal's Ctrl-C reaches only the parent, which then stops the
            # children in order; and stop() can kill a child's whole tree.
            process_group=0,
        )

    def start(self, timeout: float = 60.0, *, prepare: bool = True) -> Stack:
        """Migrate (unless ``prepare=False``), start both processes, wait until they are ready."""
        if self.with_web and self.port_in_use():
            raise StackError(f"something already listens on port {self.port} (set PORT to another port)")
        if prepare:
            self.prepare()
        self._stopping.clear()
        self.reset_metrics()
        try:
            if self.with_web:
                self.web = self._spawn("web", self.web_command())
            if self.with_worker:
                self.worker = self._spawn("worker", self.worker_command())
            self.wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def reset_metrics(self) -> None:
        """Empty the node's Prometheus multiprocess directory (``METRICS_DIR``, invocations/metrics.py)
        before its processes start: never while one of them runs (a restart by ``supervise`` keeps it)."""
        directory = Path(self.env.get("METRICS_DIR") or self.data_dir / "prometheus")
        if directory.is_dir():
            for path in directory.glob("*.db"):
                path.unlink(missing_ok=True)

    def port_in_use(self) -> bool:
        """True when something already answers on this stack's port."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def _check_alive(self) -> None:
        for name, proc in (("web server", self.web), ("worker", self.worker)):
            if proc is not None and proc.poll() is not None:
                raise StackError(f"the {name} exited with status {proc.returncode}{self._log_tail(name)}")

    def _log_tail(self, name: str) -> str:
        if self.log_dir is None:
            return ""
        path = self.log_dir / ("web.log" if name.startswith("web") else "worker.log")
        try:
            return "\n--- " + str(path) + " ---\n" + path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def http_ready(self, host: str | None = None) -> bool:
        """True when the server answers HTTP (any status) on ``host``."""
        conn = http.client.HTTPConnection(host or self.host, self.port, timeout=2)
        try:
            conn.request("GET", "/static/")
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def worker_ready(self) -> bool:
        """True once the current worker process logged that it is ready (only knowable with ``log_dir``)."""
        if self.worker is None or self.log_dir is None:
            return True
        try:
            with open(self.log_dir / "worker.log", "rb") as log:
                log.seek(self._log_start.get("worker", 0))
                return b" ready." in log.read()
        except OSError:
            return False

    def wait_until_ready(self, timeout: float = 60.0, *, check_alive: bool = True) -> None:
        """Until the server answers and the worker is ready. ``check_alive=False`` while a supervisor
        restarts what died (a dead child is then not an error, only not ready yet)."""
        deadline = time.monotonic() + timeout
        while True:
            if check_alive:
                self._check_alive()
            if (not self.with_web or self.http_ready()) and self.worker_ready():
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"stack not ready after {timeout:.0f} s{self._log_tail('web')}{self._log_tail('worker')}"
                )
            time.sleep(0.1)

    def supervise(self, should_stop: Callable[[], bool] | None = None, *, poll: float = 0.2) -> None:
        """Restart any child that exits unexpectedly, until ``stop()`` or ``should_stop()``.

        Each restart waits ``restart_delay`` (0.5 s doubling to 30 s; back to 0.5 s after a minute
        up) and logs the child, its pid, how it ended and the delay; the other child keeps serving.
        What the dead child left in its process group (granian's worker process when the server
        itself was killed) is killed first, so the new one can bind the port.
        """
        delays: dict[str, float | None] = {"web": None, "worker": None}
        due: dict[str, float] = {}
        while not self._stopping.is_set() and not (should_stop is not None and should_stop()):
            now = time.monotonic()
            for name in ("web", "worker"):
                proc = self.web if name == "web" else self.worker
                if proc is None or name in due:
                    continue
                status = proc.poll()
                if status is None:
                    continue
                _kill_group(proc.pid)
                uptime = now - self._started_at.get(name, now)
                delay = delays[name] = restart_delay(delays[name], uptime)
                due[name] = now + delay
                self.log(f"{name} (pid {proc.pid}) exited with {describe_status(status)} after {uptime:.1f} s; "
                         f"restarting it in {delay:g} s")  # fmt: skip
            for name, at in list(due.items()):
                if now < at:
                    continue
                with self._lock:
                    if self._stopping.is_set():
                        return
                    proc = self._spawn(name, self.command(name))
                    if name == "web":
                        self.web = proc
                    else:
                        self.worker = proc
                del due[name]
                self.restarts[name] += 1
                self.log(f"{name} restarted (pid {proc.pid})")
            time.sleep(poll)

    def stop(self, grace: float | None = None, *, hurry: Callable[[], bool] | None = None) -> None:
        """SIGTERM both (in parallel); SIGKILL their process groups after ``grace`` (default: the
        shutdown grace period plus ``EXIT_SECONDS``) or as soon as ``hurry()``; reap them.

        Also ends ``supervise()``: nothing is restarted once this has begun.
        """
        self._stopping.set()
        if grace is None:
            grace = self.shutdown_grace + EXIT_SECONDS
        with self._lock:
            procs = [p for p in (self.web, self.worker) if p is not None]
            for proc in procs:
                if proc.poll() is None:
                    try:
                        proc.send_signal(signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            deadline = time.monotonic() + grace
            while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
                if hurry is not None and hurry():
                    break
                time.sleep(0.05)
            for proc in procs:
                # Whatever is left in its group (granian's worker process, a stray child) goes too.
                _kill_group(proc.pid)
                proc.wait()
            self.web = self.worker = None
            for f in self._log_files.values():
                f.close()
            self._log_files.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _kill_group(pgid: int) -> None:
    """SIGKILL every process left in a child's process group (it was started as the group's leader)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
