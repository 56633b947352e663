"""The read side of asynchronous invocations: an event's timeline and its status document.

``async_timeline(invocation)`` is what the console renders (newest last)::

    [TimelineEvent(kind="queued", at=…, detail={...}),
     TimelineEvent(kind="attempt", at=…, detail={"number": 1, "outcome": "failed",
                   "error_type": "ValueError", "duration_ms": 3.1, "worker": "...",
                   "finished_at": …, "next_attempt_at": …, "delay_seconds": 60.0, "logs": "START …"}),
     TimelineEvent(kind="retry-scheduled", at=…, detail={"number": 2, "of": 3}),   # only while waiting
     TimelineEvent(kind="final", at=…, detail={"status": "failed", "condition": "RetriesExhausted"}),
     TimelineEvent(kind="delivery", at=…, detail={"kind": "on-failure", "destination": "arn:…",
                   "status": "delivered", "attempts": 1, "last_error": "", "delivered_at": …,
                   "caused": "request id of the destination function's invocation, or None"})]

``async_invocation(function_name=, request_id=)`` is the JSON of GetAsyncInvocation (beyond AWS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from invocations import lifecycle
from invocations.access import Caller, find_function
from invocations.arns import FunctionRef, arn_of
from invocations.errors import ResourceNotFoundException
from invocations.models import LATEST, Invocation, InvocationAttempt
from invocations.services import event_invoke_config


@dataclass(frozen=True)
class TimelineEvent:
    kind: str  # queued | attempt | retry-scheduled | final | delivery
    at: datetime | None
    detail: dict[str, Any] = field(default_factory=dict)


# Outcomes where the function ran: only these consume MaximumRetryAttempts (retry_policy.decide).
_RAN = {InvocationAttempt.Outcome.SUCCEEDED, InvocationAttempt.Outcome.FAILED, InvocationAttempt.Outcome.TIMED_OUT}


def planned_attempts(outcomes: list[str], maximum_retry_attempts: int) -> int:
    """How many attempts the event gets if every run fails: the first run plus the retries, plus
    the attempts that never ran the function (throttles, lost workers), which AWS does not count
    against the retry budget."""
    return maximum_retry_attempts + 1 + sum(1 for outcome in outcomes if outcome not in _RAN)


def async_timeline(invocation: Invocation) -> list[TimelineEvent]:
    """Queued, each attempt (outcome, delay before the next, its logs), deliveries and the final
    state. Three queries (four while a retry waits: its event invoke config)."""
    events = [TimelineEvent("queued", invocation.created_at, {"request_id": invocation.request_id})]
    attempts = list(invocation.attempts.all())
    for attempt in attempts:
        delay = None
        if attempt.next_attempt_at and attempt.finished_at:
            delay = round((attempt.next_attempt_at - attempt.finished_at).total_seconds(), 3)
        events.append(
            TimelineEvent(
                "attempt",
                attempt.started_at,
                {
                    "number": attempt.number,
                    "outcome": attempt.outcome,
                    "error_type": attempt.error_type,
                    "duration_ms": attempt.duration_ms,
                    "worker": attempt.worker,
                    "finished_at": attempt.finished_at,
                    "next_attempt_at": attempt.next_attempt_at,
                    "delay_seconds": delay,
                    "logs": attempt.logs,
                },
            )
        )
    if invocation.status == Invocation.Status.QUEUED and invocation.next_attempt_at and attempts:
        config = event_invoke_config.retry_config(
            event_invoke_config.config_for(function_id=invocation.function_id, qualifier=invocation.qualifier)
        )
        of = planned_attempts([a.outcome for a in attempts], config.maximum_retry_attempts)
        number = attempts[-1].number + 1
        events.append(
            TimelineEvent("retry-scheduled", invocation.next_attempt_at, {"number": number, "of": max(of, number)})
        )
    if invocation.condition and invocation.status in lifecycle.FINAL:
        events.append(
            TimelineEvent("final", invocation.finished_at, {"status": invocation.status, "condition": invocation.condition})
        )
    for delivery in invocation.deliveries.select_related("caused").order_by("id"):
        events.append(
            TimelineEvent(
                "delivery",
                delivery.delivered_at or delivery.created_at,
                {
                    "kind": delivery.kind,
                    "destination": delivery.destination,
                    "condition": delivery.condition,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "last_error": delivery.last_error,
                    "delivered_at": delivery.delivered_at,
                    "next_attempt_at": delivery.next_attempt_at,
                    "caused": delivery.caused.request_id if delivery.caused else None,
                },
            )
        )
    return events


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def async_invocation(*, caller: Caller, ref: FunctionRef, request_id: str) -> dict[str, Any]:
    """The status document of an Event invocation of a function the caller may read the records
    of (``lambda:GetInvocation``); 404 when that function has none with that id."""
    function = find_function(caller, ref, "lambda:GetInvocation", qualified=False)
    invocation = Invocation.objects.filter(
        request_id=request_id, function=function, invocation_type=Invocation.Type.EVENT
    ).first()
    if invocation is None:
        raise ResourceNotFoundException(f"No asynchronous invocation {request_id} of function {function.name}")
    return {
        "RequestId": invocation.request_id,
        "FunctionArn": arn_of(function, invocation.qualifier or LATEST),
        "ExecutedVersion": invocation.executed_version,
        "Status": invocation.status,
        "Condition": invocation.condition or None,
        "ApproximateInvokeCount": invocation.attempts.count(),
        "CreatedAt": _iso(invocation.created_at),
        "NextAttemptAt": _iso(invocation.next_attempt_at),
        "FinishedAt": _iso(invocation.finished_at) if invocation.condition else None,
        "FunctionError": invocation.function_error or None,
        "ErrorType": invocation.error_type or None,
        "Attempts": [
            {
                "Number": a.number,
                "Outcome": a.outcome,
                "ErrorType": a.error_type or None,
                "DurationMs": a.duration_ms,
                "StartedAt": _iso(a.started_at),
                "FinishedAt": _iso(a.finished_at),
                "NextAttemptAt": _iso(a.next_attempt_at),
                "Worker": a.worker,
            }
            for a in invocation.attempts.all()
        ],
        "Deliveries": [
            {
                "Kind": d.kind,
                "Destination": d.destination,
                "Condition": d.condition,
                "Status": d.status,
                "Attempts": d.attempts,
                "LastError": d.last_error or None,
                "DeliveredAt": _iso(d.delivered_at),
            }
            for d in invocation.deliveries.order_by("id")
        ],
    }
