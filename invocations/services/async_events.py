"""Running asynchronous events: attempts, retries, event age, destinations, DLQ, recovery (spec §5).

The database is the source of truth; the broker only wakes workers up.

* **Accept** (``pipeline.py``): a ``queued`` row is stored, and its task published after
  commit; if either fails the caller gets a 5xx.
* **Run** (``run_queued_invocation``): a worker claims the row with a conditional update
  (``queued`` → ``running``, its node name in ``worker``) and records an ``InvocationAttempt``. A
  task redelivered for a row still ``running`` takes it over only when the worker named on it is
  dead (same host: its pid is gone; other hosts: its heartbeat is stale) — so a worker killed with
  SIGKILL mid-invocation loses nothing: the event runs again and the history shows a second attempt
  (at-least-once, as AWS). The lost attempt is a platform error: it does not consume retries. An
  attempt that raises unexpectedly while its worker lives on is ended the same way, at once
  (``_end_as_platform_error``). Status changes follow ``invocations/lifecycle.py``.
* **Retry**: ``retry_policy.decide`` says whether and when. A retry is a ``queued`` row with
  ``next_attempt_at`` in the future — no Celery ``eta`` (an eta message sits unacknowledged in the
  worker and is subject to Redis's visibility timeout; a row in the database survives anything).
* **Sweep** (``sweep``, run by every worker every ``LAMBDA_ASYNC_SWEEP_SECONDS``): publishes
  retries and deliveries that are due, republishes queued work whose message was lost (the embedded
  broker drops what a killed worker had fetched), and requeues ``running`` rows whose worker died.
  Several sweepers are safe: each publication is claimed by a conditional update first, and a
  duplicate message is harmless (the run claim lets one through).
* **Finish**: the row gets its final status and ``condition``; OnSuccess/OnFailure records and the
  DLQ message become ``DestinationDelivery`` rows, each sent by its own task (``deliver``) so a slow
  destination never holds the invoker; failed deliveries are retried with back-off and recorded.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from invocations import concurrency, destinations, dispatch, lifecycle, metrics, node, recorder, retry_policy, rollups, rows
from invocations.arns import function_arn
from invocations.engine.types import InvokeRequest, RuntimeUnavailable, TooManyRequests
from invocations.models import (
    LATEST,
    DestinationDelivery,
    EventInvokeConfig,
    FunctionVersion,
    Invocation,
    InvocationAttempt,
    InvocationBody,
    Team,
)
from invocations.pipeline import platform_failure
from invocations.retry_policy import Condition, Outcome
from invocations.services import event_invoke_config
from invocations.services.invoke import copy_result, function_spec, version_of_function

logger = logging.getLogger(__name__)

Attempt = InvocationAttempt.Outcome
SWEEP_BATCH: Final = 500
DELIVERY_LEASE_SECONDS: Final = 60.0  # a delivery being sent is not republished before this
_RAN: Final = (Attempt.SUCCEEDED, Attempt.FAILED, Attempt.TIMED_OUT)
_ATTEMPT_OF_RESULT: Final = {"succeeded": Attempt.SUCCEEDED, "failed": Attempt.FAILED, "timed-out": Attempt.TIMED_OUT}
# The status an event ends with when its last attempt ended so (a platform error is a failure).
_STATUS_OF_ATTEMPT: Final = {
    Attempt.SUCCEEDED: Invocation.Status.SUCCEEDED,
    Attempt.FAILED: Invocation.Status.FAILED,
    Attempt.TIMED_OUT: Invocation.Status.TIMED_OUT,
    Attempt.THROTTLED: Invocation.Status.THROTTLED,
    Attempt.PLATFORM_ERROR: Invocation.Status.FAILED,
}
# An attempt that raised in the platform while its worker lived on (``_end_as_platform_error``).
PLATFORM_ERROR_TYPE: Final = "Platform.InternalError"


def worker_name() -> str:
    return node.node_name("worker")


def worker_alive(name: str, *, now: datetime | None = None) -> bool:
    """Whether the node called ``name`` ("worker:HOST:PID") still runs."""
    kind, _, rest = name.partition(":")
    host, _, pid_text = rest.rpartition(":")
    if not host or not pid_text.isdigit():
        return False
    if host == socket.gethostname():
        from invocations.engine.sandbox.host import pid_alive

        return pid_alive(int(pid_text))
    from invocations.models import WorkerHeartbeat

    cutoff = (now or timezone.now()) - timedelta(seconds=settings.LAMBDA_ASYNC_WORKER_LOST_SECONDS)
    return WorkerHeartbeat.objects.filter(name=name, seen_at__gte=cutoff).exists()


# --- running an attempt ------------------------------------------------------------------------------

# What a run reads of its event: the claim returns these columns (UPDATE … RETURNING), and the
# instance is built with every other field deferred, so nothing here can save a field it never read.
_RUN_FIELDS: Final = (
    "id", "request_id", "function", "function_name", "qualifier", "executed_version", "invocation_type",
    "status", "created_at", "started_at", "finished_at", "error_type", "function_error",
    "attempt", "source", "account_id",  # the last two for the Prometheus labels (invocations/metrics.py)
)  # fmt: skip
# And of its texts (InvocationBody, by request id): what it runs with and the response so far.
_RUN_TEXTS: Final = ("payload", "response")
# What the end of an attempt writes back (the engine's result, the status and the async bookkeeping).
_RESULT_FIELDS: Final = (
    "status", "function_error", "error_type", "duration_ms", "billed_duration_ms",
    "init_duration_ms", "memory_size_mb", "max_memory_used_mb", "cold_start", "started_at", "finished_at",
    "attempt", "condition", "next_attempt_at", "dispatched_at", "worker",
)  # fmt: skip
_RESULT_TEXTS: Final = ("response", "logs")
# What the end of an attempt writes on its own row: its logs too, as the event keeps the last one's only.
_ATTEMPT_FIELDS: Final = ("outcome", "error_type", "duration_ms", "finished_at", "next_attempt_at", "logs")
_CONFIG_FIELDS: Final = (
    "id", "function", "qualifier", "maximum_retry_attempts", "maximum_event_age_in_seconds",
    "on_success_destination", "on_failure_destination",
)  # fmt: skip


def _claim_statement() -> str:
    status, due = rows.column(Invocation, "status"), rows.column(Invocation, "next_attempt_at")
    attempt = rows.column(Invocation, "attempt")  # attempts started: the one claimed now included
    sql = (
        f"UPDATE {rows.table(Invocation)} SET {status} = %s, {rows.column(Invocation, 'worker')} = %s, "
        f"{rows.column(Invocation, 'dispatched_at')} = NULL, {attempt} = {attempt} + 1 "
        f"WHERE {rows.column(Invocation, 'id')} = %s AND {status} = %s AND ({due} IS NULL OR {due} <= %s)"
    )
    if connection.features.can_return_columns_from_insert:  # SQLite ≥ 3.35 and PostgreSQL: RETURNING
        sql += f" RETURNING {rows.columns(Invocation, _RUN_FIELDS)}"
    return sql


def _select_statement(model: type[Any], names: tuple[str, ...], *where: str, order: str = "") -> str:
    conditions = " AND ".join(f"{rows.column(model, name)} = %s" for name in where)
    sql = f"SELECT {rows.columns(model, names)} FROM {rows.table(model)} WHERE {conditions}"
    return sql + (f" ORDER BY {order}" if order else "")


def _event(row: Sequence[Any]) -> Invocation:
    invocation = rows.instance(Invocation, _RUN_FIELDS, row)
    _load_texts(invocation)
    return invocation


def _load_texts(invocation: Invocation) -> None:
    """Read the event's ``_RUN_TEXTS`` into its body (every other text deferred); one statement."""
    names = ("invocation", *_RUN_TEXTS)
    sql = rows.statement(("run-texts",), lambda: _select_statement(InvocationBody, names, "invocation"))
    with connection.cursor() as cursor:
        cursor.execute(sql, [invocation.request_id])
        row = cursor.fetchone()
    body = rows.instance(InvocationBody, names, row) if row is not None else InvocationBody(invocation_id=invocation.request_id)
    Invocation._meta.get_field("body").set_cached_value(invocation, body)  # type: ignore[union-attr]


