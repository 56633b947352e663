"""Rendering FunctionConfiguration and AliasConfiguration exactly as AWS sends them (spec §6.3, §6.4)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from invocations.arns import arn_of, aws_timestamp
from invocations.models import LATEST, Alias, FunctionVersion


def runtime_version_arn(runtime: str) -> str:
    """AWS names each runtime build `arn:aws:lambda:<region>::runtime:<64 hex>`; ours is per runtime name."""
    digest = hashlib.sha256(f"lambda-workbench:{runtime}".encode()).hexdigest()
    return f"arn:aws:lambda:{settings.LAMBDA_REGION}::runtime:{digest}"


def default_log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def logging_config(version: FunctionVersion) -> dict[str, str]:
    stored = version.logging_config or {}
    config = {"LogFormat": stored.get("LogFormat", "Text")}
    # AWS reports the log levels only for JSON logs.
    if config["LogFormat"] == "JSON":
        config["ApplicationLogLevel"] = stored.get("ApplicationLogLevel", "INFO")
        config["SystemLogLevel"] = stored.get("SystemLogLevel", "INFO")
    config["LogGroup"] = stored.get("LogGroup") or default_log_group(version.function.name)
    return config


def function_configuration(version: FunctionVersion, *, arn_qualifier: str | None = None) -> dict[str, Any]:
    """A FunctionConfiguration; `arn_qualifier` qualifies FunctionArn (":3", ":prod", ":$LATEST").

    AWS answers Create/Get/List for $LATEST with the unqualified ARN, and with the qualifier the
    caller used otherwise; published versions are always reported with their number.
    """
    name = version.function.name
    if arn_qualifier is None and version.version != LATEST:
        arn_qualifier = version.version
    config: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": arn_of(version.function, arn_qualifier),
        "Runtime": version.runtime,
        "Role": version.role,
        "Handler": version.handler,
        "CodeSize": version.code_size,
        "Description": version.description,
        "Timeout": version.timeout,
        "MemorySize": version.memory_size,
        "LastModified": aws_timestamp(version.last_modified),
        "CodeSha256": version.code_sha256,
        "Version": version.version,
        # Real AWS sends {"Variables": {}} when there are none [LSR].
        "Environment": {"Variables": dict(version.environment or {})},
        "TracingConfig": {"Mode": version.tracing_mode or "PassThrough"},
        "RevisionId": version.revision_id,
        "State": version.state,
        "LastUpdateStatus": version.last_update_status,
        "PackageType": version.package_type,
        "Architectures": list(version.architectures or ["x86_64"]),
        "EphemeralStorage": {"Size": version.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "RuntimeVersionConfig": {"RuntimeVersionArn": runtime_version_arn(version.runtime)},
        "LoggingConfig": logging_config(version),
    }
    if version.state_reason:
        config["StateReason"] = version.state_reason
    if version.state_reason_code:
        config["StateReasonCode"] = version.state_reason_code
    if version.dead_letter_target_arn:
        config["DeadLetterConfig"] = {"TargetArn": version.dead_letter_target_arn}
    if version.layers:
        config["Layers"] = [{"Arn": arn, "CodeSize": 0} for arn in version.layers]
    return config


def alias_configuration(alias: Alias) -> dict[str, Any]:
    config: dict[str, Any] = {
        "AliasArn": arn_of(alias.function, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    weights = (alias.routing_config or {}).get("AdditionalVersionWeights")
    if weights:
        config["RoutingConfig"] = {"AdditionalVersionWeights": dict(weights)}
    return config
