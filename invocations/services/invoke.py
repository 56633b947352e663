"""Invoke (spec §3–§4): validate, resolve the version, run it or queue it, record it.

Who runs what (ARCHITECTURE.md, "Processes"): a ``RequestResponse`` call runs on this node's own
pool in the request thread — no queue in the path — and its record goes to the background
``recorder`` (no database write in the request thread). An ``Event`` call is stored as a ``queued``
row and handed to Celery after commit; a worker runs it, retries it and sends its invocation record
with ``services/async_events.py``.

The hot path costs one query (two for an alias): the version row joined with its function, as a
pre-built statement (see ``resolve``). Nothing is cached, so an update or a deletion is seen by the
very next call.

Choices where AWS's behaviour is unverified (spec §13), kept here so they are in one place:

* An empty payload is invoked as ``{}`` (as LocalStack does); DryRun checks the payload too.
* ``X-Amz-Client-Context`` must be base64 (at most 3583 characters) of a JSON object — the shape
  awslambdaric and the Node client parse into ``context.client_context``; anything else is a 400
  ``InvalidParameterValueException`` saying which rule failed, instead of a crash in the runtime.
* A runtime this node cannot start is a 502 ``InvalidRuntimeException`` (a modeled Invoke fault,
  which botocore retries like any 5xx).
* Who may invoke is ``access``/``policy``'s decision (``lambda:InvokeFunction``), taken before
  anything runs; DryRun checks exactly that, existence, state and input, as AWS's does.
* DryRun is not recorded (nothing ran). Throttled calls are recorded with status ``throttled``.
* An Event keeps its ClientContext on the row but does not pass it to the function (AWS hands it
  to synchronous invocations only, spec §3.2); its alias is resolved when it is queued.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import Any, Final

from django.conf import settings
from django.db import connection
from django.utils import timezone

from invocations import concurrency, dispatch, json_input, lifecycle, metrics, policy, recorder, rollups, rows
from invocations.access import Caller, check, statements, team_of_account
from invocations.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    InvalidRuntimeException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ServiceException,
    TooManyRequestsException,
    ValidationException,
    function_not_found,
)
from invocations.arns import FunctionRef, function_arn, parse_function_name, validation_message
from invocations.engine.types import FunctionSpec, InvokeRequest, InvokeResult, RuntimeUnavailable, TooManyRequests
from invocations.group_commit import FlushFailed, GroupCommit
from invocations.models import LATEST, Alias, Function, FunctionVersion, Invocation, InvocationBody, Team
from invocations.pooled import release_idle_connection
from invocations.services import code as code_service

logger = logging.getLogger(__name__)

REQUEST_RESPONSE: Final = "RequestResponse"
EVENT: Final = "Event"
DRY_RUN: Final = "DryRun"
INVOCATION_TYPES: Final = (EVENT, REQUEST_RESPONSE, DRY_RUN)
LOG_TYPES: Final = ("None", "Tail")

SYNC_PAYLOAD_LIMIT: Final = 6291456  # 6 MB, spec §3.4
EVENT_PAYLOAD_LIMIT: Final = 1048576  # 1 MB: the current model/doc limit for Event
INVOKE_ASYNC_PAYLOAD_LIMIT: Final = 262144  # 256 KB: the deprecated InvokeAsync
CLIENT_CONTEXT_LIMIT: Final = 3583  # characters of base64, spec §3.4
LOG_TAIL_BYTES: Final = 4096  # X-Amz-Log-Result carries the last 4 KB

_VERSION_NUMBER = re.compile(r"^[0-9]+$")
_STATUS_OF_RESULT = {
    "succeeded": Invocation.Status.SUCCEEDED,
    "failed": Invocation.Status.FAILED,
    "timed-out": Invocation.Status.TIMED_OUT,
}


@dataclass(frozen=True)
class InvokeOutcome:
    """What the Invoke view renders: the status code and, for RequestResponse, the result."""

    status_code: int  # 200 RequestResponse, 202 Event, 204 DryRun
    request_id: str
    payload: bytes = b""
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None  # base64 of the last 4 KB of the logs (LogType Tail)


# --- validation ------------------------------------------------------------------------------------


def _check_enum(value: str, field: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        constraint = f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        raise ValidationException(validation_message([(value, field, constraint)]))


def _check_payload(payload: bytes, *, invocation_type: str, event_limit: int) -> bytes:
    size = len(payload)
    if invocation_type == EVENT and size > event_limit:
        raise RequestEntityTooLargeException(
            f"{size} byte payload is too large for the Event invocation type (limit {event_limit} bytes)"
        )
    if size > SYNC_PAYLOAD_LIMIT:
        raise RequestEntityTooLargeException(
            f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation"
        )
    if not payload:
        return b"{}"
    try:
        # Any valid JSON goes to the function as sent, up to 6 MB — but not a document nested deeper
        # than the parser holds (just under 1,000 levels): InvalidRequestContentException, as AWS's
        # Jackson front end most likely gives past 1,000 (json_input.py).
        json_input.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as error:
        detail = f"Invalid UTF-8 start byte 0x{payload[error.start]:02x} at byte {error.start}"
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {detail}"
        ) from None
    except ValueError as error:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {error}"
        ) from None
    return payload


def decode_client_context(value: str | None) -> str | None:
    """The JSON text of a base64 ``X-Amz-Client-Context`` header (None when absent)."""
    if value is None or value == "":
        return None
    if len(value) > CLIENT_CONTEXT_LIMIT:
        raise InvalidParameterValueException(
            f"Client context must be at most {CLIENT_CONTEXT_LIMIT} bytes of base64; got {len(value)}."
        )
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidParameterValueException("Client context must be base64-encoded JSON; it is not valid base64.") from None
    try:
        parsed = json_input.loads(text)
    except ValueError:
        raise InvalidParameterValueException("Client context must be base64-encoded JSON; the decoded text is not JSON.") from None
    if not isinstance(parsed, dict):
        raise InvalidParameterValueException("Client context must be base64-encoded JSON object.")
    return text


# --- resolution ------------------------------------------------------------------------------------


def _pick_version(alias: Alias) -> str:
    """The alias's version, or one of its AdditionalVersionWeights versions with that probability."""
    weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    if weights:
        draw = random.random()
        total = 0.0
        for version, weight in weights.items():
            total += float(weight)
            if draw < total:
                return str(version)
    return alias.function_version