def _load_event(invocation_id: int) -> Invocation | None:
    sql = rows.statement(("run-load",), lambda: _select_statement(Invocation, _RUN_FIELDS, "id"))
    with connection.cursor() as cursor:
        cursor.execute(sql, [invocation_id])
        row = cursor.fetchone()
    return None if row is None else _event(row)


def _claim_queued(invocation_id: int, me: str, now: datetime) -> Invocation | None:
    """queued → running for ``me`` (``lifecycle.CLAIM``), if the event is due: one statement that
    also reads the event."""
    claim = lifecycle.CLAIM
    params = [claim.to, me, invocation_id, claim.from_, rows.prepare(Invocation, "next_attempt_at", now)]
    returning = connection.features.can_return_columns_from_insert
    with rows.writing(), connection.cursor() as cursor:
        cursor.execute(rows.statement(("run-claim",), _claim_statement), params)
        # fetchall: SQLite ends the statement (and its write lock) only when stepped to the end.
        found, claimed = (cursor.fetchall() if returning else []), cursor.rowcount
    if returning:
        return _event(found[0]) if found else None
    return _load_event(invocation_id) if claimed else None


def _claim(invocation_id: int, me: str, now: datetime) -> tuple[Invocation | None, bool]:
    """The event, now ``me``'s to run (None if not), and whether it was claimed from the queue
    (False: taken over from a dead worker, so attempts exist)."""
    claimed = _claim_queued(invocation_id, me, now)
    if claimed is not None:
        return claimed, True
    row = Invocation.objects.filter(pk=invocation_id).values("status", "worker").first()
    if row is None or row["status"] != Invocation.Status.RUNNING or row["worker"] == me:
        return None, False
    if worker_alive(row["worker"], now=now):
        return None, False
    # A redelivered message for an event whose worker died mid-run: take it over.
    taken = Invocation.objects.filter(pk=invocation_id, status=Invocation.Status.RUNNING, worker=row["worker"]).update(
        worker=me, attempt=F("attempt") + 1
    )
    if not taken:
        return None, False
    _close_lost_attempts(invocation_id, now)
    return _load_event(invocation_id), False


