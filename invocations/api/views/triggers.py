"""Triggers: the workbench API (SigV4) and the public push endpoints.

SigV4 JSON API (same keys and error shapes as the AWS API; this docstring is its reference):

* ``GET  /_workbench/api/functions/{name}/triggers`` — ``{"Triggers": [...]}``
* ``POST /_workbench/api/functions/{name}/triggers`` — body ``{"Name", "Kind": "schedule"|"webhook"|
  "sns", "Qualifier"?, "Enabled"?, "ScheduleExpression"?, "Payload"?, "TopicArn"?, "Subscribe"?}``;
  201 with the trigger, and for a webhook its ``Secret`` (shown this once).
* ``GET|DELETE /_workbench/api/functions/{name}/triggers/{trigger}``
* ``POST /_workbench/api/functions/{name}/triggers/{trigger}/enable`` and ``…/disable``

Public, no SigV4 (the token in the URL and a signature authenticate them):

* ``POST /_workbench/hooks/{token}`` — 202 ``{"RequestId": …}``
* ``POST /_workbench/sns/{token}`` — 200 (SNS wants a 2xx or it retries)
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from invocations.access import Caller, find_function
from invocations.api.base import aws_operation, caller, json_body, json_response
from invocations.api.errors import error_response
from invocations.errors import AwsError, InvalidParameterValueException
from invocations.event_sources import push
from invocations.models import Trigger
from invocations.selectors import parse_control_function_name
from invocations.services import triggers as service


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def describe(trigger: Trigger, request: HttpRequest) -> dict[str, Any]:
    path = service.endpoint_path(trigger)
    return {
        "Name": trigger.name,
        "Kind": trigger.kind,
        "FunctionName": trigger.function.name,
        "Qualifier": trigger.qualifier or None,
        "Enabled": trigger.enabled,
        "ScheduleExpression": trigger.schedule_expression or None,
        "Payload": trigger.payload or None,
        "NextRunAt": _iso(trigger.next_run_at),
        "LastRunAt": _iso(trigger.last_run_at),
        "EndpointUrl": request.build_absolute_uri(path) if path else None,
        "TopicArn": trigger.topic_arn or None,
        "SubscriptionArn": trigger.subscription_arn or None,
        "ConfirmedAt": _iso(trigger.confirmed_at),
        "InvocationCount": trigger.invocation_count,
        "LastRequestId": trigger.last_request_id or None,
        "LastResult": trigger.last_result or None,
        "LastError": trigger.last_error or None,
        "CreatedAt": _iso(trigger.created_at),
    }


def _function(who: Caller, function_name: str, action: str) -> Any:
    return find_function(who, parse_control_function_name(function_name), action, qualified=False)


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if value is None:
        return ""
    if key == "Payload" and isinstance(value, (dict, list)):
        return json.dumps(value)
    if not isinstance(value, str):
        raise InvalidParameterValueException(f"{key} must be a string.")
    return value


@aws_operation
def list_triggers(request: HttpRequest, function_name: str) -> HttpResponse:
    who = caller(request)
    function = _function(who, function_name, "lambda:GetTrigger")
    return json_response({"Triggers": [describe(t, request) for t in service.list_triggers(caller=who, function=function)]})


@aws_operation
def create_trigger(request: HttpRequest, function_name: str) -> HttpResponse:
    who = caller(request)
    function = _function(who, function_name, "lambda:CreateTrigger")
    body = json_body(request)
    enabled = body.get("Enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidParameterValueException("Enabled must be a boolean.")
    created = service.create_trigger(
        caller=who,
        function=function,
        name=_string(body, "Name"),
        kind=_string(body, "Kind"),
        qualifier=_string(body, "Qualifier"),
        schedule_expression=_string(body, "ScheduleExpression"),
        payload=_string(body, "Payload"),
        topic_arn=_string(body, "TopicArn"),
        enabled=enabled,
        subscribe_endpoint=request.build_absolute_uri("/") if body.get("Subscribe") is True else None,
    )
    created.trigger.refresh_from_db()
    data = describe(created.trigger, request)
    if created.secret:
        data["Secret"] = created.secret
    return json_response(data, status=201)


@aws_operation
def get_trigger(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    who = caller(request)
    function = _function(who, function_name, "lambda:GetTrigger")
    return json_response(describe(service.get_trigger(caller=who, function=function, name=name), request))


@aws_operation
def delete_trigger(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    who = caller(request)
    service.delete_trigger(caller=who, function=_function(who, function_name, "lambda:DeleteTrigger"), name=name)
    return HttpResponse(status=204)


@aws_operation
def enable_trigger(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    who = caller(request)
    function = _function(who, function_name, "lambda:UpdateTrigger")
    trigger = service.set_enabled(caller=who, function=function, name=name, enabled=True)
    return json_response(describe(trigger, request))


@aws_operation
def disable_trigger(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    who = caller(request)
    function = _function(who, function_name, "lambda:UpdateTrigger")
    trigger = service.set_enabled(caller=who, function=function, name=name, enabled=False)
    return json_response(describe(trigger, request))


# --- public push endpoints ---------------------------------------------------------------------------


def _refusal(status: int, message: str, request_id: str) -> HttpResponse:
    response = json_response({"message": message}, status=status)
    response["x-amzn-RequestId"] = request_id
    return response


def _trigger(token: str, kind: str) -> Trigger | None:
    if not token or len(token) > 64:
        return None
    return Trigger.objects.select_related("function__team").filter(token=token, kind=kind).first()


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    reference = str(uuid.uuid4())
    trigger = _trigger(token, Trigger.Kind.WEBHOOK)
    if trigger is None:
        return _refusal(404, "No such webhook.", reference)
    try:
        push.verify_webhook(
            secret=service.webhook_secret(trigger), body=request.body, header=request.headers.get(push.SIGNATURE_HEADER)
        )
        if not trigger.enabled:
            raise push.PushRefused(409, "This trigger is disabled.")
        event = push.webhook_event(request.body)
    except push.PushRefused as refused:
        return _refusal(refused.status, refused.message, reference)
    try:
        request_id = service.invoke_and_record(trigger, event)
    except AwsError as error:
        return error_response(error, reference)
    response = json_response({"RequestId": request_id}, status=202)
    response["x-amzn-RequestId"] = request_id
    return response


@csrf_exempt
@require_POST
def sns(request: HttpRequest, token: str) -> HttpResponse:
    reference = str(uuid.uuid4())
    trigger = _trigger(token, Trigger.Kind.SNS)
    if trigger is None:
        return _refusal(404, "No such SNS endpoint.", reference)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        outcome = push.handle_sns(trigger, body=request.body, headers=headers)
    except push.PushRefused as refused:
        from invocations.event_sources import stats

        stats.record_trigger(trigger, result=f"Refused ({refused.status})", error=refused.message)
        return _refusal(refused.status, refused.message, reference)
    except AwsError as error:
        return error_response(error, reference)
    return json_response({"Type": outcome.kind, "RequestId": outcome.request_id}, status=200)