# Measured here: the ORM takes ≈ 0.6 ms to compile and run this select_related lookup, the same
# statement through a cursor ≈ 0.06 ms. So the hot path runs fixed statements, built once from the
# models' metadata, and builds the instances itself.
_VERSION_FIELDS: Final = (
    "id", "version", "runtime", "handler", "timeout", "memory_size", "environment", "code_sha256",
    "code_digest", "logging_config", "state", "revision_id", "dead_letter_target_arn",
)  # fmt: skip
_FUNCTION_FIELDS: Final = ("id", "name", "reserved_concurrency", "team")
_JSON_FIELDS: Final = frozenset({"environment", "logging_config", "routing_config"})
_statements: dict[str, str] = {}


def _statement(kind: str) -> str:
    """SELECT statements for the hot path, built from model metadata (so columns stay in step)."""
    if kind not in _statements:
        version_table, function_table, alias_table = rows.table(FunctionVersion), rows.table(Function), rows.table(Alias)
        team_table = rows.table(Team)

        def columns(model: type[Any], names: tuple[str, ...]) -> str:
            return rows.columns(model, names, qualified=True)

        def column(model: type[Any], name: str) -> str:
            return rows.column(model, name, qualified=True)

        select = (
            f"SELECT {columns(FunctionVersion, _VERSION_FIELDS)}, {columns(Function, _FUNCTION_FIELDS)}, "
            f"{column(Team, 'account_id')} "
            f"FROM {version_table} INNER JOIN {function_table} ON "
            f"{column(FunctionVersion, 'function')} = {column(Function, 'id')} "
            f"INNER JOIN {team_table} ON {column(Function, 'team')} = {column(Team, 'id')} "
        )
        _statements["version_by_name"] = (
            select + f"WHERE {column(Function, 'team')} = %s AND {column(Function, 'name')} = %s "
            f"AND {column(FunctionVersion, 'version')} = %s"
        )
        _statements["version_by_function_id"] = (
            select + f"WHERE {column(Function, 'id')} = %s AND {column(FunctionVersion, 'version')} = %s"
        )
        _statements["alias"] = (
            f"SELECT {columns(Alias, ('function', 'function_version', 'routing_config'))} "
            f"FROM {alias_table} INNER JOIN {function_table} ON {column(Alias, 'function')} = {column(Function, 'id')} "
            f"WHERE {column(Function, 'team')} = %s AND {column(Function, 'name')} = %s AND {column(Alias, 'name')} = %s"
        )
    return _statements[kind]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _fetch_version(kind: str, keys: list[object]) -> FunctionVersion | None:
    with connection.cursor() as cursor:
        cursor.execute(_statement(kind), keys)
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_VERSION_FIELDS)
    values = {n: (_json(v) if n in _JSON_FIELDS else v) for n, v in zip(_VERSION_FIELDS, row[:split])}
    fields = dict(zip(_FUNCTION_FIELDS, row[split:-1]))
    team = Team(id=fields.pop("team"), account_id=row[-1])
    function = Function(**fields, team=team)
    return FunctionVersion(function=function, **values)


