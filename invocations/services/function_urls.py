"""Function URL configs (spec §7.1): Create/Get/Update/Delete/ListFunctionUrlConfig(s), and the
links a URL answers on.

Read helpers for the console (see README.md, "Function URLs"):
``url_configs(function_name=…)``, ``get_url_config(function_name=…, qualifier=…)`` and
``links(config, request_host=…)`` → ``UrlLinks(function_url, path_url, curl)``. The console can
create/update/delete with the same services the API uses.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from invocations.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
    function_not_found,
)
from invocations import activity
from invocations.access import Caller, find_function
from invocations.arns import arn_of, aws_timestamp, validation_message
from invocations.models import Alias, Function, FunctionUrlConfig
from invocations.selectors import paginate, parse_control_function_name, Page
from invocations.urls_function.routing import host_form_url, path_form_url, split_host

AUTH_TYPES: Final = ("AWS_IAM", "NONE")
INVOKE_MODES: Final = ("BUFFERED", "RESPONSE_STREAM")
URL_QUALIFIER_PATTERN: Final = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
_URL_QUALIFIER_RE = re.compile(r"^(?!\d+$)[0-9a-zA-Z_-]+$")
_URL_ID_ALPHABET = string.ascii_lowercase + string.digits
CORS_LIST_LIMITS: Final = {"AllowHeaders": (100, 1024), "AllowMethods": (6, 6), "AllowOrigins": (100, 253),
                           "ExposeHeaders": (100, 1024)}
NOT_FOUND_MESSAGE: Final = "The resource you requested does not exist."


def new_url_id() -> str:
    """32 characters of [0-9a-z], as AWS's url-ids (spec §7.1)."""
    return "".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(32))


# --- validation ------------------------------------------------------------------------------------


def _function_and_qualifier(
    caller: Caller, function_name: str, qualifier: str | None, action: str
) -> tuple[Function, str]:
    """The function and the URL's qualifier ("" = unqualified); only alias names qualify a URL."""
    ref = parse_control_function_name(function_name, qualifier=qualifier)
    if ref.qualifier is not None and not _URL_QUALIFIER_RE.match(ref.qualifier):
        raise ValidationException(validation_message(
            [(ref.qualifier, "qualifier", f"Member must satisfy regular expression pattern: {URL_QUALIFIER_PATTERN}")]
        ))
    function = find_function(caller, ref, action)
    if ref.qualifier and not Alias.objects.filter(function=function, name=ref.qualifier).exists():
        raise function_not_found(arn_of(function, ref.qualifier))
    return function, ref.qualifier or ""


