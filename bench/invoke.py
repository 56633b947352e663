"""Invoke benchmark: Lambda Workbench side by side with serverless-offline, in the same run.

    .venv/bin/python bench/invoke.py                 # full run (≈ 2 minutes)
    .venv/bin/python bench/invoke.py --quick         # fewer samples, for a smoke test
    DATABASE_URL=postgres://… .venv/bin/python bench/invoke.py   # adds a PostgreSQL column

What it does (bench/README.md explains every figure):

1. Sets up the peer on demand: ``npm install`` of the versions pinned in ``bench/peer/package.json``
   into ``bench/.peer/`` (gitignored), then ``serverless offline start`` on free loopback ports, with
   the real python3.11 binary first on PATH (never a pyenv shim).
2. Starts our stack (``scripts/stack.py``) on a temporary DATA_DIR, creates a user and an access key,
   and creates the same functions through boto3 ``create_function``.
3. Measures both systems in rounds whose order alternates (AB, BA, …) so machine noise hits both:
   warm sync invoke latency, sync throughput with N client threads, cold invokes, and N simultaneous
   invocations of a function that sleeps.
4. Prints a table (metric | workbench | serverless-offline | ratio) and the exact command.

Everything listens on loopback, every loop is bounded in count and time, and every process started
here is stopped on exit (try/finally plus atexit, SIGTERM/SIGINT included).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import glob
import http.server
import io
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PEER_SRC = BENCH_DIR / "peer"
PEER_DIR = BENCH_DIR / ".peer"
FUNCTION_SOURCE = PEER_SRC / "handler.py"  # the same code runs on both systems

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/bench"
PAYLOAD = b'{"hello": "world", "n": 1}'

PEER_VERSIONS = {"serverless": "3.40.0", "serverless-offline": "13.10.1"}
PEER_SERVICE, PEER_STAGE = "wbpeer", "bench"
PEER_COLD_FUNCTIONS = 40  # cold01..cold40 in bench/peer/serverless.yml
PEER_ENV = {"SLS_TELEMETRY_DISABLED": "1", "SLS_TRACKING_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}

REPORT_INIT = re.compile(rb"Init Duration: ([0-9.]+) ms")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- process hygiene ----------------------------------------------------------------------------

_cleanups: list[Callable[[], None]] = []


def on_exit(fn: Callable[[], None]) -> None:
    _cleanups.append(fn)


def run_cleanups() -> None:
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - cleanup must go on
            log(f"cleanup failed: {exc!r}")


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def kill_group(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process group we created for ``proc``, SIGKILL it after ``grace``."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group (python children of node)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_python311() -> str:
    """The real python3.11 binary (pyenv versions first, then PATH without shims); never a shim."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.11.*", "bin", "python3.11")), reverse=True)
    path_dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and "shims" not in d]
    candidates += [os.path.join(d, "python3.11") for d in [*path_dirs, "/usr/local/bin", "/usr/bin"]]
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if os.path.isfile(real) and os.access(real, os.X_OK):
            with open(real, "rb") as f:
                if f.read(2) == b"#!":  # a shim or wrapper script
                    continue
            return real
    raise SystemExit("bench: no python3.11 interpreter found (serverless-offline's python3.11 runtime needs one)")


# --- statistics ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# --- clients ------------------------------------------------------------------------------------


_session: Any = None


def make_client(endpoint: str, key: str, secret: str, *, read_timeout: float = 30.0, pool: int = 10) -> Any:
    """A boto3 Lambda client; made in the main thread (one session: its loader caches the model)."""
    global _session
    import boto3
    from botocore.config import Config

    if _session is None:
        _session = boto3.session.Session()

    config = Config(
        connect_timeout=5,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},  # no silent retries: count every error
        max_pool_connections=pool,
        tcp_keepalive=True,
    )
    return _session.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def invoke_ok(client: Any, name: str, payload: bytes = PAYLOAD, **kwargs: Any) -> dict[str, Any]:
    response = client.invoke(FunctionName=name, Payload=payload, **kwargs)
    body = response["Payload"].read()
    if response.get("FunctionError") or response["StatusCode"] != 200:
        raise RuntimeError(f"{name}: {response['StatusCode']} {response.get('FunctionError')} {body[:300]!r}")
    response["Body"] = body
    return response