def _close_lost_attempts(invocation_id: int, now: datetime) -> None:
    InvocationAttempt.objects.filter(invocation_id=invocation_id, outcome=Attempt.RUNNING).update(
        outcome=Attempt.PLATFORM_ERROR, error_type="Platform.WorkerLost", finished_at=now
    )


def _history(invocation_id: int) -> list[str]:
    """The outcomes of the event's attempts so far, oldest first."""
    sql = rows.statement(
        ("run-history",),
        lambda: _select_statement(
            InvocationAttempt, ("outcome",), "invocation",
            order=f"{rows.column(InvocationAttempt, 'number')}, {rows.column(InvocationAttempt, 'id')}",
        ),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, [invocation_id])
        return [outcome for (outcome,) in cursor.fetchall()]


def _config(invocation: Invocation) -> EventInvokeConfig | None:
    """The event invoke config governing the event (one statement; ``config_for``'s answer)."""
    if invocation.function_id is None:
        return None
    sql = rows.statement(
        ("run-config",), lambda: _select_statement(EventInvokeConfig, _CONFIG_FIELDS, "function", "qualifier")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [invocation.function_id, invocation.qualifier or LATEST])
        row = cursor.fetchone()
    if row is None:
        return None
    return rows.instance(EventInvokeConfig, _CONFIG_FIELDS, row)


