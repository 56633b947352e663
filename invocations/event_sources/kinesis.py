"""Kinesis data streams: shards read in order, checkpoints in the database (spec §8).

One poll unit per shard. ``run_slice`` reads its shard from the checkpoint (or the mapping's
``StartingPosition`` when there is none), assembles batches (``BatchSize`` records collected within
``MaximumBatchingWindowInSeconds``, cut before the 6 MB payload limit, records dropped by
``FilterCriteria`` skipped), invokes, and checkpoints after every batch that is done with, so a
restart resumes after the last committed record — none processed twice, none lost.

A failing batch blocks its shard (AWS keeps ordering per shard):

* it is retried, with back-off, until it succeeds, until ``MaximumRetryAttempts`` retries were spent
  (condition ``RetryAttemptsExhausted``) or until its oldest record is older than
  ``MaximumRecordAgeInSeconds`` (``RecordAgeExceeded``); then the ``OnFailure`` destination gets the
  §8.4 record (``KinesisBatchInfo``: where the discarded records are, not the records) and the shard
  moves on;
* ``BisectBatchOnFunctionError`` splits a failing batch in halves, each retried on its own (first
  half first); the halves carry on the retry count of the batch they came from;
* with ``ReportBatchItemFailures`` the function names the records that failed by sequence number: the
  checkpoint moves to just before the lowest one and the rest is retried from there. An invalid
  response (unknown or empty identifier, not JSON…) fails the whole batch (spec §8.3).

Throttled invokes (429 before the function ran) are retried without spending a retry.

A retry count and the time of the next retry live in the process (``_RETRIES``), keyed by mapping,
shard and the first sequence number of the failing batch, so they survive the end of a slice while
this worker keeps the lease; a new worker starts counting again (records are never lost either way;
they may be retried more).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from invocations import destinations
from invocations.arns import LATEST, arn_of
from invocations.event_sources import filtering
from invocations.event_sources.base import MAX_BATCH_PAYLOAD_BYTES, BatchResult, Invoker
from invocations.models import Alias, EventSourceMapping, FunctionVersion, Invocation, StreamCheckpoint

logger = logging.getLogger(__name__)

KIND: Final = "kinesis"
REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
GET_RECORDS_LIMIT: Final = 10_000  # GetRecords' own maximum
_EVENT_OVERHEAD: Final = len('{"Records":[]}')


def poll_interval() -> float:
    """Pause between GetRecords calls on an idle shard (Lambda polls each shard about once a second)."""
    return settings.LAMBDA_KINESIS_POLL_SECONDS


def retry_delay(attempts: int) -> float:
    """Back-off before retrying a failed batch: base · 2^(n-1), capped."""
    base = settings.LAMBDA_STREAM_RETRY_BASE_DELAY_SECONDS
    cap = settings.LAMBDA_STREAM_RETRY_MAX_DELAY_SECONDS
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


# --- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamRecord:
    """One Kinesis record as delivered to the function, with what batching needs."""

    sequence_number: str
    arrival: float  # epoch seconds
    event: dict[str, Any]  # the record exactly as in the event's "Records"
    size: int  # bytes it adds to the event JSON (with its comma)

    @property
    def seq(self) -> int:
        return int(self.sequence_number)


@dataclass(frozen=True)
class StreamContext:
    """What every record of a mapping's shard shares."""

    shard_id: str
    stream_arn: str
    region: str
    role: str


def stream_record(raw: dict[str, Any], context: StreamContext) -> StreamRecord:
    """GetRecords' record → the AWS Kinesis event record (spec §8.2)."""
    arrival_at = raw.get("ApproximateArrivalTimestamp")
    if isinstance(arrival_at, datetime):
        arrival = arrival_at.timestamp()
    else:
        arrival = float(arrival_at or time.time())
    sequence_number = str(raw["SequenceNumber"])
    data = raw.get("Data", b"")
    if isinstance(data, str):
        data = data.encode()
    event = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw.get("PartitionKey", ""),
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": round(arrival, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{context.shard_id}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": context.role,
        "awsRegion": context.region,
        "eventSourceARN": context.stream_arn,
    }
    size = len(json.dumps(event, separators=(",", ":"))) + 1
    return StreamRecord(sequence_number=sequence_number, arrival=arrival, event=event, size=size)


