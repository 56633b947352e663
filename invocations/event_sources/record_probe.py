"""Send test record (beyond AWS): one record through an SQS mapping's real path, in-process.

The record is built the way the SQS poller builds one from a received message (``sqs.record_of``),
checked against the mapping's ``FilterCriteria`` (``filtering``), assembled into a batch under the
payload limit, invoked through ``invoke_batch`` (recorded in history with source ``trigger``, and
counted on the mapping) and the answer interpreted with the poller's own partial-batch rules
(``sqs.kept_after_response``). The queue itself is not touched: nothing is sent, received or
deleted — the outcome says what the poller *would* do with the message.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from invocations.event_sources import base, filtering, sqs
from invocations.models import EventSourceMapping


@dataclass(frozen=True)
class ProbeOutcome:
    matched: bool  # the mapping's filters let it through
    record: dict[str, Any]
    request_id: str | None = None
    function_error: str | None = None
    throttled: bool = False
    response: str = ""
    reported_failures: list[str] | None = field(default=None)  # batchItemFailures (None: invalid or failed)
    kept: bool = False  # the message would return to the queue
    summary: str = ""


def build_test_record(body: str, queue: sqs.Queue) -> dict[str, Any]:
    now_ms = str(int(time.time() * 1000))
    message = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": "workbench-test-record",
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "SenderId": "WORKBENCH",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
    }
    return sqs.record_of(message, queue)


def send_test_record(mapping: EventSourceMapping, body: str) -> ProbeOutcome:
    if mapping.source_kind != sqs.KIND:
        raise ValueError("Send test record is available for SQS mappings.")
    queue = sqs.Queue.from_arn(mapping.event_source_arn)
    record = build_test_record(body, queue)
    criteria = filtering.parse_criteria(mapping.filter_criteria or None)
    if criteria.patterns and not criteria.matches(filtering.filter_view(record, "body")):
        return ProbeOutcome(
            matched=False, record=record,
            summary="No filter matched: the poller deletes this message without invoking the function.",
        )  # fmt: skip
    event = {"Records": [record]}
    if len(json.dumps(event, separators=(",", ":")).encode()) > base.MAX_BATCH_PAYLOAD_BYTES:
        return ProbeOutcome(matched=True, record=record, summary="The record alone exceeds the 6 MB payload limit.")
    result = base.invoke_batch(mapping, event)
    partial = "ReportBatchItemFailures" in (mapping.function_response_types or [])
    kept = sqs.kept_after_response([record], result, partial=partial, fifo=queue.fifo)
    reported = result.batch_item_failures() if partial else None
    if result.throttled:
        summary = "Throttled: the batch returns to the queue after its visibility timeout."
    elif result.failed:
        summary = "The function failed: the whole batch returns to the queue after its visibility timeout."
    elif kept:
        summary = "Reported as a batch item failure: this message returns to the queue; the others are deleted."
    else:
        summary = "Succeeded: the poller deletes this message."
    return ProbeOutcome(
        matched=True,
        record=record,
        request_id=result.request_id,
        function_error=result.function_error,
        throttled=result.throttled,
        response=result.payload.decode("utf-8", "replace"),
        reported_failures=reported,
        kept=bool(kept),
        summary=summary,
    )