def _store_attempt(invocation: Invocation, attempt: InvocationAttempt | None) -> None:
    """The attempt's end (if one ran), then the event's new state.

    Two single statements, not a transaction, unless the caller holds one: on SQLite a transaction
    keeps the database's one write lock while this thread waits for the GIL between its statements
    (up to the 5 ms switch interval when other threads are busy), and every other writer waits too.
    A worker killed between the two leaves a finished attempt on a running event, which the sweep
    runs again: at least once, as AWS.
    """
    if attempt is not None:
        rows.update(
            InvocationAttempt,
            attempt.pk,
            {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS},
        )
    deferred = invocation.get_deferred_fields()  # fields neither read nor set are left alone
    rows.update(
        Invocation, invocation.pk, {name: getattr(invocation, name) for name in _RESULT_FIELDS if name not in deferred}
    )
    body = invocation.body_for_insert()
    texts = {name: getattr(body, name) for name in _RESULT_TEXTS if name not in body.get_deferred_fields()}
    if texts and not rows.update(InvocationBody, invocation.request_id, texts):
        rows.insert(body)  # an event stored without one (before bodies had their table)


def run_queued_invocation(*, invocation_id: int) -> None:
    """Run one attempt of a queued Event invocation, then retry it later or finish it.

    Six fixed statements when nothing goes wrong (``rows``), the writes each on its own (no
    transaction, see ``_store_attempt``): the claim, which also reads the event; the config; the
    attempt's row; the version; the attempt's end; the event's state. Retries also read the
    attempts so far.
    """
    me = worker_name()
    now = timezone.now()
    invocation, from_queue = _claim(invocation_id, me, now)
    if invocation is None:
        logger.info("invocation %s is not due, or is another live worker's; skipping", invocation_id)
        return
    try:
        _run_claimed(invocation, from_queue, me, now)
    except Exception:
        # This worker lives on, so the sweep would never take the event back: it would stay running.
        logger.exception("the attempt of invocation %s failed in the platform; ending it as a platform error", invocation_id)
        _end_as_platform_error(invocation_id, me)


def _run_claimed(invocation: Invocation, from_queue: bool, me: str, now: datetime) -> None:
    invocation_id = invocation.pk
    # Event rows are stored with attempt 0 and each claim counts one more: the first attempt has no
    # history to read (a row stored otherwise, e.g. by the ORM with the default 1, is read anyway).
    history = _history(invocation_id) if invocation.attempt > 1 or not from_queue else []
    config = _config(invocation)
    policy = event_invoke_config.retry_config(config)
    if retry_policy.expired(age_seconds=(now - invocation.created_at).total_seconds(), config=policy):
        _finish(invocation, None, Condition.EVENT_AGE_EXCEEDED, config, history)
        return
    # Stored before the function runs, so a worker killed while it runs leaves the attempt behind
    # (closed as Platform.WorkerLost when the event is taken over). Killed before this line, the
    # event runs again with no trace of a run that never started.
    attempt = InvocationAttempt(
        invocation_id=invocation_id,
        number=len(history) + 1,
        worker=me,
        started_at=now,
        executed_version=invocation.executed_version,
    )
    rows.insert(attempt)
    invocation.attempt = attempt.number
    version = version_of_function(invocation.function_id, invocation.executed_version) if invocation.function_id else None
    with metrics.running(invocation):
        outcome = _run_attempt(invocation, attempt, version)
    # Counted with the attempt's own end: the event's row stays running until the decision below.
    ended = _STATUS_OF_ATTEMPT[attempt.outcome]
    metrics.observe_invocation(invocation, status=ended)  # Prometheus counters (invocations/metrics.py)
    rollups.count_event(invocation, ran=True, final=False, started_at=attempt.started_at, status=ended)
    history.append(attempt.outcome)
    if outcome is None:  # the version was deleted while the event waited: nothing to retry
        _finish(invocation, attempt, Condition.RETRIES_EXHAUSTED, config, history, version)
        return
    _retry_or_finish(invocation, attempt, outcome, config, history, version)