# --- the systems --------------------------------------------------------------------------------


@dataclass
class ColdSample:
    total_ms: float
    init_ms: float | None = None
    bare_ms: float | None = None  # bare awslambdaric start taken right after (ours only)


class System:
    """One system under test: started once, measured in every round."""

    label = "?"
    key = "?"
    echo_name = ""
    sleep_name = ""
    endpoint = ""
    access_key = "bench"
    secret_key = "bench"
    notes: list[str]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def client(self, **kwargs: Any) -> Any:
        return make_client(self.endpoint, self.access_key, self.secret_key, **kwargs)

    def cold_sample(self, client: Any) -> ColdSample:
        raise NotImplementedError


class Peer(System):
    """serverless-offline 13 (framework v3), Python 3.11 echo function, its Lambda Invoke endpoint."""

    label = "serverless-offline"
    key = "peer"

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / "serverless-offline.log"
        self.echo_name = self.function_name("echo")
        self.sleep_name = self.function_name("sleep")
        self.next_cold = 1
        self.restarts = 0
        self.notes = []
        self.python = find_python311()
        self.versions: dict[str, str] = {}

    @staticmethod
    def function_name(key: str) -> str:
        return f"{PEER_SERVICE}-{PEER_STAGE}-{key}"

    # setup
    def installed_versions(self) -> dict[str, str]:
        found = {}
        for name in PEER_VERSIONS:
            try:
                found[name] = json.loads((PEER_DIR / "node_modules" / name / "package.json").read_text())["version"]
            except (OSError, ValueError, KeyError):
                found[name] = ""
        return found

    def setup(self) -> None:
        PEER_DIR.mkdir(exist_ok=True)
        for name in ("serverless.yml", "handler.py"):
            shutil.copyfile(PEER_SRC / name, PEER_DIR / name)
        wanted = (PEER_SRC / "package.json").read_text()
        installed = PEER_DIR / "package.json"
        if (
            not installed.exists()
            or installed.read_text() != wanted
            or self.installed_versions() != PEER_VERSIONS
        ):
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit("bench: npm not found; serverless-offline needs Node.js and npm")
            installed.write_text(wanted)
            log(f"npm install {' '.join(f'{k}@{v}' for k, v in PEER_VERSIONS.items())} into {PEER_DIR} …")
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=PEER_DIR,
                check=True,
                timeout=900,
                stdin=subprocess.DEVNULL,
            )
        self.versions = self.installed_versions()
        if self.versions != PEER_VERSIONS:
            raise SystemExit(f"bench: peer versions {self.versions} != pinned {PEER_VERSIONS}")
        # A directory whose python3 is the real 3.11 binary, first on PATH: serverless-offline spawns
        # "python3" through a shell for runtime python3.11.
        self.path_dir = self.work_dir / "peer-bin"
        self.path_dir.mkdir(exist_ok=True)
        for link in ("python3", "python3.11"):
            target = self.path_dir / link
            if not target.exists():
                target.symlink_to(self.python)

    def start(self) -> None:
        self.setup()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        env.update(PEER_ENV)
        env["PATH"] = os.pathsep.join([str(self.path_dir), os.path.dirname(self.python), env.get("PATH", "")])
        command = [
            str(PEER_DIR / "node_modules" / ".bin" / "serverless"), "offline", "start", "--noSponsor",
            "--host", "127.0.0.1", "--lambdaPort", str(self.port),
            "--httpPort", str(free_port()), "--websocketPort", str(free_port()),
        ]  # fmt: skip
        self.command = command
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed below
        started = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                command, cwd=PEER_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            log_file.close()
        ready = f"listening on http://127.0.0.1:{self.port}".encode()
        deadline = started + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serverless-offline exited {self.proc.returncode}:\n{self.log_tail()}")
            if ready in self.log_path.read_bytes():
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"serverless-offline not ready after 90 s:\n{self.log_tail()}")
            time.sleep(0.05)
        self.ready_s = time.monotonic() - started
        log(f"serverless-offline ready on {self.endpoint} in {self.ready_s:.1f} s")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
        self.next_cold = 1
        self.restarts += 1

    def cold_sample(self, client: Any) -> ColdSample:
        """A first invoke of a function that has never run on this serverless-offline process."""
        if self.next_cold > PEER_COLD_FUNCTIONS:
            raise RuntimeError("out of fresh peer functions (restart first)")
        name = self.function_name(f"cold{self.next_cold:02d}")
        self.next_cold += 1
        t0 = time.perf_counter()
        invoke_ok(client, name)
        return ColdSample((time.perf_counter() - t0) * 1000)

    def out_of_fresh_functions(self) -> bool:
        return self.next_cold > PEER_COLD_FUNCTIONS


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("app.py", date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, FUNCTION_SOURCE.read_bytes())
    return buffer.getvalue()


