"""The node: one object that owns the process's pool, recorder and background work (invocations/node.py)."""

from __future__ import annotations

import pytest

from invocations import node
from invocations.event_sources.supervisor import Supervisor
from invocations.models import WorkerHeartbeat
from invocations.periodic import Periodic

pytestmark = pytest.mark.django_db(transaction=True)  # start() closes its connection, as a thread must


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a node starts, by name, without starting threads or touching exit hooks and signals."""
    names: list[str] = []
    monkeypatch.setattr(Periodic, "start", lambda self: names.append(self.name))
    monkeypatch.setattr(Supervisor, "start", lambda self: names.append("esm-supervisor"))
    monkeypatch.setattr(node, "at_exit", lambda func, *, priority: None)
    monkeypatch.setattr(node, "install_sigterm_exit", lambda: None)
    monkeypatch.setattr(node, "_recover_records", lambda: None)
    monkeypatch.setattr(node.Node, "watch_for_shutdown", lambda self, grace: names.append("shutdown-watch"))
    return names


def test_a_worker_node_owns_its_periodic_work_and_pollers(started: list[str]) -> None:
    worker = node.Node()
    worker.start("worker")
    assert started == ["node-heartbeat", "node-reconcile", "async-sweep", "schedules", "esm-supervisor"]
    assert worker.name == node.node_name("worker")
    assert WorkerHeartbeat.objects.filter(name=worker.name, kind="worker").exists()
    worker.start("worker")  # once per process
    assert len(started) == 5

    worker.withdraw()
    assert worker.supervisor is None
    assert not WorkerHeartbeat.objects.exists()


def test_a_web_node_runs_no_worker_work(started: list[str], settings: object) -> None:
    settings.LAMBDA_RECONCILE_SECONDS = 0  # type: ignore[attr-defined]
    web = node.Node()
    web.start("web")
    assert started == ["shutdown-watch", "node-heartbeat"]
    assert (web.sweeper, web.scheduler, web.supervisor) == (None, None, None)
    web.withdraw()


def test_a_worker_that_polls_nothing_has_no_supervisor(started: list[str], settings: object) -> None:
    settings.LAMBDA_ESM_MAX_POLLERS = 0  # type: ignore[attr-defined]
    worker = node.Node()
    worker.start("worker")
    assert worker.supervisor is None and "esm-supervisor" not in started
    worker.withdraw()


def test_the_process_wide_helpers_are_the_current_nodes() -> None:
    assert node.get_pool() is node.current().pool is node.current_pool()
    from invocations import recorder

    assert recorder.get_recorder() is node.current().recorder


def test_the_node_owns_one_concurrency_limiter_that_a_reset_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    from invocations import concurrency

    monkeypatch.setattr(node, "at_exit", lambda func, *, priority: None)
    owner = node.Node()
    monkeypatch.setattr(node, "current", lambda: owner)
    first = concurrency.get_limiter()
    assert first is owner.limiter is concurrency.get_limiter()
    concurrency.reset_limiter()
    assert concurrency.get_limiter() is not first
    owner.reset_limiter()
