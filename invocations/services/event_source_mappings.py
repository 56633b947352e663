"""Create/Get/Update/Delete/ListEventSourceMapping(s) (spec §8.1): validation, defaults, state.

Which source a mapping reads (``source_kind``) comes from ``EventSourceArn``:

* ``arn:aws:sqs:…`` → ``sqs``; ``arn:aws:kinesis:…:stream/NAME`` → ``kinesis``;
* RabbitMQ, two spellings (docs/event-sources.md): AWS's — ``arn:aws:mq:…:broker:NAME:ID`` with
  ``Queues=[name]`` and the broker's address as a ``SourceAccessConfigurations`` entry of type
  ``BROKER_URL`` (beyond AWS; ``VIRTUAL_HOST`` as in AWS) — or the ``amqp://`` / ``amqps://`` URL
  itself as ``EventSourceArn`` (boto3 and the CLI do not check the ARN pattern client-side); the
  mapping then reports a derived ``arn:aws:mq:…:broker:HOST:ID`` ARN.

State (spec §8.1): the API writes the *transitional* state (Creating, Enabling, Updating,
Disabling, Deleting) and answers 202; the poller supervisor (``event_sources/supervisor.py``)
settles it (Enabled/Disabled, or removes a Deleting row) once its pollers follow, within about
a second when a worker runs.

Choices where AWS is unverified: the rule "BatchSize > 10 needs a batching window" is applied to
standard SQS queues only (the spec lists streams too, but their default BatchSize 100 with window 0
contradicts it); stream-only parameters on an SQS mapping are refused with
"Unsupported <Member> parameter for given event source mapping type."; an Update of a Deleting
mapping is a 400 ResourceInUseException.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from invocations import activity, destinations
from invocations.access import Caller, check, check_account
from invocations.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from invocations.arns import arn_of, validation_message
from invocations.event_sources.filtering import FilterError, parse_criteria
from invocations.models import EventSourceMapping, Function
from invocations.selectors import Page, function_version, paginate, parse_control_function_name

SQS: Final = "sqs"
KINESIS: Final = "kinesis"
RABBITMQ: Final = "rabbitmq"
STREAM_KINDS: Final = (KINESIS,)
STATE = EventSourceMapping.State

DEFAULT_BATCH_SIZE: Final = {SQS: 10, KINESIS: 100, RABBITMQ: 100}
MAX_BATCH_SIZE: Final = 10000
MAX_FIFO_BATCH_SIZE: Final = 10
MAX_WINDOW: Final = 300
STARTING_POSITIONS: Final = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
RESPONSE_TYPES: Final = ("ReportBatchItemFailures",)
BROKER_URL_TYPE: Final = "BROKER_URL"  # beyond AWS: where the RabbitMQ broker listens
MAX_LIST_ITEMS: Final = 10000
_ABSENT: Final = object()
_STREAM_ONLY: Final = (
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "StartingPosition",
    "StartingPositionTimestamp",
)
_UNSUPPORTED: Final = (
    "Topics",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
)


# --- validation helpers ---------------------------------------------------------------------------


def _validation(value: Any, field: str, constraint: str) -> ValidationException:
    return ValidationException(validation_message([(str(value), field, constraint)]))


def _int(body: dict[str, Any], member: str, low: int, high: int) -> int | None:
    value = body.get(member)
    if value is None:
        return None
    field = member[0].lower() + member[1:]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValueException(f"{member} must be an integer.")
    if value < low:
        raise _validation(value, field, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _validation(value, field, f"Member must have value less than or equal to {high}")
    return value


def _bool(body: dict[str, Any], member: str) -> bool | None:
    value = body.get(member)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidParameterValueException(f"{member} must be a boolean.")
    return value


def _unsupported(member: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(f"Unsupported {member} parameter for given event source mapping type.")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterValueException("StartingPositionTimestamp must be a timestamp.")
    try:
        return datetime.fromtimestamp(float(value), tz=dt_timezone.utc)
    except (OverflowError, ValueError, OSError):  # past year 9999, NaN, beyond the platform's time_t
        raise InvalidParameterValueException(f"StartingPositionTimestamp {value} is not a time.") from None


@dataclass(frozen=True)
class Source:
    kind: str
    arn: str
    url: str = ""
    fifo: bool = False


def parse_source(arn: Any, body: dict[str, Any], *, account: str) -> Source:
    """The source kind (and RabbitMQ broker URL) an EventSourceArn names (``account``: whose mapping
    it is, for the ARN derived from a broker URL)."""
    if not isinstance(arn, str) or not arn:
        raise _validation(arn if arn is not None else "null", "eventSourceArn", "Member must not be null")
    if arn.startswith(("amqp://", "amqps://")):
        parts = urlsplit(arn)
        digest = hashlib.sha256(arn.encode()).hexdigest()[:12]
        derived = (
            f"arn:aws:mq:{settings.LAMBDA_REGION}:{account}:broker:"
            f"{parts.hostname or 'localhost'}:b-{digest}"
        )
        return Source(kind=RABBITMQ, arn=derived, url=arn)
    pieces = arn.split(":", 5)
    if len(pieces) != 6 or pieces[0] != "arn" or not pieces[1].startswith("aws"):
        raise _validation(
            arn,
            "eventSourceArn",
            r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:"
            r"((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)",
        )
    service, resource = pieces[2], pieces[5]
    if service == "sqs" and resource:
        return Source(kind=SQS, arn=arn, fifo=resource.endswith(".fifo"))
    if service == "kinesis" and resource.startswith("stream/"):
        return Source(kind=KINESIS, arn=arn)
    if service == "mq" and resource.startswith("broker:"):
        url = _broker_url(body.get("SourceAccessConfigurations"))
        if not url:
            raise InvalidParameterValueException(
                f"A RabbitMQ mapping needs the broker's address: add a SourceAccessConfigurations entry "
                f'{{"Type": "{BROKER_URL_TYPE}", "URI": "amqp://user:password@host:5672/"}}.'
            )
        return Source(kind=RABBITMQ, arn=arn, url=url)
    raise InvalidParameterValueException(f"Unsupported event source type for {arn}: use SQS, Kinesis or RabbitMQ.")


def _broker_url(configurations: Any) -> str:
    for entry in configurations or []:
        if isinstance(entry, dict) and entry.get("Type") == BROKER_URL_TYPE:
            uri = entry.get("URI")
            if isinstance(uri, str) and uri.startswith(("amqp://", "amqps://")):
                return uri
            raise InvalidParameterValueException(f"{BROKER_URL_TYPE} must be an amqp:// or amqps:// URL.")
    return ""


def _access_configurations(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 22:
        raise InvalidParameterValueException("SourceAccessConfigurations must be a list of at most 22 entries.")
    result = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("Type"), str) or not isinstance(entry.get("URI"), str):
            raise InvalidParameterValueException("Each SourceAccessConfigurations entry needs a Type and a URI.")
        result.append({"Type": entry["Type"], "URI": entry["URI"]})
    return result


def _filter_criteria(value: Any) -> dict[str, Any]:
    try:
        criteria = parse_criteria(value)
    except FilterError as error:
        raise InvalidParameterValueException(str(error)) from None
    if not criteria.patterns:
        return {}
    return {"Filters": [{"Pattern": f["Pattern"]} for f in value["Filters"]]}


def _response_types(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 1 or any(v not in RESPONSE_TYPES for v in value):
        raise _validation(value, "functionResponseTypes", "Member must satisfy enum value set: [ReportBatchItemFailures]")
    return list(value)


def _destination_config(caller: Caller, kind: str, value: Any) -> dict[str, Any]:
    if value is None or value == {}:
        return {}
    if kind not in STREAM_KINDS:
        raise InvalidParameterValueException("Unsupported DestinationConfig parameter for given event source mapping type.")
    if not isinstance(value, dict) or set(value) - {"OnFailure", "OnSuccess"}:
        raise InvalidParameterValueException("DestinationConfig must be {\"OnFailure\": {\"Destination\": arn}}.")
    if value.get("OnSuccess"):
        raise InvalidParameterValueException("Unsupported OnSuccess destination for event source mappings.")
    destination = (value.get("OnFailure") or {}).get("Destination")
    if not destination:
        return {}
    kind = destinations.parse(destination).kind if isinstance(destination, str) else None
    if kind is None:
        raise InvalidParameterValueException(f"The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={destination})) is invalid.")
    if kind == destinations.LAMBDA:
        # A function destination must be one the mapping's creator may invoke.
        _resolve_function(caller, destination)
    return {"OnFailure": {"Destination": destination}}


def _scaling_config(kind: str, value: Any) -> dict[str, Any]:
    if value is None or value == {}:
        return {}
    if kind != SQS:
        raise InvalidParameterValueException("Unsupported ScalingConfig parameter for given event source mapping type.")
    if not isinstance(value, dict) or set(value) - {"MaximumConcurrency"}:
        raise InvalidParameterValueException("ScalingConfig must be {\"MaximumConcurrency\": n}.")
    if value.get("MaximumConcurrency") is None:
        return {}
    number = _int(value, "MaximumConcurrency", 2, 1000)
    return {"MaximumConcurrency": number}


# --- applying a request ---------------------------------------------------------------------------


def _resolve_function(caller: Caller, value: Any) -> tuple[Function, str]:
    """The function a mapping names: one its creator may invoke — of their own team by role, of
    another team only where its policy lets the creator's account invoke it."""
    if not isinstance(value, str) or not value:
        raise _validation(value if value is not None else "null", "functionName", "Member must not be null")
    ref = parse_control_function_name(value)
    version = function_version(caller=caller, ref=ref, action="lambda:InvokeFunction")
    return version.function, ref.qualifier or ""


