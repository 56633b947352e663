"""Invoke's steps (spec §3–§4): validate the input, resolve and authorize the version, describe it to
the engine and copy its result onto the record. ``invocations/pipeline.py`` composes them into the
one pipeline every path takes (prepare → run → record, or enqueue for an Event).

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
import random
import re
from datetime import datetime, timezone as dt_timezone
from typing import Any, Final

from django.conf import settings
from django.db import connection

from invocations import json_input, lifecycle, policy, recorder, rows
from invocations.access import Caller, check, statements, team_of_account
from invocations.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ValidationException,
    function_not_found,
)
from invocations.arns import FunctionRef, function_arn, validation_message
from invocations.engine.types import FunctionSpec, InvokeResult
from invocations.models import LATEST, Alias, Function, FunctionVersion, Invocation, Team
from invocations.services import code as code_service

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


# --- validation ------------------------------------------------------------------------------------


def check_enum(value: str, field: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        constraint = f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        raise ValidationException(validation_message([(value, field, constraint)]))


def check_payload(payload: bytes, *, invocation_type: str, event_limit: int) -> bytes:
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