class Workbench(System):
    """Our stack (scripts/stack.py) on a temporary DATA_DIR."""

    def __init__(self, work_dir: Path, *, label: str, key: str, env: dict[str, str]) -> None:
        self.label = label
        self.key = key
        self.work_dir = work_dir
        self.env = env
        self.stack: Any = None
        self.tag = uuid.uuid4().hex[:8]  # a shared PostgreSQL may hold an earlier run's functions
        self.echo_name = f"bench-echo-{self.tag}"
        self.sleep_name = f"bench-sleep-{self.tag}"
        self.cold_name = f"bench-cold-{self.tag}"
        self.cold_revision = 0
        self.cold_mode = "update"  # "update": new revision per sample; "create": a new function per sample
        self.created: list[str] = []
        self.notes = []

    def start(self) -> None:
        sys.path.insert(0, str(ROOT / "scripts"))
        try:
            import stack as stack_module
        finally:
            sys.path.pop(0)
        data_dir = self.work_dir / f"data-{self.key}"
        data_dir.mkdir()
        port = free_port()
        kwargs: dict[str, Any] = {"listen_address": "127.0.0.1", "log_dir": data_dir / "logs"}
        try:
            self.stack = stack_module.Stack(data_dir, port, env=self.env, **kwargs)
        except TypeError:  # an older Stack without the keyword arguments
            self.stack = stack_module.Stack(data_dir, port, env=self.env)
        started = time.monotonic()
        self.stack.start()
        self.ready_s = time.monotonic() - started
        self.endpoint = self.stack.endpoint
        log(f"{self.label} ready on {self.endpoint} in {self.ready_s:.1f} s (data in {data_dir})")
        self.username = f"bench{self.tag}"
        out = self.stack.manage("bootstrapadmin", "--username", self.username)  # a user and a key, in one go
        if "AWS_SECRET_ACCESS_KEY=" not in out:
            self.stack.manage(
                "shell", "-c",
                "from django.contrib.auth import get_user_model; "
                f"get_user_model().objects.get_or_create(username={self.username!r})",
            )  # fmt: skip
            out = self.stack.manage("createaccesskey", self.username)
        keys = dict(re.findall(r"^(?:export\s+)?(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=['\"]?([^'\"\s]+)", out, re.M))
        if len(keys) != 2:
            raise RuntimeError(f"createaccesskey printed no key pair:\n{out}")
        self.access_key, self.secret_key = keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"]
        admin = self.client()
        self.create(admin, self.echo_name, "app.handler", timeout=10)
        self.create(admin, self.sleep_name, "app.sleep_handler", timeout=30)
        self.create(admin, self.cold_name, "app.handler", timeout=10)

    def create(self, client: Any, name: str, handler: str, *, timeout: int, env: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {}
        if env:
            kwargs["Environment"] = {"Variables": env}
        client.create_function(
            FunctionName=name, Runtime="python3.11", Role=ROLE, Handler=handler,
            Code={"ZipFile": function_zip()}, Timeout=timeout, MemorySize=128, **kwargs,
        )  # fmt: skip
        self.created.append(name)
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    def cold_sample(self, client: Any) -> ColdSample:
        """A first invoke on a fresh environment, forced by a new revision (AWS does the same on an update)."""
        self.cold_revision += 1
        if self.cold_mode == "update":
            name = self.cold_name
            client.update_function_configuration(
                FunctionName=name, Environment={"Variables": {"BENCH_REVISION": str(self.cold_revision)}}
            )
            client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        else:
            name = f"{self.cold_name}-{self.cold_revision}"
            self.create(client, name, "app.handler", timeout=10)
        t0 = time.perf_counter()
        response = invoke_ok(client, name, LogType="Tail")
        total = (time.perf_counter() - t0) * 1000
        tail = base64.b64decode(response.get("LogResult") or b"")
        match = REPORT_INIT.search(tail)
        if match is None and self.cold_mode == "update":
            note = "an update did not start a new environment (no Init Duration); cold samples use new functions"
            log(f"{self.label}: {note}")
            self.notes.append(note)
            self.cold_mode = "create"
            return self.cold_sample(client)
        return ColdSample(total, float(match.group(1)) if match else None)

    def stop(self) -> None:
        if self.stack is None:
            return
        if self.created and self.env.get("DATABASE_URL"):  # leave a shared database as we found it
            try:
                admin = self.client()
                for name in self.created:
                    admin.delete_function(FunctionName=name)
            except Exception as exc:  # noqa: BLE001
                log(f"{self.label}: could not delete bench functions: {exc!r}")
        self.stack.stop()
        self.stack = None


# --- the runtime's own start, for the platform overhead --------------------------------------------


class BareRuntime:
    """spawn → first ``/next`` of bare awslambdaric: no platform, no sandbox, the echo handler.

    Same interpreter (``python3.11 -S``, as the engine starts it), same runtime directory
    (LAMBDA_RUNTIMES_DIR or var/runtimes), same handler, against a stub Runtime API that only notes
    the first ``/next``. Each of our cold samples is paired with one of these, taken right after it:
    Init Duration minus this is the platform's share of a cold start.
    """

    def __init__(self, runtimes_dir: str) -> None:
        self.runtime_dir = os.path.join(runtimes_dir, "python3.11")
        self.available = os.path.isfile(os.path.join(self.runtime_dir, "awslambdaric", "__init__.py"))
        self.server: http.server.ThreadingHTTPServer | None = None
        self.arrived = threading.Event()

    def start(self) -> None:
        if not self.available:
            return
        arrived = self.arrived

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.endswith("/runtime/invocation/next"):
                    arrived.set()
                self.close_connection = True  # no answer: the process is killed right after

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.task = tempfile.mkdtemp(prefix="wb-bench-task-")
        shutil.copyfile(FUNCTION_SOURCE, os.path.join(self.task, "app.py"))
        self.python = find_python311()

    def sample(self) -> float | None:
        if self.server is None:
            return None
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": self.runtime_dir,
            "LAMBDA_TASK_ROOT": self.task,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.server.server_address[1]}",
            "_HANDLER": "app.handler",
        }
        self.arrived.clear()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [self.python, "-S", "-m", "awslambdaric", "app.handler"], cwd=self.task, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            return (time.perf_counter() - t0) * 1000 if self.arrived.wait(10) else None
        finally:
            kill_group(proc, grace=1)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
            shutil.rmtree(self.task, ignore_errors=True)