def _retry_or_finish(
    invocation: Invocation,
    attempt: InvocationAttempt,
    outcome: Outcome,
    config: EventInvokeConfig | None,
    history: list[str],
    version: FunctionVersion | None,
) -> None:
    """After an attempt (in ``history`` already): back to the queue for the next one, or the end."""
    function_runs = sum(1 for o in history if o in _RAN)
    platform_failures = 0
    for past in reversed(history):
        if past in _RAN:
            break
        platform_failures += 1
    # Delays count from the end of the attempt (its recorded finish), not from whenever this line runs.
    finished = attempt.finished_at or timezone.now()
    decision = retry_policy.decide(
        attempt=function_runs,
        age_seconds=(finished - invocation.created_at).total_seconds(),
        config=event_invoke_config.retry_config(config),
        outcome=outcome,
        platform_failures=platform_failures,
    )
    if decision.retry:
        due = finished + timedelta(seconds=decision.delay_seconds)
        attempt.next_attempt_at = due
        lifecycle.transition(invocation, Invocation.Status.QUEUED, next_attempt_at=due, dispatched_at=None, worker="")
        _store_attempt(invocation, attempt)
        if decision.delay_seconds <= 0:
            _publish_invocation(invocation.pk)
        return
    _finish(invocation, attempt, decision.condition, config, history, version)


def _end_as_platform_error(invocation_id: int, me: str) -> None:
    """End the attempt ``me`` holds on the event as a platform error — as a worker's crash ends it
    (it does not consume retries) — and retry or finish the event by its retry policy.

    Nothing happens when the event is no longer running for ``me``: the attempt had stored the
    event's next state before the error.
    """
    now = timezone.now()
    if not Invocation.objects.filter(pk=invocation_id, status=Invocation.Status.RUNNING, worker=me).exists():
        return
    invocation = _load_event(invocation_id)
    if invocation is None:
        return
    attempt = InvocationAttempt.objects.filter(invocation_id=invocation_id, outcome=Attempt.RUNNING).order_by("-number").first()
    earlier = [outcome for outcome in _history(invocation_id) if outcome != Attempt.RUNNING]
    if attempt is None:  # the error came before the attempt's row was stored
        attempt = InvocationAttempt(
            invocation_id=invocation_id, number=len(earlier) + 1, worker=me, started_at=now,
            executed_version=invocation.executed_version,
        )  # fmt: skip
        rows.insert(attempt)
    attempt.outcome, attempt.finished_at = Attempt.PLATFORM_ERROR, now
    invocation.error_type = attempt.error_type = PLATFORM_ERROR_TYPE
    invocation.attempt = attempt.number
    _retry_or_finish(invocation, attempt, Outcome.PLATFORM_ERROR, _config(invocation), [*earlier, attempt.outcome], None)


def _function_arn(invocation: Invocation, qualifier: str | None) -> str:
    """The event's function ARN, in its team's account (the platform's own when it was deleted)."""
    account = (
        Team.objects.filter(functions__id=invocation.function_id).values_list("account_id", flat=True).first()
        if invocation.function_id else None
    )  # fmt: skip
    return function_arn(invocation.function_name, qualifier, account=account or settings.LAMBDA_ACCOUNT_ID)