def _apply(caller: Caller, mapping: EventSourceMapping, body: dict[str, Any], *, creating: bool) -> None:
    """Validate the members present in ``body`` and set them on ``mapping`` (Create: defaults too)."""
    kind = mapping.source_kind
    for member in _UNSUPPORTED:
        if body.get(member) is not None:
            raise _unsupported(member)
    if kind == SQS:
        for member in _STREAM_ONLY:
            if body.get(member) is not None:
                if member.startswith("StartingPosition"):
                    raise InvalidParameterValueException("StartingPosition is not valid for SQS event sources.")
                raise _unsupported(member)
    elif kind != KINESIS:
        for member in _STREAM_ONLY:
            if body.get(member) is not None and member not in ("StartingPosition", "StartingPositionTimestamp"):
                raise _unsupported(member)

    batch_size = _int(body, "BatchSize", 1, MAX_BATCH_SIZE)
    if batch_size is not None:
        mapping.batch_size = batch_size
    elif creating:
        mapping.batch_size = DEFAULT_BATCH_SIZE[kind]
    window = _int(body, "MaximumBatchingWindowInSeconds", 0, MAX_WINDOW)
    if window is not None:
        mapping.maximum_batching_window_in_seconds = window
    if kind == SQS:
        fifo = mapping.event_source_arn.endswith(".fifo")
        if fifo and mapping.batch_size > MAX_FIFO_BATCH_SIZE:
            raise InvalidParameterValueException("Batch size for FIFO queues must be between 1 and 10.")
        if not fifo and mapping.batch_size > 10 and mapping.maximum_batching_window_in_seconds < 1:
            raise InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
            )

    if kind == KINESIS and creating:
        position = body.get("StartingPosition")
        if position is None:
            raise ValidationException(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                "Member must not be null"
            )
        if position not in STARTING_POSITIONS:
            raise _validation(position, "startingPosition", "Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
        mapping.starting_position = position
        if position == "AT_TIMESTAMP":
            if body.get("StartingPositionTimestamp") is None:
                raise InvalidParameterValueException("StartingPositionTimestamp must be set when StartingPosition is AT_TIMESTAMP.")
            mapping.starting_position_timestamp = _timestamp(body["StartingPositionTimestamp"])
    elif kind == KINESIS and (body.get("StartingPosition") is not None or body.get("StartingPositionTimestamp") is not None):
        raise InvalidParameterValueException("StartingPosition cannot be updated.")

    if "FilterCriteria" in body:
        mapping.filter_criteria = _filter_criteria(body["FilterCriteria"])
    if "FunctionResponseTypes" in body:
        mapping.function_response_types = _response_types(body["FunctionResponseTypes"])
    if kind in STREAM_KINDS:
        bisect = _bool(body, "BisectBatchOnFunctionError")
        if bisect is not None:
            mapping.bisect_batch_on_function_error = bisect
        retries = _int(body, "MaximumRetryAttempts", -1, 10000)
        if retries is not None:
            mapping.maximum_retry_attempts = retries
        age = _int(body, "MaximumRecordAgeInSeconds", -1, 604800)
        if age is not None:
            if -1 < age < 60:
                raise _validation(age, "maximumRecordAgeInSeconds", "Member must have value greater than or equal to 60")
            mapping.maximum_record_age_in_seconds = age
        factor = _int(body, "ParallelizationFactor", 1, 10)
        if factor is not None:
            mapping.parallelization_factor = factor
        _int(body, "TumblingWindowInSeconds", 0, 900)
    if "DestinationConfig" in body:
        mapping.destination_config = _destination_config(caller, kind, body["DestinationConfig"])
    if "ScalingConfig" in body:
        mapping.scaling_config = _scaling_config(kind, body["ScalingConfig"])
    if kind == RABBITMQ:
        if creating or "Queues" in body:
            queues = body.get("Queues")
            if not isinstance(queues, list) or len(queues) != 1 or not isinstance(queues[0], str) or not queues[0]:
                raise InvalidParameterValueException("Queues must name exactly one queue.")
            mapping.queues = queues
        if "SourceAccessConfigurations" in body:
            mapping.source_access_configurations = _access_configurations(body["SourceAccessConfigurations"])
            url = _broker_url(body["SourceAccessConfigurations"])
            if url:
                mapping.source_url = url
    elif body.get("Queues") is not None:
        raise _unsupported("Queues")
    elif body.get("SourceAccessConfigurations"):
        raise _unsupported("SourceAccessConfigurations")


def _duplicate(mapping: EventSourceMapping) -> None:
    existing = (
        EventSourceMapping.objects.filter(
            event_source_arn=mapping.event_source_arn, function=mapping.function, qualifier=mapping.qualifier
        )
        .exclude(pk=mapping.pk)
        .values_list("uuid", flat=True)
        .first()
    )
    if existing is None:
        return
    fn = arn_of(mapping.function, mapping.qualifier or None)
    if mapping.source_kind == SQS:
        message = (
            f'An event source mapping with SQS arn (" {mapping.event_source_arn} ") and function (" {fn} ") '
            f"already exists. Please update or delete the existing mapping with UUID {existing}"
        )
    else:
        message = (
            f"The event source arn (\" {mapping.event_source_arn} \") and function (\" {fn} \") provided mapping "
            f"already exists. Please update or delete the existing mapping with UUID {existing}"
        )
    raise ResourceConflictException(message)


# --- the operations --------------------------------------------------------------------------------


_LOGGED = ("function_id", "qualifier", "enabled", "batch_size", "maximum_batching_window_in_seconds",
           "filter_criteria", "function_response_types", "destination_config", "scaling_config")  # fmt: skip


def _logged(mapping: EventSourceMapping) -> dict[str, Any]:
    return {name: getattr(mapping, name) for name in _LOGGED}


def create_event_source_mapping(*, caller: Caller, body: dict[str, Any]) -> EventSourceMapping:
    """CreateEventSourceMapping in the caller's account."""
    check_account(caller, "lambda:CreateEventSourceMapping")
    source = parse_source(body.get("EventSourceArn"), body, account=caller.account_id)
    function, qualifier = _resolve_function(caller, body.get("FunctionName"))
    enabled = _bool(body, "Enabled")
    mapping = EventSourceMapping(
        uuid=str(uuid.uuid4()),
        team_id=caller.team_id,
        function=function,
        qualifier=qualifier,
        source_kind=source.kind,
        event_source_arn=source.arn,
        source_url=source.url,
        enabled=True if enabled is None else enabled,
        state=STATE.CREATING,
        state_transition_reason=_reason(source.kind),
        created_by_id=caller.user_id,
        last_modified=timezone.now(),
    )
    _apply(caller, mapping, body, creating=True)
    if source.kind == RABBITMQ and "SourceAccessConfigurations" in body:
        mapping.source_access_configurations = _access_configurations(body["SourceAccessConfigurations"])
    with transaction.atomic():
        _duplicate(mapping)
        mapping.save(force_insert=True)
        _record(caller, "lambda:CreateEventSourceMapping", mapping, {"event_source_arn": mapping.event_source_arn,
                                                                      **_logged(mapping)})  # fmt: skip
    return mapping


def _record(caller: Caller, action: str, mapping: EventSourceMapping, changes: dict[str, Any]) -> None:
    activity.record(caller=caller, action=action, team=mapping.team, function=mapping.function,
                    resource=mapping_arn(mapping), changes=changes)  # fmt: skip


def _reason(kind: str) -> str:
    return "USER_INITIATED" if kind == SQS else "User action"


def _not_found(mapping_uuid: str) -> ResourceNotFoundException:
    return ResourceNotFoundException("The resource you requested does not exist.")


def get_event_source_mapping(
    *, caller: Caller, mapping_uuid: str, action: str = "lambda:GetEventSourceMapping"
) -> EventSourceMapping:
    """A mapping of the caller's account; another account's is a 403 (mappings have no policy)."""
    mapping = (
        EventSourceMapping.objects.select_related("function__team", "team").filter(uuid=mapping_uuid).first()
    )  # fmt: skip
    if mapping is None:
        raise _not_found(mapping_uuid)
    check(caller, action, resource_account=mapping.team.account_id, resource=mapping_arn(mapping))
    return mapping


def update_event_source_mapping(*, caller: Caller, mapping_uuid: str, body: dict[str, Any]) -> EventSourceMapping:
    with transaction.atomic():
        mapping = get_event_source_mapping(
            caller=caller, mapping_uuid=mapping_uuid, action="lambda:UpdateEventSourceMapping"
        )
        before = _logged(mapping)
        if mapping.state == STATE.DELETING:
            raise ResourceInUseException(f"Cannot update the event source mapping because it is in use. (UUID {mapping_uuid})")
        if body.get("FunctionName") is not None:
            mapping.function, mapping.qualifier = _resolve_function(caller, body["FunctionName"])
            _duplicate(mapping)
        _apply(caller, mapping, body, creating=False)
        enabled = _bool(body, "Enabled")
        if enabled is not None and enabled != mapping.enabled:
            mapping.enabled = enabled
            mapping.state = STATE.ENABLING if enabled else STATE.DISABLING
        elif mapping.state not in (STATE.CREATING, STATE.ENABLING, STATE.DISABLING):
            mapping.state = STATE.UPDATING
        mapping.state_transition_reason = _reason(mapping.source_kind)
        mapping.last_modified = timezone.now()
        mapping.save()
        _record(caller, "lambda:UpdateEventSourceMapping", mapping, activity.diff(before, _logged(mapping)))
    return mapping


def delete_event_source_mapping(*, caller: Caller, mapping_uuid: str) -> EventSourceMapping:
    with transaction.atomic():
        mapping = get_event_source_mapping(
            caller=caller, mapping_uuid=mapping_uuid, action="lambda:DeleteEventSourceMapping"
        )
        mapping.state = STATE.DELETING
        mapping.state_transition_reason = _reason(mapping.source_kind)
        mapping.last_modified = timezone.now()
        EventSourceMapping.objects.filter(pk=mapping.pk).update(
            state=mapping.state, state_transition_reason=mapping.state_transition_reason, last_modified=mapping.last_modified
        )
        _record(caller, "lambda:DeleteEventSourceMapping", mapping, {"event_source_arn": mapping.event_source_arn})
    return mapping


def list_event_source_mappings(
    *, caller: Caller, event_source_arn: str | None, function_name: str | None, marker: str | None, max_items: int
) -> Page[EventSourceMapping]:
    """The mappings of the caller's account."""
    check_account(caller, "lambda:ListEventSourceMappings")
    rows = EventSourceMapping.objects.select_related("function__team", "team").filter(team_id=caller.team_id).order_by("id")
    if event_source_arn:
        rows = rows.filter(event_source_arn=event_source_arn)
    if function_name:
        ref = parse_control_function_name(function_name)
        rows = rows.filter(function__name=ref.name, function__team__account_id=ref.account or caller.account_id)
        if ref.qualifier is not None:
            rows = rows.filter(qualifier=ref.qualifier)
    return paginate(list(rows), marker=marker, max_items=max_items)


# --- output -----------------------------------------------------------------------------------------


def mapping_arn(mapping: EventSourceMapping) -> str:
    return f"arn:aws:lambda:{settings.LAMBDA_REGION}:{mapping.team.account_id}:event-source-mapping:{mapping.uuid}"


def to_output(mapping: EventSourceMapping) -> dict[str, Any]:
    """EventSourceMappingConfiguration as AWS renders it for the mapping's kind (spec §8.1)."""
    output: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.maximum_batching_window_in_seconds,
        "EventSourceArn": mapping.event_source_arn,
        "FunctionArn": arn_of(mapping.function, mapping.qualifier or None),
        "LastModified": mapping.last_modified.timestamp(),
        "State": mapping.state,
        "StateTransitionReason": mapping.state_transition_reason,
        "FunctionResponseTypes": list(mapping.function_response_types),
        "EventSourceMappingArn": mapping_arn(mapping),
    }
    if mapping.filter_criteria:
        output["FilterCriteria"] = mapping.filter_criteria
    if mapping.scaling_config:
        output["ScalingConfig"] = mapping.scaling_config
    if mapping.source_kind in STREAM_KINDS:
        output.update(
            StartingPosition=mapping.starting_position,
            ParallelizationFactor=mapping.parallelization_factor,
            MaximumRetryAttempts=mapping.maximum_retry_attempts,
            MaximumRecordAgeInSeconds=mapping.maximum_record_age_in_seconds,
            BisectBatchOnFunctionError=mapping.bisect_batch_on_function_error,
            TumblingWindowInSeconds=0,
            DestinationConfig=mapping.destination_config or {"OnFailure": {}},
            LastProcessingResult=mapping.last_processing_result,
        )
        if mapping.starting_position_timestamp is not None:
            output["StartingPositionTimestamp"] = mapping.starting_position_timestamp.timestamp()
    if mapping.source_kind == RABBITMQ:
        output["Queues"] = list(mapping.queues)
        output["SourceAccessConfigurations"] = list(mapping.source_access_configurations)
        output["LastProcessingResult"] = mapping.last_processing_result
    return output
