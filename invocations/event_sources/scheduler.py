"""Firing due schedules from the Celery workers (every worker's node runs ``fire_due`` every
``LAMBDA_SCHEDULER_SECONDS`` on a periodic thread, next to the asynchronous-event sweep:
``invocations/node.py``).

* **Exactly once per fire time across workers**: a fire is claimed by a conditional UPDATE that
  moves ``next_run_at`` from the fire time being fired to the next one; only the worker whose
  UPDATE matched invokes. If queueing the event fails (broker down), the fire time is given back
  and the next tick tries again; a worker killed between its claim and the queueing loses that one
  fire (at most once in that window, never twice).
* **No burst after downtime**: the next fire time is computed after *now*, not after the fire time
  being fired, so a platform that was down for a day fires a missed schedule once (the catch-up)
  and then at its next future time — as EventBridge does not replay missed invocations either.
* The event is EventBridge's scheduled-event shape (``detail-type: "Scheduled Event"``, ``source:
  "aws.events"``, ``time`` = the scheduled time, ``resources`` = the rule's ARN), or the
  trigger's fixed payload when it has one; invoked asynchronously with source ``trigger``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.utils import timezone

from invocations.errors import AwsError
from invocations.event_sources import schedules, stats
from invocations.models import Trigger
from invocations.services.triggers import invoke_event, rule_arn

logger = logging.getLogger(__name__)

BATCH = 200


def scheduled_event(trigger: Trigger, fire_time: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": trigger.function.team.account_id,
        "time": fire_time.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": settings.LAMBDA_REGION,
        "resources": [rule_arn(trigger)],
        "detail": {},
    }


def fire_due(*, now: datetime | None = None) -> int:
    """Fire every enabled schedule whose ``next_run_at`` has come; return how many this call fired."""
    now = now or timezone.now()
    due = (
        Trigger.objects.filter(kind=Trigger.Kind.SCHEDULE, enabled=True, next_run_at__lte=now)
        .select_related("function__team")
        .order_by("next_run_at")[:BATCH]
    )
    return sum(1 for trigger in list(due) if fire(trigger, now=now))


def fire(trigger: Trigger, *, now: datetime) -> bool:
    """Fire ``trigger`` for its ``next_run_at`` if no other worker did; True when this call fired."""
    fire_time = trigger.next_run_at
    if fire_time is None:
        return False
    try:
        following = schedules.next_fire(schedules.parse(trigger.schedule_expression), now, anchor=trigger.created_at)
    except schedules.ScheduleError as error:
        Trigger.objects.filter(pk=trigger.pk, next_run_at=fire_time).update(next_run_at=None)
        stats.record_trigger(trigger, result="Invalid schedule", error=str(error))
        return False
    payload: dict[str, Any] | bytes = (
        trigger.payload.encode() if trigger.payload.strip() else scheduled_event(trigger, fire_time)
    )
    claimed = Trigger.objects.filter(pk=trigger.pk, enabled=True, next_run_at=fire_time).update(
        next_run_at=following, last_run_at=now
    )
    if not claimed:
        return False
    try:
        request_id = invoke_event(trigger, payload)
    except AwsError as error:
        if error.status >= 500:
            # The platform could not queue it: give the fire time back for the next tick (unless the
            # trigger changed meanwhile).
            Trigger.objects.filter(pk=trigger.pk, next_run_at=following).update(next_run_at=fire_time)
            logger.warning("schedule %s: queueing failed, will retry: %s", trigger.pk, error.message)
            stats.record_trigger(trigger, result="Queueing failed", error=error.message or error.code)
            return False
        # The function, alias or payload is wrong: this fire is spent; say why.
        stats.record_trigger(trigger, result=f"Refused: {error.code}", error=error.message or error.code)
        return True
    stats.record_trigger(trigger, request_id=request_id, result="Invoked")
    return True