def version_of_function(function_id: int, version: str) -> FunctionVersion | None:
    """The version ``version`` of the function ``function_id`` (one statement; for reading only)."""
    return _fetch_version("version_by_function_id", [function_id, version])


def _lookup(team_id: int, name: str, qualifier: str | None) -> FunctionVersion | None:
    """One query, two for an alias (alias row, then its version). The instance carries only the
    fields an invocation needs (``_VERSION_FIELDS``, the function's id, name, reserved concurrency
    and team with its account id); it is for reading, never for saving."""
    if qualifier is None or qualifier == LATEST or _VERSION_NUMBER.match(qualifier):
        return _fetch_version("version_by_name", [team_id, name, qualifier or LATEST])
    with connection.cursor() as cursor:
        cursor.execute(_statement("alias"), [team_id, name, qualifier])
        row = cursor.fetchone()
    if row is None:
        return None
    alias = Alias(function_id=row[0], function_version=row[1], routing_config=_json(row[2]) or {})
    return _fetch_version("version_by_function_id", [row[0], _pick_version(alias)])


def resolve(
    caller: Caller, ref: FunctionRef, *, action: str = "lambda:InvokeFunction", context: policy.Context = policy.Context()
) -> FunctionVersion:
    """The concrete version to run for ``caller``, who must be allowed ``action`` on it.

    In the caller's own account the role decides without a query; only when it does not allow (or
    for another account) are the function's policy statements read. Another account's function is
    a 403 whether or not it exists; one's own missing function a 404.
    """
    own = ref.account in (None, caller.account_id)
    account = caller.account_id if own else str(ref.account)
    team_id = caller.team_id if own and caller.team_id is not None else getattr(team_of_account(account), "pk", None)
    found = _lookup(team_id, ref.name, ref.qualifier) if team_id is not None else None
    decision = policy.decide(principal=caller.principal, action=action, resource_account=account, context=context)
    # A service acts for a trigger of the function's own team: what is missing may be said.
    if not decision.allowed and not (found is None and caller.principal.kind == "service"):
        check(caller, action, resource_account=account, resource=function_arn(ref.name, ref.qualifier, account=account),
              statements=statements(found.function.pk, ref.qualifier) if found else (), context=context)  # fmt: skip
    if found is None:
        raise function_not_found(function_arn(ref.name, ref.qualifier, account=account))
    if found.state != FunctionVersion.State.ACTIVE:
        raise ResourceConflictException(
            "The operation cannot be performed at this time. "
            f"The function is currently in the following state: {found.state}"
        )
    return found


