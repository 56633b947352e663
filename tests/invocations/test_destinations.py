"""Destinations and DLQs end to end: records delivered to moto (server mode) SQS/SNS/EventBridge, to a
function of this platform and to a local webhook — for each of the three conditions."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from invocations import destinations, tasks
from invocations.models import DestinationDelivery, EventInvokeConfig, Function, Invocation
from invocations.services import async_events
from tests.invocations.aws_emulator import Moto, Webhook, moto_environment, moto_server, webhook_receiver
from tests.invocations.services.test_invoke import make_function

ARN = "arn:aws:lambda:us-east-1:000000000000:function"
FAILING_PY = "def handler(event, context):\n    raise ValueError('bad ' + str(event['k']))\n"
SECRET = "s3cret"


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server, moto_environment(server):
        yield server


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(autouse=True)
def async_settings(settings: Any, tmp_path: Path) -> None:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    settings.LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS = 0.01
    settings.LAMBDA_WEBHOOK_SECRET = SECRET
    settings.LAMBDA_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.LAMBDA_DESTINATION_MAX_ATTEMPTS = 3


# --- pure ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "kind"),
    [
        (f"{ARN}:other", "lambda"),
        (f"{ARN}:other:prod", "lambda"),
        ("arn:aws:sqs:us-east-1:123456789012:q", "sqs"),
        ("arn:aws:sns:us-east-1:123456789012:t", "sns"),
        ("arn:aws:events:us-east-1:123456789012:event-bus/default", "events"),
        ("https://hooks.example.com/x", "webhook"),
        ("http://hooks.example.com/x", "webhook"),
        ("arn:aws:events:us-east-1:123456789012:rule/r", None),
        ("arn:aws:s3:::bucket", None),
        ("arn:aws:lambda:us-east-1:123456789012:layer:x", None),
        ("kafka://broker", None),
        ("ftp://x", None),
    ],
)
def test_parse_classifies_destinations(destination: str, kind: str | None) -> None:
    assert destinations.parse(destination).kind == kind


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    assert destinations.sign(b"{}", b"k") == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("host", "allowed", "ok"),
    [
        ("127.0.0.1", [], False),
        ("localhost", [], False),
        ("10.1.2.3", [], False),
        ("169.254.169.254", [], False),
        ("::1", [], False),
        ("127.0.0.1", ["127.0.0.1"], True),
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("8.8.8.8", [], True),
    ],
)
def test_webhooks_refuse_internal_addresses_unless_allow_listed(settings: Any, host: str, allowed: list[str], ok: bool) -> None:
    settings.LAMBDA_WEBHOOK_ALLOWED_HOSTS = allowed
    if ok:
        assert destinations.vetted_address(host, 80)
    else:
        with pytest.raises(destinations.DeliveryError, match="LAMBDA_WEBHOOK_ALLOWED_HOSTS"):
            destinations.vetted_address(host, 80)


# --- end to end ------------------------------------------------------------------------------------

CONDITIONS = ("Success", "RetriesExhausted", "EventAgeExceeded")


def finished_event(settings: Any, condition: str, destination: str) -> Invocation:
    """Run an event to ``condition`` with ``destination`` configured for it; deliver what it produced."""
    failing = condition == "RetriesExhausted"
    fn = make_function(
        f"fn-{uuid.uuid4().hex[:8]}", files={"app.py": FAILING_PY} if failing else None, code_dir=settings.LAMBDA_CODE_DIR
    )
    key = "on_success_destination" if condition == "Success" else "on_failure_destination"
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=1, maximum_event_age_in_seconds=60, **{key: destination})
    age = 120 if condition == "EventAgeExceeded" else 0
    invocation = Invocation.objects.create(
        request_id=str(uuid.uuid4()), function=fn, function_name=fn.name, executed_version="$LATEST",
        invocation_type=Invocation.Type.EVENT, payload='{"k": "v"}', created_at=timezone.now() - timedelta(seconds=age),
    )  # fmt: skip
    for _ in range(5):
        tasks.run_queued_invocation(invocation.pk)
        invocation.refresh_from_db()
        if invocation.status != Invocation.Status.QUEUED:
            break
        Invocation.objects.filter(pk=invocation.pk).update(next_attempt_at=timezone.now())
    assert invocation.condition == condition
    for delivery in invocation.deliveries.all():
        tasks.deliver_destination(delivery.pk)
    return invocation


def check_record(record: dict[str, Any], invocation: Invocation, condition: str) -> None:
    assert record["requestContext"]["requestId"] == invocation.request_id
    assert record["requestContext"]["condition"] == condition
    assert record["requestContext"]["functionArn"] == f"{ARN}:{invocation.function_name}:$LATEST"
    assert record["requestContext"]["approximateInvokeCount"] == {"Success": 1, "RetriesExhausted": 2, "EventAgeExceeded": 0}[condition]
    assert record["requestPayload"] == {"k": "v"}
    delivery = invocation.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")


@pytest.mark.django_db
@pytest.mark.parametrize("condition", CONDITIONS)
def test_records_reach_sqs(settings: Any, moto: Moto, condition: str) -> None:
    url, arn = moto.queue()
    invocation = finished_event(settings, condition, arn)
    [message] = moto.receive(url)
    check_record(json.loads(message["Body"]), invocation, condition)


@pytest.mark.django_db
@pytest.mark.parametrize("condition", CONDITIONS)
def test_records_reach_sns(settings: Any, moto: Moto, condition: str) -> None:
    topic, url = moto.topic_into_queue()
    invocation = finished_event(settings, condition, topic)
    [message] = moto.receive(url)
    notification = json.loads(message["Body"])
    assert notification["TopicArn"] == topic
    check_record(json.loads(notification["Message"]), invocation, condition)


@pytest.mark.django_db
@pytest.mark.parametrize("condition", CONDITIONS)
def test_records_reach_eventbridge(settings: Any, moto: Moto, condition: str) -> None:
    bus, url = moto.bus_into_queue()
    invocation = finished_event(settings, condition, bus)
    [message] = moto.receive(url)
    event = json.loads(message["Body"])
    result = "Success" if condition == "Success" else "Failure"
    assert (event["source"], event["detail-type"]) == ("lambda", f"Lambda Function Invocation Result - {result}")
    assert event["resources"] == [bus, f"{ARN}:{invocation.function_name}:$LATEST"]
    check_record(event["detail"], invocation, condition)


@pytest.mark.django_db
@pytest.mark.parametrize("condition", CONDITIONS)
def test_records_reach_another_function_as_an_event(settings: Any, condition: str) -> None:
    make_function("receiver", code_dir=settings.LAMBDA_CODE_DIR)
    invocation = finished_event(settings, condition, f"{ARN}:receiver")
    received = Invocation.objects.get(function_name="receiver")
    assert (received.invocation_type, received.status) == ("Event", "queued")
    # Labelled as a destination invocation (not "trigger"), and linked both ways through the delivery.
    assert received.source == Invocation.Source.DESTINATION
    delivery = invocation.deliveries.get()
    assert delivery.caused == received and received.caused_by.get() == delivery
    check_record(json.loads(received.payload), invocation, condition)
    tasks.run_queued_invocation(received.pk)  # and it runs like any event
    received.refresh_from_db()
    assert received.status == "succeeded"


@pytest.mark.django_db
@pytest.mark.parametrize("condition", CONDITIONS)
def test_records_reach_a_webhook_signed(settings: Any, hook: Webhook, condition: str) -> None:
    invocation = finished_event(settings, condition, hook.url)
    [(headers, body)] = hook.requests
    assert headers["X-Workbench-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["Content-Type"] == "application/json"
    check_record(json.loads(body), invocation, condition)


@pytest.mark.django_db
def test_a_failing_webhook_is_retried_with_back_off_then_marked_failed(settings: Any, hook: Webhook) -> None:
    hook.status = 503
    settings.LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS = 60  # delivery back-off 5 s, 10 s …
    invocation = finished_event(settings, "Success", hook.url)
    delivery = invocation.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "503" in delivery.last_error and delivery.next_attempt_at is not None
    tasks.deliver_destination(delivery.pk)  # not due yet: nothing happens
    assert DestinationDelivery.objects.get(pk=delivery.pk).attempts == 1
    for expected in (2, 3):
        DestinationDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        tasks.deliver_destination(delivery.pk)
        assert DestinationDelivery.objects.get(pk=delivery.pk).attempts == expected
    delivery.refresh_from_db()
    assert (delivery.status, len(hook.requests)) == ("failed", 3)


@pytest.mark.django_db
def test_a_webhook_that_recovers_is_delivered_by_the_sweep(settings: Any, hook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    from invocations import dispatch

    hook.status = 500
    invocation = finished_event(settings, "Success", hook.url)
    hook.status = 200
    sent: list[Any] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: sent.append((name, args)))
    delivery = invocation.deliveries.get()
    report = async_events.sweep(now=timezone.now() + timedelta(seconds=60))
    assert report.deliveries == [delivery.pk] and sent == [(dispatch.DELIVER_DESTINATION, (delivery.pk,))]
    tasks.deliver_destination(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(hook.requests)) == ("delivered", 2, 2)


@pytest.mark.django_db
def test_a_webhook_to_a_loopback_address_is_refused_without_the_allow_list(settings: Any, hook: Webhook) -> None:
    settings.LAMBDA_WEBHOOK_ALLOWED_HOSTS = []
    invocation = finished_event(settings, "Success", hook.url)
    delivery = invocation.deliveries.get()
    assert hook.requests == [] and "non-public address" in delivery.last_error


# --- dead-letter queues ----------------------------------------------------------------------------


def failing_with_dlq(settings: Any, target: str) -> Invocation:
    fn = make_function(f"dlq-{uuid.uuid4().hex[:8]}", files={"app.py": FAILING_PY}, code_dir=settings.LAMBDA_CODE_DIR, dead_letter_target_arn=target)
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)
    invocation = Invocation.objects.create(
        request_id=str(uuid.uuid4()), function=fn, function_name=fn.name, executed_version="$LATEST",
        invocation_type=Invocation.Type.EVENT, payload='{"k": "x" }',
    )  # fmt: skip
    tasks.run_queued_invocation(invocation.pk)
    for delivery in invocation.deliveries.all():
        tasks.deliver_destination(delivery.pk)
    return invocation


@pytest.mark.django_db
def test_the_sqs_dead_letter_queue_gets_the_event_with_awss_attributes(settings: Any, moto: Moto) -> None:
    url, arn = moto.queue()
    invocation = failing_with_dlq(settings, arn)
    [message] = moto.receive(url)
    assert message["Body"] == '{"k": "x" }'  # the original body, byte for byte
    assert message["MessageAttributes"] == {
        "RequestID": {"StringValue": invocation.request_id, "DataType": "String"},
        "ErrorCode": {"StringValue": "200", "DataType": "Number"},
        "ErrorMessage": {"StringValue": "bad x", "DataType": "String"},
    }
    assert invocation.deliveries.get().status == "delivered"


@pytest.mark.django_db
def test_the_sns_dead_letter_topic_gets_the_event_with_awss_attributes(settings: Any, moto: Moto) -> None:
    topic, url = moto.topic_into_queue()
    invocation = failing_with_dlq(settings, topic)
    [message] = moto.receive(url)
    notification = json.loads(message["Body"])
    assert notification["Message"] == '{"k": "x" }'
    assert notification["MessageAttributes"] == {
        "RequestID": {"Type": "String", "Value": invocation.request_id},
        "ErrorCode": {"Type": "Number", "Value": "200"},
        "ErrorMessage": {"Type": "String", "Value": "bad x"},
    }


def test_the_dlq_error_message_is_cut_to_1_kb() -> None:
    sent: list[dict[str, Any]] = []

    class FakeSqs:
        def get_queue_url(self, **_: Any) -> dict[str, str]:
            return {"QueueUrl": "http://q"}

        def send_message(self, **kwargs: Any) -> None:
            sent.append(kwargs)

    destinations._clients[("sqs", "us-east-1")] = FakeSqs()
    try:
        destinations.send_dead_letter(
            destination="arn:aws:sqs:us-east-1:1:q", body="{}", request_id="r", error_code=200, error_message="x" * 5000
        )
    finally:
        destinations._clients.clear()
    assert len(sent[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]) == 1024
