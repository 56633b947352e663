"""The SQS source: long polling, batch assembly, filtering, deletes and partial batch responses.

boto3 at the endpoint boto3 reads from the environment (``AWS_ENDPOINT_URL_SQS``; real AWS when
unset), credentials from boto3's chain or dummy ones for emulators.

Behaviour copied from Lambda's SQS poller (spec §8.2–§8.3):

* **Units**: ``ScalingConfig.MaximumConcurrency`` pollers (default
  ``LAMBDA_ESM_SQS_DEFAULT_CONCURRENCY``, 5), each invoking one batch at a time — so at most that
  many concurrent invocations per mapping, as MaximumConcurrency promises.
* **Batching**: long-poll for the first message; then keep receiving until ``BatchSize`` records,
  the end of ``MaximumBatchingWindowInSeconds`` (counted from the first message; with a 0 s window
  one receive of up to 10 messages makes the batch) or the payload limit. A message that would take
  the event over ``MAX_BATCH_PAYLOAD_BYTES`` starts the next batch instead (it stays invisible,
  in hand, meanwhile — returning it to the queue would count a receive against its redrive policy).
* **Filtering**: a message no filter matches is deleted without invoking (AWS: "Lambda
  automatically deletes messages that don't match the filter criteria").
* **Outcome**: success → the batch is deleted. Function error, throttle or an invalid partial
  response → nothing is deleted: the messages reappear after the queue's visibility timeout, each
  receive counting toward the queue's redrive policy (SQS moves them to its DLQ). With
  ``ReportBatchItemFailures`` everything except the reported ``itemIdentifier``s is deleted (FIFO:
  the first reported message and all after it are kept); an unknown identifier fails the batch.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings

from invocations.event_sources.base import MAX_BATCH_PAYLOAD_BYTES, BatchResult, Invoker
from invocations.event_sources.filtering import Criteria, filter_view, parse_criteria
from invocations.models import EventSourceMapping

logger = logging.getLogger(__name__)

KIND: Final = "sqs"
MAX_RECEIVE: Final = 10  # ReceiveMessage's MaxNumberOfMessages
MAX_WAIT: Final = 20  # ReceiveMessage's WaitTimeSeconds
_ENVELOPE: Final = len(b'{"Records":[]}')
_RECORD_ATTRIBUTES: Final = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
_queue_urls: dict[tuple[str, str], str] = {}


def client(region: str) -> Any:
    """A cached boto3 SQS client per region and endpoint (read timeout above the 20 s long poll)."""
    key = (region, os.environ.get("AWS_ENDPOINT_URL_SQS", ""))
    if key not in _clients:
        with _clients_lock:
            if key not in _clients:
                import boto3
                from botocore.config import Config

                session = boto3.session.Session()
                credentials: dict[str, str] = {}
                if session.get_credentials() is None:
                    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
                _clients[key] = session.client(
                    "sqs",
                    region_name=region,
                    config=Config(
                        connect_timeout=5,
                        read_timeout=MAX_WAIT + 10,
                        retries={"max_attempts": 3},
                        max_pool_connections=settings.LAMBDA_ESM_SQS_MAX_CONNECTIONS,
                    ),
                    **credentials,
                )
    return _clients[key]


@dataclass(frozen=True)
class Queue:
    arn: str
    region: str
    account: str
    name: str

    @classmethod
    def from_arn(cls, arn: str) -> Queue:
        _, _, _, region, account, name = arn.split(":", 5)
        return cls(arn=arn, region=region or settings.LAMBDA_REGION, account=account, name=name)

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    def url(self) -> str:
        key = (self.arn, os.environ.get("AWS_ENDPOINT_URL_SQS", ""))
        if key not in _queue_urls:
            kwargs = {"QueueName": self.name}
            if self.account:
                kwargs["QueueOwnerAWSAccountId"] = self.account
            _queue_urls[key] = client(self.region).get_queue_url(**kwargs)["QueueUrl"]
        return _queue_urls[key]


def record_of(message: dict[str, Any], queue: Queue) -> dict[str, Any]:
    """The AWS SQS event record for one received message (spec §8.2)."""
    attributes = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {k: str(attributes[k]) for k in _RECORD_ATTRIBUTES if k in attributes},
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(eventSource="aws:sqs", eventSourceARN=queue.arn, awsRegion=queue.region)
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def record_size(record: dict[str, Any]) -> int:
    return len(json.dumps(record, separators=(",", ":")).encode())


def kept_after_response(records: list[dict[str, Any]], result: BatchResult, *, partial: bool, fifo: bool) -> list[dict[str, Any]]:
    """Which records stay in the queue after the function's answer (the rest are deleted)."""
    if result.failed:
        return records
    if not partial:
        return []
    reported = result.batch_item_failures()
    if reported is None:
        return records
    ids = [r["messageId"] for r in records]
    if any(identifier not in ids for identifier in reported):
        return records  # an unknown identifier fails the whole batch (spec §8.3)
    if fifo and reported:
        first = min(ids.index(identifier) for identifier in reported)
        return records[first:]
    failed = set(reported)
    return [r for r in records if r["messageId"] in failed]


