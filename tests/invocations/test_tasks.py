"""The worker's side of Event invocations: the task runs a queued row on the real engine."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from invocations import dispatch, tasks
from invocations.models import Function, Invocation
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

FAILING_PY = "def handler(event, context):\n    print('about to fail')\n    raise RuntimeError('boom')\n"


@pytest.fixture(autouse=True)
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


def queued(function: Function, payload: str = '{"k": "v"}', version: str = "$LATEST") -> Invocation:
    return Invocation.objects.create(
        request_id=str(uuid.uuid4()),
        function=function,
        function_name=function.name,
        executed_version=version,
        invocation_type=Invocation.Type.EVENT,
        status=Invocation.Status.QUEUED,
        payload=payload,
    )


def test_the_task_is_registered_under_the_name_dispatch_uses() -> None:
    assert tasks.run_queued_invocation.name == dispatch.RUN_QUEUED_INVOCATION


def test_it_runs_a_queued_invocation_and_records_the_outcome(code_dir: Path) -> None:
    invocation = queued(make_function(code_dir=code_dir, memory_size=192))
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert invocation.status == "succeeded"
    assert invocation.response == '{"k": "v"}'
    assert invocation.function_error == ""
    assert invocation.cold_start is True
    assert invocation.memory_size_mb == 192
    assert invocation.duration_ms is not None and invocation.billed_duration_ms is not None
    assert f"REPORT RequestId: {invocation.request_id}" in invocation.logs
    assert invocation.started_at is not None and invocation.finished_at is not None


def test_a_function_error_is_recorded_as_failed(code_dir: Path) -> None:
    from invocations.models import EventInvokeConfig

    function = make_function(files={"app.py": FAILING_PY}, code_dir=code_dir)
    EventInvokeConfig.objects.create(function=function, maximum_retry_attempts=0)  # no retry: final at once
    invocation = queued(function)
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert (invocation.status, invocation.function_error, invocation.error_type) == ("failed", "Unhandled", "RuntimeError")
    assert "about to fail" in invocation.logs


def test_it_runs_the_version_that_was_resolved_when_queued(code_dir: Path) -> None:
    invocation = queued(make_function(code_dir=code_dir, versions=("$LATEST", "4")), version="4")
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert invocation.status == "succeeded"
    assert f"START RequestId: {invocation.request_id} Version: 4" in invocation.logs


def test_a_redelivered_task_does_not_run_the_event_again(code_dir: Path) -> None:
    invocation = queued(make_function(code_dir=code_dir))
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    finished_at = invocation.finished_at
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert invocation.finished_at == finished_at


def test_a_version_deleted_while_queued_fails_the_event(code_dir: Path) -> None:
    function = make_function(code_dir=code_dir)
    invocation = queued(function)
    function.versions.all().delete()
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert (invocation.status, invocation.error_type) == ("failed", "ResourceNotFoundException")


def test_register_node_records_the_pools_runtimes() -> None:
    from invocations import node
    from invocations.models import WorkerHeartbeat

    node.register_node("worker")
    node.register_node("worker")  # an upsert: still one row
    heartbeat = WorkerHeartbeat.objects.get()
    assert heartbeat.name == node.node_name("worker")
    assert heartbeat.kind == "worker"
    assert "python3.11" in heartbeat.runtimes


def test_a_ready_worker_starts_its_node_and_a_shutdown_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.signals import worker_ready, worker_shutdown

    from invocations import node

    calls: list[str] = []
    monkeypatch.setattr(node.current(), "start", calls.append)
    monkeypatch.setattr(node.current(), "stop", lambda: calls.append("stop"))
    worker_ready.send(sender=None)
    worker_shutdown.send(sender=None)
    assert calls == ["worker", "stop"]
