"""Asynchronous events on the real engine, called the way a worker calls them (no broker, no eager mode).

Retries are DB-scheduled, so the tests step time forward by making a scheduled attempt due at once
(after checking the delay the policy chose).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from invocations import dispatch, tasks
from invocations.models import DestinationDelivery, EventInvokeConfig, Function, Invocation, InvocationAttempt
from invocations.services import async_events
from invocations.timeline import async_timeline
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

ARN = "arn:aws:lambda:us-east-1:000000000000:function"
FAILING_PY = "def handler(event, context):\n    raise ValueError('bad ' + str(event['k']))\n"
BASE = 0.5


@pytest.fixture(autouse=True)
def async_settings(settings: Any, tmp_path: Path) -> None:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    settings.LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS = BASE


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[object, ...]]]:
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: sent.append((name, args)))
    return sent


def function(settings: Any, name: str = "echo", failing: bool = False, **fields: Any) -> Function:
    files = {"app.py": FAILING_PY} if failing else None
    return make_function(name, files=files, code_dir=settings.LAMBDA_CODE_DIR, **fields)


def event(fn: Function, *, payload: str = '{"k": "v"}', qualifier: str = "", age: float = 0) -> Invocation:
    return Invocation.objects.create(
        request_id=str(uuid.uuid4()),
        function=fn,
        function_name=fn.name,
        qualifier=qualifier,
        executed_version="$LATEST",
        invocation_type=Invocation.Type.EVENT,
        status=Invocation.Status.QUEUED,
        payload=payload,
        created_at=timezone.now() - timedelta(seconds=age),
        attempt=0,  # as the accept path stores it (pipeline.py)
    )


def configure(fn: Function, **fields: Any) -> EventInvokeConfig:
    return EventInvokeConfig.objects.create(function=fn, qualifier="$LATEST", **fields)


def run_until_final(invocation: Invocation, *, limit: int = 10) -> list[float]:
    """Run attempts until the event is final; return the delays chosen before each retry."""
    delays = []
    for _ in range(limit):
        tasks.run_queued_invocation(invocation.pk)
        invocation.refresh_from_db()
        if invocation.status != Invocation.Status.QUEUED:
            return delays
        last = invocation.attempts.order_by("-number").first()
        assert last is not None and last.next_attempt_at == invocation.next_attempt_at
        delays.append(round((last.next_attempt_at - last.finished_at).total_seconds(), 2))
        # Not due yet: a message arriving early does nothing.
        tasks.run_queued_invocation(invocation.pk)
        assert invocation.attempts.count() == last.number
        Invocation.objects.filter(pk=invocation.pk).update(next_attempt_at=timezone.now())
    raise AssertionError("the event never finished")


def test_a_successful_event_runs_once_and_records_success(settings: Any) -> None:
    invocation = event(function(settings))
    assert run_until_final(invocation) == []
    assert (invocation.status, invocation.condition, invocation.response) == ("succeeded", "Success", '{"k": "v"}')
    attempt = invocation.attempts.get()
    assert (attempt.number, attempt.outcome, attempt.worker) == (1, "succeeded", async_events.worker_name())
    assert invocation.deliveries.count() == 0  # nothing configured


@pytest.mark.parametrize(("retries", "runs", "delays"), [(0, 1, []), (1, 2, [BASE]), (2, 3, [BASE, 2 * BASE]), (None, 3, [BASE, 2 * BASE])])
def test_function_errors_are_retried_exactly_maximum_retry_attempts_times(
    settings: Any, retries: int | None, runs: int, delays: list[float]
) -> None:
    fn = function(settings, failing=True)
    configure(fn, maximum_retry_attempts=retries, on_failure_destination="arn:aws:sqs:us-east-1:000000000000:q")
    invocation = event(fn)
    assert run_until_final(invocation) == delays
    assert (invocation.status, invocation.condition, invocation.attempt) == ("failed", "RetriesExhausted", runs)
    assert list(invocation.attempts.values_list("number", "outcome", "error_type")) == [
        (n, "failed", "ValueError") for n in range(1, runs + 1)
    ]
    delivery = invocation.deliveries.get()
    record = json.loads(delivery.payload)
    assert (delivery.kind, delivery.condition, delivery.status) == ("on-failure", "RetriesExhausted", "pending")
    assert record["requestContext"]["approximateInvokeCount"] == runs


def test_a_row_stored_with_the_default_attempt_count_is_numbered_from_its_history(settings: Any) -> None:
    fn = function(settings, failing=True)
    configure(fn, maximum_retry_attempts=1)
    invocation = event(fn)
    Invocation.objects.filter(pk=invocation.pk).update(attempt=1)  # the ORM's default, not the accept path's 0
    run_until_final(invocation)
    assert list(invocation.attempts.values_list("number", flat=True)) == [1, 2]
    assert invocation.attempt == 2


def test_each_claim_counts_an_attempt_started(settings: Any) -> None:
    invocation = event(function(settings))
    assert invocation.attempt == 0
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert (invocation.attempt, invocation.attempts.get().number) == (1, 1)


def test_the_invocation_record_has_awss_shape(settings: Any) -> None:
    fn = function(settings, failing=True)
    configure(fn, maximum_retry_attempts=0, on_failure_destination="arn:aws:sqs:us-east-1:000000000000:q")
    invocation = event(fn, payload='{"k": 7}')
    run_until_final(invocation)
    record = json.loads(invocation.deliveries.get().payload)
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"}
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == 24
    assert record["requestContext"] == {
        "requestId": invocation.request_id,
        "functionArn": f"{ARN}:echo:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"k": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "bad 7"


def test_a_success_record_has_no_function_error(settings: Any) -> None:
    fn = function(settings)
    Function.objects.create(name="next", team=fn.team)
    configure(fn, on_success_destination=f"{ARN}:next")
    invocation = event(fn)
    run_until_final(invocation)
    record = json.loads(invocation.deliveries.get(kind="on-success").payload)
    assert record["requestContext"]["condition"] == "Success"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"k": "v"}


def test_an_event_older_than_its_maximum_age_is_not_run(settings: Any) -> None:
    fn = function(settings)
    configure(fn, maximum_event_age_in_seconds=60, on_failure_destination="https://hooks.example.com/x")
    invocation = event(fn, age=61)
    run_until_final(invocation)
    assert (invocation.status, invocation.condition, invocation.attempts.count()) == ("failed", "EventAgeExceeded", 0)
    record = json.loads(invocation.deliveries.get().payload)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record


def test_a_retry_that_would_come_too_late_is_event_age_exceeded(settings: Any) -> None:
    settings.LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS = 60
    fn = function(settings, failing=True)
    configure(fn, maximum_event_age_in_seconds=60, on_failure_destination="https://hooks.example.com/x")
    invocation = event(fn, age=30)
    run_until_final(invocation)
    assert (invocation.condition, invocation.attempts.count()) == ("EventAgeExceeded", 1)
    assert json.loads(invocation.deliveries.get().payload)["responseContext"]["functionError"] == "Unhandled"


def test_reserved_concurrency_zero_goes_straight_to_the_failure_destination(settings: Any) -> None:
    fn = function(settings, reserved_concurrency=0)
    configure(fn, on_failure_destination="https://hooks.example.com/x")
    invocation = event(fn)
    run_until_final(invocation)
    assert (invocation.status, invocation.condition) == ("throttled", "ZeroReservedConcurrency")
    assert list(invocation.attempts.values_list("outcome", flat=True)) == ["throttled"]
    record = json.loads(invocation.deliveries.get().payload)
    assert "responseContext" not in record


def test_the_config_of_the_invoked_qualifier_applies(settings: Any) -> None:
    fn = function(settings, failing=True)
    EventInvokeConfig.objects.create(function=fn, qualifier="$LATEST", maximum_retry_attempts=2)
    EventInvokeConfig.objects.create(function=fn, qualifier="live", maximum_retry_attempts=0)
    invocation = event(fn, qualifier="live")
    run_until_final(invocation)
    assert invocation.attempts.count() == 1


def test_a_dead_letter_queue_gets_the_event_on_failure_only(settings: Any) -> None:
    dlq = "arn:aws:sqs:us-east-1:000000000000:dlq"
    fn = function(settings, failing=True, dead_letter_target_arn=dlq)
    configure(fn, maximum_retry_attempts=0)
    invocation = event(fn, payload='{"k": 1}')
    run_until_final(invocation)
    delivery = invocation.deliveries.get()
    assert (delivery.kind, delivery.destination) == ("dead-letter", dlq)
    assert json.loads(delivery.payload) == {
        "body": '{"k": 1}', "RequestID": invocation.request_id, "ErrorCode": 200, "ErrorMessage": "bad 1",
    }  # fmt: skip
    ok = function(settings, name="fine", dead_letter_target_arn=dlq)
    succeeded = event(ok)
    run_until_final(succeeded)
    assert succeeded.deliveries.count() == 0


# --- crash recovery --------------------------------------------------------------------------------


DEAD_WORKER = "worker:no-such-host-or-pid:999999"


def running_on(invocation: Invocation, worker: str) -> None:
    Invocation.objects.filter(pk=invocation.pk).update(status="running", worker=worker, started_at=timezone.now(), attempt=1)
    InvocationAttempt.objects.create(invocation=invocation, number=1, worker=worker)


def test_a_redelivered_task_for_a_dead_workers_event_runs_it_again_as_a_second_attempt(settings: Any) -> None:
    invocation = event(function(settings))
    running_on(invocation, DEAD_WORKER)
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert (invocation.status, invocation.condition) == ("succeeded", "Success")
    assert list(invocation.attempts.values_list("number", "outcome", "error_type")) == [
        (1, "platform-error", "Platform.WorkerLost"),
        (2, "succeeded", ""),
    ]


def test_a_redelivered_task_leaves_a_live_workers_event_alone(settings: Any) -> None:
    invocation = event(function(settings))
    running_on(invocation, async_events.worker_name())  # this very process: alive
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert (invocation.status, invocation.attempts.count()) == ("running", 1)


def test_a_killed_worker_its_parent_has_not_reaped_yet_is_dead(settings: Any, published: list[Any]) -> None:
    """SIGKILL leaves a zombie until the parent waits for it; kill(pid, 0) still succeeds on one,
    but its events must be requeued at once (the scale-out test's killed worker was such a zombie)."""
    import signal
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        name = f"worker:{socket.gethostname()}:{child.pid}"
        assert async_events.worker_alive(name) is True
        invocation = event(function(settings))
        running_on(invocation, name)
        assert async_events.sweep().requeued == []
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while not Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1].startswith("Z"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert async_events.worker_alive(name) is False  # a zombie: not reaped, not alive
        assert async_events.sweep().requeued == [invocation.pk]
    finally:
        child.kill()
        child.wait()


def test_a_worker_on_another_host_is_alive_while_its_heartbeat_is_fresh() -> None:
    from invocations.models import WorkerHeartbeat

    name = "worker:elsewhere:42"
    assert async_events.worker_alive(name) is False
    WorkerHeartbeat.objects.create(name=name, kind="worker")
    assert async_events.worker_alive(name) is True
    WorkerHeartbeat.objects.filter(name=name).update(seen_at=timezone.now() - timedelta(minutes=10))
    assert async_events.worker_alive(name) is False


def test_the_sweep_requeues_a_dead_workers_event_and_publishes_it(settings: Any, published: list[Any]) -> None:
    invocation = event(function(settings))
    running_on(invocation, DEAD_WORKER)
    report = async_events.sweep()
    assert (report.requeued, report.published) == ([invocation.pk], [invocation.pk])
    assert published == [(dispatch.RUN_QUEUED_INVOCATION, (invocation.pk,))]
    invocation.refresh_from_db()
    assert (invocation.status, invocation.worker) == ("queued", "")
    assert async_events.sweep().published == []  # published once, not on every tick
    tasks.run_queued_invocation(invocation.pk)
    assert list(invocation.attempts.values_list("outcome", flat=True)) == ["platform-error", "succeeded"]


class BrokenPool:
    """An engine with a bug: every invoke raises an exception nobody expected."""

    def invoke(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("engine bug")


def test_an_attempt_that_raises_unexpectedly_is_a_platform_error_and_the_event_is_retried(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invocations import node

    invocation = event(function(settings))
    monkeypatch.setattr(node, "get_pool", BrokenPool)
    tasks.run_queued_invocation(invocation.pk)  # the worker lives on: nothing escapes the task
    invocation.refresh_from_db()
    assert (invocation.status, invocation.worker, invocation.error_type) == ("queued", "", "Platform.InternalError")
    attempt = invocation.attempts.get()
    assert (attempt.outcome, attempt.error_type) == ("platform-error", "Platform.InternalError")
    assert attempt.finished_at is not None and invocation.next_attempt_at == attempt.next_attempt_at
    # A platform error does not consume retries: after the back-off, the next attempt runs it.
    monkeypatch.undo()
    Invocation.objects.filter(pk=invocation.pk).update(next_attempt_at=timezone.now())
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert (invocation.status, invocation.condition) == ("succeeded", "Success")
    assert list(invocation.attempts.values_list("outcome", flat=True)) == ["platform-error", "succeeded"]


def test_an_attempt_that_raises_unexpectedly_when_too_old_to_retry_ends_the_event(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invocations import node

    settings.LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS = 600  # a platform error's first back-off: 10 s
    fn = function(settings)
    configure(fn, maximum_event_age_in_seconds=60, on_failure_destination="https://hooks.example.com/x")
    invocation = event(fn, age=55)
    monkeypatch.setattr(node, "get_pool", BrokenPool)
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert (invocation.status, invocation.condition, invocation.worker) == ("failed", "EventAgeExceeded", "")
    assert list(invocation.attempts.values_list("outcome", flat=True)) == ["platform-error"]
    assert json.loads(invocation.deliveries.get().payload)["requestContext"]["condition"] == "EventAgeExceeded"


def test_an_error_before_the_attempt_is_stored_still_ends_it(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    invocation = event(function(settings))
    calls = iter([RuntimeError("config read failed")])

    def config_once(event: Invocation) -> None:  # fails the first time only
        error = next(calls, None)
        if error is not None:
            raise error

    monkeypatch.setattr(async_events, "_config", config_once)
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert invocation.status == "queued"
    assert list(invocation.attempts.values_list("number", "outcome")) == [(1, "platform-error")]


def test_the_sweep_publishes_retries_when_due_and_lost_messages_again(settings: Any, published: list[Any]) -> None:
    settings.LAMBDA_ASYNC_REDISPATCH_SECONDS = 30
    fn = function(settings)
    later = event(fn)
    Invocation.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=5), dispatched_at=None)
    due = event(fn)
    Invocation.objects.filter(pk=due.pk).update(next_attempt_at=timezone.now(), dispatched_at=None)
    lost = event(fn)
    Invocation.objects.filter(pk=lost.pk).update(dispatched_at=timezone.now() - timedelta(seconds=31))
    fresh = event(fn)
    Invocation.objects.filter(pk=fresh.pk).update(dispatched_at=timezone.now())
    assert sorted(async_events.sweep().published) == sorted([due.pk, lost.pk])
    assert async_events.sweep(now=timezone.now() + timedelta(seconds=6)).published == [later.pk]


def test_a_failed_publication_is_retried_by_the_next_sweep(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    invocation = event(function(settings))
    Invocation.objects.filter(pk=invocation.pk).update(dispatched_at=None)

    def refuse(name: str, *args: object) -> None:
        raise OSError("broker down")

    monkeypatch.setattr(dispatch, "_send", refuse)
    async_events.sweep()
    invocation.refresh_from_db()
    assert invocation.dispatched_at is None


# --- accepts stored together (pipeline.py's group commit) -----------------------------------------


def unsaved_events(fn: Function, count: int) -> list[Invocation]:
    return [
        Invocation(
            request_id=str(uuid.uuid4()), function=fn, function_name=fn.name, executed_version="$LATEST",
            invocation_type=Invocation.Type.EVENT, status=Invocation.Status.QUEUED, payload=f'{{"n": {n}}}',
            attempt=0, dispatched_at=timezone.now(),
        )
        for n in range(count)
    ]  # fmt: skip


def test_accepts_flushed_together_are_stored_and_published_together(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invocations import pipeline

    sent: list[tuple[str, list[tuple[object, ...]]]] = []
    monkeypatch.setattr(dispatch, "send_many", lambda name, arguments: sent.append((name, list(arguments))))
    batch = unsaved_events(function(settings), 3)
    pipeline._store_events(batch)
    assert all(i.pk for i in batch)
    assert sent == [(dispatch.RUN_QUEUED_INVOCATION, [(i.pk,) for i in batch])]
    stored = Invocation.objects.filter(pk__in=[i.pk for i in batch])
    assert sorted(stored.values_list("body__payload", flat=True)) == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert set(stored.values_list("status", "attempt")) == {(Invocation.Status.QUEUED, 0)}


def test_a_batch_whose_publish_fails_is_marked_failed_so_nothing_runs_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invocations import pipeline

    def refuse(name: str, arguments: object) -> None:
        raise OSError("broker down")

    monkeypatch.setattr(dispatch, "send_many", refuse)
    batch = unsaved_events(function(settings), 2)
    with pytest.raises(OSError):
        pipeline._store_events(batch)
    stored = Invocation.objects.filter(pk__in=[i.pk for i in batch])
    assert set(stored.values_list("status", "error_type")) == {(Invocation.Status.FAILED, "ServiceException")}
    tasks.run_queued_invocation(batch[0].pk)  # a message that got through anyway finds nothing to run
    assert not InvocationAttempt.objects.filter(invocation_id=batch[0].pk).exists()


# --- the timeline and the status route -------------------------------------------------------------


def test_the_timeline_shows_attempts_delays_deliveries_and_the_end(settings: Any) -> None:
    fn = function(settings, failing=True)
    configure(fn, maximum_retry_attempts=1, on_failure_destination="https://hooks.example.com/x")
    invocation = event(fn)
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    assert [e.kind for e in async_timeline(invocation)] == ["queued", "attempt", "retry-scheduled"]
    assert async_timeline(invocation)[1].detail["delay_seconds"] == pytest.approx(BASE, abs=0.05)
    Invocation.objects.filter(pk=invocation.pk).update(next_attempt_at=timezone.now())
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    timeline = async_timeline(invocation)
    assert [e.kind for e in timeline] == ["queued", "attempt", "attempt", "final", "delivery"]
    assert timeline[2].detail["outcome"] == "failed" and timeline[2].detail["delay_seconds"] is None
    assert timeline[3].detail == {"status": "failed", "condition": "RetriesExhausted"}
    assert timeline[4].detail["status"] == "pending"


def test_the_status_route_answers_signed_requests(settings: Any, access_key: Any) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from django.test import Client

    fn = function(settings, failing=True)
    configure(fn, maximum_retry_attempts=0, on_failure_destination="https://hooks.example.com/x")
    invocation = event(fn)
    run_until_final(invocation)

    def get(path: str) -> Any:
        request = AWSRequest(method="GET", url=f"http://lambda.test{path}", headers={"Host": "lambda.test"})
        credentials = Credentials(access_key.access_key_id, access_key.secret_access_key)
        SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
        headers = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in request.headers.items()}
        return Client().get(path, **headers)

    response = get(f"/2015-03-31/functions/echo/async-invocations/{invocation.request_id}")
    assert response.status_code == 200
    document = response.json()
    assert (document["Status"], document["Condition"], document["ApproximateInvokeCount"]) == ("failed", "RetriesExhausted", 1)
    assert document["FunctionArn"] == "arn:aws:lambda:us-east-1:111111111111:function:echo:$LATEST"
    assert [a["Outcome"] for a in document["Attempts"]] == ["failed"]
    assert document["Deliveries"][0]["Kind"] == "on-failure"
    assert get("/2015-03-31/functions/echo/async-invocations/nope").status_code == 404
    assert Client().get(f"/2015-03-31/functions/echo/async-invocations/{invocation.request_id}").status_code == 403


LOUD_FAILING_PY = "def handler(event, context):\n    print('run at', event['k'])\n    raise ValueError('bad')\n"


def test_each_attempt_keeps_its_own_logs(settings: Any) -> None:
    fn = make_function("loud", files={"app.py": LOUD_FAILING_PY}, code_dir=settings.LAMBDA_CODE_DIR)
    configure(fn, maximum_retry_attempts=1)
    invocation = event(fn)
    run_until_final(invocation)
    first, second = invocation.attempts.order_by("number")
    assert "run at v" in first.logs and "run at v" in second.logs
    # Each attempt's own START line (the event's logs are the last attempt's only).
    assert first.logs.count("START RequestId") == 1 and second.logs.count("START RequestId") == 1
    assert first.logs != second.logs and invocation.logs == second.logs
    assert [e.detail["logs"] for e in async_timeline(invocation) if e.kind == "attempt"] == [first.logs, second.logs]


def test_a_waiting_retry_says_which_attempt_of_how_many(settings: Any) -> None:
    fn = function(settings, failing=True)
    invocation = event(fn)  # no config: MaximumRetryAttempts 2, so three attempts
    tasks.run_queued_invocation(invocation.pk)
    invocation.refresh_from_db()
    scheduled = async_timeline(invocation)[-1]
    assert (scheduled.kind, scheduled.detail) == ("retry-scheduled", {"number": 2, "of": 3})
    assert scheduled.at == invocation.next_attempt_at


@pytest.mark.parametrize(
    ("outcomes", "retries", "planned"),
    [
        ([], 2, 3),
        (["failed"], 2, 3),
        (["throttled", "failed"], 2, 4),  # a throttle does not use up the retry budget
        (["platform-error", "throttled"], 0, 3),
        (["timed-out"], 1, 2),
    ],
)
def test_planned_attempts_count_only_runs_against_the_budget(outcomes: list[str], retries: int, planned: int) -> None:
    from invocations.timeline import planned_attempts

    assert planned_attempts(outcomes, retries) == planned
