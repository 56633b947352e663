"""What the console's Triggers tab shows per mapping and trigger: records processed, the last
invocation and the last error. One UPDATE with F() expressions per batch or event, so concurrent
pollers never lose a count."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils import timezone

from invocations import metrics
from invocations.models import EventSourceMapping, Trigger

ERROR_LIMIT = 2000


def count_records(event: dict[str, Any]) -> int:
    """Records in a batch event: ``Records`` (SQS, Kinesis) or ``rmqMessagesByQueue`` (RabbitMQ)."""
    records = event.get("Records")
    if isinstance(records, list):
        return len(records)
    by_queue = event.get("rmqMessagesByQueue")
    if isinstance(by_queue, dict):
        return sum(len(messages) for messages in by_queue.values() if isinstance(messages, list))
    return 1


def batch_error(function_error: str | None, throttled: bool, payload: bytes) -> str:
    """A one-line description of a failed batch, "" when it succeeded."""
    if throttled:
        return "Throttled: the function's concurrency limit was reached."
    if not function_error:
        return ""
    return f"{function_error}: {payload.decode('utf-8', 'replace')}"[:ERROR_LIMIT]


def record_batch(mapping: EventSourceMapping, event: dict[str, Any], *, request_id: str, error: str) -> None:
    records = count_records(event)
    metrics.observe_batch(
        function=mapping.function.name, account=mapping.team.account_id, source_kind=mapping.source_kind,
        records=records, error=error,
    )
    fields: dict[str, Any] = {"records_processed": F("records_processed") + records, "last_request_id": request_id}
    if error:
        fields["last_error"] = error[:ERROR_LIMIT]
    EventSourceMapping.objects.filter(pk=mapping.pk).update(**fields)


def record_trigger(trigger: Trigger, *, request_id: str = "", result: str, error: str = "") -> None:
    """An event invoked (request_id set) or refused (error set) by a schedule or push trigger."""
    fields: dict[str, Any] = {"last_result": result[:128]}
    if request_id:
        fields.update(invocation_count=F("invocation_count") + 1, last_request_id=request_id, last_run_at=timezone.now())
    if error:
        fields["last_error"] = error[:ERROR_LIMIT]
    Trigger.objects.filter(pk=trigger.pk).update(**fields)
