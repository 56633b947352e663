"""Creating, configuring, updating and deleting functions, and their reserved concurrency.

Validation follows AWS's split (spec §1, §2.2): botocore checks only required members and minimums on
the client, so the server checks maximums, enums and patterns and answers with the unmodeled
ValidationException ("1 validation error detected: Value 'x' at 'timeout' failed to satisfy
constraint: …", several violations in one message); semantic problems (a runtime we cannot run,
reserved or oversized environment variables, bad code) are InvalidParameterValueException.

Code is unpacked synchronously while the request is served, so a function is `Active` and its last
update `Successful` as soon as the call returns — where AWS first reports `Pending`/`InProgress`.
The SDK waiters (`function_active_v2`, `function_updated_v2`) therefore succeed on their first poll.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from invocations.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    InvalidRequestContentException,
    PreconditionFailedException,
    ResourceConflictException,
    ValidationException,
    function_not_found,
)
from invocations import activity, signals
from invocations.access import Caller, check, check_account, find_function, team_of_account, user_caller
from invocations.arns import FunctionRef, arn_of, function_arn, validation_message
from invocations.models import LATEST, Alias, Function, FunctionVersion, PolicyStatement, Team, new_revision_id
from invocations.concurrency import account_limit
from invocations.selectors import get_latest
from invocations.services import cleanup, runtimes
from invocations.services import code as code_service
from invocations.services.versions import publish

# Timeout: the botocore model allows 1–5400, but 5400 s applies only to Lambda Managed Instances; the
# quota for ordinary functions is 900 s (15 min), and the real service answers "Value '1200' at
# 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900".
MAX_TIMEOUT = 900
MIN_MEMORY, MAX_MEMORY = 128, 10240
MIN_EPHEMERAL, MAX_EPHEMERAL = 512, 10240
MAX_FUNCTION_NAME = 64
MAX_DESCRIPTION = 256
MAX_HANDLER = 128
ENVIRONMENT_LIMIT_BYTES = 4096

MIN_UNRESERVED_CONCURRENCY = 100

ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
HANDLER_PATTERN = r"[^\s]+"
ENV_KEY_PATTERN = r"[a-zA-Z]([a-zA-Z0-9_])+"
RESOURCE_ARN_PATTERN = r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"
LOG_GROUP_PATTERN = r"[\.\-_/#A-Za-z0-9]+"
FUNCTION_NAME_PATTERN = r"[a-zA-Z0-9-_]+"

# Lambda sets these itself; AWS refuses them in a function's configuration.
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)  # fmt: skip

_ABSENT: Any = None


@dataclass(frozen=True)
class ConfigInput:
    """The configuration members of CreateFunction / UpdateFunctionConfiguration as sent (None = absent)."""

    Role: Any = _ABSENT
    Handler: Any = _ABSENT
    Runtime: Any = _ABSENT
    Description: Any = _ABSENT
    Timeout: Any = _ABSENT
    MemorySize: Any = _ABSENT
    Environment: Any = _ABSENT
    TracingConfig: Any = _ABSENT
    DeadLetterConfig: Any = _ABSENT
    LoggingConfig: Any = _ABSENT
    EphemeralStorage: Any = _ABSENT
    Architectures: Any = _ABSENT
    Layers: Any = _ABSENT
    PackageType: Any = _ABSENT

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ConfigInput:
        return cls(**{f.name: body[f.name] for f in fields(cls) if f.name in body})


@dataclass
class _Checks:
    """Collects model-constraint violations so that one ValidationException reports them all, as AWS."""

    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, value: Any, member: str, constraint: str) -> None:
        self.errors.append((str(value), member, constraint))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationException(validation_message(self.errors))


def _fullmatch(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _integer(value: Any, member: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestContentException(f"Could not parse request body into json: {member} must be an integer")
    return value


def _object(value: Any, member: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequestContentException(f"Could not parse request body into json: {member} must be an object")
    return value


def _range(checks: _Checks, value: int, member: str, low: int, high: int) -> None:
    if value < low:
        checks.add(value, member, f"Member must have value greater than or equal to {low}")
    elif value > high:
        checks.add(value, member, f"Member must have value less than or equal to {high}")


def _enum(checks: _Checks, value: Any, member: str, allowed: list[str]) -> None:
    if value not in allowed:
        checks.add(value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]")


def _environment_variables(environment: Any, checks: _Checks) -> dict[str, str]:
    variables = _object(environment, "Environment").get("Variables") or {}
    variables = _object(variables, "Environment.Variables")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
        raise InvalidRequestContentException(
            "Could not parse request body into json: Environment.Variables must map strings to strings"
        )
    if not all(_fullmatch(ENV_KEY_PATTERN, key) for key in variables):
        # Variables are a sensitive member: AWS leaves the value out of this message.
        checks.errors.append(
            (
                "",
                "environment.variables",
                f"Map keys must satisfy constraint: [Member must satisfy regular expression pattern: {ENV_KEY_PATTERN}]",
            )
        )
    return variables


def validate_configuration(config: ConfigInput) -> dict[str, Any]:
    """Check what was sent and translate it into FunctionVersion field values (only the members sent)."""
    checks = _Checks()
    values: dict[str, Any] = {}
    if config.Role is not None:
        if not isinstance(config.Role, str) or not _fullmatch(ROLE_PATTERN, config.Role):
            checks.add(config.Role, "role", f"Member must satisfy regular expression pattern: {ROLE_PATTERN}")
        values["role"] = config.Role
    if config.Handler is not None:
        if not isinstance(config.Handler, str) or len(config.Handler) > MAX_HANDLER:
            checks.add(config.Handler, "handler", f"Member must have length less than or equal to {MAX_HANDLER}")
        elif not _fullmatch(HANDLER_PATTERN, config.Handler):
            checks.add(config.Handler, "handler", f"Member must satisfy regular expression pattern: {HANDLER_PATTERN}")
        values["handler"] = config.Handler
    if config.Runtime is not None:
        checks.errors.extend(runtimes.runtime_errors(config.Runtime))
        values["runtime"] = config.Runtime
    if config.Description is not None:
        if not isinstance(config.Description, str) or len(config.Description) > MAX_DESCRIPTION:
            checks.add(config.Description, "description", f"Member must have length less than or equal to {MAX_DESCRIPTION}")
        values["description"] = config.Description
    if config.Timeout is not None:
        values["timeout"] = _integer(config.Timeout, "Timeout")
        _range(checks, values["timeout"], "timeout", 1, MAX_TIMEOUT)
    if config.MemorySize is not None:
        values["memory_size"] = _integer(config.MemorySize, "MemorySize")
        _range(checks, values["memory_size"], "memorySize", MIN_MEMORY, MAX_MEMORY)
    if config.Environment is not None:
        values["environment"] = _environment_variables(config.Environment, checks)
    if config.TracingConfig is not None:
        mode = _object(config.TracingConfig, "TracingConfig").get("Mode", "PassThrough")
        _enum(checks, mode, "tracingConfig.mode", ["Active", "PassThrough"])
        values["tracing_mode"] = mode
    if config.DeadLetterConfig is not None:
        target = _object(config.DeadLetterConfig, "DeadLetterConfig").get("TargetArn") or ""
        if not isinstance(target, str) or not _fullmatch(RESOURCE_ARN_PATTERN, target):
            checks.add(target, "deadLetterConfig.targetArn", f"Member must satisfy regular expression pattern: {RESOURCE_ARN_PATTERN}")
        values["dead_letter_target_arn"] = target
    if config.LoggingConfig is not None:
        values["logging_config"] = _logging_config(_object(config.LoggingConfig, "LoggingConfig"), checks)
    if config.EphemeralStorage is not None:
        size = _integer(_object(config.EphemeralStorage, "EphemeralStorage").get("Size"), "EphemeralStorage.Size")
        _range(checks, size, "ephemeralStorage.size", MIN_EPHEMERAL, MAX_EPHEMERAL)
        values["ephemeral_storage"] = size
    if config.Architectures is not None:
        architectures = config.Architectures if isinstance(config.Architectures, list) else [config.Architectures]
        if len(architectures) != 1:
            checks.add(architectures, "architectures", "Member must have length less than or equal to 1")
        for architecture in architectures:
            _enum(checks, architecture, "architectures", ["x86_64", "arm64"])
        values["architectures"] = architectures
    if config.PackageType is not None:
        _enum(checks, config.PackageType, "packageType", ["Zip", "Image"])
    checks.raise_if_any()
    if config.PackageType == "Image":
        raise InvalidParameterValueException(
            "PackageType Image is not supported by this platform; use PackageType Zip with Code.ZipFile."
        )
    if config.Layers:
        raise InvalidParameterValueException("Layers are not supported by this platform.")
    if "environment" in values:
        _check_environment_semantics(values["environment"])
    if "runtime" in values:
        runtimes.check_runtime(values["runtime"])
    return values


def _logging_config(config: dict[str, Any], checks: _Checks) -> dict[str, str]:
    stored: dict[str, str] = {}
    log_format = config.get("LogFormat", "Text")
    _enum(checks, log_format, "loggingConfig.logFormat", ["JSON", "Text"])
    stored["LogFormat"] = log_format
    if "ApplicationLogLevel" in config:
        _enum(checks, config["ApplicationLogLevel"], "loggingConfig.applicationLogLevel",
              ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"])  # fmt: skip
        stored["ApplicationLogLevel"] = config["ApplicationLogLevel"]
    if "SystemLogLevel" in config:
        _enum(checks, config["SystemLogLevel"], "loggingConfig.systemLogLevel", ["DEBUG", "INFO", "WARN"])
        stored["SystemLogLevel"] = config["SystemLogLevel"]
    if config.get("LogGroup"):
        group = config["LogGroup"]
        if not isinstance(group, str) or len(group) > 512 or not _fullmatch(LOG_GROUP_PATTERN, group):
            checks.add(group, "loggingConfig.logGroup", f"Member must satisfy regular expression pattern: {LOG_GROUP_PATTERN}")
        stored["LogGroup"] = group
    return stored


def _check_environment_semantics(variables: dict[str, str]) -> None:
    reserved = sorted(key for key in variables if key in RESERVED_ENV_KEYS)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you "
            "have provided contains reserved keys that are currently not supported for modification. Reserved "
            f"keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > ENVIRONMENT_LIMIT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you "
            f"have provided exceeded the 4KB limit. String measured: {measured}"
        )


def zip_from_code(code: Any) -> bytes:
    """The package bytes from a `Code` member; only direct zip uploads exist here."""
    code = _object(code or {}, "Code")
    if code.get("S3Bucket") or code.get("S3Key") or code.get("S3ObjectVersion"):
        raise InvalidParameterValueException(
            "Code.S3Bucket/S3Key are not supported by this platform (it has no S3): upload the package "
            "directly with Code.ZipFile (at most 52428800 bytes zipped)."
        )
    if code.get("ImageUri"):
        raise InvalidParameterValueException(
            "Code.ImageUri is not supported by this platform (container images cannot run here): upload "
            "a .zip package with Code.ZipFile."
        )
    if "ZipFile" not in code:
        raise InvalidParameterValueException("Please provide a source for function code.")
    return code_service.decode_zip_file(code["ZipFile"])


def _check_function_name(name: str) -> None:
    if len(name) > MAX_FUNCTION_NAME:
        raise ValidationException(
            validation_message([(name, "functionName", f"Member must have length less than or equal to {MAX_FUNCTION_NAME}")])
        )


# What the activity log shows of a version's configuration.
_LOGGED_CONFIG = ("runtime", "handler", "role", "description", "timeout", "memory_size", "environment",
                  "tracing_mode", "logging_config", "dead_letter_target_arn", "ephemeral_storage")  # fmt: skip


def _config_of(version: FunctionVersion) -> dict[str, Any]:
    return {name: getattr(version, name) for name in _LOGGED_CONFIG}


def create_function(
    *,
    caller: Caller,
    ref: FunctionRef,
    config: ConfigInput,
    code: Any,
    publish_first: bool = False,
    tags: dict[str, str] | None = None,
) -> FunctionVersion:
    """CreateFunction in the caller's account: validate everything, store the code, then write the
    rows in one transaction."""
    name = ref.name
    account = ref.account or caller.account_id
    # In another account's ARN only a superuser may create (no resource policy grants CreateFunction).
    check(caller, "lambda:CreateFunction", resource_account=account, resource=function_arn(name, account=account))
    team = caller.team_id if account == caller.account_id else getattr(team_of_account(account), "pk", None)
    if team is None:
        raise InvalidParameterValueException(f"There is no account {account} on this platform.")
    _check_function_name(name)
    values = validate_configuration(config)
    if not values.get("runtime") or not values.get("handler"):
        raise InvalidParameterValueException(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )
    if Function.objects.filter(team_id=team, name=name).exists():
        raise ResourceConflictException(f"Function already exist: {name}")
    stored = code_service.store_zip(zip_from_code(code))
    now = timezone.now()
    try:
        with transaction.atomic():
            function = Function.objects.create(
                name=name, team_id=team, owner_id=caller.user_id, tags=dict(tags or {}), created_at=now
            )
            function = Function.objects.select_related("team").get(pk=function.pk)
            latest = FunctionVersion.objects.create(
                function=function,
                version=LATEST,
                code_sha256=stored.sha256,
                code_size=stored.size,
                code_digest=stored.digest,
                architectures=values.pop("architectures", ["x86_64"]),
                last_modified=now,
                state=FunctionVersion.State.ACTIVE,
                last_update_status=FunctionVersion.UpdateStatus.SUCCESSFUL,
                **values,
            )
            activity.record(caller=caller, action="lambda:CreateFunction", function=function,
                            changes={"code_sha256": stored.sha256, **_config_of(latest)})  # fmt: skip
            if publish_first:
                return publish(function)
    except IntegrityError:
        # Two creates of one name raced past the check above; the loser gets AWS's answer.
        raise ResourceConflictException(f"Function already exist: {name}") from None
    return latest


def _check_revision(current: str, expected: str | None) -> None:
    if expected and expected != current:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
            "to retrieve the latest Revision Id"
        )


def update_function_configuration(
    *, caller: Caller, ref: FunctionRef, config: ConfigInput, revision_id: str | None = None
) -> FunctionVersion:
    function = find_function(caller, ref, "lambda:UpdateFunctionConfiguration", qualified=False)
    _check_revision(get_latest(function).revision_id, revision_id)
    values = validate_configuration(config)
    values.pop("architectures", None)  # set with the code (UpdateFunctionCode), as AWS
    with transaction.atomic():
        latest = _locked_latest(function)
        _check_revision(latest.revision_id, revision_id)
        before = _config_of(latest)
        for name_, value in values.items():
            setattr(latest, name_, value)
        cleanup.forget_versions([latest])
        latest.revision_id = new_revision_id()
        latest.last_modified = timezone.now()
        latest.last_update_status = FunctionVersion.UpdateStatus.SUCCESSFUL
        latest.save()
        activity.record(caller=caller, action="lambda:UpdateFunctionConfiguration", function=function,
                        changes=activity.diff(before, _config_of(latest)))  # fmt: skip
        _announce(function, caller, "configuration")
    return latest


def _locked_latest(function: Function) -> FunctionVersion:
    return (
        FunctionVersion.objects.select_for_update().select_related("function__team")
        .get(function=function, version=LATEST)
    )  # fmt: skip


def update_function_code(
    *,
    caller: Caller,
    ref: FunctionRef,
    code: Any,
    publish_after: bool = False,
    dry_run: bool = False,
    revision_id: str | None = None,
    architectures: Any = None,
) -> FunctionVersion:
    function = find_function(caller, ref, "lambda:UpdateFunctionCode", qualified=False)
    _check_revision(get_latest(function).revision_id, revision_id)
    values = validate_configuration(ConfigInput(Architectures=architectures))
    data = zip_from_code(code)
    if dry_run:
        if len(data) > code_service.MAX_ZIPPED_BYTES:
            code_service.store_zip(data)  # raises AWS's 413 without writing anything
        return get_latest(function)
    stored = code_service.store_zip(data)
    with transaction.atomic():
        latest = _locked_latest(function)
        _check_revision(latest.revision_id, revision_id)
        cleanup.forget_versions([latest])
        previous = latest.code_sha256
        latest.code_sha256, latest.code_size, latest.code_digest = stored.sha256, stored.size, stored.digest
        if "architectures" in values:
            latest.architectures = values["architectures"]
        latest.revision_id = new_revision_id()
        latest.last_modified = timezone.now()
        latest.state = FunctionVersion.State.ACTIVE
        latest.last_update_status = FunctionVersion.UpdateStatus.SUCCESSFUL
        latest.save()
        activity.record(caller=caller, action="lambda:UpdateFunctionCode", function=function,
                        changes={"code_sha256": [previous, stored.sha256]})  # fmt: skip
        _announce(function, caller, "code")
        if publish_after:
            return publish(function)
    return latest


def _announce(function: Function, caller: Caller, change: str) -> None:
    """``signals.function_updated`` once the change commits (the console's run-on-deploy)."""
    transaction.on_commit(lambda: signals.function_updated.send(
        sender=Function, function=function, caller=caller, change=change))  # fmt: skip


def delete_function(*, caller: Caller, ref: FunctionRef) -> None:
    """DeleteFunction: the whole function, or one published version when a qualifier is given.

    Its environments end and its code is removed unless another version uses it (services/cleanup.py).
    """
    qualifier = ref.qualifier
    function = find_function(caller, ref, "lambda:DeleteFunction")
    if qualifier == LATEST:
        raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
    if qualifier is not None and not qualifier.isdigit():
        raise InvalidParameterValueException("Deletion of aliases is not currently supported.")
    if qualifier is None:
        with transaction.atomic():
            activity.record(caller=caller, action="lambda:DeleteFunction", function=function)
            cleanup.forget_versions(FunctionVersion.objects.filter(function=function))
            deleted, _ = Function.objects.filter(pk=function.pk).delete()
        if not deleted:
            raise function_not_found(arn_of(function))
        return
    with transaction.atomic():
        locked = Function.objects.select_for_update().filter(pk=function.pk).first()
        version = FunctionVersion.objects.filter(function=locked, version=qualifier).first() if locked else None
        if version is None:
            raise function_not_found(arn_of(function, qualifier))
        referencing = sorted(
            alias.name
            for alias in Alias.objects.filter(function=function)
            if alias.function_version == qualifier
            or qualifier in ((alias.routing_config or {}).get("AdditionalVersionWeights") or {})
        )
        if referencing:
            raise ResourceConflictException(
                f"Unable to delete version because the following aliases reference it: [{', '.join(referencing)}]"
            )
        cleanup.forget_versions([version])
        version.delete()
        PolicyStatement.objects.filter(function=function, qualifier=qualifier).delete()
        activity.record(caller=caller, action="lambda:DeleteFunction", function=function, qualifier=qualifier)


def move_function(*, caller: Caller, function: Function, team: Team) -> Function:
    """A function changes team (account): an installation's own operation, not an AWS one — like
    moving a resource between accounts, which AWS does not offer. The caller must administer both
    teams (``workbench:MoveFunction`` in each); the name must be free in the new team and its
    reserved concurrency must fit the new account's pool. Versions, aliases, triggers, URLs, policy
    statements and history go with it; the running environments end (their ARN names the old account).
    """
    if function.team_id != caller.team_id:
        raise function_not_found(arn_of(function))
    check_account(caller, "workbench:MoveFunction")
    if team.pk == function.team_id:
        raise InvalidParameterValueException(f"The function is already in team {team.name}.")
    user = get_user_model().objects.filter(pk=caller.user_id).first()
    if user is None:
        raise AccessDeniedException(f"{caller.principal.arn} is not a member of team {team.name}.")
    check_account(user_caller(user=user, team=team, via=caller.via), "workbench:MoveFunction")
    with transaction.atomic():
        locked = Function.objects.select_for_update().select_related("team").filter(pk=function.pk).first()
        if locked is None:
            raise function_not_found(arn_of(function))
        if Function.objects.filter(team=team, name=locked.name).exists():
            raise ResourceConflictException(f"Function already exist: {function_arn(locked.name, account=team.account_id)}")
        if locked.reserved_concurrency:
            others = Function.objects.filter(team=team).aggregate(total=Sum("reserved_concurrency"))["total"] or 0
            if others + locked.reserved_concurrency > account_limit() - MIN_UNRESERVED_CONCURRENCY:
                raise InvalidParameterValueException(
                    f"The function's ReservedConcurrentExecutions ({locked.reserved_concurrency}) would decrease "
                    f"team {team.name}'s UnreservedConcurrentExecution below its minimum value of "
                    f"[{MIN_UNRESERVED_CONCURRENCY}]."
                )
        previous = locked.team
        cleanup.forget_versions(FunctionVersion.objects.filter(function=locked))
        locked.team = team
        locked.save(update_fields=["team"])
        changes = {"team": [previous.name, team.name]}
        activity.record(caller=caller, action="workbench:MoveFunction", team=previous, function=locked, changes=changes)
        activity.record(caller=caller, action="workbench:MoveFunction", team=team, function=locked, changes=changes)
    return locked


# --- concurrency ----------------------------------------------------------------------------------


def _unqualified(ref: FunctionRef) -> None:
    if ref.qualifier:
        raise InvalidParameterValueException(
            "This operation is permitted on Lambda functions only. Aliases and versions do not support this "
            "operation. Please specify either a function name or an unqualified function ARN."
        )


def put_function_concurrency(*, caller: Caller, ref: FunctionRef, reserved: Any) -> int:
    _unqualified(ref)
    function = find_function(caller, ref, "lambda:PutFunctionConcurrency")
    reserved = _integer(reserved, "ReservedConcurrentExecutions")
    if reserved < 0:
        raise ValidationException(
            validation_message(
                [(str(reserved), "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")]
            )
        )
    with transaction.atomic():
        function = Function.objects.select_for_update().select_related("team").filter(pk=function.pk).first()
        if function is None:
            raise function_not_found(function_arn(ref.name, account=ref.account or caller.account_id))
        # The account's pool: each team is an account with its own concurrency limit.
        others = (
            Function.objects.filter(team_id=function.team_id).exclude(pk=function.pk)
            .aggregate(total=Sum("reserved_concurrency"))["total"] or 0
        )  # fmt: skip
        if others + reserved > account_limit() - MIN_UNRESERVED_CONCURRENCY:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED_CONCURRENCY}]."
            )
        activity.record(caller=caller, action="lambda:PutFunctionConcurrency", function=function,
                        changes={"reserved_concurrency": [function.reserved_concurrency, reserved]})  # fmt: skip
        function.reserved_concurrency = reserved
        function.save(update_fields=["reserved_concurrency"])
    return reserved


