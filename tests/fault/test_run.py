"""``make run`` itself (scripts/run.py): a dead process no longer stops everything.

Issue 13 began with "after ``kill -9`` of the Celery worker, ``scripts/run.py`` shut the web server
down within a second". Here the worker and then the web server are SIGKILLed under ``run.py``; each
is restarted by its supervisor while the other keeps answering, and Ctrl-C (SIGINT) still stops all
of them, and their own children, cleanly.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import ROOT, free_port
from tests.fault.summary import report
from tests.fault.processes import alive, children_of, command_line, wait_for
from tests.live.conftest import fresh_database

pytestmark = pytest.mark.fault


class Run:
    def __init__(self, proc: subprocess.Popen[bytes], output: Path, port: int) -> None:
        self.proc, self.output, self.port = proc, output, port

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def child(self, fragment: str) -> int:
        found = [pid for pid in children_of(self.proc.pid) if fragment in command_line(pid)]
        assert len(found) == 1, (fragment, found)
        return found[0]

    def answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/login/")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        PORT=str(port),
        DATA_DIR=str(tmp_path / "data"),
        LISTEN_ADDRESS="127.0.0.1",
        LAMBDA_SHUTDOWN_GRACE_SECONDS="5",
        # A broker shared with other stacks (CI's Redis) must not hand this worker their tasks.
        CELERY_TASK_DEFAULT_QUEUE=f"fault-run-{uuid.uuid4().hex[:12]}",
    )
    output = tmp_path / "run.log"
    with fresh_database("lw_fault_run") as url, open(output, "wb") as sink:
        if url:
            env["DATABASE_URL"] = url
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        started = Run(proc, output, port)
        try:
            wait_for(lambda: "is running at" in started.text() or proc.poll() is not None, 120, "make run's banner")
            assert proc.poll() is None, started.text()
            yield started
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.send_signal(signal.SIGINT)  # the second one kills at once
            proc.wait(30)


def test_make_run_restarts_a_killed_worker_and_web_server_and_ctrl_c_stops_everything(run: Run) -> None:
    web, worker = run.child("granian"), run.child("celery")
    server_process = children_of(web)  # granian's worker process: the app, its pool
    assert len(server_process) == 1
    wait_for(lambda: run.text().count(" ready.") >= 1, 60, "the first worker")

    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    assert run.answers()  # the web server does not follow the worker down
    wait_for(lambda: "worker restarted" in run.text(), 10, "the worker's restart")
    restarted = time.monotonic() - killed
    ready = wait_for(lambda: run.text().count(" ready.") >= 2, 60, "the restarted worker") + restarted
    assert f"worker (pid {worker}) exited with signal SIGKILL" in run.text()
    assert run.child("granian") == web and run.answers()

    os.kill(web, signal.SIGKILL)  # the server's main process: its worker process is orphaned, still listening
    killed = time.monotonic()
    wait_for(lambda: "web restarted" in run.text(), 10, "the web server's restart")
    web_restarted = time.monotonic() - killed
    assert not alive(server_process[0])  # the orphan went with its process group
    web_answers = wait_for(run.answers, 60, "the restarted web server") + web_restarted
    new_worker = run.child("celery")
    assert new_worker != worker

    children = [run.child("granian"), new_worker]
    grandchildren = [pid for pid in children for pid in children_of(pid)]
    run.proc.send_signal(signal.SIGINT)
    stopping = time.monotonic()
    assert run.proc.wait(30) == 0, run.text()[-3000:]
    stopped = time.monotonic() - stopping
    assert "Stopped in" in run.text()
    assert not any(alive(pid) for pid in children + grandchildren)
    report(
        f"make run: SIGKILLed worker restarted after {restarted:.1f} s, ready after {ready:.1f} s; "
        f"SIGKILLed web server restarted after {web_restarted:.1f} s, answering after {web_answers:.1f} s; "
        f"Ctrl-C stopped everything in {stopped:.1f} s"
    )