def _run_attempt(invocation: Invocation, attempt: InvocationAttempt, version: FunctionVersion | None) -> Outcome | None:
    """Run the function once; set the result on the event and the attempt (unsaved); say what happened.

    None: the version is gone (deleted while the event waited), so there is nothing to run. The
    event's status is left running: the attempt's outcome says how it ended.
    """
    from invocations.node import get_pool

    outcome: Outcome | None
    if version is None:
        invocation.error_type = attempt.error_type = "ResourceNotFoundException"
        invocation.response = f"Function not found: {_function_arn(invocation, invocation.qualifier or None)}"
        attempt.outcome, outcome = Attempt.FAILED, None
    elif version.function.reserved_concurrency == 0:
        invocation.error_type = attempt.error_type = "TooManyRequestsException"
        invocation.response = "Rate Exceeded."
        attempt.outcome, outcome = Attempt.THROTTLED, Outcome.ZERO_RESERVED_CONCURRENCY
    else:
        request = InvokeRequest(
            request_id=invocation.request_id,
            payload=invocation.payload.encode("utf-8"),
            invoked_function_arn=function_arn(
                invocation.function_name, invocation.qualifier or None, account=version.function.team.account_id
            ),
        )
        lease: concurrency.Lease | None = None
        try:
            lease = concurrency.admit(function_id=version.function_id, team_id=version.function.team_id,
                                      reserved=version.function.reserved_concurrency)
            result = get_pool().invoke(
                function_spec(version), request, reserved_concurrency=version.function.reserved_concurrency
            )
        except (TooManyRequests, RuntimeUnavailable) as error:
            # The synchronous path's mapping; the attempt's outcome, not the event's status, says it.
            failure = platform_failure(error, runtime=version.runtime)
            invocation.error_type = attempt.error_type = failure.error_type
            invocation.response = failure.message
            throttled = failure.status == Invocation.Status.THROTTLED
            attempt.outcome = Attempt.THROTTLED if throttled else Attempt.PLATFORM_ERROR
            outcome = Outcome.THROTTLED if throttled else Outcome.PLATFORM_ERROR
        else:
            copy_result(invocation, result)
            attempt.outcome = _ATTEMPT_OF_RESULT.get(result.status, Attempt.FAILED)
            attempt.error_type = result.error_type or ""
            attempt.duration_ms = result.duration_ms
            attempt.logs = invocation.logs
            outcome = Outcome.SUCCEEDED if result.status == "succeeded" else Outcome.FUNCTION_ERROR
        finally:
            concurrency.release(lease)
    now = timezone.now()
    attempt.finished_at = now
    if invocation.started_at is None:
        invocation.started_at = attempt.started_at
    invocation.finished_at = now
    return outcome


# --- finishing: records, destinations, DLQ -------------------------------------------------------------


def _json_or_text(text: str) -> Any:
    if text.startswith(recorder.BINARY_PREFIX):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def invocation_record(
    invocation: Invocation, condition: str, *, now: datetime | None = None, history: list[str] | None = None
) -> dict[str, Any]:
    """The invocation record in AWS's shape (spec §5.3).

    ``responseContext``/``responsePayload`` are present only when the function ran at least once
    (an event that only ever met throttles has no response; LocalStack omits them likewise).
    ``history`` (the attempts' outcomes) spares reading them again when the caller has them.
    """
    if history is None:
        history = list(invocation.attempts.values_list("outcome", flat=True)) if invocation.pk else []
    ran = any(outcome in _RAN for outcome in history)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _timestamp(now or timezone.now()),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": _function_arn(invocation, invocation.qualifier or LATEST),
            "condition": condition,
            "approximateInvokeCount": len(history),
        },
        "requestPayload": _json_or_text(invocation.payload),
    }
    if ran:
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": invocation.executed_version}
        if invocation.function_error:
            response_context["functionError"] = invocation.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = _json_or_text(invocation.response) if invocation.response else None
    return record


def _error_message(invocation: Invocation) -> str:
    parsed = _json_or_text(invocation.response)
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return invocation.response or invocation.error_type or "Error"