# --- the measurements ---------------------------------------------------------------------------


@dataclass
class Results:
    warm_ms: list[float] = field(default_factory=list)
    warm_errors: int = 0
    tp_calls: int = 0
    tp_seconds: float = 0.0
    tp_errors: int = 0
    tp_ms: list[float] = field(default_factory=list)
    cold: list[ColdSample] = field(default_factory=list)
    cold_errors: list[str] = field(default_factory=list)
    conc_wall_s: list[float] = field(default_factory=list)
    conc_ok: list[int] = field(default_factory=list)
    conc_errors: list[str] = field(default_factory=list)
    conc_skipped: str = ""


def measure_warm(system: System, client: Any, n: int, results: Results, deadline_s: float = 120) -> None:
    stop_at = time.monotonic() + deadline_s
    for _ in range(n):
        if time.monotonic() > stop_at:
            log(f"{system.label}: warm loop stopped at its {deadline_s:.0f} s bound")
            break
        t0 = time.perf_counter()
        try:
            response = invoke_ok(client, system.echo_name)
        except Exception as exc:  # noqa: BLE001
            results.warm_errors += 1
            log(f"{system.label}: warm invoke failed: {exc!r}"[:300])
            continue
        results.warm_ms.append((time.perf_counter() - t0) * 1000)
        if json.loads(response["Body"]) != json.loads(PAYLOAD):
            raise RuntimeError(f"{system.label}: echo returned {response['Body'][:200]!r}")


