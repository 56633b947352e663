"""The SQS source end to end in the Django tier: moto in server mode as SQS, the real engine running
the function, ``run_slice`` called the way a poller thread calls it."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invocations.event_sources import base
from invocations.event_sources.base import BatchResult, invoke_batch
from invocations.event_sources.sqs import SOURCE, kept_after_response
from invocations.models import EventSourceMapping, Function, Invocation
from invocations.services import event_source_mappings
from tests.invocations.aws_emulator import Moto, moto_environment, moto_server
from tests.invocations.services.test_invoke import make_function
from invocations.services.teams import operator

pytestmark = pytest.mark.django_db

NOOP_PY = "def handler(event, context):\n    return None\n"
FAILING_PY = "def handler(event, context):\n    raise ValueError('no')\n"
PARTIAL_PY = (
    "def handler(event, context):\n"
    "    return {'batchItemFailures': [{'itemIdentifier': r['messageId']} for r in event['Records'] if 'fail' in r['body']]}\n"
)


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture(autouse=True)
def environment(moto: Moto, settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    with moto_environment(moto):
        yield


def function(settings: Any, source: str, name: str = "consumer") -> Function:
    return make_function(name, files={"app.py": source}, code_dir=settings.LAMBDA_CODE_DIR)


def queue(moto: Moto, *, visibility: int = 1, dlq: str | None = None, max_receives: int = 2) -> tuple[str, str]:
    sqs = moto.client("sqs")
    attributes = {"VisibilityTimeout": str(visibility)}
    if dlq:
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": str(max_receives)})
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def mapping(arn: str, fn: Function, **fields: Any) -> EventSourceMapping:
    created = event_source_mappings.create_event_source_mapping(
        caller=operator(fn.team), body={"EventSourceArn": arn, "FunctionName": fn.name, **fields}
    )
    return EventSourceMapping.objects.select_related("function").get(pk=created.pk)


def send(moto: Moto, url: str, bodies: list[str], **extra: Any) -> list[str]:
    sqs = moto.client("sqs")
    return [sqs.send_message(QueueUrl=url, MessageBody=body, **extra)["MessageId"] for body in bodies]


def poll(esm: EventSourceMapping, seconds: float, invoke: Any = None) -> None:
    SOURCE.run_slice(esm, "poller-0", deadline=time.monotonic() + seconds, invoke=invoke or functools.partial(invoke_batch, esm))


def batches(fn: Function) -> list[list[dict[str, Any]]]:
    rows = Invocation.objects.filter(function=fn, source=Invocation.Source.TRIGGER).order_by("id")
    return [json.loads(row.payload)["Records"] for row in rows]


def depth(moto: Moto, url: str) -> tuple[int, int]:
    attributes = moto.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_batch_reaches_the_function_in_awss_record_shape_and_is_deleted(moto: Moto, settings: Any) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto)
    esm = mapping(arn, fn)
    [message_id] = send(
        moto, url, ['{"order": 1}'], MessageAttributes={"Kind": {"DataType": "String", "StringValue": "order"}}
    )
    poll(esm, 1.5)
    [[record]] = batches(fn)
    assert set(record) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
    assert (record["messageId"], record["body"], record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        message_id, '{"order": 1}', "aws:sqs", arn, "us-east-1"
    )
    assert record["messageAttributes"] == {
        "Kind": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert all(isinstance(v, str) for v in record["attributes"].values())
    assert depth(moto, url) == (0, 0)
    invocation = Invocation.objects.get(function=fn)
    assert (invocation.source, invocation.status) == ("trigger", "succeeded")


def test_batches_are_cut_at_batch_size_within_the_window(moto: Moto, settings: Any) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto)
    esm = mapping(arn, fn, BatchSize=10, MaximumBatchingWindowInSeconds=1)
    sent = send(moto, url, [f"m{i}" for i in range(25)])
    poll(esm, 3)
    got = batches(fn)
    assert sorted(len(b) for b in got) == [5, 10, 10]
    assert sorted(r["messageId"] for b in got for r in b) == sorted(sent)
    assert depth(moto, url) == (0, 0)


def test_the_window_collects_messages_sent_after_the_first(moto: Moto, settings: Any) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto)
    esm = mapping(arn, fn, BatchSize=50, MaximumBatchingWindowInSeconds=2)
    send(moto, url, ["first"])
    import threading

    later = threading.Timer(0.7, lambda: send(moto, url, ["second", "third"]))
    later.start()
    poll(esm, 3)
    later.join()
    assert [sorted(r["body"] for r in b) for b in batches(fn)] == [["first", "second", "third"]]


def test_a_function_error_returns_the_batch_until_the_redrive_policy_moves_it_to_the_dlq(moto: Moto, settings: Any) -> None:
    fn = function(settings, FAILING_PY)
    dlq_url, dlq_arn = queue(moto)
    # Visibility 3 s: the first slice (1.2 s, whose last long poll ends ≤ 1 s after it even when a
    # slow cold start ate it) cannot see the message come back; the second slice sees it twice.
    url, arn = queue(moto, visibility=3, dlq=dlq_arn, max_receives=2)
    esm = mapping(arn, fn)
    [message_id] = send(moto, url, ["poison"])
    poll(esm, 1.2)
    assert len(batches(fn)) == 1
    assert sum(depth(moto, url)) == 1  # not deleted: it comes back after the visibility timeout
    poll(esm, 7)
    counts = [b[0]["attributes"]["ApproximateReceiveCount"] for b in batches(fn)]
    assert counts == ["1", "2"]  # the third receive is over maxReceiveCount: SQS moved it
    assert depth(moto, url) == (0, 0)
    [moved] = moto.receive(dlq_url)
    assert (moved["MessageId"], moved["Body"]) == (message_id, "poison")
    assert Invocation.objects.filter(function=fn, status="failed").count() == 2


def test_report_batch_item_failures_keeps_only_the_reported_messages(moto: Moto, settings: Any) -> None:
    fn = function(settings, PARTIAL_PY)
    url, arn = queue(moto, visibility=3)
    esm = mapping(arn, fn, FunctionResponseTypes=["ReportBatchItemFailures"], BatchSize=10, MaximumBatchingWindowInSeconds=1)
    ids = send(moto, url, ["ok-1", "fail-2", "ok-3", "fail-4"])
    poll(esm, 1.5)
    assert sorted(r["body"] for r in batches(fn)[0]) == ["fail-2", "fail-4", "ok-1", "ok-3"]
    assert depth(moto, url) == (0, 2)
    poll(esm, 3)
    retried = [r for b in batches(fn)[1:] for r in b]
    assert sorted((r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in retried)[:2] == [
        ("fail-2", "2"), ("fail-4", "2")
    ]
    assert {r["messageId"] for r in retried} == {ids[1], ids[3]}


def test_without_report_batch_item_failures_a_partial_response_is_a_success(moto: Moto, settings: Any) -> None:
    fn = function(settings, PARTIAL_PY)
    url, arn = queue(moto, visibility=1)
    esm = mapping(arn, fn)
    send(moto, url, ["fail-1"])
    poll(esm, 1.2)
    assert depth(moto, url) == (0, 0)


def record(message_id: str) -> dict[str, Any]:
    return {"messageId": message_id}


def result(payload: str = "", error: str | None = None, throttled: bool = False) -> BatchResult:
    return BatchResult(request_id="r", function_error=error, payload=payload.encode(), throttled=throttled)


RECORDS = [record("a"), record("b"), record("c")]


@pytest.mark.parametrize(
    ("outcome", "partial", "fifo", "kept"),
    [
        (result("null"), False, False, []),
        (result(error="Unhandled"), False, False, ["a", "b", "c"]),
        (result(throttled=True), True, False, ["a", "b", "c"]),
        (result('{"batchItemFailures": [{"itemIdentifier": "b"}]}'), False, False, []),
        (result('{"batchItemFailures": [{"itemIdentifier": "b"}]}'), True, False, ["b"]),
        (result('{"batchItemFailures": [{"itemIdentifier": "b"}]}'), True, True, ["b", "c"]),
        (result('{"batchItemFailures": []}'), True, False, []),
        (result(""), True, False, []),
        (result("null"), True, False, []),
        (result('{"batchItemFailures": [{"itemIdentifier": "zzz"}]}'), True, False, ["a", "b", "c"]),
        (result('{"batchItemFailures": [{"itemIdentifier": ""}]}'), True, False, ["a", "b", "c"]),
        (result('{"batchItemFailures": [{"wrong": "b"}]}'), True, False, ["a", "b", "c"]),
        (result("not json"), True, False, ["a", "b", "c"]),
        (result('{"batchItemFailures": [{"itemIdentifier": "b"}]}'), True, False, ["b"]),
    ],
)
def test_which_messages_stay_after_each_kind_of_answer(outcome: BatchResult, partial: bool, fifo: bool, kept: list[str]) -> None:
    assert [r["messageId"] for r in kept_after_response(RECORDS, outcome, partial=partial, fifo=fifo)] == kept


def test_non_matching_messages_are_deleted_without_invoking(moto: Moto, settings: Any) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto)
    pattern = json.dumps({"body": {"kind": ["order"], "total": [{"numeric": [">", 10]}]}})
    esm = mapping(arn, fn, FilterCriteria={"Filters": [{"Pattern": pattern}]}, BatchSize=10, MaximumBatchingWindowInSeconds=1)
    send(moto, url, [
        json.dumps({"kind": "order", "total": 50}),
        json.dumps({"kind": "order", "total": 5}),
        json.dumps({"kind": "refund", "total": 50}),
        "plain text",
    ])  # fmt: skip
    poll(esm, 2)
    assert [[json.loads(r["body"]) for r in b] for b in batches(fn)] == [[{"kind": "order", "total": 50}]]
    assert depth(moto, url) == (0, 0)


def test_a_batch_is_cut_before_it_would_exceed_the_6_mb_payload_limit(moto: Moto, settings: Any) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto, visibility=30)
    esm = mapping(arn, fn, BatchSize=100, MaximumBatchingWindowInSeconds=1)
    body = "x" * 250_000
    sent = send(moto, url, [f"{i:03d}{body}" for i in range(30)])  # ≈ 7.5 MB in all
    poll(esm, 3)
    rows = list(Invocation.objects.filter(function=fn).order_by("id"))
    sizes = [len(row.payload.encode()) for row in rows]
    assert len(rows) == 2 and all(size <= base.MAX_BATCH_PAYLOAD_BYTES for size in sizes), sizes
    assert sizes[0] > base.MAX_BATCH_PAYLOAD_BYTES - 300_000  # cut only when the next record would not fit
    assert sorted(r["messageId"] for b in batches(fn) for r in b) == sorted(sent)
    assert depth(moto, url) == (0, 0)


def test_a_poller_restart_neither_loses_nor_reprocesses_committed_messages(moto: Moto, settings: Any) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto, visibility=1)
    esm = mapping(arn, fn, BatchSize=5, MaximumBatchingWindowInSeconds=1)
    sent = send(moto, url, [f"m{i}" for i in range(20)])
    calls = []

    def dies_on_the_third_batch(event: dict[str, Any]) -> BatchResult:
        calls.append(len(event["Records"]))
        if len(calls) == 3:
            raise SystemExit("the worker died")  # received, not invoked, not deleted
        return invoke_batch(esm, event)

    with pytest.raises(SystemExit):
        poll(esm, 5, invoke=dies_on_the_third_batch)
    committed = [r["messageId"] for b in batches(fn) for r in b]
    assert len(committed) == 10
    poll(esm, 3)  # a new poller, after the visibility timeout returned the lost batch
    processed = [r["messageId"] for b in batches(fn) for r in b]
    assert sorted(processed) == sorted(sent)  # every message, each exactly once
    assert depth(moto, url) == (0, 0)


def test_the_mapping_reads_a_queue_in_another_region_and_account_by_its_arn(moto: Moto, settings: Any) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto)
    esm = mapping(arn, fn)
    assert SOURCE.units(esm) == [f"poller-{i}" for i in range(5)]
    esm.scaling_config = {"MaximumConcurrency": 2}
    assert SOURCE.units(esm) == ["poller-0", "poller-1"]
