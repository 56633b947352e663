"""Faults under load on a real supervised stack: nothing accepted is lost, nothing hangs (issue 13).

One stack for the module (granian + a Celery worker, on loopback, under ``Stack.supervise`` in a
thread — the supervisor of ``make run``), with a few Python functions. Each test runs mixed load
(threads of synchronous invokes and of ``Event`` invokes) while one fault happens, lets the stack
settle (bounded), then counts: every accepted event ran at least once, every synchronous call that
got an answer has its record, and no record of an unrelated function is missing. Each prints its
counts (and pytest's summary repeats them).

The broker restart needs a broker that is a process: on CI's Redis run (``CELERY_BROKER_URL`` is
``redis://…``) the stack gets a private ``redis-server`` that the test kills and starts again; the
embedded broker is a SQLite file in DATA_DIR, no process, so that test is skipped there.

``LAMBDA_ASYNC_REDISPATCH_SECONDS`` is 10 here (default 300): a message the broker lost is published
again from its row after that long, and the test waits for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import ROOT, Stack, free_port
from tests.fault.load import Count, client, count, load
from tests.fault.processes import children_of, wait_for
from tests.fault.summary import report
from tests.live.conftest import fresh_database
from tests.live.functions import make_zip

pytestmark = pytest.mark.fault

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
SLEEPER = "import time\n\ndef handler(event, context):\n    time.sleep(event.get('sleep', {sleep}))\n    return event\n"
# Functions no fault is aimed at: their records must all be there whatever happens.
UNRELATED = ("echo", "sleepy")
SYNC = {"echo": 3, "sleepy": 1}
EVENTS = {"sleepy": 1, "echo": 1}
BEFORE_S = 2.0  # load before the fault
BURST = 40  # events queued just before the broker dies
AFTER_S = 2.0  # load after recovery


class RedisServer:
    """A private redis-server on a free port, killed and started again by the broker test."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self.ping, 10, "redis-server")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Faulty:
    stack: Stack
    key_id: str
    secret: str
    lam: Any
    redis: RedisServer | None
    supervisor_lines: list[str]

    def load(self, **plan: Any) -> Any:
        return load(self.stack, self.key_id, self.secret, **plan)

    def create(self, name: str, source: str) -> None:
        self.lam.create_function(
            FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": source})}, Timeout=30,
        )  # fmt: skip
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    def app_process(self) -> int:
        """granian's worker process: the one that runs the app, its pool and its recorder."""
        web = self.stack.web
        assert web is not None
        wait_for(lambda: children_of(web.pid), 30, "granian's worker process")
        (pid,) = children_of(web.pid)
        return pid

    def serving(self) -> bool:
        return self.stack.http_ready() and self.stack.worker_ready()


@contextlib.contextmanager
def faulty_stack(data_dir: Path, *, with_redis: bool) -> Iterator[Faulty]:
    """A supervised stack with two functions; ``with_redis``: its broker a private redis-server."""
    lines: list[str] = []
    env = {
        "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
        "CELERY_TASK_DEFAULT_QUEUE": f"fault-{uuid.uuid4().hex[:12]}",
        "LAMBDA_ASYNC_REDISPATCH_SECONDS": "10",
        "LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS": "1",
    }
    redis_server = None
    if with_redis:
        redis_server = RedisServer(data_dir)
        redis_server.start()
        env["CELERY_BROKER_URL"] = redis_server.url
        env["CELERY_RESULT_BACKEND"] = redis_server.url
    try:
        with fresh_database("lw_fault") as url:
            if url:
                env["DATABASE_URL"] = url
            stack = Stack(data_dir, port=free_port(), env=env, listen_address="127.0.0.1", log_dir=data_dir / "logs",
                          log=lines.append)  # fmt: skip
            stack.start(timeout=90)
            supervisor = threading.Thread(target=stack.supervise, name="supervisor", daemon=True)
            supervisor.start()
            try:
                created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "fault").splitlines())
                key_id, secret = created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"]
                faulty = Faulty(stack, key_id, secret, client(stack, key_id, secret), redis_server, lines)
                faulty.create("echo", "def handler(event, context):\n    return event\n")
                faulty.create("sleepy", SLEEPER.format(sleep=0.2))
                yield faulty
            finally:
                stack.stop()
                supervisor.join(10)
    finally:
        if redis_server is not None:
            redis_server.kill()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    """The stack of this CI run's broker: a private redis-server when it is Redis, else the embedded one."""
    with_redis = os.environ.get("CELERY_BROKER_URL", "").startswith("redis://")
    with faulty_stack(tmp_path_factory.mktemp("fault-data"), with_redis=with_redis) as stack:
        yield stack