def measure_throughput(system: System, clients: list[Any], seconds: float, results: Results) -> None:
    barrier = threading.Barrier(len(clients) + 1)
    counts = [0] * len(clients)
    errors = [0] * len(clients)
    latencies: list[list[float]] = [[] for _ in clients]
    ends = [0.0] * len(clients)
    cap = int(seconds * 20_000)  # a bound on calls per thread, far above anything reachable

    def worker(i: int) -> None:
        client = clients[i]
        barrier.wait()
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at and counts[i] + errors[i] < cap:
            t0 = time.perf_counter()
            try:
                invoke_ok(client, system.echo_name)
                counts[i] += 1
                latencies[i].append((time.perf_counter() - t0) * 1000)
            except Exception:  # noqa: BLE001
                errors[i] += 1
        ends[i] = time.perf_counter()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(clients))]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(seconds + 60)
    results.tp_seconds += max(ends) - t0
    results.tp_calls += sum(counts)
    results.tp_errors += sum(errors)
    for lat in latencies:
        results.tp_ms.extend(lat)


def measure_concurrency(system: System, clients: list[Any], seconds: float, results: Results) -> None:
    n = len(clients)
    payload = json.dumps({"seconds": seconds}).encode()
    barrier = threading.Barrier(n + 1)
    ends = [0.0] * n
    errors: list[str] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            invoke_ok(clients[i], system.sleep_name, payload)
            ends[i] = time.perf_counter()
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc)[:200])

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(seconds + 90)
    done = [e for e in ends if e]
    results.conc_wall_s.append((max(done) - t0) if done else float("inf"))
    results.conc_ok.append(len(done))
    results.conc_errors.extend(errors)


def warm_clients(system: System, n: int, **kwargs: Any) -> list[Any]:
    clients = [system.client(**kwargs) for _ in range(n)]
    for c in clients:  # first request: endpoint resolution, connection, the SDK's lazy loading
        invoke_ok(c, system.echo_name)
    return clients


def ensure_runtimes(runtimes_dir: str) -> None:
    """The engine's python3.11 runtime (awslambdaric + boto3), kept across runs outside DATA_DIR."""
    if os.path.isfile(os.path.join(runtimes_dir, "python3.11", "awslambdaric", "__init__.py")):
        return
    installer = ROOT / "scripts" / "install_runtimes.py"
    if installer.exists():
        log(f"installing the Python runtimes into {runtimes_dir} …")
        subprocess.run([sys.executable, str(installer), "--dir", runtimes_dir], cwd=ROOT, check=True, timeout=900)


# --- the run ------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or value != value else f"{value:.{digits}f}"


def summarise(system: System, r: Results) -> dict[str, Any]:
    cold_total = [c.total_ms for c in r.cold]
    cold_init = [c.init_ms for c in r.cold if c.init_ms is not None]
    bare = [c.bare_ms for c in r.cold if c.bare_ms is not None]
    share = [c.init_ms - c.bare_ms for c in r.cold if c.init_ms is not None and c.bare_ms is not None]
    return {
        "warm_p50_ms": percentile(r.warm_ms, 50),
        "warm_p99_ms": percentile(r.warm_ms, 99),
        "warm_mean_ms": statistics.fmean(r.warm_ms) if r.warm_ms else None,
        "warm_n": len(r.warm_ms),
        "warm_errors": r.warm_errors,
        "tp_rps": r.tp_calls / r.tp_seconds if r.tp_seconds else None,
        "tp_p50_ms": percentile(r.tp_ms, 50),
        "tp_p99_ms": percentile(r.tp_ms, 99),
        "tp_calls": r.tp_calls,
        "tp_errors": r.tp_errors,
        "cold_p50_ms": median(cold_total),
        "cold_min_ms": min(cold_total) if cold_total else None,
        "cold_max_ms": max(cold_total) if cold_total else None,
        "cold_n": len(cold_total),
        "cold_errors": r.cold_errors,
        "init_p50_ms": median(cold_init),
        "bare_p50_ms": median(bare),
        "platform_overhead_ms": median(share),
        "conc_wall_s": r.conc_wall_s,
        "conc_first_s": r.conc_wall_s[0] if r.conc_wall_s else None,  # round 1: no environment yet
        "conc_later_s": max(r.conc_wall_s[1:]) if len(r.conc_wall_s) > 1 else None,  # may reuse them
        "conc_ok": r.conc_ok,
        "conc_errors": r.conc_errors[:5],
        "conc_error_count": len(r.conc_errors),
        "conc_skipped": r.conc_skipped,
        "notes": system.notes,
    }


