"""One invocation pipeline that every path composes: prepare → run → record, or prepare → enqueue.

Every path that invokes a function — the Invoke API, InvokeWithResponseStream, function URLs, the
console's tests and suites, event source mappings, triggers, Lambda destinations — builds one
``InvocationRequest`` and calls ``invoke`` (or, streamed, ``prepare`` + its own run + ``record``).
The Event worker's attempts (``services/async_events.py``) take the same ``platform_failure``
mapping for a throttle or a runtime this node cannot start.

Who runs what (ARCHITECTURE.md, "Processes"): a ``RequestResponse`` call runs on this node's own
pool in the request thread — no queue in the path — and its record goes to the background
``recorder`` (no database write in the request thread). An ``Event`` call is stored as a ``queued``
row and handed to Celery after commit; a worker runs it, retries it and sends its invocation record
with ``services/async_events.py``. The AWS choices of validation and resolution are in
``services/invoke.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from django.db import connection
from django.utils import timezone

from invocations import concurrency, dispatch, lifecycle, metrics, policy, recorder, rollups, rows
from invocations.access import Caller
from invocations.arns import function_arn, parse_function_name
from invocations.engine.types import InvokeRequest, InvokeResult, ResponseStream, RuntimeUnavailable, TooManyRequests
from invocations.errors import InvalidRuntimeException, ServiceException, TooManyRequestsException
from invocations.group_commit import FlushFailed, GroupCommit
from invocations.models import FunctionVersion, Invocation, InvocationBody
from invocations.pooled import release_idle_connection
from invocations.services import invoke as steps

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvocationRequest:
    """One invocation as a path asks for it: the Invoke API's inputs, and who asks and why.

    ``client_context`` is the base64 ``X-Amz-Client-Context`` header as sent; ``context`` the
    request facts the function's policy conditions test (a function URL's auth type, a trigger's
    source ARN); ``event_payload_limit`` is smaller for the deprecated InvokeAsync.
    """

    caller: Caller
    function_name: str
    payload: bytes
    source: str
    request_id: str
    qualifier: str | None = None
    invocation_type: str | None = None  # None: RequestResponse
    log_type: str | None = None
    client_context: str | None = None
    context: policy.Context = policy.Context()
    event_payload_limit: int = steps.EVENT_PAYLOAD_LIMIT


@dataclass(frozen=True)
class Prepared:
    """A valid request, authorized and resolved to the version that will run: its unsaved record."""

    request: InvocationRequest
    invocation_type: str
    version: FunctionVersion
    invocation: Invocation
    payload: bytes  # as validated: an empty payload is "{}"
    client_context: str | None  # the decoded JSON text
    invoked_function_arn: str  # as invoked: with its qualifier

    def engine_request(self, stream: ResponseStream | None = None) -> InvokeRequest:
        return InvokeRequest(
            request_id=self.request.request_id,
            payload=self.payload,
            invoked_function_arn=self.invoked_function_arn,
            client_context=self.client_context,
            stream=stream,
        )


@dataclass(frozen=True)
class InvokeOutcome:
    """What the Invoke view renders: the status code and, for RequestResponse, the result."""

    status_code: int  # 200 RequestResponse, 202 Event, 204 DryRun
    request_id: str
    payload: bytes = b""
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None  # base64 of the last 4 KB of the logs (LogType Tail)


@dataclass(frozen=True)
class PlatformFailure:
    """A platform failure that stopped the function from running, as it is recorded and raised."""

    status: str  # throttled, or failed for a runtime this node cannot start
    error_type: str
    message: str  # the record's response
    error: TooManyRequestsException | InvalidRuntimeException


def platform_failure(error: TooManyRequests | RuntimeUnavailable, *, runtime: str = "") -> PlatformFailure:
    """The one mapping of the engine's refusals: a throttle is a 429 ``TooManyRequestsException``
    with the engine's reason; a runtime this node cannot start a 502 ``InvalidRuntimeException``."""
    if isinstance(error, TooManyRequests):
        return PlatformFailure(
            Invocation.Status.THROTTLED, "TooManyRequestsException", error.message,
            TooManyRequestsException(error.reason, error.message),
        )  # fmt: skip
    runtime_name = f"runtime {runtime}" if runtime else "runtime"
    return PlatformFailure(
        Invocation.Status.FAILED, "InvalidRuntimeException", str(error),
        InvalidRuntimeException(f"The {runtime_name} is not available on this node: {error}"),
    )  # fmt: skip