def get_function_concurrency(*, caller: Caller, ref: FunctionRef) -> int | None:
    _unqualified(ref)
    return find_function(caller, ref, "lambda:GetFunctionConcurrency").reserved_concurrency


def delete_function_concurrency(*, caller: Caller, ref: FunctionRef) -> None:
    _unqualified(ref)
    function = find_function(caller, ref, "lambda:DeleteFunctionConcurrency")
    with transaction.atomic():
        Function.objects.filter(pk=function.pk).update(reserved_concurrency=None)
        if function.reserved_concurrency is not None:
            activity.record(caller=caller, action="lambda:DeleteFunctionConcurrency", function=function,
                            changes={"reserved_concurrency": [function.reserved_concurrency, None]})  # fmt: skip


def account_settings(*, caller: Caller) -> dict[str, Any]:
    """GetAccountSettings: the limits (``LAMBDA_ACCOUNT_CONCURRENCY``, enforced cluster-wide by
    invocations/concurrency.py; code sizes as AWS's), and what the caller's account uses — AWS's
    AccountUsage has the code size and the function count only."""
    check_account(caller, "lambda:GetAccountSettings")
    functions = Function.objects.filter(team_id=caller.team_id)
    reserved = functions.aggregate(total=Sum("reserved_concurrency"))["total"] or 0
    total_code = FunctionVersion.objects.filter(function__team_id=caller.team_id).aggregate(total=Sum("code_size"))["total"] or 0
    return {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": code_service.MAX_UNZIPPED_BYTES,
            "CodeSizeZipped": code_service.MAX_ZIPPED_BYTES,
            "ConcurrentExecutions": account_limit(),
            "UnreservedConcurrentExecutions": max(0, account_limit() - reserved),
        },
        "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": functions.count()},
    }
