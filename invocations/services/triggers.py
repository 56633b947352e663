"""Schedules, webhook and SNS triggers: create, list, enable, disable, delete, and invoke.

Shared by the workbench API (``api/views/triggers.py``) and the console's Triggers tab. A trigger
invokes its function asynchronously (``Event``) with source ``trigger``, like AWS's push sources.

* **schedule** — ``rate(…)``/``cron(…)`` (``event_sources/schedules.py``); ``next_run_at`` is the
  next fire time, fired by ``event_sources/scheduler.py`` on the workers.
* **webhook** — ``POST /_workbench/hooks/{token}`` with ``X-Workbench-Signature: sha256=<hex
  HMAC-SHA256(body)>`` keyed by the trigger's secret, returned once by ``create`` (stored encrypted).
* **sns** — ``POST /_workbench/sns/{token}``: an SNS HTTP(S) subscription endpoint for ``topic_arn``
  (``event_sources/push.py``); with ``subscribe`` the platform calls SNS Subscribe itself.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from invocations.access_keys import decrypt_secret, encrypt_secret
from invocations.errors import (
    AwsError,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceException,
)
from invocations.event_sources import schedules, stats
from invocations.models import Function, Invocation, Trigger

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<topic>[A-Za-z0-9_-]{1,256}(\.fifo)?)$")
KINDS = tuple(Trigger.Kind.values)
HOOK_PATH = "/_workbench/hooks/{token}"
SNS_PATH = "/_workbench/sns/{token}"


@dataclass(frozen=True)
class CreatedTrigger:
    trigger: Trigger
    secret: str | None  # a webhook's signing secret: shown once, here


def _not_found(function: Function, name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Trigger not found: {function.name}/{name}")


def get_trigger(*, function: Function, name: str) -> Trigger:
    trigger = Trigger.objects.filter(function=function, name=name).first()
    if trigger is None:
        raise _not_found(function, name)
    return trigger


def list_triggers(*, function: Function) -> list[Trigger]:
    return list(Trigger.objects.filter(function=function).order_by("kind", "name"))


def endpoint_path(trigger: Trigger) -> str | None:
    if trigger.kind == Trigger.Kind.WEBHOOK:
        return HOOK_PATH.format(token=trigger.token)
    if trigger.kind == Trigger.Kind.SNS:
        return SNS_PATH.format(token=trigger.token)
    return None


def webhook_secret(trigger: Trigger) -> str | None:
    return decrypt_secret(trigger.secret_encrypted) if trigger.secret_encrypted else None


def _check_qualifier(function: Function, qualifier: str) -> None:
    from invocations.services.invoke import resolve

    resolve(function.name, qualifier or None)


def _first_run(trigger: Trigger, now: datetime) -> datetime | None:
    schedule = schedules.parse(trigger.schedule_expression)
    return schedules.next_fire(schedule, now, anchor=trigger.created_at)


def _check_payload(payload: str) -> str:
    if not payload.strip():
        return ""
    try:
        json.loads(payload)
    except ValueError as error:
        raise InvalidParameterValueException(f"Payload must be JSON: {error}") from None
    return payload


def create_trigger(
    *,
    function: Function,
    name: str,
    kind: str,
    qualifier: str = "",
    schedule_expression: str = "",
    payload: str = "",
    topic_arn: str = "",
    enabled: bool = True,
    subscribe_endpoint: str | None = None,
) -> CreatedTrigger:
    """Create a trigger. ``subscribe_endpoint`` (SNS only): the public base URL the platform
    subscribes to the topic (``https://host``); None leaves subscribing to the caller."""
    if not _NAME.match(name or ""):
        raise InvalidParameterValueException("Name must be 1–64 characters of letters, digits, '_', '.' and '-'.")
    if kind not in KINDS:
        raise InvalidParameterValueException(f"Kind must be one of {', '.join(KINDS)}.")
    _check_qualifier(function, qualifier)
    now = timezone.now()
    trigger = Trigger(function=function, name=name, kind=kind, qualifier=qualifier, enabled=enabled, created_at=now)
    secret = None
    if kind == Trigger.Kind.SCHEDULE:
        try:
            schedules.parse(schedule_expression)
        except schedules.ScheduleError as error:
            raise InvalidParameterValueException(f"ScheduleExpression is not valid: {error}") from None
        trigger.schedule_expression = schedule_expression.strip()
        trigger.payload = _check_payload(payload)
        trigger.next_run_at = _first_run(trigger, now) if enabled else None
    else:
        if schedule_expression or payload:
            raise InvalidParameterValueException("ScheduleExpression and Payload are for schedules only.")
        trigger.token = secrets.token_urlsafe(32)
    if kind == Trigger.Kind.WEBHOOK:
        secret = secrets.token_hex(32)
        trigger.secret_encrypted = encrypt_secret(secret)
    if kind == Trigger.Kind.SNS:
        if not _TOPIC_ARN.match(topic_arn or ""):
            raise InvalidParameterValueException("TopicArn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME).")
        trigger.topic_arn = topic_arn
    elif topic_arn:
        raise InvalidParameterValueException("TopicArn is for SNS triggers only.")
    try:
        with transaction.atomic():
            trigger.save(force_insert=True)
    except IntegrityError:
        raise ResourceConflictException(f"A trigger named {name} already exists for {function.name}.") from None
    if kind == Trigger.Kind.SNS and subscribe_endpoint:
        _subscribe(trigger, subscribe_endpoint.rstrip("/") + (endpoint_path(trigger) or ""))
    return CreatedTrigger(trigger=trigger, secret=secret)


def _subscribe(trigger: Trigger, endpoint: str) -> None:
    """SNS Subscribe (protocol from the URL); SNS then POSTs a SubscriptionConfirmation here."""
    from invocations import destinations

    region = _TOPIC_ARN.match(trigger.topic_arn)["region"]  # type: ignore[index]
    protocol = "https" if endpoint.startswith("https://") else "http"
    try:
        answer = destinations.client("sns", region).subscribe(
            TopicArn=trigger.topic_arn, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True
        )
    except Exception as error:  # botocore's errors: the trigger stays, unsubscribed, and says why
        stats.record_trigger(trigger, result="Subscribe failed", error=f"SNS Subscribe failed: {error}")
        return
    arn = answer.get("SubscriptionArn", "")
    if arn and arn != "pending confirmation":
        Trigger.objects.filter(pk=trigger.pk).update(subscription_arn=arn)
        trigger.subscription_arn = arn
    stats.record_trigger(trigger, result="Subscription requested")


def set_enabled(*, function: Function, name: str, enabled: bool) -> Trigger:
    trigger = get_trigger(function=function, name=name)
    trigger.enabled = enabled
    fields = ["enabled"]
    if trigger.kind == Trigger.Kind.SCHEDULE:
        # Re-enabling starts from now: what was missed while disabled is not replayed.
        trigger.next_run_at = _first_run(trigger, timezone.now()) if enabled else None
        fields.append("next_run_at")
    trigger.save(update_fields=fields)
    return trigger


def delete_trigger(*, function: Function, name: str) -> None:
    trigger = get_trigger(function=function, name=name)
    trigger.delete()


def invoke_event(trigger: Trigger, event: dict[str, Any] | bytes, *, caller_id: int | None = None) -> str:
    """Invoke the trigger's function asynchronously with ``event``; return the request id.
    Raises AwsError (e.g. RequestEntityTooLargeException over the 1 MB Event limit)."""
    import uuid

    from invocations.services.invoke import invoke

    payload = event if isinstance(event, bytes) else json.dumps(event, separators=(",", ":")).encode()
    request_id = str(uuid.uuid4())
    function = trigger.function
    invoke(
        function_name=function.name,
        qualifier=trigger.qualifier or None,
        payload=payload,
        invocation_type="Event",
        log_type=None,
        client_context=None,
        source=Invocation.Source.TRIGGER,
        caller_id=caller_id if caller_id is not None else function.owner_id,
        request_id=request_id,
    )
    return request_id


def invoke_and_record(trigger: Trigger, event: dict[str, Any] | bytes, *, result: str = "Invoked") -> str:
    """``invoke_event`` and the trigger's counters; a refused event is recorded, then re-raised."""
    try:
        request_id = invoke_event(trigger, event)
    except AwsError as error:
        stats.record_trigger(trigger, result=f"Refused: {error.code}", error=error.message or error.code)
        raise
    except Exception:
        stats.record_trigger(trigger, result="Refused: ServiceException", error="The event could not be queued.")
        raise ServiceException("An internal error occurred. The event was not queued; try again.") from None
    stats.record_trigger(trigger, request_id=request_id, result=result)
    return request_id