def batch_event(records: list[StreamRecord]) -> dict[str, Any]:
    return {"Records": [record.event for record in records]}


def filter_view(record: StreamRecord) -> dict[str, Any]:
    """What FilterCriteria patterns see (spec §8.5): the ``kinesis`` fields with ``data`` decoded
    from base64 — parsed when it is a JSON object (``filtering.filter_view``), else its text."""
    view = dict(record.event["kinesis"])
    try:
        view["data"] = base64.b64decode(view["data"]).decode()
    except ValueError:  # not UTF-8: only the base64 text can match
        pass
    return filtering.filter_view(view, "data")


def record_filter(mapping: EventSourceMapping) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate for the mapping's FilterCriteria, or None when it has none."""
    criteria = filtering.parse_criteria(mapping.filter_criteria or None)
    return criteria.matches if criteria.patterns else None


# --- on-failure records ------------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def on_failure_record(
    *,
    mapping: EventSourceMapping,
    context: StreamContext,
    records: list[StreamRecord],
    condition: str,
    invoke_count: int,
    result: BatchResult | None,
    executed_version: str,
) -> dict[str, Any]:
    """The stream on-failure record (spec §8.4): where the discarded records are, not the records."""
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": result.request_id if result else "",
            "functionArn": arn_of(mapping.function, mapping.qualifier or None),
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
    }
    if result is not None and not result.throttled:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
        if result.function_error:
            response["functionError"] = result.function_error
        record["responseContext"] = response
    record.update(
        {
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "KinesisBatchInfo": {
                "shardId": context.shard_id,
                "startSequenceNumber": records[0].sequence_number,
                "endSequenceNumber": records[-1].sequence_number,
                "approximateArrivalOfFirstRecord": _iso(records[0].arrival),
                "approximateArrivalOfLastRecord": _iso(records[-1].arrival),
                "batchSize": len(records),
                "streamArn": context.stream_arn,
            },
        }
    )
    return record


def _executed_version(mapping: EventSourceMapping, result: BatchResult | None) -> str:
    if result is not None:
        found = Invocation.objects.filter(request_id=result.request_id).values_list("executed_version", flat=True).first()
        if found:
            return str(found)
    qualifier = mapping.qualifier or LATEST
    if qualifier == LATEST or qualifier.isdigit():
        return qualifier
    alias = Alias.objects.filter(function_id=mapping.function_id, name=qualifier).values_list("function_version", flat=True).first()
    return str(alias or LATEST)


def deliver_on_failure(mapping: EventSourceMapping, record: dict[str, Any]) -> None:
    """Send the on-failure record with ``destinations.send_record`` (retried a few times); a
    destination that keeps refusing is logged and the records are discarded, as configured."""
    destination = ((mapping.destination_config or {}).get("OnFailure") or {}).get("Destination")
    if not destination:
        return
    attempts = max(1, int(settings.LAMBDA_DESTINATION_MAX_ATTEMPTS))
    for attempt in range(1, attempts + 1):
        try:
            destinations.send_record(
                destination=destination,
                record=record,
                function_arn=record["requestContext"]["functionArn"],
                success=False,
            )
            return
        except Exception as error:  # boto3, network, a refused webhook
            if attempt == attempts:
                logger.error("on-failure record for mapping %s to %s not delivered: %s", mapping.uuid, destination, error)
                return
            time.sleep(min(0.2 * 2**attempt, 2.0))


# --- reading a shard -----------------------------------------------------------------------------------


