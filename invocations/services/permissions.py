"""Resource-based policies: AddPermission, RemovePermission, GetPolicy — with AWS's shapes and errors.

A function has one policy for itself (the unqualified ARN and ``$LATEST``) and one per version and
per alias, as AWS keeps them; ``policy.decide`` judges a call by the policy of exactly the resource
it names. Statements are stored as AWS renders them (``PolicyStatement.statement``), and GetPolicy
answers ``{"Version": "2012-10-17", "Id": "default", "Statement": [...]}`` as a JSON string.

``RevisionId``: AWS reports one per policy and refuses a write whose ``RevisionId`` is not the
current one (412). Ours is derived, not stored: a UUID over the resource's own revision (the
function's ``$LATEST``, the version's or the alias's) and the ids of its statements, so it changes
with every statement added or removed — without touching the function's revision, which would send
its warm environments away.

The console and the trigger service add statements the way AWS's console does (``allow`` /
``revoke``): the two public statements of a ``NONE`` function URL, a service statement per push
trigger. They are recorded in the activity log like any AddPermission.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Final

from django.db import IntegrityError, transaction

from invocations import activity, policy
from invocations.access import Caller, find_function, policy_qualifier
from invocations.access import statements as stored_statements
from invocations.arns import LATEST, FunctionRef, arn_of, validation_message
from invocations.errors import (
    InvalidParameterValueException,
    PolicyLengthExceededException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
    function_not_found,
)
from invocations.models import Alias, Function, FunctionVersion, PolicyStatement

STATEMENT_ID_PATTERN: Final = r"([a-zA-Z0-9-_]+)"
REMOVE_STATEMENT_ID_PATTERN: Final = r"([a-zA-Z0-9-_.]+)"
ACTION_PATTERN: Final = r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"
POLICY_LIMIT_BYTES: Final = 20480
NOT_FOUND: Final = "The resource you requested does not exist."
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)$")
_SERVICE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.(amazonaws\.com|amazon\.com|aws\.internal)$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_TOKEN = re.compile(r"^[a-zA-Z0-9._\-]{0,256}$")
_NAMESPACE = uuid.UUID("9b2f5a4e-6b7e-4f39-9a5b-3a4c1f0e7d21")

PUBLIC_URL_SIDS: Final = ("FunctionURLAllowPublicAccess", "FunctionURLAllowInvokeAction")


# --- rendering --------------------------------------------------------------------------------------


def principal_element(principal: str) -> Any:
    """The Principal of a statement as AWS writes it for AddPermission's ``Principal``."""
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if _IAM_ARN.match(principal):
        return {"AWS": principal}
    if _SERVICE.match(principal):
        return {"Service": principal}
    raise InvalidParameterValueException("The provided principal was invalid. Please check the principal and try again.")


def statement(
    *, sid: str, resource: str, action: str, principal: str, source_arn: str | None = None,
    source_account: str | None = None, function_url_auth_type: str | None = None,
    invoked_via_function_url: bool | None = None, principal_org_id: str | None = None,
    event_source_token: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    conditions: dict[str, dict[str, str]] = {}
    for operator, key, value in (
        ("StringEquals", "AWS:SourceAccount", source_account),
        ("StringEquals", "lambda:FunctionUrlAuthType", function_url_auth_type),
        ("StringEquals", "aws:PrincipalOrgID", principal_org_id),
        ("StringEquals", "lambda:EventSourceToken", event_source_token),
        ("ArnLike", "AWS:SourceArn", source_arn),
        ("Bool", "lambda:InvokedViaFunctionUrl", "true" if invoked_via_function_url else None),
    ):
        if value:
            conditions.setdefault(operator, {})[key] = value
    rendered: dict[str, Any] = {
        "Sid": sid, "Effect": "Allow", "Principal": principal_element(principal), "Action": action, "Resource": resource,
    }  # fmt: skip
    if conditions:
        rendered["Condition"] = conditions
    return rendered


def json_text(value: Any) -> str:
    """Policies and statements travel as JSON strings inside the JSON answer, compact as AWS's."""
    return json.dumps(value, separators=(",", ":"))


def policy_document(statements: list[dict[str, Any]]) -> str:
    return json_text({"Version": "2012-10-17", "Id": "default", "Statement": statements})


# --- revisions ---------------------------------------------------------------------------------------


def _resource_revision(function: Function, qualifier: str) -> str:
    if not qualifier:
        found = FunctionVersion.objects.filter(function=function, version=LATEST).values_list("revision_id", flat=True)
    elif qualifier.isdigit():
        found = FunctionVersion.objects.filter(function=function, version=qualifier).values_list("revision_id", flat=True)
    else:
        found = Alias.objects.filter(function=function, name=qualifier).values_list("revision_id", flat=True)
    revision = found.first()
    if revision is None:
        raise function_not_found(arn_of(function, qualifier))
    return revision


def revision_id(function: Function, qualifier: str) -> str:
    ids = PolicyStatement.objects.filter(function=function, qualifier=qualifier).order_by("id").values_list("id", flat=True)
    seed = _resource_revision(function, qualifier) + ":" + ",".join(str(i) for i in ids)
    return str(uuid.uuid5(_NAMESPACE, seed))


def _check_revision(function: Function, qualifier: str, expected: str | None) -> None:
    if expected and expected != revision_id(function, qualifier):
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve "
            "the latest Revision Id"
        )