# --- the stages ------------------------------------------------------------------------------------


def prepare(request: InvocationRequest, *, invocation_types: tuple[str, ...] = steps.INVOCATION_TYPES) -> Prepared:
    """Validate the request, authorize it (``lambda:InvokeFunction``) and resolve the version; build
    its record, unsaved. Raises AwsError before anything runs — DryRun checks exactly this."""
    invocation_type = request.invocation_type or steps.REQUEST_RESPONSE
    steps.check_enum(invocation_type, "invocationType", invocation_types)
    if request.log_type:
        steps.check_enum(request.log_type, "logType", steps.LOG_TYPES)
    ref = parse_function_name(request.function_name, qualifier=request.qualifier)
    payload = steps.check_payload(request.payload, invocation_type=invocation_type, event_limit=request.event_payload_limit)
    context_text = steps.decode_client_context(request.client_context)
    version = steps.resolve(request.caller, ref, context=request.context)
    account = version.function.team.account_id
    invocation = Invocation(
        request_id=request.request_id,
        function=version.function,
        function_name=ref.name,
        account_id=account,
        qualifier=ref.qualifier or "",
        executed_version=version.version,
        source=request.source,
        invocation_type=invocation_type,
        status=lifecycle.initial_status(invocation_type),
        caller_id=request.caller.user_id,
        payload=payload.decode("utf-8"),
        client_context=context_text or "",
        memory_size_mb=version.memory_size,
        code_sha256=version.code_sha256,
    )
    return Prepared(
        request=request, invocation_type=invocation_type, version=version, invocation=invocation, payload=payload,
        client_context=context_text, invoked_function_arn=function_arn(ref.name, ref.qualifier, account=account),
    )  # fmt: skip


def admit(prepared: Prepared) -> concurrency.Lease:
    """A unit of the function's concurrency; a throttle is recorded and raised (``platform_error``)."""
    version = prepared.version
    try:
        return concurrency.admit(
            function_id=version.function_id, team_id=version.function.team_id, reserved=version.function.reserved_concurrency
        )
    except TooManyRequests as error:
        raise platform_error(prepared, error) from None


def release_connection_while_waiting() -> None:
    """Hand a pooled PostgreSQL connection back before waiting for user code.

    A synchronous invoke may wait seconds (up to the 900 s timeout) for the function; the request
    needs no database meanwhile (its record is written by the recorder thread). Keeping the
    connection would cap concurrent waiting callers at the pool's size (measured: 50 callers of a
    2-second function took 6.6 s with a pool of 20). SQLite connections are per-thread files,
    cheap to keep and costly to reopen, so they stay.
    """
    release_idle_connection()


def run(prepared: Prepared) -> InvokeResult:
    """Run on this node's pool within a concurrency lease; a platform failure is recorded and raised."""
    from invocations.node import get_pool

    spec, reserved = steps.function_spec(prepared.version), prepared.version.function.reserved_concurrency
    lease = admit(prepared)
    release_connection_while_waiting()
    try:
        with metrics.running(prepared.invocation):
            return get_pool().invoke(spec, prepared.engine_request(), reserved_concurrency=reserved)
    except (TooManyRequests, RuntimeUnavailable) as error:
        raise platform_error(prepared, error) from None
    finally:
        concurrency.release(lease)


def record(prepared: Prepared, outcome: InvokeResult | PlatformFailure) -> None:
    """End the record with the engine's result or a platform failure; the recorder writes it."""
    invocation = prepared.invocation
    if isinstance(outcome, PlatformFailure):
        lifecycle.transition(invocation, outcome.status, error_type=outcome.error_type, response=outcome.message)
    else:
        steps.apply_result(invocation, outcome)
    recorder.record(invocation)


def platform_error(
    prepared: Prepared, error: TooManyRequests | RuntimeUnavailable
) -> TooManyRequestsException | InvalidRuntimeException:
    """Record a platform failure that stopped the function from running; return the AWS error to raise."""
    failure = platform_failure(error, runtime=prepared.version.runtime)
    record(prepared, failure)
    return failure.error


