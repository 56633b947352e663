"""The Kinesis source against moto's Kinesis in server mode: record shape, ordering, starting
positions, checkpoints across a restart, retries that block the shard, bisecting, partial batch
responses, record age, the on-failure record in a moto SQS queue, and the 6 MB cut.

``run_slice`` is called directly (the poller framework is tested on its own), with an ``invoke`` that
runs the real engine through ``invoke_batch`` or answers from a script, recording every event.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from invocations import destinations
from invocations.event_sources import kinesis
from invocations.event_sources.base import MAX_BATCH_PAYLOAD_BYTES, BatchResult, invoke_batch
from invocations.models import EventSourceMapping, Invocation, StreamCheckpoint
from tests.invocations.aws_emulator import Moto, moto_environment, moto_server
from tests.invocations.services.test_invoke import make_function

ROLE = "arn:aws:iam::000000000000:role/x"

RAISE_ON_BAD_PY = """
import base64

def handler(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    if "bad" in datas:
        raise ValueError("bad record")
    return {"seen": datas}
"""

REPORT_BAD_PY = """
import base64

def handler(event, context):
    return {"batchItemFailures": [
        {"itemIdentifier": r["kinesis"]["sequenceNumber"]}
        for r in event["Records"] if base64.b64decode(r["kinesis"]["data"]) == b"bad"
    ]}
"""


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        saved = os.environ.get("AWS_ENDPOINT_URL_KINESIS")
        os.environ["AWS_ENDPOINT_URL_KINESIS"] = server.endpoint
        try:
            with moto_environment(server):
                yield server
        finally:
            if saved is None:
                os.environ.pop("AWS_ENDPOINT_URL_KINESIS", None)
            else:
                os.environ["AWS_ENDPOINT_URL_KINESIS"] = saved
            destinations._clients.clear()


@pytest.fixture(autouse=True)
def fast(settings: Any, tmp_path: Path) -> None:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    settings.LAMBDA_KINESIS_POLL_SECONDS = 0.05
    settings.LAMBDA_STREAM_RETRY_BASE_DELAY_SECONDS = 0.01
    settings.LAMBDA_STREAM_RETRY_MAX_DELAY_SECONDS = 0.2
    kinesis._RETRIES.clear()


class Stream:
    def __init__(self, moto: Moto, shards: int = 1) -> None:
        self.client = moto.client("kinesis")
        self.name = f"s-{uuid.uuid4().hex[:8]}"
        self.client.create_stream(StreamName=self.name, ShardCount=shards)
        summary = self.client.describe_stream_summary(StreamName=self.name)["StreamDescriptionSummary"]
        self.arn = summary["StreamARN"]
        self.shard = self.client.list_shards(StreamName=self.name)["Shards"][0]["ShardId"]

    def put(self, *datas: str | bytes) -> list[str]:
        sequence_numbers = []
        for data in datas:
            raw = data.encode() if isinstance(data, str) else data
            sequence_numbers.append(self.client.put_record(StreamName=self.name, Data=raw, PartitionKey="pk")["SequenceNumber"])
        return sequence_numbers


class Calls:
    """An invoker that records each event; it runs the real function, or answers with ``script``."""

    def __init__(self, mapping: EventSourceMapping, script: Callable[[dict[str, Any]], BatchResult] | None = None) -> None:
        self.mapping = mapping
        self.script = script
        self.events: list[dict[str, Any]] = []
        self.results: list[BatchResult] = []

    def __call__(self, event: dict[str, Any]) -> BatchResult:
        self.events.append(json.loads(json.dumps(event)))
        result = self.script(event) if self.script else invoke_batch(self.mapping, event)
        self.results.append(result)
        return result

    @property
    def batches(self) -> list[list[str]]:
        return [[base64.b64decode(r["kinesis"]["data"]).decode("latin-1") for r in e["Records"]] for e in self.events]


def ok(event: dict[str, Any]) -> BatchResult:
    return BatchResult(request_id=str(uuid.uuid4()), function_error=None, payload=b"null")


def mapping_for(stream: Stream, function: Any = None, **fields: Any) -> EventSourceMapping:
    fields.setdefault("batch_size", 100)
    fields.setdefault("starting_position", "TRIM_HORIZON")
    function = function or make_function(f"fn-{uuid.uuid4().hex[:6]}", code_dir=_code_dir())
    return EventSourceMapping.objects.create(
        uuid=str(uuid.uuid4()),
        team=function.team,
        function=function,
        source_kind="kinesis",
        event_source_arn=stream.arn,
        state=EventSourceMapping.State.ENABLED,
        **fields,
    )


def _code_dir() -> Path:
    from django.conf import settings

    return Path(settings.LAMBDA_CODE_DIR)


def run(mapping: EventSourceMapping, shard: str, calls: Callable[[dict[str, Any]], BatchResult], seconds: float = 0.6) -> None:
    kinesis.KinesisSource().run_slice(mapping, shard, deadline=time.monotonic() + seconds, invoke=calls)


def run_until(
    mapping: EventSourceMapping, shard: str, calls: Calls, done: Callable[[], bool], timeout: float = 20, slice_seconds: float = 0.5
) -> None:
    """Slices (each by a fresh source, as the framework calls them) until ``done()``; retry counts
    and back-off carry over from one slice to the next."""
    limit = time.monotonic() + timeout
    while not done() and time.monotonic() < limit:
        run(mapping, shard, calls, slice_seconds)


def checkpoint(mapping: EventSourceMapping, shard: str) -> str:
    found = StreamCheckpoint.objects.filter(mapping=mapping, shard_id=shard).values_list("sequence_number", flat=True).first()
    return str(found or "")


# --- shape, order, positions ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_units_are_the_shard_ids(moto: Moto) -> None:
    stream = Stream(moto, shards=3)
    mapping = mapping_for(stream)
    assert kinesis.KinesisSource().units(mapping) == [
        s["ShardId"] for s in stream.client.list_shards(StreamName=stream.name)["Shards"]
    ]
    assert len(kinesis.KinesisSource().units(mapping)) == 3


@pytest.mark.django_db
def test_records_have_the_aws_kinesis_shape_and_arrive_in_order(moto: Moto) -> None:
    stream = Stream(moto)
    before = time.time()
    sequence_numbers = stream.put(*(f"r{i}" for i in range(5)), b"\x00\xff")
    mapping = mapping_for(stream, batch_size=2)
    calls = Calls(mapping, ok)
    run(mapping, stream.shard, calls)
    assert calls.batches == [["r0", "r1"], ["r2", "r3"], ["r4", "\x00\xff"]]
    record = calls.events[0]["Records"][0]
    arrival = record["kinesis"].pop("approximateArrivalTimestamp")
    assert isinstance(arrival, float) and before - 1 <= arrival <= time.time() + 1
    assert record == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "pk",
            "sequenceNumber": sequence_numbers[0],
            "data": base64.b64encode(b"r0").decode(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{stream.shard}:{sequence_numbers[0]}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": ROLE,
        "awsRegion": "us-east-1",
        "eventSourceARN": stream.arn,
    }
    assert calls.events[2]["Records"][1]["kinesis"]["data"] == base64.b64encode(b"\x00\xff").decode()
    assert checkpoint(mapping, stream.shard) == sequence_numbers[-1]


@pytest.mark.django_db
def test_latest_skips_what_was_there_and_keeps_its_place_between_slices(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put("old")
    mapping = mapping_for(stream, starting_position="LATEST")
    calls = Calls(mapping, ok)
    run(mapping, stream.shard, calls, 0.3)
    assert calls.batches == []
    stream.put("new1")  # put between two slices: the next slice must still see it
    run(mapping, stream.shard, calls, 0.5)
    stream.put("new2")
    run(mapping, stream.shard, calls, 0.5)
    assert calls.batches == [["new1"], ["new2"]]


@pytest.mark.django_db
def test_at_timestamp_starts_at_the_first_record_after_the_timestamp(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put("before")
    time.sleep(0.05)
    at = timezone.now()
    time.sleep(0.05)
    stream.put("after1", "after2")
    mapping = mapping_for(stream, starting_position="AT_TIMESTAMP", starting_position_timestamp=at)
    calls = Calls(mapping, ok)
    run(mapping, stream.shard, calls)
    assert calls.batches == [["after1", "after2"]]


@pytest.mark.django_db
def test_trim_horizon_reads_from_the_oldest_record_with_the_real_function(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put("a", "b", "c")
    mapping = mapping_for(stream, make_function("reader", files={"app.py": RAISE_ON_BAD_PY}, code_dir=_code_dir()))
    calls = Calls(mapping)
    run_until(mapping, stream.shard, calls, lambda: len(calls.events) >= 1)
    assert calls.batches == [["a", "b", "c"]]
    assert json.loads(calls.results[0].payload) == {"seen": ["a", "b", "c"]}
    recorded = Invocation.objects.get(request_id=calls.results[0].request_id)
    assert recorded.source == Invocation.Source.TRIGGER
    assert json.loads(recorded.payload) == calls.events[0]


@pytest.mark.django_db
def test_the_batching_window_gathers_records_put_while_it_is_open(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put("a")
    mapping = mapping_for(stream, maximum_batching_window_in_seconds=1)
    calls = Calls(mapping, ok)
    import threading

    threading.Timer(0.3, lambda: stream.put("b")).start()
    run(mapping, stream.shard, calls, 2)
    assert calls.batches == [["a", "b"]]


# --- checkpoints -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_restart_resumes_after_the_last_committed_batch(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put("a", "b", "c", "d")
    mapping = mapping_for(stream, batch_size=2)

    def fail_on_c(event: dict[str, Any]) -> BatchResult:
        datas = [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]
        error = "Unhandled" if b"c" in datas else None
        return BatchResult(request_id=str(uuid.uuid4()), function_error=error, payload=b"{}")

    first = Calls(mapping, fail_on_c)
    run(mapping, stream.shard, first, 0.5)  # the poller dies while [c, d] keeps failing
    assert first.batches[0] == ["a", "b"] and set(map(tuple, first.batches[1:])) == {("c", "d")}
    stream.put("e")
    again = Calls(EventSourceMapping.objects.get(pk=mapping.pk), ok)  # a fresh source and mapping row
    run(again.mapping, stream.shard, again, 0.5)
    assert again.batches == [["c", "d"], ["e"]]  # nothing committed re-read, nothing lost
    third = Calls(again.mapping, ok)
    run(third.mapping, stream.shard, third, 0.3)
    assert third.batches == []


# --- failures -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failing_record_blocks_its_shard_until_retries_run_out_then_goes_to_the_destination(moto: Moto) -> None:
    stream = Stream(moto)
    sequence_numbers = stream.put("ok1", "bad", "ok2")
    queue_url, queue_arn = moto.queue()
    fn = make_function("blocker", files={"app.py": RAISE_ON_BAD_PY}, code_dir=_code_dir())
    mapping = mapping_for(
        stream, fn, batch_size=1, maximum_retry_attempts=2, destination_config={"OnFailure": {"Destination": queue_arn}}
    )
    calls = Calls(mapping)
    run_until(mapping, stream.shard, calls, lambda: len(calls.events) >= 5)
    assert calls.batches == [["ok1"], ["bad"], ["bad"], ["bad"], ["ok2"]]
    assert checkpoint(mapping, stream.shard) == sequence_numbers[-1]
    (message,) = moto.receive(queue_url)
    record = json.loads(message["Body"])
    info = record.pop("KinesisBatchInfo")
    assert record.pop("timestamp").endswith("Z")
    assert record == {
        "requestContext": {
            "requestId": calls.results[3].request_id,
            "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:blocker",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
    }
    assert info.pop("approximateArrivalOfFirstRecord").endswith("Z")
    assert info.pop("approximateArrivalOfLastRecord").endswith("Z")
    assert info == {
        "shardId": stream.shard,
        "startSequenceNumber": sequence_numbers[1],
        "endSequenceNumber": sequence_numbers[1],
        "batchSize": 1,
        "streamArn": stream.arn,
    }


@pytest.mark.django_db
def test_bisect_isolates_the_failing_record(moto: Moto) -> None:
    stream = Stream(moto)
    sequence_numbers = stream.put("a", "b", "bad", "c")
    queue_url, queue_arn = moto.queue()
    fn = make_function("bisector", files={"app.py": RAISE_ON_BAD_PY}, code_dir=_code_dir())
    mapping = mapping_for(
        stream, fn, batch_size=4, maximum_retry_attempts=3, bisect_batch_on_function_error=True,
        destination_config={"OnFailure": {"Destination": queue_arn}},
    )  # fmt: skip
    calls = Calls(mapping)
    run_until(mapping, stream.shard, calls, lambda: len(calls.events) >= 6)
    assert calls.batches == [["a", "b", "bad", "c"], ["a", "b"], ["bad", "c"], ["bad"], ["bad"], ["c"]]
    (message,) = moto.receive(queue_url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 4
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == sequence_numbers[2]
    assert checkpoint(mapping, stream.shard) == sequence_numbers[-1]


@pytest.mark.django_db
def test_a_partial_batch_response_checkpoints_before_the_lowest_reported_record(moto: Moto) -> None:
    stream = Stream(moto)
    sequence_numbers = stream.put("r0", "r1", "r2", "r3", "r4")
    mapping = mapping_for(stream, function_response_types=["ReportBatchItemFailures"])
    answers = [
        {"batchItemFailures": [{"itemIdentifier": sequence_numbers[4]}, {"itemIdentifier": sequence_numbers[2]}]},
        {"batchItemFailures": []},
    ]

    def script(event: dict[str, Any]) -> BatchResult:
        return BatchResult(request_id=str(uuid.uuid4()), function_error=None, payload=json.dumps(answers.pop(0)).encode())

    calls = Calls(mapping, script)
    run(mapping, stream.shard, calls)
    assert calls.batches == [["r0", "r1", "r2", "r3", "r4"], ["r2", "r3", "r4"]]
    assert checkpoint(mapping, stream.shard) == sequence_numbers[-1]


@pytest.mark.django_db
def test_partial_responses_from_a_real_function_retry_the_rest_then_give_up(moto: Moto) -> None:
    stream = Stream(moto)
    sequence_numbers = stream.put("r0", "bad", "r2")
    queue_url, queue_arn = moto.queue()
    fn = make_function("reporter", files={"app.py": REPORT_BAD_PY}, code_dir=_code_dir())
    mapping = mapping_for(
        stream, fn, function_response_types=["ReportBatchItemFailures"], maximum_retry_attempts=1,
        destination_config={"OnFailure": {"Destination": queue_arn}},
    )  # fmt: skip
    calls = Calls(mapping)
    run_until(mapping, stream.shard, calls, lambda: checkpoint(mapping, stream.shard) == sequence_numbers[-1])
    assert calls.batches == [["r0", "bad", "r2"], ["bad", "r2"]]
    (message,) = moto.receive(queue_url)
    info = json.loads(message["Body"])["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (sequence_numbers[1], sequence_numbers[2], 2)
    assert "functionError" not in json.loads(message["Body"])["responseContext"]


@pytest.mark.django_db
def test_an_invalid_partial_response_fails_the_whole_batch(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put("a", "b")
    mapping = mapping_for(stream, function_response_types=["ReportBatchItemFailures"], maximum_retry_attempts=1)
    calls = Calls(mapping, lambda e: BatchResult(str(uuid.uuid4()), None, b'{"batchItemFailures":[{"itemIdentifier":"nope"}]}'))
    run(mapping, stream.shard, calls)
    assert calls.batches == [["a", "b"], ["a", "b"]]


@pytest.mark.django_db
def test_records_older_than_the_maximum_age_are_discarded_with_record_age_exceeded(moto: Moto) -> None:
    stream = Stream(moto)
    sequence_numbers = stream.put("x", "y")
    queue_url, queue_arn = moto.queue()
    # 1 s (the API's minimum is 60): the model takes what the source must honour.
    mapping = mapping_for(stream, maximum_record_age_in_seconds=1, destination_config={"OnFailure": {"Destination": queue_arn}})
    calls = Calls(mapping, lambda e: BatchResult(str(uuid.uuid4()), "Unhandled", b'{"errorMessage":"no"}'))
    started = time.monotonic()
    run(mapping, stream.shard, calls, 3)
    assert len(calls.events) >= 2 and all(b == ["x", "y"] for b in calls.batches)
    (message,) = moto.receive(queue_url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == len(calls.events)
    assert record["KinesisBatchInfo"]["batchSize"] == 2
    assert checkpoint(mapping, stream.shard) == sequence_numbers[-1]
    assert time.monotonic() - started < 3.5


@pytest.mark.django_db
def test_throttles_do_not_spend_retries(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put("a")
    mapping = mapping_for(stream, maximum_retry_attempts=0)
    answers = [BatchResult("t1", None, b"", throttled=True), BatchResult("t2", None, b"", throttled=True)]
    calls = Calls(mapping, lambda e: answers.pop(0) if answers else ok(e))
    run(mapping, stream.shard, calls)
    assert calls.batches == [["a"], ["a"], ["a"]]
    assert calls.results[-1].request_id not in ("t1", "t2")


# --- size --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_is_cut_before_6_mb(moto: Moto) -> None:
    stream = Stream(moto)
    stream.put(*[bytes([65 + i]) * 1_000_000 for i in range(8)])  # 1.33 MB each once in base64
    mapping = mapping_for(stream, batch_size=100)
    sizes: list[int] = []

    def measure(event: dict[str, Any]) -> BatchResult:
        sizes.append(len(json.dumps(event, separators=(",", ":"))))
        return ok(event)

    calls = Calls(mapping, measure)
    run(mapping, stream.shard, calls, 2)
    assert [len(b) for b in calls.batches] == [4, 4]
    assert all(size <= MAX_BATCH_PAYLOAD_BYTES for size in sizes)


# --- filtering -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_records_the_filter_drops_are_skipped_and_checkpointed(moto: Moto) -> None:
    stream = Stream(moto)
    sequence_numbers = stream.put(json.dumps({"kind": "keep", "n": 1}), json.dumps({"kind": "drop"}), "not json", json.dumps({"kind": "keep", "n": 2}), json.dumps({"kind": "drop"}))
    pattern = {"data": {"kind": ["keep"]}}
    mapping = mapping_for(stream, filter_criteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    calls = Calls(mapping, ok)
    run(mapping, stream.shard, calls)
    assert [[json.loads(d)["n"] for d in batch] for batch in calls.batches] == [[1, 2]]
    assert checkpoint(mapping, stream.shard) == sequence_numbers[-1]


@pytest.mark.django_db
def test_the_on_failure_record_has_the_spec_shape(moto: Moto) -> None:
    mapping = EventSourceMapping(
        uuid="u", function=make_function("shape", code_dir=_code_dir()), qualifier="", batch_size=1,
        event_source_arn="arn:aws:kinesis:us-east-1:123456789012:stream/s",
    )  # fmt: skip
    context = kinesis.StreamContext("shardId-000000000001", mapping.event_source_arn, "us-east-1", ROLE)
    raw = {"SequenceNumber": "7", "Data": b"x", "PartitionKey": "p", "ApproximateArrivalTimestamp": timezone.now() - timedelta(seconds=5)}
    records = [kinesis.stream_record(raw, context)]
    result = BatchResult("req", "Unhandled", b"{}")
    record = kinesis.on_failure_record(
        mapping=mapping, context=context, records=records, condition="RetryAttemptsExhausted", invoke_count=2,
        result=result, executed_version="$LATEST",
    )  # fmt: skip
    assert list(record) == ["requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"]
    assert list(record["KinesisBatchInfo"]) == [
        "shardId", "startSequenceNumber", "endSequenceNumber", "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord", "batchSize", "streamArn",
    ]  # fmt: skip