def role_of(mapping: EventSourceMapping) -> str:
    """``invokeIdentityArn``: the execution role of the version the mapping invokes."""
    version = _executed_version(mapping, None)
    role = FunctionVersion.objects.filter(function_id=mapping.function_id, version=version).values_list("role", flat=True).first()
    return str(role or "")


def parse_stream_arn(arn: str) -> tuple[str, str]:
    """``arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`` → (region, stream name)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "kinesis" or not parts[5].startswith("stream/"):
        raise ValueError(f"not a Kinesis stream ARN: {arn}")
    return parts[3] or settings.LAMBDA_REGION, parts[5].split("/")[1]


class ShardReader:
    """Records of one shard in order, fetched with GetRecords as they are needed."""

    def __init__(self, client: Any, stream_name: str, shard_id: str, start: dict[str, Any]) -> None:
        self.client = client
        self.stream_name = stream_name
        self.shard_id = shard_id
        self.start = start
        self.iterator: str | None = None
        self.started = False
        self.finished = False  # a closed shard read to its end
        self.buffer: deque[dict[str, Any]] = deque()
        self.last_fetched: str | None = None

    def _iterator(self) -> str | None:
        if self.last_fetched is not None:
            position: dict[str, Any] = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": self.last_fetched}
        else:
            position = self.start
        response = self.client.get_shard_iterator(StreamName=self.stream_name, ShardId=self.shard_id, **position)
        iterator = response.get("ShardIterator")
        return str(iterator) if iterator else None

    def fetch(self) -> bool:
        """One GetRecords call when the buffer is empty; True when it returned records."""
        if self.buffer:
            return True
        if self.finished:
            return False
        if not self.started:
            self.iterator = self._iterator()
            self.started = True
        if self.iterator is None:
            self.finished = True
            return False
        try:
            response = self.client.get_records(ShardIterator=self.iterator, Limit=GET_RECORDS_LIMIT)
        except self.client.exceptions.ExpiredIteratorException:
            self.iterator = self._iterator()
            return False
        except self.client.exceptions.ProvisionedThroughputExceededException:
            return False
        self.iterator = response.get("NextShardIterator")
        records = response.get("Records", [])
        if records:
            self.buffer.extend(records)
            self.last_fetched = str(records[-1]["SequenceNumber"])
        elif self.iterator is None:
            self.finished = True
        return bool(records)


# --- the source ---------------------------------------------------------------------------------------

# (mapping uuid, shard) → (first sequence number of the failing batch, invokes spent, monotonic time
# before which it is not retried)
_RETRIES: dict[tuple[str, str], tuple[str, int, float]] = {}
_RETRIES_LOCK = threading.Lock()


@dataclass
class _Chunk:
    records: list[StreamRecord]
    invokes: int = 0  # invocations spent on this chunk and the batch it was split from
    last_result: BatchResult | None = field(default=None)


class KinesisSource:
    kind = KIND

    def units(self, mapping: EventSourceMapping) -> list[str]:
        region, name = parse_stream_arn(mapping.event_source_arn)
        client = destinations.client(KIND, region)
        shards: list[str] = []
        kwargs: dict[str, Any] = {"StreamName": name}
        while True:
            response = client.list_shards(**kwargs)
            shards.extend(shard["ShardId"] for shard in response.get("Shards", []))
            token = response.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}

    def run_slice(self, mapping: EventSourceMapping, unit: str, *, deadline: float, invoke: Invoker) -> None:
        region, name = parse_stream_arn(mapping.event_source_arn)
        context = StreamContext(shard_id=unit, stream_arn=mapping.event_source_arn, region=region, role=role_of(mapping))
        reader = ShardReader(destinations.client(KIND, region), name, unit, self._start(mapping, unit))
        keep = record_filter(mapping)
        while time.monotonic() < deadline:
            batch, skipped_to = self._assemble(mapping, reader, context, keep, deadline)
            if not batch:
                if skipped_to is not None:
                    self._checkpoint(mapping, unit, skipped_to)
                if reader.finished:
                    time.sleep(max(0.0, deadline - time.monotonic()))
                    return
                self._pause(poll_interval(), deadline)
                continue
            if not self._process(mapping, context, batch, deadline=deadline, invoke=invoke):
                return  # the deadline came while the batch was failing: the next slice retries it
            if skipped_to is not None:
                self._checkpoint(mapping, unit, skipped_to)

    # -- where to start -----------------------------------------------------------------------------

    def _start(self, mapping: EventSourceMapping, shard_id: str) -> dict[str, Any]:
        """After the checkpoint; else the StartingPosition. LATEST is pinned on the first poll (an
        empty checkpoint dated then), so records put between two slices are not skipped."""
        checkpoint = StreamCheckpoint.objects.filter(mapping=mapping, shard_id=shard_id).first()
        if checkpoint is not None and checkpoint.sequence_number:
            return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": checkpoint.sequence_number}
        position = mapping.starting_position or "LATEST"
        if position == "AT_TIMESTAMP" and mapping.starting_position_timestamp is not None:
            return {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": mapping.starting_position_timestamp}
        if position == "LATEST":
            if checkpoint is not None:
                return {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": checkpoint.updated_at}
            StreamCheckpoint.objects.get_or_create(
                mapping=mapping, shard_id=shard_id, defaults={"sequence_number": "", "updated_at": timezone.now()}
            )
            return {"ShardIteratorType": "LATEST"}
        return {"ShardIteratorType": "TRIM_HORIZON"}

    @staticmethod
    def _checkpoint(mapping: EventSourceMapping, shard_id: str, sequence_number: str) -> None:
        StreamCheckpoint.objects.update_or_create(
            mapping=mapping, shard_id=shard_id, defaults={"sequence_number": sequence_number, "updated_at": timezone.now()}
        )

    @staticmethod
    def _pause(seconds: float, deadline: float) -> None:
        time.sleep(max(0.0, min(seconds, deadline - time.monotonic())))

    # -- batches ------------------------------------------------------------------------------------

    def _assemble(
        self,
        mapping: EventSourceMapping,
        reader: ShardReader,
        context: StreamContext,
        keep: Callable[[dict[str, Any]], bool] | None,
        deadline: float,
    ) -> tuple[list[StreamRecord], str | None]:
        """Up to BatchSize records within the batching window, never over 6 MB. Also returns the
        last record dropped by the filter *after* the batch's records (checkpointed with it)."""
        batch: list[StreamRecord] = []
        size = _EVENT_OVERHEAD
        skipped_to: str | None = None
        window = float(mapping.maximum_batching_window_in_seconds or 0)
        window_end: float | None = None
        while len(batch) < mapping.batch_size:
            if not reader.buffer:
                now = time.monotonic()
                if now >= deadline or (window_end is not None and (window == 0 or now >= window_end)):
                    break
                if reader.fetch():
                    continue
                if reader.finished or not batch:
                    break  # idle: the caller checkpoints what was skipped and waits
                self._pause(poll_interval(), min(deadline, window_end or deadline))
                continue
            raw = reader.buffer[0]
            record = stream_record(raw, context)
            if keep is not None and not keep(filter_view(record)):
                reader.buffer.popleft()
                skipped_to = record.sequence_number
                continue
            if batch and size + record.size > MAX_BATCH_PAYLOAD_BYTES:
                break
            reader.buffer.popleft()
            batch.append(record)
            size += record.size
            skipped_to = None
            if window_end is None:
                window_end = time.monotonic() + window
        return batch, skipped_to

    def _process(
        self, mapping: EventSourceMapping, context: StreamContext, batch: list[StreamRecord], *, deadline: float, invoke: Invoker
    ) -> bool:
        """Invoke until every record of the batch is done with (succeeded or discarded); False when
        the deadline came first (nothing after the last checkpoint is committed)."""
        key = (mapping.uuid, context.shard_id)
        with _RETRIES_LOCK:
            first, spent, not_before = _RETRIES.get(key, ("", 0, 0.0))
        if first != batch[0].sequence_number:
            spent, not_before = 0, 0.0
        pending: deque[_Chunk] = deque([_Chunk(batch, invokes=spent)])
        report = REPORT_BATCH_ITEM_FAILURES in (mapping.function_response_types or [])
        while pending:
            chunk = pending[0]
            if not_before > time.monotonic():
                self._pause(not_before - time.monotonic(), deadline)
            if time.monotonic() >= deadline:
                with _RETRIES_LOCK:
                    _RETRIES[key] = (chunk.records[0].sequence_number, chunk.invokes, not_before)
                return False
            not_before = 0.0
            result = invoke(batch_event(chunk.records))
            if result.throttled:
                chunk.last_result = chunk.last_result or result
                not_before = time.monotonic() + retry_delay(1)
                continue
            chunk.invokes += 1
            chunk.last_result = result
            failed_from = self._failed_from(result, chunk.records, report)
            if failed_from is None:
                self._checkpoint(mapping, context.shard_id, chunk.records[-1].sequence_number)
                pending.popleft()
                continue
            # Bisecting is for function errors; a partial response names the records itself.
            bisect = mapping.bisect_batch_on_function_error and result.failed and len(chunk.records) > 1
            if failed_from > 0:
                # ReportBatchItemFailures: what precedes the lowest reported record is done.
                self._checkpoint(mapping, context.shard_id, chunk.records[failed_from - 1].sequence_number)
                chunk.records = chunk.records[failed_from:]
            condition = self._give_up(mapping, chunk)
            if condition:
                self._discard(mapping, context, chunk, condition)
                pending.popleft()
                continue
            if bisect:
                half = len(chunk.records) // 2
                pending.popleft()
                pending.extendleft(
                    [
                        _Chunk(chunk.records[half:], chunk.invokes, chunk.last_result),
                        _Chunk(chunk.records[:half], chunk.invokes, chunk.last_result),
                    ]
                )
                continue
            not_before = time.monotonic() + retry_delay(chunk.invokes)
        with _RETRIES_LOCK:
            _RETRIES.pop(key, None)
        return True

    @staticmethod
    def _failed_from(result: BatchResult, records: list[StreamRecord], report: bool) -> int | None:
        """None when the batch succeeded; else the index of the first record to retry."""
        if result.failed:
            return 0
        if not report:
            return None
        identifiers = result.batch_item_failures()
        if identifiers is None:
            return 0
        if not identifiers:
            return None
        index = {record.sequence_number: i for i, record in enumerate(records)}
        if any(identifier not in index for identifier in identifiers):
            return 0  # an unknown identifier fails the whole batch (spec §8.3)
        return min(index[identifier] for identifier in identifiers)

    @staticmethod
    def _give_up(mapping: EventSourceMapping, chunk: _Chunk) -> str | None:
        max_age = mapping.maximum_record_age_in_seconds
        if max_age is not None and max_age >= 0 and time.time() - chunk.records[0].arrival > max_age:
            return "RecordAgeExceeded"
        retries = mapping.maximum_retry_attempts
        if retries is not None and retries >= 0 and chunk.invokes > retries:
            return "RetryAttemptsExhausted"
        return None

    def _discard(self, mapping: EventSourceMapping, context: StreamContext, chunk: _Chunk, condition: str) -> None:
        record = on_failure_record(
            mapping=mapping,
            context=context,
            records=chunk.records,
            condition=condition,
            invoke_count=chunk.invokes,
            result=chunk.last_result,
            executed_version=_executed_version(mapping, chunk.last_result),
        )
        logger.warning(
            "mapping %s shard %s: discarding records %s..%s (%s)",
            mapping.uuid, context.shard_id, chunk.records[0].sequence_number, chunk.records[-1].sequence_number, condition,
        )  # fmt: skip
        deliver_on_failure(mapping, record)
        self._checkpoint(mapping, context.shard_id, chunk.records[-1].sequence_number)


SOURCE: Final = KinesisSource()