def _finish(
    invocation: Invocation,
    attempt: InvocationAttempt | None,
    condition: Condition,
    config: EventInvokeConfig | None,
    history: list[str],
    version: FunctionVersion | None = None,
) -> None:
    """Final state — the last attempt's, failed when none ran (its age exceeded before it could) —
    and a delivery row per configured destination (sent after commit)."""
    now = timezone.now()
    if attempt is None:
        invocation.error_type = invocation.error_type or "EventAgeExceeded"
    lifecycle.transition(
        invocation,
        _STATUS_OF_ATTEMPT[attempt.outcome] if attempt is not None else Invocation.Status.FAILED,
        condition=condition.value, next_attempt_at=None, dispatched_at=None, worker="",
        finished_at=invocation.finished_at or now,
    )  # fmt: skip
    rollups.count_event(invocation, ran=False, final=True, started_at=None)
    success = condition is Condition.SUCCESS
    target = (config.on_success_destination if success else config.on_failure_destination) if config else ""
    dead_letter = "" if success else _dead_letter_target(invocation, version)
    if not (target or dead_letter):
        _store_attempt(invocation, attempt)
        return
    with transaction.atomic():  # the final state and its deliveries, all or nothing
        _store_attempt(invocation, attempt)
        deliveries: list[DestinationDelivery] = []
        record = invocation_record(invocation, condition.value, now=now, history=history)
        if target:
            deliveries.append(
                DestinationDelivery(
                    invocation=invocation,
                    kind=DestinationDelivery.Kind.ON_SUCCESS if success else DestinationDelivery.Kind.ON_FAILURE,
                    destination=target,
                    condition=condition.value,
                    payload=json.dumps(record, separators=(",", ":")),
                    dispatched_at=now,
                )
            )
        if dead_letter:
            ran = "responseContext" in record
            message = {
                "body": invocation.payload,
                "RequestID": invocation.request_id,
                "ErrorCode": 200 if ran else 429 if invocation.status == Invocation.Status.THROTTLED else 500,
                "ErrorMessage": _error_message(invocation),
            }
            deliveries.append(
                DestinationDelivery(
                    invocation=invocation,
                    kind=DestinationDelivery.Kind.DEAD_LETTER,
                    destination=dead_letter,
                    condition=condition.value,
                    payload=json.dumps(message, separators=(",", ":")),
                    dispatched_at=now,
                )
            )
        for delivery in deliveries:
            delivery.save()
            dispatch.deliver_destination(delivery_id=delivery.pk)


def _dead_letter_target(invocation: Invocation, version: FunctionVersion | None) -> str:
    if version is not None:
        return version.dead_letter_target_arn
    return (
        FunctionVersion.objects.filter(function_id=invocation.function_id, version=invocation.executed_version)
        .values_list("dead_letter_target_arn", flat=True)
        .first()
        or ""
    )


def deliver(*, delivery_id: int) -> None:
    """Send one destination delivery; on failure schedule the next try, or give up after the last."""
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    lease = now + timedelta(seconds=DELIVERY_LEASE_SECONDS + settings.LAMBDA_DESTINATION_TIMEOUT_SECONDS * 3)
    claimed = DestinationDelivery.objects.filter(due, pk=delivery_id, status=DestinationDelivery.Status.PENDING).update(
        next_attempt_at=lease, dispatched_at=None
    )
    if not claimed:
        return
    delivery = DestinationDelivery.objects.select_related("invocation").get(pk=delivery_id)
    delivery.attempts += 1
    try:
        caused = _send(delivery)
    except Exception as error:  # boto3, network, a refused webhook: all recorded and retried
        logger.warning("delivery %s to %s failed: %s", delivery.pk, delivery.destination, error)
        delivery.last_error = f"{type(error).__name__}: {error}"[:2000]
        if delivery.attempts >= settings.LAMBDA_DESTINATION_MAX_ATTEMPTS:
            delivery.status = DestinationDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delay = retry_policy.delivery_delay(
                attempts=delivery.attempts, base_delay_seconds=settings.LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS
            )
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    else:
        delivery.status = DestinationDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
        delivery.last_error = ""
        if caused:
            delivery.caused = Invocation.objects.filter(request_id=caused).only("pk").first()
    delivery.save(update_fields=["status", "attempts", "last_error", "delivered_at", "next_attempt_at", "caused"])


