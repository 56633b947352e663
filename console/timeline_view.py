"""What the result panel shows for a test run (and the invocation page reuses): the Lambda console's view.

A synchronous run is final once its invocation is recorded (or a platform error stopped it); an
asynchronous one once its timeline (invocations.timeline.async_timeline) has a final state and no
destination delivery is still pending.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils import dateformat
from django.utils.timezone import localtime

from console.models import TestRun
from console.placeholders import pretty
from invocations.models import DestinationDelivery, Invocation


def function_error(invocation: Invocation) -> dict[str, Any] | None:
    """errorMessage / errorType / stackTrace of a failed invocation, as the runtime reported them."""
    if not invocation.function_error and invocation.status not in (Invocation.Status.FAILED, Invocation.Status.TIMED_OUT):
        return None
    try:
        body = json.loads(invocation.response)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {"errorMessage": invocation.response, "errorType": invocation.error_type, "stackTrace": []}
    trace = body.get("stackTrace") or []
    if isinstance(trace, str):
        trace = [trace]
    return {
        "errorMessage": body.get("errorMessage", ""),
        "errorType": body.get("errorType", invocation.error_type),
        "stackTrace": [str(line) for line in trace],
    }


def timeline(invocation: Invocation) -> tuple[list[Any], bool]:
    """The async timeline and whether it is final (no later change is coming)."""
    from invocations.timeline import async_timeline

    events = async_timeline(invocation)
    final = any(e.kind == "final" for e in events) and not any(
        e.kind == "delivery" and e.detail.get("status") == DestinationDelivery.Status.PENDING for e in events
    )
    return events, final


def invocation_context(invocation: Invocation | None) -> dict[str, Any]:
    if invocation is None:
        return {"invocation": None}
    return {
        "invocation": invocation,
        "response_pretty": pretty(invocation.response),
        "payload_pretty": pretty(invocation.payload),
        "error": function_error(invocation),
    }


def result_context(run: TestRun) -> dict[str, Any]:
    asynchronous = run.invocation_type == "Event"
    context: dict[str, Any] = {"run": run, "asynchronous": asynchronous, "sent_pretty": pretty(run.payload)}
    if run.status == TestRun.Status.ERROR:
        return {**context, "invocation": None, "final": True}
    if run.status == TestRun.Status.PENDING:
        return {**context, "invocation": None, "final": False}
    invocation = Invocation.objects.filter(request_id=run.request_id).first()
    context.update(invocation_context(invocation))
    if invocation is None:
        return {**context, "final": False}
    if asynchronous:
        events, final = timeline(invocation)
        return {**context, "timeline": events, "final": final, "headline": async_headline(invocation, events, final)}
    return {**context, "final": True}


def _when(moment: datetime) -> str:
    return dateformat.format(localtime(moment), "Y-m-d H:i:s T")


def async_headline(invocation: Invocation, events: list[Any], final: bool) -> str:
    """What the header of an asynchronous invocation says now, in words that are true at each step
    (a retry waiting is "queued" in the database, but the page says which attempt comes when)."""
    attempts = [e for e in events if e.kind == "attempt"]
    if final or invocation.condition:
        text = f"{invocation.status} ({invocation.condition})" if invocation.condition else str(invocation.status)
        if len(attempts) > 1:
            text += f" after {len(attempts)} attempts"
        if not final:
            text += "; destination delivery pending"
        return text
    retry = next((e for e in events if e.kind == "retry-scheduled"), None)
    if retry is not None and attempts:
        last = attempts[-1].detail
        failure = f" ({last['error_type']})" if last["error_type"] else ""
        return (f"attempt {last['number']} {last['outcome']}{failure}; "
                f"attempt {retry.detail['number']} of {retry.detail['of']} scheduled at {_when(retry.at)}")  # fmt: skip
    if invocation.status == Invocation.Status.RUNNING:
        return f"attempt {max(invocation.attempt, 1)} running"
    if invocation.status == Invocation.Status.QUEUED:
        return "queued, waiting for a worker" if not attempts else f"attempt {len(attempts) + 1} due now"
    return str(invocation.status)