class SqsSource:
    kind = KIND

    def units(self, mapping: EventSourceMapping) -> list[str]:
        default = settings.LAMBDA_ESM_SQS_DEFAULT_CONCURRENCY
        count = int((mapping.scaling_config or {}).get("MaximumConcurrency") or default)
        return [f"poller-{i}" for i in range(max(1, count))]

    def run_slice(self, mapping: EventSourceMapping, unit: str, *, deadline: float, invoke: Invoker) -> None:
        queue = Queue.from_arn(mapping.event_source_arn)
        criteria = parse_criteria(mapping.filter_criteria or None)
        carry: list[tuple[dict[str, Any], int]] = []
        while time.monotonic() < deadline or carry:
            batch = self._collect(mapping, queue, criteria, carry, deadline)
            if batch:
                self._process(mapping, queue, batch, invoke)

    # --- batch assembly ------------------------------------------------------------------------

    def _collect(
        self,
        mapping: EventSourceMapping,
        queue: Queue,
        criteria: Criteria,
        carry: list[tuple[dict[str, Any], int]],
        deadline: float,
    ) -> list[dict[str, Any]]:
        """One batch; ``carry`` holds records received but not fitting the previous one."""
        batch: list[dict[str, Any]] = []
        size = _ENVELOPE
        window = mapping.maximum_batching_window_in_seconds
        window_end: float | None = None
        receives = 0  # ReceiveMessage calls since the batch got its first record
        while True:
            while carry and len(batch) < mapping.batch_size:
                record, record_bytes = carry[0]
                added = record_bytes + (1 if batch else 0)  # the comma
                if batch and size + added > MAX_BATCH_PAYLOAD_BYTES:
                    return batch
                carry.pop(0)
                batch.append(record)
                size += added
            if carry or len(batch) >= mapping.batch_size:
                return batch
            now = time.monotonic()
            if batch:
                if window_end is None:
                    window_end = now + window
                if (window == 0 and receives > 0) or now >= window_end:
                    return batch
                wait = min(MAX_WAIT, math.ceil(window_end - now)) if window else 0
            else:
                if now >= deadline:
                    return batch
                wait = min(MAX_WAIT, math.ceil(deadline - now))
            messages = self._receive(queue, min(MAX_RECEIVE, mapping.batch_size - len(batch)), wait)
            if batch:
                receives += 1
            for record in self._filter(queue, criteria, messages):
                self._add(batch, carry, record)
            if not batch and carry:
                receives = 1  # the receive that started the batch

    @staticmethod
    def _add(batch: list[dict[str, Any]], carry: list[tuple[dict[str, Any], int]], record: dict[str, Any]) -> None:
        """Queue ``record`` for the batch; a message received again (its visibility timeout ran out
        inside the window) replaces its earlier copy: only the newest receipt handle deletes it."""
        for i, held in enumerate(batch):
            if held["messageId"] == record["messageId"]:
                batch[i] = record
                return
        for i, (held, _) in enumerate(carry):
            if held["messageId"] == record["messageId"]:
                carry[i] = (record, record_size(record))
                return
        carry.append((record, record_size(record)))

    def _receive(self, queue: Queue, count: int, wait: int) -> list[dict[str, Any]]:
        response = client(queue.region).receive_message(
            QueueUrl=queue.url(),
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _filter(self, queue: Queue, criteria: Criteria, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records = [record_of(m, queue) for m in messages]
        if not criteria.patterns:
            return records
        matching: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for record in records:
            (matching if criteria.matches(filter_view(record, "body")) else dropped).append(record)
        self._delete(queue, dropped)
        return matching

    # --- after the invocation ------------------------------------------------------------------

    def _process(self, mapping: EventSourceMapping, queue: Queue, batch: list[dict[str, Any]], invoke: Invoker) -> None:
        result = invoke({"Records": batch})
        partial = "ReportBatchItemFailures" in (mapping.function_response_types or [])
        kept = kept_after_response(batch, result, partial=partial, fifo=queue.fifo)
        kept_ids = {r["messageId"] for r in kept}
        self._delete(queue, [r for r in batch if r["messageId"] not in kept_ids])

    def _delete(self, queue: Queue, records: list[dict[str, Any]]) -> None:
        sqs = client(queue.region)
        for start in range(0, len(records), MAX_RECEIVE):
            chunk = records[start : start + MAX_RECEIVE]
            response = sqs.delete_message_batch(
                QueueUrl=queue.url(),
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                logger.warning("SQS did not delete a message from %s: %s", queue.arn, failure)


SOURCE: Final = SqsSource()
