"""The supervisor of ``scripts/stack.py`` with stand-in children (no Django, a few seconds).

What ``make run`` relies on: a dead child comes back after its back-off, with a log line, while the
other keeps running; stopping forwards SIGTERM, waits the grace period, then SIGKILLs the whole
process group; nothing is restarted once stopping has begun.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import (
    RESTART_DELAY_FIRST,
    RESTART_DELAY_MAX,
    RESTART_RESET_AFTER,
    Stack,
    describe_status,
    free_port,
    restart_delay,
)
from tests.fault.processes import alive, wait_for

pytestmark = pytest.mark.fault

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
# Ignores SIGTERM, and leaves a grandchild in its process group (as granian leaves its worker).
STUBBORN = [
    sys.executable, "-c",
    "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
    "print(p.pid, flush=True); time.sleep(600)",
]  # fmt: skip


class StandIn(Stack):
    """A Stack whose children are plain sleepers (or whatever ``commands`` says)."""

    def __init__(self, tmp_path: Path, commands: dict[str, list[str]] | None = None) -> None:
        self.lines: list[str] = []
        super().__init__(tmp_path, port=free_port(), log_dir=tmp_path / "logs", log=self.lines.append)
        self.commands = {"web": SLEEPER, "worker": SLEEPER, **(commands or {})}

    def web_command(self) -> list[str]:
        return self.commands["web"]

    def worker_command(self) -> list[str]:
        return self.commands["worker"]

    def launch(self) -> None:
        self.web = self._spawn("web", self.web_command())
        self.worker = self._spawn("worker", self.worker_command())


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[StandIn]:
    stack = StandIn(tmp_path)
    stack.launch()
    thread = threading.Thread(target=stack.supervise, kwargs={"poll": 0.05}, daemon=True)
    thread.start()
    try:
        yield stack
    finally:
        stack.stop(grace=2)
        thread.join(5)
        assert not thread.is_alive()


@pytest.mark.parametrize(
    ("previous", "uptime", "expected"),
    [
        (None, 0.1, RESTART_DELAY_FIRST),  # first death
        (RESTART_DELAY_FIRST, 1.0, 2 * RESTART_DELAY_FIRST),  # died again soon: doubled
        (8.0, 5.0, 16.0),
        (16.0, 5.0, RESTART_DELAY_MAX),  # capped
        (RESTART_DELAY_MAX, 5.0, RESTART_DELAY_MAX),
        (RESTART_DELAY_MAX, RESTART_RESET_AFTER, RESTART_DELAY_FIRST),  # stayed up a while: reset
    ],
)
def test_the_restart_delay_doubles_to_a_cap_and_resets_after_a_healthy_spell(
    previous: float | None, uptime: float, expected: float
) -> None:
    assert restart_delay(previous, uptime) == expected


def test_exit_statuses_are_described_by_signal_name() -> None:
    assert describe_status(-9) == "signal SIGKILL"
    assert describe_status(-15) == "signal SIGTERM"
    assert describe_status(1) == "status 1"


def test_a_killed_child_is_restarted_with_a_log_line_and_the_other_keeps_running(supervised: StandIn) -> None:
    web, worker = supervised.web, supervised.worker
    assert web is not None and worker is not None
    killed_at = time.monotonic()
    os.kill(worker.pid, signal.SIGKILL)
    wait_for(lambda: supervised.restarts["worker"] == 1, 10)
    restarted_after = time.monotonic() - killed_at
    assert RESTART_DELAY_FIRST <= restarted_after < RESTART_DELAY_FIRST + 1
    assert supervised.worker is not None and supervised.worker.pid != worker.pid
    assert supervised.worker.poll() is None
    assert supervised.web is web and web.poll() is None
    assert supervised.restarts["web"] == 0
    assert supervised.lines[0].startswith(f"worker (pid {worker.pid}) exited with signal SIGKILL after ")
    assert supervised.lines[0].endswith("; restarting it in 0.5 s")
    assert supervised.lines[1] == f"worker restarted (pid {supervised.worker.pid})"


def test_a_child_that_keeps_dying_waits_longer_each_time(supervised: StandIn) -> None:
    for expected_delay in ("0.5", "1", "2"):
        proc = supervised.web
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        wait_for(lambda: supervised.web is not proc, 10)
        assert supervised.lines[-2].endswith(f"restarting it in {expected_delay} s")
    assert supervised.restarts == {"web": 3, "worker": 0}


def test_a_clean_exit_nobody_asked_for_is_a_death_too(supervised: StandIn) -> None:
    proc = supervised.worker
    assert proc is not None
    os.kill(proc.pid, signal.SIGTERM)
    wait_for(lambda: supervised.restarts["worker"] == 1, 10)
    assert "exited with signal SIGTERM" in supervised.lines[0]


def test_stop_forwards_sigterm_waits_the_grace_then_kills_the_whole_group(tmp_path: Path) -> None:
    stack = StandIn(tmp_path, {"worker": STUBBORN})
    stack.launch()
    worker = stack.worker
    assert worker is not None and stack.log_dir is not None
    log = stack.log_dir / "worker.log"
    wait_for(lambda: log.exists() and log.read_text().strip(), 10)
    grandchild = int(log.read_text().split()[0])
    started = time.monotonic()
    stack.stop(grace=1.5)
    took = time.monotonic() - started
    assert 1.5 <= took < 3, took
    assert worker.returncode == -signal.SIGKILL
    # SIGKILL of the group is sent; the kernel ends the grandchild a moment later (not a wait on it).
    wait_for(lambda: not alive(grandchild), 2, "the grandchild to die")
    assert stack.web is None and stack.worker is None


def test_stop_hurries_when_asked(tmp_path: Path) -> None:
    stack = StandIn(tmp_path, {"worker": STUBBORN})
    stack.launch()
    started = time.monotonic()
    stack.stop(grace=30, hurry=lambda: time.monotonic() - started > 0.5)
    assert time.monotonic() - started < 2


def test_nothing_is_restarted_once_stopping_has_begun(supervised: StandIn) -> None:
    worker = supervised.worker
    assert worker is not None
    supervised.stop(grace=2)
    time.sleep(0.3)  # several supervisor polls
    assert supervised.restarts == {"web": 0, "worker": 0}
    assert supervised.web is None and supervised.worker is None
    assert worker.returncode == -signal.SIGTERM
