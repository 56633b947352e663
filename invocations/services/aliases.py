"""Aliases: a name for a version, optionally splitting traffic with one more version (spec §6.4)."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from invocations.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    PreconditionFailedException,
    ResourceConflictException,
    ValidationException,
    function_not_found,
)
from invocations import activity
from invocations.access import Caller, find_function
from invocations.arns import FunctionRef, arn_of, validation_message
from invocations.models import LATEST, Alias, Function, FunctionVersion, PolicyStatement, new_revision_id
from invocations.selectors import alias_of

ALIAS_PATTERN = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
VERSION_PATTERN = r"(\$LATEST|[0-9]+)"
ADDITIONAL_VERSION_PATTERN = r"[0-9]+"
MAX_ALIAS_NAME = 128
MAX_DESCRIPTION = 256

_UNSET: Any = object()


def _check_name(name: Any, errors: list[tuple[str, str, str]]) -> None:
    if not isinstance(name, str) or len(name) > MAX_ALIAS_NAME:
        errors.append((str(name), "name", f"Member must have length less than or equal to {MAX_ALIAS_NAME}"))
    elif not re.fullmatch(ALIAS_PATTERN, name):
        errors.append((name, "name", f"Member must satisfy regular expression pattern: {ALIAS_PATTERN}"))


def _check_version(version: Any, errors: list[tuple[str, str, str]]) -> None:
    if not isinstance(version, str) or not re.fullmatch(VERSION_PATTERN, version):
        errors.append((str(version), "functionVersion", f"Member must satisfy regular expression pattern: {VERSION_PATTERN}"))


def _check_description(description: Any, errors: list[tuple[str, str, str]]) -> None:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        errors.append(
            (str(description), "description", f"Member must have length less than or equal to {MAX_DESCRIPTION}")
        )


def _weights(routing_config: Any, errors: list[tuple[str, str, str]]) -> dict[str, float]:
    if routing_config is None:
        return {}
    if not isinstance(routing_config, dict):
        raise InvalidRequestContentException("Could not parse request body into json: RoutingConfig must be an object")
    weights = routing_config.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise InvalidRequestContentException(
            "Could not parse request body into json: RoutingConfig.AdditionalVersionWeights must be an object"
        )
    for version, weight in weights.items():
        if not re.fullmatch(ADDITIONAL_VERSION_PATTERN, str(version)):
            errors.append(
                (
                    str(version),
                    "routingConfig.additionalVersionWeights",
                    f"Map keys must satisfy constraint: [Member must satisfy regular expression pattern: {ADDITIONAL_VERSION_PATTERN}]",
                )
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InvalidRequestContentException(
                "Could not parse request body into json: AdditionalVersionWeights values must be numbers"
            )
        if not 0 <= weight <= 1:  # as given: float(10**400) overflows, and NaN is in no range
            constraint = (
                "Member must have value greater than or equal to 0.0"
                if weight < 0
                else "Member must have value less than or equal to 1.0"
            )
            errors.append(
                (str(weight), "routingConfig.additionalVersionWeights", f"Map value must satisfy constraint: [{constraint}]")
            )
    # Out-of-range weights are reported by the caller (ValidationException): convert only good ones.
    return {} if errors else {str(version): float(weight) for version, weight in weights.items()}


def _check_routing(function: Function, primary: str, weights: dict[str, float]) -> None:
    """Semantic checks of a routing configuration (after the model constraints passed)."""
    if not weights:
        return
    if len(weights) > 1:
        raise InvalidParameterValueException("Number of items in AdditionalVersionWeights cannot be greater than 1")
    if primary == LATEST:
        raise InvalidParameterValueException(
            "$LATEST is not supported for an alias pointing to more than 1 version"
        )
    (extra,) = weights
    if extra == primary:
        raise InvalidParameterValueException(
            f"Invalid function version {extra}. Function version {extra} is already included in routing configuration."
        )
    if not FunctionVersion.objects.filter(function=function, version=extra).exists():
        raise function_not_found(arn_of(function, extra))


def _require_version(function: Function, version: str) -> None:
    if not FunctionVersion.objects.filter(function=function, version=version).exists():
        raise function_not_found(arn_of(function, version))


def get_alias(*, caller: Caller, ref: FunctionRef, name: str) -> Alias:
    function = find_function(caller, FunctionRef(ref.name, name, ref.account), "lambda:GetAlias")
    return alias_of(function, name)


def create_alias(
    *,
    caller: Caller,
    ref: FunctionRef,
    name: Any,
    function_version: Any,
    description: Any = "",
    routing_config: Any = None,
) -> Alias:
    errors: list[tuple[str, str, str]] = []
    _check_name(name, errors)
    _check_version(function_version, errors)
    _check_description(description if description is not None else "", errors)
    weights = _weights(routing_config, errors)
    if errors:
        raise ValidationException(validation_message(errors))
    function = find_function(caller, ref, "lambda:CreateAlias", qualified=False)
    _require_version(function, function_version)
    _check_routing(function, function_version, weights)
    conflict = ResourceConflictException(f"Alias already exists: {arn_of(function, name)}")
    if Alias.objects.filter(function=function, name=name).exists():
        raise conflict
    try:
        with transaction.atomic():
            alias = Alias.objects.create(
                function=function,
                name=name,
                function_version=function_version,
                description=description or "",
                routing_config={"AdditionalVersionWeights": weights} if weights else {},
            )
            activity.record(caller=caller, action="lambda:CreateAlias", function=function, qualifier=name,
                            changes={"function_version": function_version, "weights": weights})  # fmt: skip
            return alias
    except IntegrityError:
        raise conflict from None


def update_alias(
    *,
    caller: Caller,
    ref: FunctionRef,
    name: str,
    function_version: Any = _UNSET,
    description: Any = _UNSET,
    routing_config: Any = _UNSET,
    revision_id: str | None = None,
) -> Alias:
    errors: list[tuple[str, str, str]] = []
    if function_version is not _UNSET and function_version is not None:
        _check_version(function_version, errors)
    if description is not _UNSET and description is not None:
        _check_description(description, errors)
    weights = _weights(routing_config, errors) if routing_config is not _UNSET else None
    if errors:
        raise ValidationException(validation_message(errors))
    function = find_function(caller, FunctionRef(ref.name, name, ref.account), "lambda:UpdateAlias")
    alias_of(function, name)  # 404 with AWS's message before anything else
    with transaction.atomic():
        alias = Alias.objects.select_for_update().select_related("function__team").get(function=function, name=name)
        before = {"function_version": alias.function_version, "description": alias.description,
                  "routing_config": alias.routing_config}  # fmt: skip
        if revision_id and revision_id != alias.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias "
                "API to retrieve the latest Revision Id"
            )
        if function_version is not _UNSET and function_version is not None:
            _require_version(alias.function, function_version)
            alias.function_version = function_version
        if description is not _UNSET and description is not None:
            alias.description = description
        if weights is not None:
            alias.routing_config = {"AdditionalVersionWeights": weights} if weights else {}
        current = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        _check_routing(alias.function, alias.function_version, current)
        alias.revision_id = new_revision_id()
        alias.save()
        after = {"function_version": alias.function_version, "description": alias.description,
                 "routing_config": alias.routing_config}  # fmt: skip
        activity.record(caller=caller, action="lambda:UpdateAlias", function=function, qualifier=name,
                        changes=activity.diff(before, after))  # fmt: skip
    return alias


def delete_alias(*, caller: Caller, ref: FunctionRef, name: str) -> None:
    """DeleteAlias answers 204 even when the alias does not exist (the function must). The alias's
    policy goes with it."""
    function = find_function(caller, FunctionRef(ref.name, name, ref.account), "lambda:DeleteAlias")
    with transaction.atomic():
        deleted, _ = Alias.objects.filter(function=function, name=name).delete()
        if deleted:
            PolicyStatement.objects.filter(function=function, qualifier=name).delete()
            activity.record(caller=caller, action="lambda:DeleteAlias", function=function, qualifier=name)
