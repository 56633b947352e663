"""The read side: finding functions, versions and aliases the way AWS resolves them (spec §3.1),
for a caller who may read them (``access.find_function``).

Every miss raises the AWS error with AWS's message, so callers (API views, the invoke service, the
console) can let it propagate.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db.models import IntegerField, QuerySet
from django.db.models.functions import Cast

from invocations.access import Caller, check, check_account, check_function, find_function
from invocations.arns import FunctionRef, arn_of, function_arn, parse_function_name, validation_message
from invocations.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
    function_not_found,
)
from invocations.models import LATEST, Alias, Function, FunctionVersion, Invocation

# The control plane's FunctionName (botocore shape `FunctionName`): no "." and at most 140 characters,
# unlike Invoke's `NamespacedFunctionName`.
CONTROL_FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
CONTROL_FUNCTION_NAME_MAX = 140
_VERSION_NUMBER = re.compile(r"^[0-9]+$")

T = TypeVar("T")


def parse_control_function_name(value: str, *, qualifier: str | None = None) -> FunctionRef:
    """`parse_function_name` with the control plane's tighter FunctionName shape."""
    if not isinstance(value, str) or len(value) > CONTROL_FUNCTION_NAME_MAX or "." in value:
        constraint = (
            f"Member must have length less than or equal to {CONTROL_FUNCTION_NAME_MAX}"
            if isinstance(value, str) and len(value) > CONTROL_FUNCTION_NAME_MAX
            else f"Member must satisfy regular expression pattern: {CONTROL_FUNCTION_NAME_PATTERN}"
        )
        raise ValidationException(validation_message([(str(value), "functionName", constraint)]))
    return parse_function_name(value, qualifier=qualifier, max_length=CONTROL_FUNCTION_NAME_MAX)


def resolve_qualifier(function: Function, qualifier: str | None) -> str:
    """The version a qualifier names: None/$LATEST, a number, or an alias (its primary version)."""
    if qualifier is None or qualifier == LATEST or _VERSION_NUMBER.match(qualifier):
        return qualifier or LATEST
    alias = Alias.objects.filter(function=function, name=qualifier).values_list("function_version", flat=True)
    version = alias.first()
    if version is None:
        raise function_not_found(arn_of(function, qualifier))
    return version


def version_of(function: Function, qualifier: str | None = None) -> FunctionVersion:
    """The configuration `qualifier` designates; 404 "Function not found: <arn>" otherwise.

    The ARN in the message is qualified when a qualifier was given, as AWS reports it.
    """
    version = resolve_qualifier(function, qualifier)
    found = (
        FunctionVersion.objects.select_related("function__team").filter(function=function, version=version).first()
    )
    if found is None:
        raise function_not_found(arn_of(function, qualifier))
    return found


def function_version(*, caller: Caller, ref: FunctionRef, action: str) -> FunctionVersion:
    """The version ``ref`` designates, once ``caller`` may do ``action`` on it."""
    return version_of(find_function(caller, ref, action), ref.qualifier)


def get_latest(function: Function) -> FunctionVersion:
    return FunctionVersion.objects.select_related("function__team").get(function=function, version=LATEST)


def alias_of(function: Function, alias_name: str) -> Alias:
    alias = Alias.objects.select_related("function__team").filter(function=function, name=alias_name).first()
    if alias is None:
        raise ResourceNotFoundException(f"Cannot find alias arn: {arn_of(function, alias_name)}")
    return alias


def published_versions(function: Function) -> QuerySet[FunctionVersion]:
    """Published versions, oldest first (numeric order: "10" after "9")."""
    rows = FunctionVersion.objects.filter(function=function).exclude(version=LATEST)
    return rows.select_related("function__team").annotate(number=Cast("version", IntegerField())).order_by("number")


# --- pagination --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_marker: str | None


def encode_marker(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_marker(marker: str | None) -> int:
    """Markers are opaque to clients; ours carry an offset. A forged one is a 400, never a 500."""
    if not marker:
        return 0
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
        prefix, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidParameterValueException(f"Invalid marker: {marker}") from None
    if prefix != "offset" or offset < 0:
        raise InvalidParameterValueException(f"Invalid marker: {marker}")
    return offset


def paginate(items: list[T], *, marker: str | None, max_items: int) -> Page[T]:
    start = decode_marker(marker)
    page = items[start : start + max_items]
    end = start + len(page)
    return Page(items=page, next_marker=encode_marker(end) if end < len(items) else None)


def list_functions(*, caller: Caller, all_versions: bool, marker: str | None, max_items: int) -> Page[FunctionVersion]:
    """$LATEST of every function of the caller's account by name; with FunctionVersion=ALL, each
    function's versions too."""
    check_account(caller, "lambda:ListFunctions")
    own = FunctionVersion.objects.select_related("function__team").filter(function__team_id=caller.team_id)
    latest = list(own.filter(version=LATEST).order_by("function__name"))
    if not all_versions:
        return paginate(latest, marker=marker, max_items=max_items)
    rows: list[FunctionVersion] = []
    published: dict[int, list[FunctionVersion]] = {}
    for version in own.exclude(version=LATEST):
        published.setdefault(version.function_id, []).append(version)
    for entry in latest:
        rows.append(entry)
        rows.extend(sorted(published.get(entry.function_id, []), key=lambda v: int(v.version)))
    return paginate(rows, marker=marker, max_items=max_items)


def list_versions(*, caller: Caller, ref: FunctionRef, marker: str | None, max_items: int) -> Page[FunctionVersion]:
    function = find_function(caller, ref, "lambda:ListVersionsByFunction", qualified=False)
    rows = [get_latest(function), *published_versions(function)]
    return paginate(rows, marker=marker, max_items=max_items)


def list_aliases(
    *, caller: Caller, ref: FunctionRef, function_version: str | None, marker: str | None, max_items: int
) -> Page[Alias]:
    function = find_function(caller, ref, "lambda:ListAliases", qualified=False)
    aliases = Alias.objects.select_related("function__team").filter(function=function).order_by("name")
    if function_version:
        aliases = aliases.filter(function_version=function_version)
    return paginate(list(aliases), marker=marker, max_items=max_items)


# --- invocation records -------------------------------------------------------------------------------


def invocation_for(*, caller: Caller, request_id: str, action: str = "lambda:GetInvocation") -> Invocation:
    """One record, for a caller who may read its function's records (``action``).

    A record the caller may not read is reported missing, like one that does not exist: request ids
    are not names a caller should be able to probe across accounts. A deleted function's records
    stay its account's (read by role: no policy outlives the function) and superusers'.
    """
    found = Invocation.objects.select_related("function__team").filter(request_id=request_id).first()
    missing = ResourceNotFoundException(f"Invocation not found: {request_id}")
    if found is None:
        raise missing
    try:
        if found.function is not None:
            check_function(caller, action, found.function)
        elif not found.account_id:
            if not caller.principal.superuser:
                raise missing
        else:
            check(caller, action, resource_account=found.account_id,
                  resource=function_arn(found.function_name, account=found.account_id))  # fmt: skip
    except AccessDeniedException:
        raise missing from None
    return found


def deleted_function_records(*, caller: Caller, name: str, action: str = "lambda:ListInvocations") -> QuerySet[Invocation]:
    """The records of the caller's account's deleted functions called ``name`` (every function of
    that name that existed: a new function of the same name has its own, live records)."""
    check_account(caller, action, resource=function_arn(name, account=caller.account_id))
    return Invocation.objects.filter(account_id=caller.account_id, function_name=name, function=None)