def enqueue(prepared: Prepared) -> None:
    """Store the Event's queued row, then publish its task; never report success otherwise.

    Outside a transaction (an API accept) the row goes through ``_accepts``: concurrent accepts
    share one INSERT statement and one pipelined publish (``group_commit``). Inside the caller's
    transaction it is inserted there and published once that commits.
    """
    invocation = prepared.invocation
    invocation.attempt = 0  # attempts started; each claim by a worker counts one (services/async_events.py)
    invocation.dispatched_at = timezone.now()  # the sweep republishes it if the message is lost
    if not connection.in_atomic_block:
        try:
            _accepts.submit(invocation)
        except FlushFailed:
            logger.exception("queueing Event invocation %s failed", invocation.request_id)
            raise _not_queued() from None
        return
    rows.insert(invocation)
    rows.insert(invocation.body_for_insert())
    rollups.count_enqueued([invocation])
    # If this publish fails when the caller commits, the row stays queued and the sweep sends it.
    dispatch.run_queued_invocation(invocation_id=invocation.pk)


def invoke(request: InvocationRequest) -> InvokeOutcome:
    """Invoke the way AWS's Invoke does: DryRun stops after ``prepare``, an Event is enqueued, a
    RequestResponse call runs and is recorded. Raises AwsError for platform errors
    (AccessDeniedException when the caller may not invoke it).

    A function error is not an exception: it is a 200 outcome with ``function_error`` set.
    """
    prepared = prepare(request)
    if prepared.invocation_type == steps.DRY_RUN:
        return InvokeOutcome(status_code=204, request_id=request.request_id)
    if prepared.invocation_type == steps.EVENT:
        enqueue(prepared)
        return InvokeOutcome(status_code=202, request_id=request.request_id)
    result = run(prepared)
    record(prepared, result)
    return InvokeOutcome(
        status_code=200,
        request_id=request.request_id,
        payload=result.payload,
        executed_version=prepared.version.version,
        function_error=result.function_error,
        log_result=steps.log_tail(result.logs) if request.log_type == "Tail" else None,
    )


# --- Event accepts, stored together ----------------------------------------------------------------


def _store_events(invocations: Sequence[Invocation]) -> None:
    """``_accepts``' flush: one multi-row INSERT, then one publish of all their tasks.

    The fixed INSERT (``rows``) and this batching took an accept from ≈ 2 ms of web CPU (the ORM's
    save in its own transaction, then a publish) to ≈ 1 ms (bench/async.py). If the publish fails
    the rows are marked failed, so neither the sweep nor a message that did get through runs them
    (a worker claims only queued rows), and every caller of the batch is told the event was not
    queued.
    """
    rows.insert_many(invocations)
    # Every event has a body (its payload, even empty): a run updates it, never inserts it.
    rows.insert_many([invocation.body_for_insert() for invocation in invocations])
    rollups.count_enqueued(invocations)
    try:
        dispatch.send_many(dispatch.RUN_QUEUED_INVOCATION, [(invocation.pk,) for invocation in invocations])
    except Exception:
        failed = Invocation.objects.filter(pk__in=[i.pk for i in invocations], status=Invocation.Status.QUEUED)
        failed_ids = list(failed.values_list("request_id", flat=True))
        lifecycle.advance(
            failed, Invocation.Status.QUEUED, Invocation.Status.FAILED,
            error_type="ServiceException", finished_at=timezone.now(),
        )  # fmt: skip
        InvocationBody.objects.filter(invocation_id__in=failed_ids).update(response="The event could not be queued.")
        raise


# SQLite has one writer, so flushes would only queue behind each other; PostgreSQL takes two at once
# (bench/async.py on PostgreSQL: 1, 2, 4 and 8 concurrent flushes were within run-to-run noise).
_accepts: GroupCommit[Invocation] = GroupCommit(
    _store_events, max_batch=64, concurrent_flushes=1 if connection.vendor == "sqlite" else 2
)


def _not_queued() -> ServiceException:
    return ServiceException("An internal error occurred. The event was not queued; try again.")
