"""Start and stop the whole stack: migrations, the web server (granian WSGI) and a Celery worker.

Used by ``scripts/run.py`` (``make run``), by the live tests and by the benchmarks. Standard library
only, so importing it costs nothing::

    from scripts.stack import Stack, free_port

    with Stack(data_dir, port=free_port(), log_dir=data_dir / "logs") as stack:
        print(stack.endpoint)              # http://127.0.0.1:PORT
        print(stack.manage("createaccesskey", "admin"))

The web server is ONE granian process with many blocking threads: callers who wait (a
RequestResponse invoke sleeping for seconds) each hold a thread, and one process means one
environment pool per node (ARCHITECTURE.md, "Processes"). Measured here: 256 threads serve 200
concurrent 2-second requests in 2.06 s.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "manage.py"

WEB_THREADS = 256
WORKER_CONCURRENCY = 8


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

    ``env`` is added to (and overrides) this process's environment for every child, e.g.
    ``{"DATABASE_URL": ..., "CELERY_BROKER_URL": ...}``. With ``log_dir`` the children's output goes
    to ``web.log`` / ``worker.log`` there; without it they share this terminal.
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
        python: str = sys.executable,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.listen_address = listen_address or default_listen_address()
        self.log_dir = Path(log_dir).resolve() if log_dir is not None else None
        self.web_threads = web_threads
        self.worker_concurrency = worker_concurrency
        self.with_worker = worker
        self.python = python
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env["DATA_DIR"] = str(self.data_dir)
        self.env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        # Where `make` (scripts/install_runtimes.py) puts awslambdaric + boto3, whatever DATA_DIR is.
        self.env.setdefault("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes"))
        self.env["PYTHONUNBUFFERED"] = "1"
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._log_files: list[IO[bytes]] = []

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
            "--workers-kill-timeout", "10",
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

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        stdout: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            stdout = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._log_files.append(stdout)
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
        if self.port_in_use():
            raise StackError(f"something already listens on port {self.port} (set PORT to another port)")
        if prepare:
            self.prepare()
        try:
            self.web = self._spawn("web", self.web_command())
            if self.with_worker:
                self.worker = self._spawn("worker", self.worker_command())
            self.wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

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
        """True once the worker logged that it is ready (only knowable with ``log_dir``)."""
        if self.worker is None or self.log_dir is None:
            return True
        try:
            return b" ready." in (self.log_dir / "worker.log").read_bytes()
        except OSError:
            return False

    def wait_until_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            if self.http_ready() and self.worker_ready():
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"stack not ready after {timeout:.0f} s{self._log_tail('web')}{self._log_tail('worker')}"
                )
            time.sleep(0.1)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM both (in parallel), SIGKILL their process groups after ``grace``, reap them."""
        procs = [p for p in (self.web, self.worker) if p is not None]
        for proc in procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left in its group (granian's worker process, a stray child) goes too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        self.web = self.worker = None
        for f in self._log_files:
            f.close()
        self._log_files.clear()

    def wait(self) -> int:
        """Block until either process exits; return its status."""
        while True:
            for proc in (self.web, self.worker):
                if proc is not None and proc.poll() is not None:
                    return proc.returncode
            time.sleep(0.5)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