def _send(delivery: DestinationDelivery) -> str | None:
    """Send the delivery's message; the request id of the invocation it started, if a function's."""
    message = json.loads(delivery.payload)
    if delivery.kind == DestinationDelivery.Kind.DEAD_LETTER:
        destinations.send_dead_letter(
            destination=delivery.destination,
            body=message["body"],
            request_id=message["RequestID"],
            error_code=int(message["ErrorCode"]),
            error_message=message["ErrorMessage"],
        )
        return None
    return destinations.send_record(
        destination=delivery.destination,
        record=message,
        function_arn=message["requestContext"]["functionArn"],
        success=delivery.kind == DestinationDelivery.Kind.ON_SUCCESS,
    )


# --- the sweep ------------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)  # running events whose worker died
    published: list[int] = field(default_factory=list)  # queued events (re)published
    deliveries: list[int] = field(default_factory=list)  # deliveries (re)published


def _publish_invocation(invocation_id: int) -> None:
    Invocation.objects.filter(pk=invocation_id).update(dispatched_at=timezone.now())
    dispatch.run_queued_invocation(invocation_id=invocation_id)


def sweep(*, now: datetime | None = None) -> SweepReport:
    """Requeue the events of dead workers; publish due retries, lost messages and due deliveries."""
    now = now or timezone.now()
    report = SweepReport()
    running = Invocation.objects.filter(status=Invocation.Status.RUNNING, invocation_type=Invocation.Type.EVENT)
    for name in set(running.values_list("worker", flat=True)):
        if name and worker_alive(name, now=now):
            continue
        ids = list(running.filter(worker=name).values_list("pk", flat=True)[:SWEEP_BATCH])
        for pk in ids:
            if lifecycle.advance(
                Invocation.objects.filter(pk=pk, worker=name), Invocation.Status.RUNNING, Invocation.Status.QUEUED,
                worker="", next_attempt_at=None, dispatched_at=None,
            ):  # fmt: skip
                _close_lost_attempts(pk, now)
                report.requeued.append(pk)
    stale = now - timedelta(seconds=settings.LAMBDA_ASYNC_REDISPATCH_SECONDS)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    unpublished = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale)
    queued = Invocation.objects.filter(due, unpublished, status=Invocation.Status.QUEUED, invocation_type=Invocation.Type.EVENT)
    for pk, dispatched_at in queued.values_list("pk", "dispatched_at")[:SWEEP_BATCH]:
        if Invocation.objects.filter(pk=pk, status=Invocation.Status.QUEUED, dispatched_at=dispatched_at).update(
            dispatched_at=now
        ):
            _send_or_unmark(Invocation, pk, dispatch.RUN_QUEUED_INVOCATION)
            report.published.append(pk)
    pending = DestinationDelivery.objects.filter(due, unpublished, status=DestinationDelivery.Status.PENDING)
    for pk, dispatched_at in pending.values_list("pk", "dispatched_at")[:SWEEP_BATCH]:
        if DestinationDelivery.objects.filter(pk=pk, dispatched_at=dispatched_at).update(dispatched_at=now):
            _send_or_unmark(DestinationDelivery, pk, dispatch.DELIVER_DESTINATION)
            report.deliveries.append(pk)
    return report


def _send_or_unmark(model: Any, pk: int, task: str) -> None:
    try:
        dispatch.send_now(task, pk)
    except Exception:
        logger.exception("publishing %s(%s) failed; the next sweep tries again", task, pk)
        model.objects.filter(pk=pk).update(dispatched_at=None)