def run_phase(label: str, systems: list[System], fn: Callable[[System], None], order_flip: bool) -> None:
    for system in (reversed(systems) if order_flip else systems):
        started = time.monotonic()
        fn(system)
        log(f"  {label:<12} {system.label:<24} {time.monotonic() - started:5.1f} s")


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (AB, BA, …); default 2")
    parser.add_argument("--warmup", type=int, default=50, help="untimed warm-up invokes per system (default 50)")
    parser.add_argument("--iterations", type=int, default=500, help="timed warm invokes per system, over all rounds (default 500)")
    parser.add_argument("--threads", type=int, default=8, help="client threads for the throughput test (default 8)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of throughput per system per round (default 5)")
    parser.add_argument("--cold", type=int, default=10, help="cold invokes per system, over all rounds (default 10)")
    parser.add_argument("--concurrency", type=int, default=50, help="simultaneous invokes of the sleeping function (default 50; 0 skips)")
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds the sleeping function sleeps (default 2)")
    parser.add_argument("--no-peer-concurrency", action="store_true", help="skip the concurrency test on serverless-offline")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 round, 100 warm, 2 s throughput, 3 cold")
    parser.add_argument("--only", choices=["workbench", "peer"], help="measure one side only (development)")
    parser.add_argument("--sandbox", default=os.environ.get("LAMBDA_SANDBOX", "bwrap"),
                        help="LAMBDA_SANDBOX of our stack: bwrap (default), gvisor or off")
    parser.add_argument("--ready", type=int, default=1,
                        help="LAMBDA_READY_ENVIRONMENTS of our stack (default 1; 0: every cold start starts a process)")
    parser.add_argument("--cold-gap", type=float, default=1.0,
                        help="seconds between cold samples, on both systems (default 1: time for a ready environment to be replaced)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw figures as JSON")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.quick:
        args.rounds, args.iterations, args.duration, args.cold, args.warmup = 1, 100, 2.0, 3, 20
    args.rounds = max(1, args.rounds)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    atexit.register(run_cleanups)

    database_url = os.environ.pop("DATABASE_URL", "")  # only the PostgreSQL stack gets it
    work_dir = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    on_exit(lambda: shutil.rmtree(work_dir, ignore_errors=True))

    systems: list[System] = []
    bare: BareRuntime | None = None
    try:
        if args.only != "peer":
            runtimes_dir = os.environ.get("LAMBDA_RUNTIMES_DIR") or str(ROOT / "var" / "runtimes")
            ensure_runtimes(runtimes_dir)
            base_env = {"LAMBDA_RUNTIMES_DIR": runtimes_dir, "LAMBDA_SANDBOX": args.sandbox,
                        "LAMBDA_READY_ENVIRONMENTS": str(args.ready)}
            systems.append(Workbench(work_dir, label="workbench", key="workbench", env=base_env))
            bare = BareRuntime(runtimes_dir)
            on_exit(bare.stop)
            bare.start()
        if args.only != "workbench":
            systems.append(Peer(work_dir))
        if database_url and args.only != "peer":
            pg_env = {"LAMBDA_RUNTIMES_DIR": systems[0].env["LAMBDA_RUNTIMES_DIR"], "DATABASE_URL": database_url,  # type: ignore[attr-defined]
                      "LAMBDA_SANDBOX": args.sandbox, "LAMBDA_READY_ENVIRONMENTS": str(args.ready)}
            systems.append(Workbench(work_dir, label="workbench (PostgreSQL)", key="workbench-pg", env=pg_env))

        for system in systems:
            on_exit(system.stop)
            system.start()

        results = {s.key: Results() for s in systems}
        clients: dict[str, Any] = {}
        for s in systems:
            clients[s.key] = s.client()
            for _ in range(args.warmup):
                invoke_ok(clients[s.key], s.echo_name)

        warm_split = split(args.iterations, args.rounds)
        cold_split = split(args.cold, args.rounds)
        for rnd in range(args.rounds):
            flip = rnd % 2 == 1
            log(f"round {rnd + 1}/{args.rounds} ({'reversed' if flip else 'forward'} order)")

            run_phase("warm", systems, lambda s: measure_warm(s, clients[s.key], warm_split[rnd], results[s.key]), flip)

            def throughput(s: System) -> None:
                cs = warm_clients(s, args.threads)
                measure_throughput(s, cs, 0.5, Results())  # untimed: one environment per thread, warm
                measure_throughput(s, cs, args.duration, results[s.key])

            run_phase("throughput", systems, throughput, flip)

            def cold(s: System) -> None:
                for _ in range(cold_split[rnd]):
                    time.sleep(args.cold_gap)
                    if isinstance(s, Peer) and s.out_of_fresh_functions():
                        s.restart()  # untimed; then a warm client and a warm server again
                        clients[s.key] = s.client()
                        for _ in range(args.warmup):
                            invoke_ok(clients[s.key], s.echo_name)
                    try:
                        sample = s.cold_sample(clients[s.key])
                        if isinstance(s, Workbench) and bare is not None:
                            sample.bare_ms = bare.sample()
                        results[s.key].cold.append(sample)
                    except Exception as exc:  # noqa: BLE001
                        results[s.key].cold_errors.append(repr(exc)[:300])
                        log(f"{s.label}: cold sample failed: {exc!r}"[:400])

            run_phase("cold", systems, cold, flip)

            def concurrency(s: System) -> None:
                if args.concurrency <= 0:
                    return
                if isinstance(s, Peer) and args.no_peer_concurrency:
                    results[s.key].conc_skipped = "skipped (--no-peer-concurrency)"
                    return
                cs = warm_clients(s, args.concurrency, read_timeout=args.sleep + 60, pool=1)
                measure_concurrency(s, cs, args.sleep, results[s.key])

            run_phase("concurrency", systems, concurrency, flip)

        report(args, systems, {s.key: summarise(s, results[s.key]) for s in systems})
    finally:
        run_cleanups()
    return 0


