"""The contract between the poller framework and the sources (SQS, Kinesis, RabbitMQ).

The framework (supervisor.py) decides *who* polls *what*: for every enabled EventSourceMapping it
asks the mapping's Source for its poll units (the queue; each shard), holds a PollerLease per unit so
that no two workers ever poll the same unit (a lease that is not renewed expires, so a dead poller is
replaced), and calls ``Source.run_slice`` repeatedly while it holds the lease. A source decides
*how*: receiving, filtering, batch assembly (never over the 6 MB payload limit), invoking through
``invoke_batch``, acknowledging, checkpointing, partial-batch failures, retries, bisecting and the
on-failure destination.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import DatabaseError
from django.utils import timezone

from invocations.models import EventSourceMapping, Invocation

logger = logging.getLogger(__name__)

# One invocation's payload never exceeds Invoke's synchronous limit (spec §3.4): a batch is cut
# before it would.
MAX_BATCH_PAYLOAD_BYTES = 6_291_456


@dataclass(frozen=True)
class BatchResult:
    """What the function did with one batch."""

    request_id: str
    function_error: str | None  # "Unhandled" when the function failed
    payload: bytes  # the function's response (or error object)
    throttled: bool = False  # the invoke was refused before the function ran (429)

    @property
    def failed(self) -> bool:
        return self.function_error is not None or self.throttled

    def batch_item_failures(self) -> list[str] | None:
        """The itemIdentifiers of a partial batch response (spec §8.3); None when the whole batch
        failed (invalid response, empty or null identifiers, function error)."""
        if self.failed:
            return None
        if not self.payload.strip():
            return []
        try:
            response = json.loads(self.payload)
        except ValueError:
            return None
        if response is None:
            return []
        if not isinstance(response, dict):
            return None
        failures = response.get("batchItemFailures")
        if failures is None:
            return []
        if not isinstance(failures, list):
            return None
        identifiers: list[str] = []
        for failure in failures:
            if not isinstance(failure, dict):
                return None
            identifier = failure.get("itemIdentifier")
            if not isinstance(identifier, str) or not identifier:
                return None
            identifiers.append(identifier)
        return identifiers


Invoker = Callable[[dict[str, Any]], BatchResult]


class Source(Protocol):
    """One kind of event source; instances are stateless (state lives in the database/broker)."""

    kind: str  # EventSourceMapping.source_kind

    def units(self, mapping: EventSourceMapping) -> list[str]:
        """What can be polled independently: ["queue"] for a queue, the shard ids of a stream."""
        ...

    def run_slice(self, mapping: EventSourceMapping, unit: str, *, deadline: float, invoke: Invoker) -> None:
        """Poll `unit` until the monotonic `deadline` (or sooner), invoking batches with `invoke`.
        Must return promptly at the deadline; the framework calls it again while the lease holds."""
        ...


def invoke_batch(mapping: EventSourceMapping, event: dict[str, Any]) -> BatchResult:
    """Invoke the mapping's function synchronously with one batch; recorded with source "trigger".

    The mapping's account invokes: its own functions always, another team's only while that
    function's policy lets the account in (a RemovePermission stops the mapping's batches: they
    fail as AccessDeniedException and stay in their queue or stream).
    """
    from invocations.access import account_caller
    from invocations.arns import arn_of
    from invocations.errors import TooManyRequestsException
    from invocations import rollups
    from invocations.event_sources import stats
    from invocations.pipeline import InvocationRequest, invoke

    request_id = str(uuid.uuid4())
    started = timezone.now()  # the trigger lag ends when the function is invoked
    try:
        outcome = invoke(
            InvocationRequest(
                caller=account_caller(mapping.team),
                function_name=arn_of(mapping.function),
                qualifier=mapping.qualifier or None,
                payload=json.dumps(event, separators=(",", ":")).encode(),
                invocation_type="RequestResponse",
                source=str(Invocation.Source.TRIGGER),
                request_id=request_id,
            )
        )
    except TooManyRequestsException:
        result = BatchResult(request_id=request_id, function_error=None, payload=b"", throttled=True)
    else:
        result = BatchResult(request_id=request_id, function_error=outcome.function_error, payload=outcome.payload)
    error = stats.batch_error(result.function_error, result.throttled, result.payload)
    try:
        stats.record_batch(mapping, event, request_id=request_id, error=error)
        rollups.count_batch(account_id=mapping.function.team.account_id, function_name=mapping.function.name,
                            size=stats.count_records(event), oldest_arrival=rollups.oldest_arrival(event), now=started)
    except DatabaseError:
        # The console's counters must never make a source treat a processed batch as failed (it
        # would be delivered again): a lost count is logged, the batch result stands.
        logger.warning("could not update the statistics of mapping %s", mapping.uuid, exc_info=True)
    return result