@pytest.fixture
def faulty_with_redis(faulty: Faulty, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    """A stack whose broker is a process that can die: this run's own when it uses Redis; on the
    embedded broker's run (a SQLite file, nothing to restart) a second stack on a private Redis."""
    if faulty.redis is not None:
        yield faulty
        return
    with faulty_stack(tmp_path_factory.mktemp("fault-redis"), with_redis=True) as stack:
        yield stack


def settle_and_count(faulty: Faulty, answered: Any, fault: str, extra: str = "", **kwargs: Any) -> Count:
    result = count(faulty.stack, answered, **kwargs)
    report(result.line(fault, UNRELATED, extra))
    return result


def assert_nothing_lost(result: Count) -> None:
    assert result.answered.total(result.answered.sync) > 0 and result.answered.total(result.answered.events) > 0
    assert result.unrecorded() == [], "synchronous calls answered but not recorded"
    assert result.not_run(UNRELATED) == [], "accepted events that never ran"


def test_a_worker_stopped_with_sigterm_hands_back_its_events(faulty: Faulty) -> None:
    """Warm shutdown: the worker finishes what it runs, leaves the rest queued; a new one runs it."""
    with faulty.load(sync=SYNC, events=EVENTS) as running:
        time.sleep(BEFORE_S)
        worker = faulty.stack.worker
        assert worker is not None
        restarts = faulty.stack.restarts["worker"]
        worker.send_signal(signal.SIGTERM)
        stopped = wait_for(lambda: worker.poll() is not None, 30, "the worker's warm shutdown")
        # Nobody asked it to stop: the supervisor starts another one.
        back = wait_for(lambda: faulty.stack.restarts["worker"] > restarts and faulty.serving(), 60, "a new worker")
        back += stopped
        time.sleep(AFTER_S)
    result = settle_and_count(faulty, running.answered, "worker SIGTERM",
                              f"worker stopped in {stopped:.1f} s, a new one ready {back:.1f} s after the signal")  # fmt: skip
    assert worker.returncode == 0
    assert_nothing_lost(result)


def test_a_worker_killed_with_sigkill_is_restarted_and_its_events_run_again(faulty: Faulty) -> None:
    with faulty.load(sync=SYNC, events=EVENTS) as running:
        time.sleep(BEFORE_S)
        worker = faulty.stack.worker
        assert worker is not None
        restarts = faulty.stack.restarts["worker"]
        os.kill(worker.pid, signal.SIGKILL)
        restarted = wait_for(lambda: faulty.stack.restarts["worker"] > restarts, 60, "the supervisor's restart")
        ready = wait_for(faulty.serving, 60, "the restarted worker") + restarted
        time.sleep(AFTER_S)
    result = settle_and_count(faulty, running.answered, "worker SIGKILL",
                              f"restarted by the supervisor after {restarted:.1f} s, ready after {ready:.1f} s")  # fmt: skip
    assert_nothing_lost(result)


def test_the_web_server_killed_with_sigkill_is_restarted_and_loses_no_answered_record(faulty: Faulty) -> None:
    """SIGKILL of the process that runs the app (its pool, its queued records): granian's main
    process exits, the supervisor starts the server again."""
    with faulty.load(sync=SYNC, events=EVENTS) as running:
        time.sleep(BEFORE_S)
        restarts = faulty.stack.restarts["web"]
        os.kill(faulty.app_process(), signal.SIGKILL)
        restarted = wait_for(lambda: faulty.stack.restarts["web"] > restarts, 60, "the supervisor's restart")
        serving = wait_for(faulty.serving, 60, "the restarted web server") + restarted
        time.sleep(AFTER_S)
    result = settle_and_count(faulty, running.answered, "web SIGKILL",
                              f"restarted by the supervisor after {restarted:.1f} s, answering after {serving:.1f} s")  # fmt: skip
    assert_nothing_lost(result)


def test_a_broker_restart_loses_no_accepted_event(faulty_with_redis: Faulty) -> None:
    faulty = faulty_with_redis
    redis_server = faulty.redis
    assert redis_server is not None
    with faulty.load(sync=SYNC, events=EVENTS) as running:
        time.sleep(BEFORE_S)
        # A backlog the worker cannot have taken yet (8 threads, 0.2 s each), then the broker dies
        # without persistence: those messages are gone, and their rows are published again.
        for _ in range(BURST):
            response = faulty.lam.invoke(FunctionName="sleepy", InvocationType="Event", Payload=b"{}")
            running.answered.add(running.answered.events, "sleepy", response["ResponseMetadata"]["RequestId"])
        redis_server.kill()
        time.sleep(1.0)
        redis_server.start()
        time.sleep(AFTER_S)
    result = settle_and_count(faulty, running.answered, "broker (Redis) restart",
                              f"broker down 1 s, {BURST} events queued in it when it died")  # fmt: skip
    assert_nothing_lost(result)


def test_a_function_deleted_mid_invocation_loses_no_record(faulty: Faulty) -> None:
    """Its calls in flight finish and are recorded; nobody else's records are dropped with them."""
    faulty.create("doomed", SLEEPER.format(sleep=1.0))
    with faulty.load(sync={**SYNC, "doomed": 3}, events=EVENTS) as running:
        time.sleep(BEFORE_S)
        faulty.lam.delete_function(FunctionName="doomed")
        time.sleep(AFTER_S)
    result = settle_and_count(faulty, running.answered, "function deleted mid-invocation",
                              f"{len(running.answered.sync.get('doomed', []))} answered calls of the deleted function")  # fmt: skip
    assert running.answered.sync.get("doomed"), "no call of the deleted function was answered"
    assert result.unrecorded(UNRELATED) == [], "records of other functions were lost with the deleted one's"
    assert_nothing_lost(result)