def _variables(environment: dict[str, object]) -> tuple[tuple[str, str], ...]:
    # FunctionVersion.environment holds Environment.Variables itself (services/functions.py).
    return tuple((str(key), str(value)) for key, value in environment.items())


def function_spec(version: FunctionVersion) -> FunctionSpec:
    """What the engine needs to run ``version``; its code is on this node once this returns
    (fetched from the database when another node stored it: ``code.ensure_code``)."""
    function = version.function
    code_dir = code_service.ensure_code(version.code_digest)
    logging_config = version.logging_config or {}
    return FunctionSpec(
        function_name=function.name,
        function_arn=function_arn(function.name, account=function.team.account_id),
        version=version.version,
        revision_id=version.revision_id,
        code_dir=str(code_dir),
        code_sha256=version.code_sha256,
        runtime=version.runtime,
        handler=version.handler,
        memory_mb=version.memory_size,
        timeout_s=version.timeout,
        ephemeral_storage_mb=version.ephemeral_storage,
        environment=_variables(version.environment or {}),
        region=settings.LAMBDA_REGION,
        log_format=str(logging_config.get("LogFormat") or "Text"),
        log_group=str(logging_config.get("LogGroup") or ""),
    )


# --- recording -------------------------------------------------------------------------------------


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc)


def apply_result(invocation: Invocation, result: InvokeResult) -> None:
    """End a running invocation with an engine result (the stored limits are the recorder's)."""
    copy_result(invocation, result)
    lifecycle.transition(invocation, _STATUS_OF_RESULT.get(result.status, Invocation.Status.FAILED))


def copy_result(invocation: Invocation, result: InvokeResult) -> None:
    """Copy an engine result's fields, all but the status, onto an Invocation: an Event's row
    stays running until its retry policy has decided (``async_events``)."""
    invocation.response = recorder.text_of_response(result.payload)
    invocation.function_error = result.function_error or ""
    invocation.error_type = result.error_type or ""
    invocation.logs = recorder.tail_of_logs(result.logs)
    invocation.log_stream = result.log_stream
    invocation.duration_ms = result.duration_ms
    invocation.billed_duration_ms = result.billed_duration_ms
    invocation.init_duration_ms = result.init_duration_ms
    invocation.memory_size_mb = result.memory_size_mb
    invocation.max_memory_used_mb = result.max_memory_used_mb
    invocation.cold_start = result.cold_start
    invocation.started_at = _when(result.started_at)
    invocation.finished_at = _when(result.finished_at)


def log_tail(logs: str) -> str:
    return base64.b64encode(logs.encode("utf-8", "replace")[-LOG_TAIL_BYTES:]).decode("ascii")


# --- the operations --------------------------------------------------------------------------------