# --- validation --------------------------------------------------------------------------------------


def _pattern(value: Any, field: str, pattern: str, *, max_length: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        constraint = (
            f"Member must have length less than or equal to {max_length}"
            if isinstance(value, str) and value else "Member must have length greater than or equal to 1"
        )  # fmt: skip
        raise ValidationException(validation_message([(str(value), field, constraint)]))
    if re.fullmatch(pattern, value) is None:
        raise ValidationException(
            validation_message([(value, field, f"Member must satisfy regular expression pattern: {pattern}")])
        )
    return value


def _optional(value: Any, field: str, check: re.Pattern[str]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or check.match(value) is None:
        raise ValidationException(validation_message([(str(value), field, f"Member must satisfy regular expression pattern: {check.pattern}")]))
    return value


def _target(caller: Caller, ref: FunctionRef, action: str) -> tuple[Function, str]:
    """The function and which of its policies a request names (only existing versions and aliases)."""
    function = find_function(caller, ref, action)
    qualifier = policy_qualifier(ref.qualifier)
    if qualifier:
        _resource_revision(function, qualifier)  # 404 for a version or alias that does not exist
    return function, qualifier


# --- the operations ----------------------------------------------------------------------------------


def add_permission(*, caller: Caller, ref: FunctionRef, body: dict[str, Any]) -> dict[str, Any]:
    """AddPermission: the new statement, as AWS returns it."""
    sid = _pattern(body.get("StatementId"), "statementId", STATEMENT_ID_PATTERN, max_length=100)
    action = _pattern(body.get("Action"), "action", ACTION_PATTERN, max_length=10000)
    if action not in ("*", "lambda:*") and action not in policy.GRANTABLE:
        raise InvalidParameterValueException(f"The action {action} is not supported in a function's resource-based policy.")
    principal = body.get("Principal")
    if not isinstance(principal, str) or not principal:
        raise ValidationException(validation_message([(str(principal), "principal", "Member must not be null")]))
    auth_type = body.get("FunctionUrlAuthType")
    if auth_type is not None and auth_type not in ("NONE", "AWS_IAM"):
        raise ValidationException(validation_message(
            [(str(auth_type), "functionUrlAuthType", "Member must satisfy enum value set: [NONE, AWS_IAM]")]
        ))  # fmt: skip
    via_url = body.get("InvokedViaFunctionUrl")
    if via_url is not None and not isinstance(via_url, bool):
        raise InvalidParameterValueException("InvokedViaFunctionUrl must be a boolean.")
    if ref.qualifier == LATEST:
        raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
    function, qualifier = _target(caller, ref, "lambda:AddPermission")
    rendered = statement(
        sid=sid, resource=arn_of(function, qualifier or None), action=action, principal=principal,
        source_arn=_optional(body.get("SourceArn"), "sourceArn", re.compile(r"^arn:(aws[a-zA-Z0-9-]*):.*$")),
        source_account=_optional(body.get("SourceAccount"), "sourceAccount", _ACCOUNT),
        function_url_auth_type=auth_type, invoked_via_function_url=via_url,
        principal_org_id=_optional(body.get("PrincipalOrgID"), "principalOrgID", _ORG_ID),
        event_source_token=_optional(body.get("EventSourceToken"), "eventSourceToken", _TOKEN),
    )  # fmt: skip
    with transaction.atomic():
        _check_revision(function, qualifier, body.get("RevisionId"))
        _insert(caller, function, qualifier, rendered)
    return rendered


def _insert(caller: Caller, function: Function, qualifier: str, rendered: dict[str, Any]) -> None:
    sid = rendered["Sid"]
    conflict = ResourceConflictException(
        f"The statement id ({sid}) provided already exists. Please specify a different statement id, or remove "
        "the existing statement."
    )
    existing = list(PolicyStatement.objects.filter(function=function, qualifier=qualifier).values_list("statement", flat=True))
    if any(s.get("Sid") == sid for s in existing):
        raise conflict
    size = len(policy_document([*existing, rendered]))
    if size > POLICY_LIMIT_BYTES:
        raise PolicyLengthExceededException(f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT_BYTES}).")
    try:
        with transaction.atomic():
            PolicyStatement.objects.create(function=function, qualifier=qualifier, sid=sid, statement=rendered)
    except IntegrityError:
        raise conflict from None
    activity.record(caller=caller, action="lambda:AddPermission", function=function, qualifier=qualifier or None,
                    changes={"statement": rendered})  # fmt: skip


def remove_permission(*, caller: Caller, ref: FunctionRef, statement_id: str, revision_id_: str | None = None) -> None:
    """RemovePermission: 404 for a statement id the policy does not have."""
    _pattern(statement_id, "statementId", REMOVE_STATEMENT_ID_PATTERN, max_length=100)
    function, qualifier = _target(caller, ref, "lambda:RemovePermission")
    with transaction.atomic():
        _check_revision(function, qualifier, revision_id_)
        if not _delete(caller, function, qualifier, statement_id):
            raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")


def _delete(caller: Caller, function: Function, qualifier: str, sid: str) -> bool:
    deleted, _ = PolicyStatement.objects.filter(function=function, qualifier=qualifier, sid=sid).delete()
    if deleted:
        activity.record(caller=caller, action="lambda:RemovePermission", function=function,
                        qualifier=qualifier or None, changes={"sid": sid})  # fmt: skip
    return bool(deleted)


def get_policy(*, caller: Caller, ref: FunctionRef) -> tuple[str, str]:
    """GetPolicy: (the policy document as a JSON string, its RevisionId); 404 when there is none."""
    function, qualifier = _target(caller, ref, "lambda:GetPolicy")
    statements = statements_of(function, qualifier)
    if not statements:
        raise ResourceNotFoundException(NOT_FOUND)
    return policy_document(statements), revision_id(function, qualifier)


def statements_of(function: Function, qualifier: str = "") -> list[dict[str, Any]]:
    return stored_statements(function.pk, qualifier)


# --- statements the platform adds for its users (as AWS's console does) ------------------------------


def allow(*, caller: Caller, function: Function, qualifier: str, **fields: Any) -> None:
    """Add a statement unless one with its Sid is there (the caller was authorized for the change
    that needs it: making a URL public, adding a trigger)."""
    qualifier = policy_qualifier(qualifier)
    rendered = statement(resource=arn_of(function, qualifier or None), **fields)
    if not PolicyStatement.objects.filter(function=function, qualifier=qualifier, sid=rendered["Sid"]).exists():
        _insert(caller, function, qualifier, rendered)


def revoke(*, caller: Caller, function: Function, qualifier: str, sid: str) -> None:
    _delete(caller, function, policy_qualifier(qualifier), sid)


def allow_public_url(*, caller: Caller, function: Function, qualifier: str) -> None:
    """The two statements AWS's console adds for a ``NONE`` URL (since October 2025 both are needed)."""
    allow(caller=caller, function=function, qualifier=qualifier, sid=PUBLIC_URL_SIDS[0], principal="*",
          action="lambda:InvokeFunctionUrl", function_url_auth_type="NONE")  # fmt: skip
    allow(caller=caller, function=function, qualifier=qualifier, sid=PUBLIC_URL_SIDS[1], principal="*",
          action="lambda:InvokeFunction", invoked_via_function_url=True)  # fmt: skip


def revoke_public_url(*, caller: Caller, function: Function, qualifier: str) -> None:
    for sid in PUBLIC_URL_SIDS:
        revoke(caller=caller, function=function, qualifier=qualifier, sid=sid)