def _enum(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationException(validation_message(
            [(str(value), field, f"Member must satisfy enum value set: [{', '.join(allowed)}]")]
        ))
    return str(value)


def clean_cors(cors: Any) -> dict[str, Any]:
    """The Cors structure, checked against the model's limits; {} means none."""
    if cors is None:
        return {}
    if not isinstance(cors, dict):
        raise InvalidParameterValueException("Cors must be an object.")
    unknown = set(cors) - {"AllowCredentials", "MaxAge", *CORS_LIST_LIMITS}
    if unknown:
        raise InvalidParameterValueException(f"Unknown Cors fields: {', '.join(sorted(unknown))}")
    errors: list[tuple[str, str, str]] = []
    cleaned: dict[str, Any] = {}
    for name, (max_items, max_length) in CORS_LIST_LIMITS.items():
        if name not in cors:
            continue
        values = cors[name]
        field = "cors." + name[0].lower() + name[1:]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidParameterValueException(f"Cors.{name} must be a list of strings.")
        if len(values) > max_items:
            errors.append((str(values), field, f"Member must have length less than or equal to {max_items}"))
        for value in values:
            if len(value) > max_length:
                errors.append((value, field, f"Member must have length less than or equal to {max_length}"))
        cleaned[name] = values
    if "AllowCredentials" in cors:
        if not isinstance(cors["AllowCredentials"], bool):
            raise InvalidParameterValueException("Cors.AllowCredentials must be a boolean.")
        cleaned["AllowCredentials"] = cors["AllowCredentials"]
    if "MaxAge" in cors:
        age = cors["MaxAge"]
        if not isinstance(age, int) or isinstance(age, bool):
            raise InvalidParameterValueException("Cors.MaxAge must be an integer.")
        if not 0 <= age <= 86400:
            constraint = "Member must have value less than or equal to 86400" if age > 0 else \
                "Member must have value greater than or equal to 0"
            errors.append((str(age), "cors.maxAge", constraint))
        cleaned["MaxAge"] = age
    if errors:
        raise ValidationException(validation_message(errors))
    return cleaned


# --- rendering and links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UrlLinks:
    function_url: str  # http://<url-id>.lambda-url.<region>.<domain>:<port>/
    path_url: str  # http://<host>:<port>/lambda-url/<url-id>/ (for clients that do not resolve *.localhost)
    curl: str  # a ready command line (signed with --aws-sigv4 for AWS_IAM)


def _port(request_host: str | None) -> int | None:
    if settings.FUNCTION_URL_PORT:
        return settings.FUNCTION_URL_PORT
    return split_host(request_host)[1] if request_host else None


def function_url(config: FunctionUrlConfig, *, request_host: str | None) -> str:
    return host_form_url(url_id=config.url_id, region=settings.LAMBDA_REGION, domain=settings.FUNCTION_URL_DOMAIN,
                         scheme=settings.FUNCTION_URL_SCHEME, port=_port(request_host))


def links(config: FunctionUrlConfig, *, request_host: str) -> UrlLinks:
    """The URL in both forms and a curl line, for the host the user reached the server on."""
    host, _ = split_host(request_host)
    host = host.strip("[]")
    url = function_url(config, request_host=request_host)
    path_url = path_form_url(url_id=config.url_id, host=host, scheme=settings.FUNCTION_URL_SCHEME,
                             port=_port(request_host))
    if config.auth_type == "AWS_IAM":
        curl = (f"curl --aws-sigv4 'aws:amz:{settings.LAMBDA_REGION}:lambda' "
                f"--user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" {url}")
    else:
        curl = f"curl {url}"
    return UrlLinks(function_url=url, path_url=path_url, curl=curl)


def render(config: FunctionUrlConfig, *, request_host: str | None, last_modified: bool = True) -> dict[str, Any]:
    """FunctionUrlConfig as Create (without LastModifiedTime), Get, Update and List return it."""
    data: dict[str, Any] = {
        "FunctionUrl": function_url(config, request_host=request_host),
        "FunctionArn": arn_of(config.function, config.qualifier or None),
        "AuthType": config.auth_type,
    }
    if config.cors:
        data["Cors"] = config.cors
    data["CreationTime"] = aws_timestamp(config.creation_time)
    if last_modified:
        data["LastModifiedTime"] = aws_timestamp(config.last_modified_time)
    data["InvokeMode"] = config.invoke_mode
    return data


# --- the operations --------------------------------------------------------------------------------


def create_function_url_config(
    *, caller: Caller, function_name: str, qualifier: str | None, auth_type: Any, cors: Any = None,
    invoke_mode: Any = None,
) -> FunctionUrlConfig:  # fmt: skip
    """CreateFunctionUrlConfig. A ``NONE`` URL answers only once the function's policy allows the
    public in (AddPermission, or the console's two statements), as on AWS since October 2025."""
    function, url_qualifier = _function_and_qualifier(caller, function_name, qualifier, "lambda:CreateFunctionUrlConfig")
    auth = _enum(auth_type, "authType", AUTH_TYPES)
    mode = _enum(invoke_mode or "BUFFERED", "invokeMode", INVOKE_MODES)
    cleaned = clean_cors(cors)
    arn = arn_of(function, url_qualifier or None)
    conflict = ResourceConflictException(
        f"Failed to create function url config for [functionArn = {arn}]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function"
    )
    if FunctionUrlConfig.objects.filter(function=function, qualifier=url_qualifier).exists():
        raise conflict
    now = timezone.now()
    try:
        with transaction.atomic():
            config = FunctionUrlConfig.objects.create(
                function=function, qualifier=url_qualifier, url_id=new_url_id(), auth_type=auth, cors=cleaned,
                invoke_mode=mode, creation_time=now, last_modified_time=now,
            )  # fmt: skip
            activity.record(caller=caller, action="lambda:CreateFunctionUrlConfig", function=function,
                            qualifier=url_qualifier or None,
                            changes={"auth_type": auth, "invoke_mode": mode, "cors": cleaned})  # fmt: skip
            return config
    except IntegrityError:
        raise conflict from None


def get_url_config(
    *, caller: Caller, function_name: str, qualifier: str | None, action: str = "lambda:GetFunctionUrlConfig"
) -> FunctionUrlConfig:
    function, url_qualifier = _function_and_qualifier(caller, function_name, qualifier, action)
    config = FunctionUrlConfig.objects.select_related("function__team").filter(
        function=function, qualifier=url_qualifier
    ).first()
    if config is None:
        raise ResourceNotFoundException(NOT_FOUND_MESSAGE)
    return config


def update_function_url_config(
    *, caller: Caller, function_name: str, qualifier: str | None, auth_type: Any = None, cors: Any = None,
    invoke_mode: Any = None,
) -> FunctionUrlConfig:  # fmt: skip
    """Only the fields given change (Cors as a whole)."""
    config = get_url_config(caller=caller, function_name=function_name, qualifier=qualifier,
                            action="lambda:UpdateFunctionUrlConfig")  # fmt: skip
    before = {"auth_type": config.auth_type, "invoke_mode": config.invoke_mode, "cors": config.cors}
    if auth_type is not None:
        config.auth_type = _enum(auth_type, "authType", AUTH_TYPES)
    if invoke_mode is not None:
        config.invoke_mode = _enum(invoke_mode, "invokeMode", INVOKE_MODES)
    if cors is not None:
        config.cors = clean_cors(cors)
    config.last_modified_time = timezone.now()
    with transaction.atomic():
        config.save(update_fields=["auth_type", "invoke_mode", "cors", "last_modified_time"])
        after = {"auth_type": config.auth_type, "invoke_mode": config.invoke_mode, "cors": config.cors}
        activity.record(caller=caller, action="lambda:UpdateFunctionUrlConfig", function=config.function,
                        qualifier=config.qualifier or None, changes=activity.diff(before, after))  # fmt: skip
    return config


def delete_function_url_config(*, caller: Caller, function_name: str, qualifier: str | None) -> None:
    config = get_url_config(caller=caller, function_name=function_name, qualifier=qualifier,
                            action="lambda:DeleteFunctionUrlConfig")  # fmt: skip
    with transaction.atomic():
        config.delete()
        activity.record(caller=caller, action="lambda:DeleteFunctionUrlConfig", function=config.function,
                        qualifier=config.qualifier or None)  # fmt: skip


def url_configs(*, caller: Caller, function_name: str) -> list[FunctionUrlConfig]:
    """The function's URL configs, unqualified first, then by alias name."""
    ref = parse_control_function_name(function_name)
    function = find_function(caller, ref, "lambda:ListFunctionUrlConfigs", qualified=False)
    return list(FunctionUrlConfig.objects.select_related("function__team").filter(function=function)
                .order_by("qualifier", "id"))


def list_function_url_configs(
    *, caller: Caller, function_name: str, marker: str | None, max_items: int
) -> Page[FunctionUrlConfig]:
    return paginate(url_configs(caller=caller, function_name=function_name), marker=marker, max_items=max_items)


def config_for_url_id(url_id: str) -> FunctionUrlConfig | None:
    return FunctionUrlConfig.objects.select_related("function__team").filter(url_id=url_id).first()
