"""CreateFunction, GetFunction(Configuration), ListFunctions, Update*, DeleteFunction through real boto3."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.test import Client

from invocations.models import Function, FunctionVersion
from tests.conftest import ECHO_PY, zip_bytes
from tests.invocations.api.control_plane import ARN, ROLE, code_dir, create, error_of, runtimes_on_offer  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("code_dir", "runtimes_on_offer")]

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


# --- CreateFunction --------------------------------------------------------------------------------


def test_it_creates_a_function_and_answers_with_awss_configuration(lambda_client: Any, code_dir: Path) -> None:
    package = zip_bytes({"app.py": ECHO_PY})
    response = create(lambda_client, code=package, Description="greets", Timeout=5, MemorySize=256)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    digest = hashlib.sha256(package).digest()
    assert response["FunctionName"] == "hello"
    assert response["FunctionArn"] == f"{ARN}:hello"
    assert response["CodeSha256"] == base64.b64encode(digest).decode()
    assert response["CodeSize"] == len(package)
    assert response["Version"] == "$LATEST"
    assert TIMESTAMP.match(response["LastModified"])
    assert response["State"] == "Active"
    assert response["LastUpdateStatus"] == "Successful"
    assert response["Environment"] == {"Variables": {}}
    assert response["TracingConfig"] == {"Mode": "PassThrough"}
    assert response["PackageType"] == "Zip"
    assert response["Architectures"] == ["x86_64"]
    assert response["EphemeralStorage"] == {"Size": 512}
    assert response["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert response["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/hello"}
    assert response["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:us-east-1::runtime:")
    assert (response["Description"], response["Timeout"], response["MemorySize"]) == ("greets", 5, 256)
    assert re.fullmatch(r"[0-9a-f-]{36}", response["RevisionId"])
    assert (code_dir / f"{digest.hex()}.zip").read_bytes() == package
    assert (code_dir / digest.hex() / "app.py").read_text() == ECHO_PY


def test_it_records_the_caller_as_owner(lambda_client: Any, owner: Any) -> None:
    create(lambda_client)
    assert Function.objects.get(name="hello").owner == owner


def test_it_refuses_a_duplicate_name_with_409(lambda_client: Any) -> None:
    create(lambda_client)
    with pytest.raises(ClientError) as caught:
        create(lambda_client)
    assert error_of(caught) == (409, "ResourceConflictException", "Function already exist: hello")


def test_it_accepts_an_arn_as_the_function_name(lambda_client: Any) -> None:
    response = create(lambda_client, f"{ARN}:by-arn")
    assert response["FunctionName"] == "by-arn"


@pytest.mark.parametrize(
    ("arguments", "member", "constraint"),
    [
        ({"Timeout": 901}, "timeout", "Member must have value less than or equal to 900"),
        ({"MemorySize": 10241}, "memorySize", "Member must have value less than or equal to 10240"),
        ({"Description": "x" * 257}, "description", "Member must have length less than or equal to 256"),
        ({"Handler": "has space"}, "handler", "Member must satisfy regular expression pattern: [^\\s]+"),
        ({"Role": "not-a-role"}, "role", "Member must satisfy regular expression pattern: arn:"),
        ({"EphemeralStorage": {"Size": 10241}}, "ephemeralStorage.size", "less than or equal to 10240"),
        ({"TracingConfig": {"Mode": "Sometimes"}}, "tracingConfig.mode", "enum value set: [Active, PassThrough]"),
        ({"Architectures": ["sparc"]}, "architectures", "enum value set: [x86_64, arm64]"),
        ({"LoggingConfig": {"LogFormat": "XML"}}, "loggingConfig.logFormat", "enum value set: [JSON, Text]"),
    ],
)
def test_it_checks_maximums_enums_and_patterns_the_client_does_not(
    lambda_client: Any, arguments: dict[str, Any], member: str, constraint: str
) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, **arguments)
    status, code, message = error_of(caught)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("1 validation error detected: Value '")
    assert f"at '{member}' failed to satisfy constraint: " in message
    assert constraint in message
    assert not Function.objects.exists()


def test_it_reports_every_violation_in_one_message(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, Timeout=1000, MemorySize=20000)
    message = error_of(caught)[2]
    assert message.startswith("2 validation errors detected: ")
    assert "at 'timeout'" in message and "at 'memorySize'" in message


def test_it_refuses_a_function_name_longer_than_64(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, "f" * 65)
    assert error_of(caught) == (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{'f' * 65}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64",
    )


def test_it_refuses_an_unknown_runtime_with_the_enum_message(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, Runtime="python9.9")
    status, code, message = error_of(caught)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'python9.9' at 'runtime' failed to satisfy constraint: "
        "Member must satisfy enum value set: [nodejs, "
    )


def test_it_refuses_an_aws_runtime_that_no_node_here_runs(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, Runtime="java21")
    status, code, message = error_of(caught)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith("The runtime parameter of java21 is not supported for creating or updating")
    assert "python3.11" in message
    assert not Function.objects.exists()


def test_it_requires_runtime_and_handler_for_zip_packages(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_function(FunctionName="x", Role=ROLE, Code={"ZipFile": zip_bytes({"a.py": ""})})
    assert error_of(caught)[1:] == (
        "InvalidParameterValueException",
        "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
    )


@pytest.mark.parametrize(
    ("code", "mentions"),
    [({"S3Bucket": "bucket", "S3Key": "k.zip"}, "Code.ZipFile"), ({"ImageUri": "x.dkr.ecr/y:1"}, "ImageUri")],
)
def test_it_refuses_code_from_s3_or_images_with_a_clear_message(lambda_client: Any, code: Any, mentions: str) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_function(FunctionName="x", Runtime="python3.11", Role=ROLE, Handler="a.h", Code=code)
    status, error, message = error_of(caught)
    assert (status, error) == (400, "InvalidParameterValueException")
    assert mentions in message


def test_it_stores_environment_variables(lambda_client: Any) -> None:
    response = create(lambda_client, Environment={"Variables": {"GREETING": "hi", "LEVEL_2": "x"}})
    assert response["Environment"] == {"Variables": {"GREETING": "hi", "LEVEL_2": "x"}}
    assert FunctionVersion.objects.get().environment == {"GREETING": "hi", "LEVEL_2": "x"}


def test_it_refuses_environment_keys_outside_awss_pattern(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, Environment={"Variables": {"1BAD": "x"}})
    status, code, message = error_of(caught)
    assert (status, code) == (400, "ValidationException")
    assert "at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint" in message


def test_it_refuses_reserved_environment_keys(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    status, code, message = error_of(caught)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.endswith("Reserved keys used in this request: AWS_REGION")


def test_it_refuses_environment_variables_over_4_kb_with_the_string_measured(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lambda_client, Environment={"Variables": {"BIG": "x" * 4100}})
    status, code, message = error_of(caught)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith(
        "Lambda was unable to configure your environment variables because the environment variables you have "
        'provided exceeded the 4KB limit. String measured: {"BIG":"xxx'
    )


def test_publish_on_create_makes_version_1(lambda_client: Any) -> None:
    response = create(lambda_client, Publish=True)
    assert response["Version"] == "1"
    assert response["FunctionArn"] == f"{ARN}:hello:1"
    assert FunctionVersion.objects.filter(function__name="hello").count() == 2


# --- GetFunction / GetFunctionConfiguration -------------------------------------------------------------


def test_get_function_returns_configuration_code_location_tags_and_concurrency(lambda_client: Any) -> None:
    package = zip_bytes({"app.py": ECHO_PY})
    create(lambda_client, code=package, Tags={"team": "core"})
    lambda_client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=5)
    response = lambda_client.get_function(FunctionName="hello")
    assert response["Configuration"]["FunctionArn"] == f"{ARN}:hello"
    assert response["Code"]["RepositoryType"] == "S3"
    assert response["Code"]["Location"].startswith("http://lambda.test/_workbench/code/")
    assert response["Tags"] == {"team": "core"}
    assert response["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    download = Client().get(response["Code"]["Location"].removeprefix("http://lambda.test"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == package


def test_get_function_leaves_out_tags_and_concurrency_when_there_are_none(lambda_client: Any) -> None:
    create(lambda_client)
    response = lambda_client.get_function(FunctionName="hello")
    assert "Tags" not in response and "Concurrency" not in response


def test_the_code_location_refuses_a_forged_or_expired_token(lambda_client: Any) -> None:
    create(lambda_client)
    location = lambda_client.get_function(FunctionName="hello")["Code"]["Location"]
    path = location.removeprefix("http://lambda.test")
    forged = re.sub(r"Signature=[0-9a-f]+", "Signature=" + "0" * 64, path)
    expired = re.sub(r"Expires=\d+", "Expires=1000", path)
    assert Client().get(forged).status_code == 403
    assert Client().get(expired).status_code == 403
    assert Client().get(path.split("?")[0]).status_code == 403


def test_get_function_answers_404_with_awss_message(lambda_client: Any) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as caught:
        lambda_client.get_function(FunctionName="nope")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:nope")


def test_a_missing_qualifier_is_reported_with_the_qualified_arn(lambda_client: Any) -> None:
    create(lambda_client)
    with pytest.raises(ClientError) as caught:
        lambda_client.get_function_configuration(FunctionName="hello", Qualifier="7")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:hello:7")


def test_get_function_configuration_with_latest_qualifier_names_it_in_the_arn(lambda_client: Any) -> None:
    create(lambda_client)
    response = lambda_client.get_function_configuration(FunctionName="hello", Qualifier="$LATEST")
    assert response["FunctionArn"] == f"{ARN}:hello:$LATEST"
    assert response["Version"] == "$LATEST"


def test_a_dotted_name_is_refused_by_the_control_plane_pattern(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.get_function(FunctionName="a.b")
    assert error_of(caught)[:2] == (400, "ValidationException")


def test_both_sdk_waiters_succeed_on_a_new_and_an_updated_function(lambda_client: Any) -> None:
    create(lambda_client)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName="hello", WaiterConfig={"MaxAttempts": 1})
    lambda_client.update_function_configuration(FunctionName="hello", Timeout=10)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig={"MaxAttempts": 1})
    lambda_client.get_waiter("function_active").wait(FunctionName="hello", WaiterConfig={"MaxAttempts": 1})


# --- ListFunctions ----------------------------------------------------------------------------------------


def test_list_functions_pages_with_marker_and_max_items(lambda_client: Any) -> None:
    for name in ("c", "a", "b"):
        create(lambda_client, name)
    first = lambda_client.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a", "b"]
    second = lambda_client.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["c"]
    assert "NextMarker" not in second
    paginated = lambda_client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
    assert [f["FunctionName"] for page in paginated for f in page["Functions"]] == ["a", "b", "c"]


def test_list_functions_returns_at_most_50_per_page(lambda_client: Any) -> None:
    for index in range(51):
        create(lambda_client, f"fn{index:02d}", code=zip_bytes({"app.py": ECHO_PY}))
    page = lambda_client.list_functions(MaxItems=1000)
    assert len(page["Functions"]) == 50
    assert page["NextMarker"]


def test_list_functions_with_all_includes_published_versions(lambda_client: Any) -> None:
    create(lambda_client)
    lambda_client.publish_version(FunctionName="hello")
    plain = lambda_client.list_functions()["Functions"]
    assert [(f["Version"], f["FunctionArn"]) for f in plain] == [("$LATEST", f"{ARN}:hello")]
    every = lambda_client.list_functions(FunctionVersion="ALL")["Functions"]
    assert [(f["Version"], f["FunctionArn"]) for f in every] == [
        ("$LATEST", f"{ARN}:hello:$LATEST"),
        ("1", f"{ARN}:hello:1"),
    ]


def test_list_functions_refuses_a_forged_marker(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.list_functions(Marker="not-a-marker!")
    assert error_of(caught)[:2] == (400, "InvalidParameterValueException")


# --- UpdateFunctionConfiguration / UpdateFunctionCode -------------------------------------------------------


def test_update_configuration_changes_every_field_and_the_revision(lambda_client: Any) -> None:
    created = create(lambda_client)
    response = lambda_client.update_function_configuration(
        FunctionName="hello",
        Runtime="nodejs20.x",
        Handler="index.handler",
        Description="now in node",
        Timeout=900,
        MemorySize=1024,
        Environment={"Variables": {"MODE": "fast"}},
        DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
        TracingConfig={"Mode": "Active"},
        EphemeralStorage={"Size": 1024},
        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/group"},
        RevisionId=created["RevisionId"],
    )
    assert response["Runtime"] == "nodejs20.x" and response["Handler"] == "index.handler"
    assert (response["Timeout"], response["MemorySize"]) == (900, 1024)
    assert response["Description"] == "now in node"
    assert response["Environment"] == {"Variables": {"MODE": "fast"}}
    assert response["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert response["TracingConfig"] == {"Mode": "Active"}
    assert response["EphemeralStorage"] == {"Size": 1024}
    assert response["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/custom/group"
    }  # fmt: skip
    assert response["RevisionId"] != created["RevisionId"]
    assert response["LastModified"] >= created["LastModified"]
    assert response["LastUpdateStatus"] == "Successful"
    assert response["CodeSha256"] == created["CodeSha256"]


def test_update_configuration_keeps_what_was_not_sent(lambda_client: Any) -> None:
    create(lambda_client, Environment={"Variables": {"KEEP": "me"}}, Timeout=7)
    response = lambda_client.update_function_configuration(FunctionName="hello", Description="only this")
    assert response["Environment"] == {"Variables": {"KEEP": "me"}}
    assert response["Timeout"] == 7


def test_update_configuration_with_a_stale_revision_id_is_412(lambda_client: Any) -> None:
    create(lambda_client)
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException) as caught:
        lambda_client.update_function_configuration(FunctionName="hello", Timeout=9, RevisionId="stale")
    assert error_of(caught)[:2] == (412, "PreconditionFailedException")
    assert FunctionVersion.objects.get().timeout == 3


def test_update_configuration_validates_like_create(lambda_client: Any) -> None:
    create(lambda_client)
    with pytest.raises(ClientError) as caught:
        lambda_client.update_function_configuration(FunctionName="hello", Timeout=99999)
    assert error_of(caught)[:2] == (400, "ValidationException")
    assert FunctionVersion.objects.get().timeout == 3


def test_update_code_replaces_the_package(lambda_client: Any, code_dir: Path) -> None:
    created = create(lambda_client)
    package = zip_bytes({"app.py": "def handler(e, c):\n    return 2\n"})
    response = lambda_client.update_function_code(FunctionName="hello", ZipFile=package)
    digest = hashlib.sha256(package).digest()
    assert response["CodeSha256"] == base64.b64encode(digest).decode()
    assert response["RevisionId"] != created["RevisionId"]
    assert (code_dir / digest.hex() / "app.py").exists()
    assert FunctionVersion.objects.get().code_digest == digest.hex()


def test_update_code_with_publish_returns_the_new_version(lambda_client: Any) -> None:
    create(lambda_client)
    response = lambda_client.update_function_code(
        FunctionName="hello", ZipFile=zip_bytes({"app.py": "x = 1\n"}), Publish=True
    )
    assert response["Version"] == "1"
    assert response["FunctionArn"] == f"{ARN}:hello:1"


def test_update_code_with_a_stale_revision_id_is_412_and_changes_nothing(lambda_client: Any) -> None:
    created = create(lambda_client)
    with pytest.raises(ClientError) as caught:
        lambda_client.update_function_code(FunctionName="hello", ZipFile=zip_bytes({"b.py": ""}), RevisionId="old")
    assert error_of(caught)[:2] == (412, "PreconditionFailedException")
    assert FunctionVersion.objects.get().code_sha256 == created["CodeSha256"]


def test_update_code_of_a_missing_function_is_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.update_function_code(FunctionName="ghost", ZipFile=zip_bytes({"a.py": ""}))
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:ghost")


# --- DeleteFunction / GetAccountSettings -------------------------------------------------------------


def test_delete_function_answers_204_and_removes_everything(lambda_client: Any) -> None:
    create(lambda_client, Publish=True)
    lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    response = lambda_client.delete_function(FunctionName="hello")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not Function.objects.exists() and not FunctionVersion.objects.exists()


def test_delete_function_with_a_version_qualifier_deletes_only_that_version(lambda_client: Any) -> None:
    create(lambda_client, Publish=True)
    lambda_client.delete_function(FunctionName="hello", Qualifier="1")
    assert list(FunctionVersion.objects.values_list("version", flat=True)) == ["$LATEST"]


def test_deleting_latest_by_qualifier_is_refused_as_aws_does(lambda_client: Any) -> None:
    create(lambda_client)
    with pytest.raises(ClientError) as caught:
        lambda_client.delete_function(FunctionName="hello", Qualifier="$LATEST")
    assert error_of(caught) == (
        400, "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function."
    )  # fmt: skip


def test_a_version_an_alias_points_to_cannot_be_deleted(lambda_client: Any) -> None:
    create(lambda_client, Publish=True)
    lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as caught:
        lambda_client.delete_function(FunctionName="hello", Qualifier="1")
    assert error_of(caught)[:2] == (409, "ResourceConflictException")
    assert "live" in error_of(caught)[2]


def test_deleting_a_missing_function_is_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.delete_function(FunctionName="ghost")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:ghost")


def test_account_settings_report_limits_and_usage(lambda_client: Any) -> None:
    created = create(lambda_client)
    lambda_client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=100)
    settings = lambda_client.get_account_settings()
    assert settings["AccountLimit"] == {
        "TotalCodeSize": 80530636800,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 900,
    }
    assert settings["AccountUsage"] == {"TotalCodeSize": created["CodeSize"], "FunctionCount": 1}


def test_a_bootstrap_stays_executable_after_upload(lambda_client: Any, code_dir: Path) -> None:
    package = zip_bytes({"bootstrap": "#!/bin/sh\necho hi\n"}, modes={"bootstrap": 0o755})
    response = create(lambda_client, "custom", code=package, Runtime="provided.al2023", Handler="none")
    digest = hashlib.sha256(package).hexdigest()
    assert (code_dir / digest / "bootstrap").stat().st_mode & 0o777 == 0o755
    assert response["Runtime"] == "provided.al2023"


def test_the_zip_in_the_code_dir_is_the_uploaded_one(lambda_client: Any, code_dir: Path) -> None:
    package = zip_bytes({"app.py": ECHO_PY, "lib/util.py": "X = 1\n"})
    create(lambda_client, code=package)
    digest = hashlib.sha256(package).hexdigest()
    with zipfile.ZipFile(io.BytesIO((code_dir / f"{digest}.zip").read_bytes())) as archive:
        assert sorted(archive.namelist()) == ["app.py", "lib/util.py"]
    assert (code_dir / digest / "lib" / "util.py").read_text() == "X = 1\n"
