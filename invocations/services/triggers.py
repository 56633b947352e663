"""Schedules, webhook and SNS triggers: create, list, enable, disable, delete, and invoke.

Shared by the workbench API (``api/views/triggers.py``) and the console's Triggers tab. A trigger
invokes its function asynchronously (``Event``) with source ``trigger``, like AWS's push sources.

* **schedule** — ``rate(…)``/``cron(…)`` (``event_sources/schedules.py``); ``next_run_at`` is the
  next fire time, fired by ``event_sources/scheduler.py`` on the workers.
* **webhook** — ``POST /_workbench/hooks/{token}`` with ``X-Workbench-Signature: sha256=<hex
  HMAC-SHA256(body)>`` keyed by the trigger's secret, returned once by ``create`` (stored encrypted).
* **sns** — ``POST /_workbench/sns/{token}``: an SNS HTTP(S) subscription endpoint for ``topic_arn``
  (``event_sources/push.py``); with ``subscribe`` the platform calls SNS Subscribe itself.

Who invokes: a schedule fires as ``events.amazonaws.com`` (``AWS:SourceArn`` = the rule's ARN) and
an SNS trigger as ``sns.amazonaws.com`` (``AWS:SourceArn`` = the topic), so the function's policy
must let that service in — creating the trigger adds the statement, as AWS's console does when it
adds a trigger, and deleting it removes the statement; a RemovePermission in between stops the
trigger (its next event is refused and recorded as such). A webhook is the function's own
account acting (its secret authenticates the sender).
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

from invocations import activity, json_input, policy
from invocations.access import Caller, account_caller, check_function, service_caller
from invocations.access_keys import decrypt_secret, encrypt_secret
from invocations.arns import arn_of
from invocations.errors import (
    AwsError,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceException,
)
from invocations.event_sources import schedules, stats
from invocations.models import Function, Invocation, Trigger
from invocations.selectors import version_of
from invocations.services import permissions

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


def get_trigger(*, caller: Caller, function: Function, name: str, action: str = "lambda:GetTrigger") -> Trigger:
    check_function(caller, action, function)
    trigger = Trigger.objects.select_related("function__team").filter(function=function, name=name).first()
    if trigger is None:
        raise _not_found(function, name)
    return trigger


def list_triggers(*, caller: Caller, function: Function) -> list[Trigger]:
    check_function(caller, "lambda:GetTrigger", function)
    return list(Trigger.objects.select_related("function__team").filter(function=function).order_by("kind", "name"))


SERVICES = {Trigger.Kind.SCHEDULE: "events.amazonaws.com", Trigger.Kind.SNS: "sns.amazonaws.com"}


def rule_arn(trigger: Trigger) -> str:
    """The EventBridge rule a schedule stands for (in its function's account)."""
    from django.conf import settings

    return f"arn:aws:events:{settings.LAMBDA_REGION}:{trigger.function.team.account_id}:rule/{trigger.name}"


def source_arn(trigger: Trigger) -> str:
    return rule_arn(trigger) if trigger.kind == Trigger.Kind.SCHEDULE else trigger.topic_arn


def statement_id(trigger: Trigger) -> str:
    return "workbench-trigger-" + re.sub(r"[^A-Za-z0-9_-]", "_", trigger.name)


def _invoker(trigger: Trigger) -> tuple[Caller, policy.Context]:
    """Who a trigger's event is invoked as, and the request's condition keys."""
    service = SERVICES.get(trigger.kind)  # type: ignore[call-overload]
    if service is None:
        return account_caller(trigger.function.team), policy.Context()
    return service_caller(service), policy.Context(source_arn=source_arn(trigger))


def endpoint_path(trigger: Trigger) -> str | None:
    if trigger.kind == Trigger.Kind.WEBHOOK:
        return HOOK_PATH.format(token=trigger.token)
    if trigger.kind == Trigger.Kind.SNS:
        return SNS_PATH.format(token=trigger.token)
    return None


def webhook_secret(trigger: Trigger) -> str | None:
    return decrypt_secret(trigger.secret_encrypted) if trigger.secret_encrypted else None


def _check_qualifier(function: Function, qualifier: str) -> None:
    version_of(function, qualifier or None)


def _first_run(trigger: Trigger, now: datetime) -> datetime | None:
    schedule = schedules.parse(trigger.schedule_expression)
    return schedules.next_fire(schedule, now, anchor=trigger.created_at)


def _check_payload(payload: str) -> str:
    if not payload.strip():
        return ""
    try:
        json_input.loads(payload)
    except ValueError as error:
        raise InvalidParameterValueException(f"Payload must be JSON: {error}") from None
    return payload


def create_trigger(
    *,
    caller: Caller,
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
    check_function(caller, "lambda:CreateTrigger", function)
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
            activity.record(caller=caller, action="lambda:CreateTrigger", function=function, changes={
                "name": name, "kind": kind, "qualifier": qualifier, "schedule_expression": trigger.schedule_expression,
                "topic_arn": trigger.topic_arn, "enabled": enabled,
            })  # fmt: skip
            if kind in SERVICES:
                permissions.allow(caller=caller, function=function, qualifier=qualifier, sid=statement_id(trigger),
                                  principal=SERVICES[kind], action="lambda:InvokeFunction",
                                  source_arn=source_arn(trigger))  # fmt: skip
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


def set_enabled(*, caller: Caller, function: Function, name: str, enabled: bool) -> Trigger:
    trigger = get_trigger(caller=caller, function=function, name=name, action="lambda:UpdateTrigger")
    activity.record(caller=caller, action="lambda:UpdateTrigger", function=function,
                    changes={"name": name, "enabled": [trigger.enabled, enabled]})  # fmt: skip
    trigger.enabled = enabled
    fields = ["enabled"]
    if trigger.kind == Trigger.Kind.SCHEDULE:
        # Re-enabling starts from now: what was missed while disabled is not replayed.
        trigger.next_run_at = _first_run(trigger, timezone.now()) if enabled else None
        fields.append("next_run_at")
    trigger.save(update_fields=fields)
    return trigger


def delete_trigger(*, caller: Caller, function: Function, name: str) -> None:
    trigger = get_trigger(caller=caller, function=function, name=name, action="lambda:DeleteTrigger")
    with transaction.atomic():
        trigger.delete()
        activity.record(caller=caller, action="lambda:DeleteTrigger", function=function, changes={"name": name})
        if trigger.kind in SERVICES:
            permissions.revoke(caller=caller, function=function, qualifier=trigger.qualifier, sid=statement_id(trigger))


def invoke_event(trigger: Trigger, event: dict[str, Any] | bytes) -> str:
    """Invoke the trigger's function asynchronously with ``event`` as its service (``_invoker``);
    return the request id. Raises AwsError (e.g. AccessDeniedException when the function's policy
    no longer lets the service in, RequestEntityTooLargeException over the 1 MB Event limit)."""
    import uuid

    from invocations.pipeline import InvocationRequest, invoke

    payload = event if isinstance(event, bytes) else json.dumps(event, separators=(",", ":")).encode()
    request_id = str(uuid.uuid4())
    caller, context = _invoker(trigger)
    invoke(
        InvocationRequest(
            caller=caller,
            context=context,
            function_name=arn_of(trigger.function),
            qualifier=trigger.qualifier or None,
            payload=payload,
            invocation_type="Event",
            source=Invocation.Source.TRIGGER,
            request_id=request_id,
        )
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
