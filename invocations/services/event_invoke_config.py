"""Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s) (spec §5.1), and the config an event uses.

A config belongs to a function and a qualifier as the caller named it (``$LATEST`` when
unqualified, a version number or an alias name) — and an Event invocation uses the config of the
qualifier it was invoked with, as AWS does.

Choices where AWS is unverified: ``UpdateFunctionEventInvokeConfig`` on a qualifier without a
config is the same 404 as Get; Update merges ``OnSuccess`` and ``OnFailure`` separately (a member
left out keeps its destination; ``{}`` clears it); members never set are left out of the output
(AWS's example output shows the ones that were set). S3 destinations are refused (this platform
cannot write S3 objects). HTTP(S) webhook URLs are accepted as destinations (beyond AWS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from invocations import activity, destinations, retry_policy
from invocations.access import Caller, find_function
from invocations.arns import FunctionRef, arn_of, parse_function_name, validation_message
from invocations.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)
from invocations.models import LATEST, EventInvokeConfig, Function
from invocations.selectors import Page, function_version, paginate, version_of

MAX_RETRY_ATTEMPTS: Final = 2
MIN_EVENT_AGE: Final = 60
MAX_EVENT_AGE: Final = 21600
DESTINATION_MAX_LENGTH: Final = 350
_ABSENT: Final = object()


@dataclass(frozen=True)
class ConfigInput:
    """The request body members; ``_ABSENT`` for the ones the caller left out."""

    maximum_retry_attempts: Any = _ABSENT
    maximum_event_age_in_seconds: Any = _ABSENT
    destination_config: Any = _ABSENT

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ConfigInput:
        return cls(
            maximum_retry_attempts=body.get("MaximumRetryAttempts", _ABSENT),
            maximum_event_age_in_seconds=body.get("MaximumEventAgeInSeconds", _ABSENT),
            destination_config=body.get("DestinationConfig", _ABSENT),
        )

    def is_empty(self) -> bool:
        return all(v is _ABSENT or v is None for v in vars(self).values())


def _int_in_range(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValueException(f"{field} must be an integer.")
    if value > high:
        constraint = f"Member must have value less than or equal to {high}"
    elif value < low:
        constraint = f"Member must have value greater than or equal to {low}"
    else:
        return value
    raise ValidationException(validation_message([(str(value), field, constraint)]))


def _destination(config: dict[str, Any], member: str) -> str | None:
    """The Destination of OnSuccess/OnFailure: None when the member is absent, "" when cleared."""
    if member not in config or config[member] is None:
        return None
    entry = config[member]
    if not isinstance(entry, dict):
        raise InvalidParameterValueException(f"DestinationConfig.{member} must be an object.")
    value = entry.get("Destination") or ""
    if not isinstance(value, str):
        raise InvalidParameterValueException(f"DestinationConfig.{member}.Destination must be a string.")
    if len(value) > DESTINATION_MAX_LENGTH:
        field = f"destinationConfig.{member[0].lower()}{member[1:]}.destination"
        constraint = f"Member must have length less than or equal to {DESTINATION_MAX_LENGTH}"
        raise ValidationException(validation_message([(value, field, constraint)]))
    return value


def _config_text(on_success: str, on_failure: str) -> str:
    success = f"OnSuccess(destination={on_success})" if on_success else "null"
    failure = f"OnFailure(destination={on_failure})" if on_failure else "null"
    return f"DestinationConfig(onSuccess={success}, onFailure={failure})"


def _check_destinations(caller: Caller, function: Function, on_success: str, on_failure: str) -> None:
    """Each destination must be deliverable; a function destination must be one the caller may
    invoke — their own team's by role, another team's only where its policy allows."""
    for destination in (on_success, on_failure):
        if not destination:
            continue
        target = destinations.parse(destination)
        if target.kind is None:
            raise InvalidParameterValueException(
                f"The provided destination config {_config_text(on_success, on_failure)} is invalid."
            )
        if target.kind == destinations.LAMBDA:
            try:
                ref = parse_function_name(destination)
            except Exception:
                raise InvalidParameterValueException(f"The destination ARN {destination} is invalid.") from None
            if ref.name == function.name and ref.account in (None, function.team.account_id):
                raise InvalidParameterValueException("You can't specify the function as a destination for itself.")
            try:
                function_version(caller=caller, ref=ref, action="lambda:InvokeFunction")
            except ResourceNotFoundException:
                raise InvalidParameterValueException(f"The destination ARN {destination} is invalid.") from None
            except AccessDeniedException as denied:
                raise AccessDeniedException(f"{denied.message} (destination {destination})") from None


def _qualified(caller: Caller, ref: FunctionRef, action: str) -> tuple[Function, str]:
    """The function and the qualifier a config is stored under; 404 when either does not exist."""
    version = version_of(find_function(caller, ref, action), ref.qualifier)
    return version.function, ref.qualifier or LATEST


def _apply(config: EventInvokeConfig, given: ConfigInput, *, replace: bool) -> None:
    if given.maximum_retry_attempts is not _ABSENT and given.maximum_retry_attempts is not None:
        config.maximum_retry_attempts = _int_in_range(
            given.maximum_retry_attempts, "maximumRetryAttempts", 0, MAX_RETRY_ATTEMPTS
        )
    elif replace:
        config.maximum_retry_attempts = None
    if given.maximum_event_age_in_seconds is not _ABSENT and given.maximum_event_age_in_seconds is not None:
        config.maximum_event_age_in_seconds = _int_in_range(
            given.maximum_event_age_in_seconds, "maximumEventAgeInSeconds", MIN_EVENT_AGE, MAX_EVENT_AGE
        )
    elif replace:
        config.maximum_event_age_in_seconds = None
    raw = given.destination_config
    if raw is _ABSENT or raw is None:
        if replace:
            config.on_success_destination = config.on_failure_destination = ""
        return
    if not isinstance(raw, dict):
        raise InvalidParameterValueException("DestinationConfig must be an object.")
    on_success = _destination(raw, "OnSuccess")
    on_failure = _destination(raw, "OnFailure")
    if replace or on_success is not None:
        config.on_success_destination = on_success or ""
    if replace or on_failure is not None:
        config.on_failure_destination = on_failure or ""


def _not_configured(function: Function, qualifier: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The function {arn_of(function, qualifier)} doesn't have an EventInvokeConfig")


_LOGGED = ("maximum_retry_attempts", "maximum_event_age_in_seconds", "on_success_destination", "on_failure_destination")


def put_function_event_invoke_config(
    *, caller: Caller, ref: FunctionRef, given: ConfigInput, merge: bool = False
) -> EventInvokeConfig:
    """Put (replace everything) or, with ``merge``, Update (change only the given members)."""
    action = "lambda:UpdateFunctionEventInvokeConfig" if merge else "lambda:PutFunctionEventInvokeConfig"
    function, stored_qualifier = _qualified(caller, ref, action)
    if given.is_empty():
        raise InvalidParameterValueException("You must specify at least one of error handling or destination setting.")
    config = EventInvokeConfig.objects.filter(function=function, qualifier=stored_qualifier).first()
    if merge and config is None:
        raise _not_configured(function, stored_qualifier)
    config = config or EventInvokeConfig(function=function, qualifier=stored_qualifier)
    before = {name: getattr(config, name) for name in _LOGGED} if config.pk else {}
    _apply(config, given, replace=not merge)
    _check_destinations(caller, function, config.on_success_destination, config.on_failure_destination)
    config.last_modified = timezone.now()
    with transaction.atomic():
        config.save()
        activity.record(caller=caller, action=action, function=function, qualifier=stored_qualifier,
                        changes=activity.diff(before, {name: getattr(config, name) for name in _LOGGED}))  # fmt: skip
    return config


def get_function_event_invoke_config(
    *, caller: Caller, ref: FunctionRef, action: str = "lambda:GetFunctionEventInvokeConfig"
) -> EventInvokeConfig:
    function, stored_qualifier = _qualified(caller, ref, action)
    config = EventInvokeConfig.objects.select_related("function__team").filter(
        function=function, qualifier=stored_qualifier
    ).first()
    if config is None:
        raise _not_configured(function, stored_qualifier)
    return config


def delete_function_event_invoke_config(*, caller: Caller, ref: FunctionRef) -> None:
    config = get_function_event_invoke_config(caller=caller, ref=ref, action="lambda:DeleteFunctionEventInvokeConfig")
    with transaction.atomic():
        config.delete()
        activity.record(caller=caller, action="lambda:DeleteFunctionEventInvokeConfig", function=config.function,
                        qualifier=config.qualifier)  # fmt: skip


def list_function_event_invoke_configs(
    *, caller: Caller, ref: FunctionRef, marker: str | None, max_items: int
) -> Page[EventInvokeConfig]:
    function = find_function(caller, ref, "lambda:ListFunctionEventInvokeConfigs", qualified=False)
    rows = list(EventInvokeConfig.objects.select_related("function__team").filter(function=function).order_by("qualifier"))
    return paginate(rows, marker=marker, max_items=max_items)


def to_output(config: EventInvokeConfig) -> dict[str, Any]:
    """The FunctionEventInvokeConfig shape: epoch LastModified, qualified FunctionArn, {} destinations."""
    output: dict[str, Any] = {
        "LastModified": round(config.last_modified.timestamp(), 3),
        "FunctionArn": arn_of(config.function, config.qualifier),
    }
    if config.maximum_retry_attempts is not None:
        output["MaximumRetryAttempts"] = config.maximum_retry_attempts
    if config.maximum_event_age_in_seconds is not None:
        output["MaximumEventAgeInSeconds"] = config.maximum_event_age_in_seconds
    on_success = {"Destination": config.on_success_destination} if config.on_success_destination else {}
    on_failure = {"Destination": config.on_failure_destination} if config.on_failure_destination else {}
    output["DestinationConfig"] = {"OnSuccess": on_success, "OnFailure": on_failure}
    return output


def config_for(*, function_id: int | None, qualifier: str) -> EventInvokeConfig | None:
    """The config an event invoked with ``qualifier`` ("" = unqualified) is governed by."""
    if function_id is None:
        return None
    return EventInvokeConfig.objects.filter(function_id=function_id, qualifier=qualifier or LATEST).first()


def retry_config(config: EventInvokeConfig | None) -> retry_policy.RetryConfig:
    base = float(settings.LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS)
    if config is None:
        return retry_policy.RetryConfig(base_delay_seconds=base)
    return retry_policy.RetryConfig(
        maximum_retry_attempts=(
            retry_policy.DEFAULT_MAXIMUM_RETRY_ATTEMPTS
            if config.maximum_retry_attempts is None
            else config.maximum_retry_attempts
        ),
        maximum_event_age_seconds=(
            retry_policy.DEFAULT_MAXIMUM_EVENT_AGE_SECONDS
            if config.maximum_event_age_in_seconds is None
            else config.maximum_event_age_in_seconds
        ),
        base_delay_seconds=base,
    )
