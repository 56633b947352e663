"""The triggers API (SigV4) and the signed webhook endpoint, Django tier."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from invocations import dispatch
from invocations.access_keys import NewAccessKey
from invocations.models import Function, Invocation, Trigger
from tests.cli.test_server_api import call
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[object, ...]]]:
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: sent.append((name, args)))
    return sent


@pytest.fixture
def echo(settings: Any, tmp_path: Path) -> Function:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return make_function("echo", code_dir=settings.LAMBDA_CODE_DIR)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_hook(url: str, body: bytes, signature: str | None) -> Any:
    headers = {"HTTP_X_WORKBENCH_SIGNATURE": signature} if signature is not None else {}
    return Client().post(url, data=body, content_type="application/json", **headers)


def create(key: NewAccessKey, **body: Any) -> Any:
    return call(key, "POST", "functions/echo/triggers", body)


def test_the_api_creates_lists_disables_enables_and_deletes_triggers(access_key: NewAccessKey, echo: Function) -> None:
    answer = create(access_key, Name="tick", Kind="schedule", ScheduleExpression="rate(5 minutes)")
    assert answer.status_code == 201, answer.content
    tick = json.loads(answer.content)
    assert tick["Kind"] == "schedule" and tick["Enabled"] is True and tick["NextRunAt"]
    assert "Secret" not in tick and tick["EndpointUrl"] is None
    hook = json.loads(create(access_key, Name="hook", Kind="webhook").content)
    assert len(hook["Secret"]) == 64 and hook["EndpointUrl"].startswith("http://lambda.test/_workbench/hooks/")
    listed = json.loads(call(access_key, "GET", "functions/echo/triggers").content)["Triggers"]
    assert [(t["Name"], t["Kind"]) for t in listed] == [("tick", "schedule"), ("hook", "webhook")]
    assert all("Secret" not in t for t in listed)
    disabled = json.loads(call(access_key, "POST", "functions/echo/triggers/tick/disable").content)
    assert disabled["Enabled"] is False and disabled["NextRunAt"] is None
    enabled = json.loads(call(access_key, "POST", "functions/echo/triggers/tick/enable").content)
    assert enabled["Enabled"] is True and enabled["NextRunAt"]
    assert call(access_key, "DELETE", "functions/echo/triggers/tick").status_code == 204
    gone = call(access_key, "GET", "functions/echo/triggers/tick")
    assert gone.status_code == 404 and gone["x-amzn-ErrorType"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("body", "status", "error", "complaint"),
    [
        ({"Name": "t", "Kind": "schedule", "ScheduleExpression": "rate(1 minutes)"}, 400, "InvalidParameterValueException", "singular"),
        ({"Name": "t", "Kind": "schedule", "ScheduleExpression": "cron(0 12 * * * *)"}, 400, "InvalidParameterValueException", "Exactly one"),
        ({"Name": "t", "Kind": "schedule", "ScheduleExpression": "rate(1 hour)", "Payload": "{nope"}, 400, "InvalidParameterValueException", "JSON"),
        ({"Name": "t", "Kind": "cron"}, 400, "InvalidParameterValueException", "Kind"),
        ({"Name": "bad name", "Kind": "webhook"}, 400, "InvalidParameterValueException", "Name"),
        ({"Name": "t", "Kind": "sns", "TopicArn": "arn:aws:sqs:us-east-1:000000000000:q"}, 400, "InvalidParameterValueException", "TopicArn"),
        ({"Name": "t", "Kind": "webhook", "ScheduleExpression": "rate(1 hour)"}, 400, "InvalidParameterValueException", "schedules only"),
        ({"Name": "t", "Kind": "webhook", "Qualifier": "prod"}, 404, "ResourceNotFoundException", "prod"),
        ({"Name": "t", "Kind": "webhook", "Enabled": "yes"}, 400, "InvalidParameterValueException", "boolean"),
    ],
)
def test_the_api_rejects_bad_triggers(access_key: NewAccessKey, echo: Function, body: dict[str, Any], status: int, error: str, complaint: str) -> None:
    answer = create(access_key, **body)
    assert (answer.status_code, answer["x-amzn-ErrorType"]) == (status, error)
    assert complaint in answer.content.decode()


def test_names_are_unique_per_function_and_the_api_needs_sigv4(access_key: NewAccessKey, echo: Function) -> None:
    assert create(access_key, Name="hook", Kind="webhook").status_code == 201
    assert create(access_key, Name="hook", Kind="webhook").status_code == 409
    unsigned = call(access_key, "GET", "functions/echo/triggers", sign=False)
    assert unsigned.status_code == 403


def test_a_signed_webhook_invokes_the_function_asynchronously(access_key: NewAccessKey, echo: Function, published: list[Any]) -> None:
    hook = json.loads(create(access_key, Name="hook", Kind="webhook").content)
    body = b'{"order": 42}'
    answer = post_hook(hook["EndpointUrl"], body, sign(hook["Secret"], body))
    assert answer.status_code == 202, answer.content
    request_id = json.loads(answer.content)["RequestId"]
    assert answer["x-amzn-RequestId"] == request_id
    invocation = Invocation.objects.get(request_id=request_id)
    assert (invocation.source, invocation.invocation_type, invocation.payload) == ("trigger", "Event", '{"order": 42}')
    assert published == [(dispatch.RUN_QUEUED_INVOCATION, (invocation.pk,))]
    trigger = Trigger.objects.get(name="hook")
    assert (trigger.invocation_count, trigger.last_request_id) == (1, request_id)


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda url, body, sig: (url, body, None), 401),  # no signature
        (lambda url, body, sig: (url, body, "sha256=" + "0" * 64), 403),  # wrong signature
        (lambda url, body, sig: (url, b'{"order": 43}', sig), 403),  # body changed after signing
        (lambda url, body, sig: (url[:-4] + "XXXX", body, sig), 404),  # wrong token
        (lambda url, body, sig: (url, b"not json", "SIGN"), 400),  # signed, but not an event
    ],
)
def test_a_webhook_refuses_what_is_not_authentic(access_key: NewAccessKey, echo: Function, published: list[Any], mutate: Any, status: int) -> None:
    hook = json.loads(create(access_key, Name="hook", Kind="webhook").content)
    body = b'{"order": 42}'
    url, sent, signature = mutate(hook["EndpointUrl"], body, sign(hook["Secret"], body))
    if signature == "SIGN":
        signature = sign(hook["Secret"], sent)
    answer = post_hook(url, sent, signature)
    assert answer.status_code == status, answer.content
    assert "message" in json.loads(answer.content)
    assert Invocation.objects.count() == 0 and published == []


def test_a_disabled_webhook_refuses_events(access_key: NewAccessKey, echo: Function, published: list[Any]) -> None:
    hook = json.loads(create(access_key, Name="hook", Kind="webhook", Enabled=False).content)
    body = b"{}"
    assert post_hook(hook["EndpointUrl"], body, sign(hook["Secret"], body)).status_code == 409
    assert Client().get(hook["EndpointUrl"]).status_code == 405


def test_a_webhook_event_over_the_event_limit_is_a_413(access_key: NewAccessKey, echo: Function, published: list[Any]) -> None:
    hook = json.loads(create(access_key, Name="hook", Kind="webhook").content)
    body = json.dumps({"blob": "x" * 1_100_000}).encode()
    answer = post_hook(hook["EndpointUrl"], body, sign(hook["Secret"], body))
    assert answer.status_code == 413 and answer["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    trigger = Trigger.objects.get(name="hook")
    assert trigger.last_result == "Refused: RequestEntityTooLargeException" and trigger.invocation_count == 0