def invoke(
    *,
    caller: Caller,
    function_name: str,
    qualifier: str | None,
    payload: bytes,
    invocation_type: str | None,
    log_type: str | None,
    client_context: str | None,
    source: str,
    request_id: str,
    event_payload_limit: int = EVENT_PAYLOAD_LIMIT,
    context: policy.Context = policy.Context(),
) -> InvokeOutcome:
    """Invoke ``function_name`` for ``caller`` the way AWS's Invoke does; raises AwsError for platform
    errors (AccessDeniedException when the caller may not invoke it).

    A function error is not an exception: it is a 200 outcome with ``function_error`` set.
    """
    invocation_type = invocation_type or REQUEST_RESPONSE
    _check_enum(invocation_type, "invocationType", INVOCATION_TYPES)
    if log_type:
        _check_enum(log_type, "logType", LOG_TYPES)
    ref = parse_function_name(function_name, qualifier=qualifier)
    payload = _check_payload(payload, invocation_type=invocation_type, event_limit=event_payload_limit)
    context_text = decode_client_context(client_context)
    version = resolve(caller, ref, context=context)

    if invocation_type == DRY_RUN:
        return InvokeOutcome(status_code=204, request_id=request_id)

    invocation = Invocation(
        request_id=request_id,
        function=version.function,
        function_name=ref.name,
        account_id=version.function.team.account_id,
        qualifier=ref.qualifier or "",
        executed_version=version.version,
        source=source,
        invocation_type=invocation_type,
        status=lifecycle.initial_status(invocation_type),
        caller_id=caller.user_id,
        payload=payload.decode("utf-8"),
        client_context=context_text or "",
        memory_size_mb=version.memory_size,
        code_sha256=version.code_sha256,
    )
    if invocation_type == EVENT:
        _enqueue(invocation)
        return InvokeOutcome(status_code=202, request_id=request_id)

    request = InvokeRequest(
        request_id=request_id,
        payload=payload,
        invoked_function_arn=function_arn(ref.name, ref.qualifier, account=version.function.team.account_id),
        client_context=context_text,
    )
    result = _run(version, request, invocation)
    return InvokeOutcome(
        status_code=200,
        request_id=request_id,
        payload=result.payload,
        executed_version=version.version,
        function_error=result.function_error,
        log_result=log_tail(result.logs) if log_type == "Tail" else None,
    )


def release_connection_while_waiting() -> None:
    """Hand a pooled PostgreSQL connection back before waiting for user code.

    A synchronous invoke may wait seconds (up to the 900 s timeout) for the function; the request
    needs no database meanwhile (its record is written by the recorder thread). Keeping the
    connection would cap concurrent waiting callers at the pool's size (measured: 50 callers of a
    2-second function took 6.6 s with a pool of 20). SQLite connections are per-thread files,
    cheap to keep and costly to reopen, so they stay.
    """
    release_idle_connection()


def engine_failure(
    invocation: Invocation, error: TooManyRequests | RuntimeUnavailable, *, runtime: str = ""
) -> TooManyRequestsException | InvalidRuntimeException:
    """Record a platform failure that stopped the function from running; return the AWS error to raise."""
    if isinstance(error, TooManyRequests):
        lifecycle.transition(
            invocation, Invocation.Status.THROTTLED, error_type="TooManyRequestsException", response=error.message
        )
        aws_error: TooManyRequestsException | InvalidRuntimeException = TooManyRequestsException(
            error.reason, error.message
        )
    else:
        lifecycle.transition(
            invocation, Invocation.Status.FAILED, error_type="InvalidRuntimeException", response=str(error)
        )
        runtime_name = f"runtime {runtime}" if runtime else "runtime"
        aws_error = InvalidRuntimeException(f"The {runtime_name} is not available on this node: {error}")
    recorder.record(invocation)
    return aws_error


def _run(version: FunctionVersion, request: InvokeRequest, invocation: Invocation) -> InvokeResult:
    """Run on this node's pool and hand the record to the recorder, whatever happens."""
    from invocations.node import get_pool

    spec, reserved = function_spec(version), version.function.reserved_concurrency
    try:
        lease = concurrency.admit(function_id=version.function_id, team_id=version.function.team_id, reserved=reserved)
    except TooManyRequests as error:
        raise engine_failure(invocation, error, runtime=version.runtime) from None
    release_connection_while_waiting()
    try:
        with metrics.running(invocation):
            result = get_pool().invoke(spec, request, reserved_concurrency=reserved)
    except (TooManyRequests, RuntimeUnavailable) as error:
        raise engine_failure(invocation, error, runtime=version.runtime) from None
    finally:
        concurrency.release(lease)
    apply_result(invocation, result)
    recorder.record(invocation)
    return result


def _enqueue(invocation: Invocation) -> None:
    """Store the queued row, then publish its task; never report success otherwise.

    Outside a transaction (an API accept) the row goes through ``_accepts``: concurrent accepts
    share one INSERT statement and one pipelined publish (``group_commit``). Inside the caller's
    transaction it is inserted there and published once that commits.
    """
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
