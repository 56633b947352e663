"""Function names, qualifiers and ARNs: parsing the forms AWS accepts and formatting ARNs (spec §3.1)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from invocations.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)

LATEST = "$LATEST"

# botocore model patterns (Invoke's FunctionName also allows "."; the control plane's does not).
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
QUALIFIER_PATTERN = r"(|[a-zA-Z0-9$_-]+)"
_FUNCTION_RE = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9-_\.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?$"
)
_QUALIFIER_RE = re.compile(r"^(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_$]+)$")


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None  # None = unqualified ($LATEST for invocation)
    account: str | None = None  # from an ARN; None = a bare name, looked up in the caller's own team


def validation_message(errors: list[tuple[str, str, str]]) -> str:
    """AWS's ValidationException text for (value, field, constraint) triples."""
    parts = [f"Value '{value}' at '{field}' failed to satisfy constraint: {constraint}" for value, field, constraint in errors]
    count = len(parts)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(parts)


def parse_function_name(
    value: str, *, qualifier: str | None = None, field: str = "functionName", max_length: int = 256
) -> FunctionRef:
    """Accept name, name:qualifier, partial ARN and full ARN; check region and qualifier. The account
    is kept: which team it names, and whether the caller may reach it, is access.py's to judge."""
    match = _FUNCTION_RE.match(value) if 1 <= len(value) <= max_length else None
    if match is None:
        constraint = (
            f"Member must have length less than or equal to {max_length}"
            if len(value) > max_length
            else f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
        )
        raise ValidationException(validation_message([(value, field, constraint)]))
    region = match.group("region")
    if region and region != settings.LAMBDA_REGION:
        raise ResourceNotFoundException(
            f"Functions from '{region}' are not reachable in this region ('{settings.LAMBDA_REGION}')"
        )
    account = match.group("account")
    derived = match.group("qualifier")
    if qualifier is not None and qualifier != "":
        if not _QUALIFIER_RE.match(qualifier) or len(qualifier) > 128:
            raise ValidationException(
                validation_message(
                    [(qualifier, "qualifier", f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}")]
                )
            )
        if derived and derived != qualifier:
            raise InvalidParameterValueException(
                "The derived qualifier from the function name does not match the specified qualifier."
            )
        derived = qualifier
    return FunctionRef(name=match.group("name"), qualifier=derived, account=account)


def function_arn(name: str, qualifier: str | None = None, *, account: str) -> str:
    arn = f"arn:aws:lambda:{settings.LAMBDA_REGION}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def arn_of(function: Any, qualifier: str | None = None) -> str:
    """The ARN of a Function row (its team's account)."""
    return function_arn(function.name, qualifier, account=function.team.account_id)


def aws_timestamp(value: dt.datetime) -> str:
    """`Timestamp` strings as Lambda writes them: 2020-04-10T19:06:32.563+0000 (UTC, milliseconds)."""
    utc = value.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"