def report(args: argparse.Namespace, systems: list[System], summary: dict[str, dict[str, Any]]) -> None:
    ours = next((s for s in systems if s.key == "workbench"), None)
    peer = next((s for s in systems if s.key == "peer"), None)
    pg = next((s for s in systems if s.key == "workbench-pg"), None)
    conc_label = f"{args.concurrency} × {args.sleep:g} s sleeps at once, wall (s)"
    rows = [
        # (label, key, digits, better: "low" | "high")
        ("warm invoke p50 (ms)", "warm_p50_ms", 2, "low"),
        ("warm invoke p99 (ms)", "warm_p99_ms", 2, "low"),
        (f"throughput, {args.threads} threads (invokes/s)", "tp_rps", 0, "high"),
        (f"  latency p50 under that load (ms)", "tp_p50_ms", 1, "low"),
        ("cold invoke, total (ms, median)", "cold_p50_ms", 0, "low"),
        ("  Init Duration, spawn → first /next (ms)", "init_p50_ms", 0, "low"),
        ("  bare awslambdaric start, no platform (ms)", "bare_p50_ms", 0, "low"),
        ("  platform share of Init (ms, paired median)", "platform_overhead_ms", 0, "low"),
        (conc_label + ", round 1", "conc_first_s", 2, "low"),
        ("  later rounds (worst)", "conc_later_s", 2, "low"),
    ]
    columns = [s for s in (ours, peer, pg) if s is not None]
    header = ["metric", *[s.label for s in columns]]
    if ours and peer:
        header.append("ratio wb/peer")
    if ours and pg:
        header.append("ratio pg/sqlite")
    table = [header]
    for label, key, digits, _ in rows:
        line = [label]
        for s in columns:
            value = summary[s.key].get(key)
            if key.startswith("conc_") and summary[s.key]["conc_skipped"]:
                line.append("skipped")
                continue
            line.append(fmt(value, digits))
        a = summary[ours.key].get(key) if ours else None
        if ours and peer:
            b = summary[peer.key].get(key)
            line.append(f"{a / b:.2f}×" if a and b else "—")
        if ours and pg:
            c = summary[pg.key].get(key)
            line.append(f"{c / a:.2f}×" if a and c else "—")
        table.append(line)
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    out = []
    for i, row in enumerate(table):
        out.append("| " + " | ".join(str(cell).ljust(widths[j]) if j == 0 else str(cell).rjust(widths[j]) for j, cell in enumerate(row)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) if j == 0 else "-" * (w + 1) + ":" for j, w in enumerate(widths)) + "|")
    print()
    print("\n".join(out))
    print()
    print("Details:")
    for s in columns:
        m = summary[s.key]
        conc = ", ".join(f"{w:.2f} s ({ok} ok)" for w, ok in zip(m["conc_wall_s"], m["conc_ok"], strict=True))
        print(
            f"  {s.label}: warm n={m['warm_n']} errors={m['warm_errors']} mean={fmt(m['warm_mean_ms'], 2)} ms; "
            f"throughput {m['tp_calls']} calls, {m['tp_errors']} errors, p99 {fmt(m['tp_p99_ms'])} ms; "
            f"cold n={m['cold_n']} min={fmt(m['cold_min_ms'], 0)} max={fmt(m['cold_max_ms'], 0)} ms, "
            f"{len(m['cold_errors'])} errors; concurrency rounds: {conc or m['conc_skipped'] or '—'}"
            f"{'; errors: ' + str(m['conc_error_count']) + ' e.g. ' + m['conc_errors'][0] if m['conc_errors'] else ''}"
        )
        for note in m["notes"]:
            print(f"    note: {note}")
        for e in m["cold_errors"][:3]:
            print(f"    cold error: {e}")
    if isinstance(peer, Peer):
        print(
            f"  peer: serverless@{peer.versions.get('serverless')} serverless-offline@{peer.versions.get('serverless-offline')}, "
            f"python3 = {peer.python}, ready in {peer.ready_s:.1f} s, restarts for cold samples: {peer.restarts}"
        )
    if ours and peer:
        o, p = summary[ours.key], summary[peer.key]

        def verdict(ok: bool | None) -> str:
            return "—" if ok is None else ("met" if ok else "NOT met")

        def lt(a: float | None, b: float | None, factor: float = 1.0) -> bool | None:
            return None if a is None or b is None else a <= b * factor

        targets: list[tuple[str, bool | None]] = [
            ("warm p50 below the peer's", lt(o["warm_p50_ms"], p["warm_p50_ms"])),
            ("warm p99 below the peer's", lt(o["warm_p99_ms"], p["warm_p99_ms"])),
            ("stretch: warm p50 ≤ half the peer's", lt(o["warm_p50_ms"], p["warm_p50_ms"], 0.5)),
            ("throughput ≥ the peer's", lt(p["tp_rps"], o["tp_rps"])),
            ("cold ≤ 0.75 × the peer's", lt(o["cold_p50_ms"], p["cold_p50_ms"], 0.75)),
            ("platform share of Init ≤ 50 ms", lt(o.get("platform_overhead_ms"), 50.0)),
        ]
        if o["conc_wall_s"]:
            ok = max(o["conc_wall_s"]) <= 2 * args.sleep and not o["conc_error_count"]
            targets.append((f"{args.concurrency} × {args.sleep:g} s within {2 * args.sleep:g} s, every round", ok))
        if pg:
            g = summary[pg.key]
            within = all(
                g[k] is not None and o[k] is not None and (g[k] <= o[k] * 1.2 if better == "low" else g[k] >= o[k] / 1.2)
                for _, k, _, better in rows
                if k in ("warm_p50_ms", "warm_p99_ms", "tp_rps", "cold_p50_ms")
            )
            targets.append(("PostgreSQL within 20 % of SQLite", within))
        print()
        print("Targets (issue 2), in this run:")
        width = max(len(label) for label, _ in targets) + 1
        for label, ok in targets:
            print(f"  {label + ':':<{width}} {verdict(ok)}")
    print()
    exe = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    script = os.path.relpath(__file__) if os.path.abspath(__file__).startswith(os.getcwd()) else __file__
    prefix = "DATABASE_URL=… " if pg else ""
    print(f"Command: {prefix}{shlex.join([exe, script, *sys.argv[1:]])}")
    print(
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"{args.rounds} alternating round(s); {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "summary": summary}, indent=2, default=str))
        print(f"Raw figures: {args.json}")


if __name__ == "__main__":
    sys.exit(main())
