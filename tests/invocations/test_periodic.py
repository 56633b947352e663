"""The one periodic-thread loop every node's background work runs on (invocations/periodic.py)."""

from __future__ import annotations

import threading
import time

import pytest

from invocations.periodic import Periodic


def test_it_runs_at_once_and_then_every_interval() -> None:
    runs: list[float] = []
    job = Periodic("test-runs", 0.02, lambda: runs.append(time.monotonic()))
    job.start()
    deadline = time.monotonic() + 5
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    job.stop()
    job.join(5)
    assert len(runs) >= 3
    assert not job.is_alive()


def test_it_waits_one_interval_first_when_told() -> None:
    ran = threading.Event()
    job = Periodic("test-later", 0.3, ran.set, run_first=False)
    job.start()
    assert not ran.wait(0.1)
    assert ran.wait(5)
    job.stop()
    job.join(5)


def test_an_exception_is_logged_and_the_next_run_comes(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    again = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        again.set()

    job = Periodic("test-flaky", 0.01, flaky)
    job.start()
    assert again.wait(5)
    job.stop()
    job.join(5)
    assert "test-flaky failed" in caplog.text and "database away" in caplog.text


def test_stop_ends_a_waiting_thread_at_once_and_a_second_start_is_harmless() -> None:
    job = Periodic("test-stop", 3600, lambda: None)
    job.start()
    job.start()
    started = time.monotonic()
    job.stop()
    job.join(5)
    assert not job.is_alive()
    assert time.monotonic() - started < 1
    assert [t.name for t in threading.enumerate()].count("test-stop") == 0
