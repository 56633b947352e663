"""The Triggers tab: mappings and triggers listed with their state and results; add / enable /
disable / delete; Send test record through an SQS mapping's real path; batch records on the
invocation page; outsiders get 404s."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from invocations.event_sources import base
from invocations.models import EventSourceMapping, Function, Invocation, Trigger
from invocations.services import triggers as trigger_service
from invocations.services.teams import operator

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"


@pytest.fixture
def logged_in(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


def mapping(function: Function, **fields: Any) -> EventSourceMapping:
    defaults: dict[str, Any] = dict(
        uuid=str(uuid.uuid4()), team=function.team, function=function, source_kind="sqs", event_source_arn=QUEUE,
        batch_size=10, state="Enabled",
    )
    return EventSourceMapping.objects.create(**{**defaults, **fields})


def test_the_tab_lists_mappings_and_triggers_with_their_results(logged_in: Client, hello: Function) -> None:
    mapping(hello, records_processed=1234, last_error="Unhandled: boom", last_processing_result="OK")
    trigger_service.create_trigger(caller=operator(hello.team), function=hello, name="nightly", kind="schedule", schedule_expression="cron(0 3 * * ? *)")
    Trigger.objects.filter(name="nightly").update(invocation_count=7, last_result="Invoked", last_error="Refused: x")
    page = logged_in.get("/functions/hello/triggers/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="active">Triggers</a>' in html
    assert QUEUE in html and "1234" in html and "Unhandled: boom" in html and "Enabled" in html
    assert "nightly" in html and "cron(0 3 * * ? *)" in html and "Invoked" in html and "Refused: x" in html


def test_the_tab_is_one_query_per_table(logged_in: Client, hello: Function, django_assert_max_num_queries: Any) -> None:
    for n in range(5):
        mapping(hello, event_source_arn=f"{QUEUE}-{n}")
        trigger_service.create_trigger(caller=operator(hello.team), function=hello, name=f"hook-{n}", kind="webhook")
    with django_assert_max_num_queries(13):  # the header's 24 h summary is one of them
        assert logged_in.get("/functions/hello/triggers/").status_code == 200


def test_adding_a_webhook_shows_its_secret_once(logged_in: Client, hello: Function) -> None:
    answer = logged_in.post("/functions/hello/triggers/", {"kind": "webhook", "name": "orders"})
    assert answer.status_code == 200
    secret = answer.context["new_secret"]
    trigger = Trigger.objects.get(name="orders")
    assert trigger_service.webhook_secret(trigger) == secret and secret in answer.content.decode()
    assert f"/_workbench/hooks/{trigger.token}" in answer.content.decode()
    assert secret not in logged_in.get("/functions/hello/triggers/").content.decode()


def test_adding_a_schedule_and_an_sns_subscription(logged_in: Client, hello: Function) -> None:
    assert logged_in.post("/functions/hello/triggers/", {"kind": "schedule", "name": "tick", "schedule_expression": "rate(5 minutes)"}).status_code == 302
    topic = "arn:aws:sns:us-east-1:000000000000:orders"
    assert logged_in.post("/functions/hello/triggers/", {"kind": "sns", "name": "orders", "topic_arn": topic}).status_code == 302
    tick, orders = Trigger.objects.get(name="tick"), Trigger.objects.get(name="orders")
    assert tick.next_run_at is not None and orders.topic_arn == topic and orders.token
    assert f"/_workbench/sns/{orders.token}" in logged_in.get("/functions/hello/triggers/").content.decode()


@pytest.mark.parametrize(
    ("form", "complaint"),
    [
        ({"kind": "schedule", "name": "tick", "schedule_expression": "rate(5 minute)"}, "plural"),
        ({"kind": "schedule", "name": "bad name", "schedule_expression": "rate(5 minutes)"}, 'id="name-error">Use 1–64 letters'),
        ({"kind": "sns", "name": "orders", "topic_arn": "nope"}, 'id="topic_arn-error">“nope” is not a valid ARN'),
    ],
)
def test_bad_triggers_are_explained(logged_in: Client, hello: Function, form: dict[str, str], complaint: str) -> None:
    answer = logged_in.post("/functions/hello/triggers/", form)
    assert answer.status_code == 400 and complaint in answer.content.decode()
    assert not Trigger.objects.exists()


def test_enable_disable_and_delete_a_trigger(logged_in: Client, hello: Function) -> None:
    trigger_service.create_trigger(caller=operator(hello.team), function=hello, name="tick", kind="schedule", schedule_expression="rate(1 hour)")
    url = "/functions/hello/triggers/t/tick/"
    logged_in.post(url, {"action": "disable"})
    assert Trigger.objects.get(name="tick").enabled is False
    logged_in.post(url, {"action": "enable"})
    assert Trigger.objects.get(name="tick").enabled is True
    logged_in.post(url, {"action": "delete"})
    assert not Trigger.objects.exists()


def test_enable_disable_and_delete_a_mapping_through_the_esm_service(logged_in: Client, hello: Function) -> None:
    m = mapping(hello)
    url = f"/functions/hello/triggers/mappings/{m.uuid}/"
    logged_in.post(url, {"action": "disable"})
    m.refresh_from_db()
    assert (m.enabled, m.state) == (False, "Disabling")
    logged_in.post(url, {"action": "enable"})
    m.refresh_from_db()
    assert (m.enabled, m.state) == (True, "Enabling")
    logged_in.post(url, {"action": "delete"})
    m.refresh_from_db()
    assert m.state == "Deleting"
    assert m.uuid not in logged_in.get("/functions/hello/triggers/").content.decode()


def test_adding_a_mapping_goes_through_the_esm_service(logged_in: Client, hello: Function) -> None:
    answer = logged_in.post(
        "/functions/hello/triggers/mappings/",
        {"event_source_arn": QUEUE, "batch_size": "5", "filter_pattern": '{"body": {"kind": ["order"]}}', "report_batch_item_failures": "on"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    m = EventSourceMapping.objects.get()
    assert (m.batch_size, m.function_response_types) == (5, ["ReportBatchItemFailures"])
    assert m.filter_criteria == {"Filters": [{"Pattern": '{"body": {"kind": ["order"]}}'}]}
    bad = logged_in.post("/functions/hello/triggers/mappings/", {"event_source_arn": "arn:aws:s3:::bucket"})
    assert bad.status_code == 400


def fake_invoke(monkeypatch: pytest.MonkeyPatch, *, error: str | None = None, response: Any = None) -> list[dict[str, Any]]:
    """invoke_batch's own recording and counting, with the function's answer given (the engine is
    exercised by the SQS source's tests)."""
    from invocations.event_sources import stats

    calls: list[dict[str, Any]] = []

    def invoke(m: EventSourceMapping, event: dict[str, Any]) -> base.BatchResult:
        calls.append(event)
        request_id = str(uuid.uuid4())
        payload = json.dumps(response).encode() if response is not None else b"null"
        Invocation.objects.create(request_id=request_id, function=m.function, function_name=m.function.name,
                                  source="trigger", status="failed" if error else "succeeded", payload=json.dumps(event))
        stats.record_batch(m, event, request_id=request_id, error=stats.batch_error(error, False, payload))
        return base.BatchResult(request_id=request_id, function_error=error, payload=payload)

    monkeypatch.setattr(base, "invoke_batch", invoke)
    return calls


def probe(client: Client, m: EventSourceMapping, body: str, *, htmx: bool = True) -> Any:
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(f"/functions/hello/triggers/mappings/{m.uuid}/test/", {"body": body}, **headers)


def test_send_test_record_runs_the_mapping_path_and_shows_the_outcome(logged_in: Client, hello: Function, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_invoke(monkeypatch)
    m = mapping(hello)
    answer = probe(logged_in, m, '{"kind": "order"}')
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "Succeeded: the poller deletes this message." in html and "<html" not in html
    (event,) = calls
    (record,) = event["Records"]
    assert record["body"] == '{"kind": "order"}' and record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == QUEUE
    invocation = Invocation.objects.get()
    assert invocation.request_id in html
    m.refresh_from_db()
    assert (m.records_processed, m.last_request_id) == (1, invocation.request_id)


def test_send_test_record_applies_the_filter(logged_in: Client, hello: Function, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_invoke(monkeypatch)
    m = mapping(hello, filter_criteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]})
    html = probe(logged_in, m, '{"kind": "refund"}').content.decode()
    assert "No filter matched" in html and calls == []


def test_send_test_record_interprets_partial_batch_failures(logged_in: Client, hello: Function, monkeypatch: pytest.MonkeyPatch) -> None:
    m = mapping(hello, function_response_types=["ReportBatchItemFailures"])
    calls: list[dict[str, Any]] = []

    def invoke(mapping_: EventSourceMapping, event: dict[str, Any]) -> base.BatchResult:
        calls.append(event)
        failures = [{"itemIdentifier": event["Records"][0]["messageId"]}]
        return base.BatchResult(request_id="r-1", function_error=None, payload=json.dumps({"batchItemFailures": failures}).encode())

    monkeypatch.setattr(base, "invoke_batch", invoke)
    html = probe(logged_in, m, "plain text").content.decode()
    assert "returns to the queue" in html and calls[0]["Records"][0]["messageId"] in html


def test_send_test_record_reports_a_function_error(logged_in: Client, hello: Function, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_invoke(monkeypatch, error="Unhandled", response={"errorMessage": "boom"})
    m = mapping(hello)
    html = probe(logged_in, m, "{}").content.decode()
    assert "The function failed" in html and "Unhandled" in html
    m.refresh_from_db()
    assert "boom" in m.last_error


def test_send_test_record_with_the_real_engine(logged_in: Client, hello: Function) -> None:
    from invocations import recorder

    m = mapping(hello)
    html = probe(logged_in, m, '{"n": 1}').content.decode()
    assert "Succeeded" in html
    assert recorder.flush()
    invocation = Invocation.objects.get()
    assert invocation.source == "trigger" and json.loads(invocation.payload)["Records"][0]["body"] == '{"n": 1}'


def test_the_invocation_page_links_to_the_batch_records(logged_in: Client, hello: Function) -> None:
    records = [{"messageId": f"m-{i}", "body": "x", "eventSource": "aws:sqs", "eventSourceARN": QUEUE} for i in range(3)]
    Invocation.objects.create(request_id="batch-1", function=hello, function_name="hello", source="trigger",
                              status="succeeded", payload=json.dumps({"Records": records}))
    html = logged_in.get("/invocations/batch-1/").content.decode()
    assert "Records (3)" in html and 'id="record-2"' in html and "m-1" in html and QUEUE in html
    history = logged_in.get("/functions/hello/history/?source=trigger").content.decode()
    assert "batch-1" in history


def test_outsiders_see_nothing(client: Client, outsider: Any, hello: Function) -> None:
    m = mapping(hello)
    trigger_service.create_trigger(caller=operator(hello.team), function=hello, name="tick", kind="schedule", schedule_expression="rate(1 hour)")
    client.force_login(outsider)
    assert client.get("/functions/hello/triggers/").status_code == 404
    assert client.post("/functions/hello/triggers/t/tick/", {"action": "delete"}).status_code == 404
    assert client.post(f"/functions/hello/triggers/mappings/{m.uuid}/", {"action": "delete"}).status_code == 404
    assert client.post(f"/functions/hello/triggers/mappings/{m.uuid}/test/", {"body": "x"}).status_code == 404
    assert Trigger.objects.filter(name="tick").exists()
