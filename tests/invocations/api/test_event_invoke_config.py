"""Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s) through real boto3 (spec §5.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.models import Alias
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

ARN = "arn:aws:lambda:us-east-1:111111111111:function"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:failures"


@pytest.fixture(autouse=True)
def functions(settings: Any, tmp_path: Path, team: Any) -> None:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function(code_dir=settings.LAMBDA_CODE_DIR, versions=("$LATEST", "1"))
    Alias.objects.create(function=function, name="prod", function_version="1")
    make_function("other", code_dir=settings.LAMBDA_CODE_DIR)


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def body(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_put_returns_the_config_with_a_qualified_arn_and_empty_destinations(lambda_client: Any) -> None:
    response = lambda_client.put_function_event_invoke_config(
        FunctionName="echo", MaximumRetryAttempts=0, MaximumEventAgeInSeconds=3600
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    last_modified = response.pop("LastModified")
    assert last_modified.year >= 2024  # an epoch number botocore turned into a datetime
    assert body(response) == {
        "FunctionArn": f"{ARN}:echo:$LATEST",
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}},
    }


def test_last_modified_is_an_epoch_number_on_the_wire(lambda_client: Any) -> None:
    raw: list[bytes] = []
    lambda_client.meta.events.register(
        "after-call.lambda.PutFunctionEventInvokeConfig", lambda http_response, **_: raw.append(http_response.content)
    )
    lambda_client.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=1)
    assert isinstance(json.loads(raw[0])["LastModified"], float)


def test_get_returns_what_was_put_per_qualifier(lambda_client: Any) -> None:
    lambda_client.put_function_event_invoke_config(
        FunctionName="echo", Qualifier="prod",
        DestinationConfig={"OnFailure": {"Destination": QUEUE}, "OnSuccess": {"Destination": f"{ARN}:other"}},
    )  # fmt: skip
    got = lambda_client.get_function_event_invoke_config(FunctionName="echo", Qualifier="prod")
    assert got["FunctionArn"] == f"{ARN}:echo:prod"
    assert got["DestinationConfig"] == {"OnSuccess": {"Destination": f"{ARN}:other"}, "OnFailure": {"Destination": QUEUE}}
    assert "MaximumRetryAttempts" not in got
    with pytest.raises(ClientError) as caught:
        lambda_client.get_function_event_invoke_config(FunctionName="echo")
    assert error_of(caught) == (
        404, "ResourceNotFoundException", f"The function {ARN}:echo:$LATEST doesn't have an EventInvokeConfig"
    )  # fmt: skip
    assert lambda_client.get_function_event_invoke_config(FunctionName=f"{ARN}:echo:prod")["FunctionArn"] == f"{ARN}:echo:prod"


def test_put_replaces_everything_and_update_merges(lambda_client: Any) -> None:
    lambda_client.put_function_event_invoke_config(
        FunctionName="echo", MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": QUEUE}}
    )
    updated = lambda_client.update_function_event_invoke_config(FunctionName="echo", MaximumEventAgeInSeconds=120)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 120)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": QUEUE}
    replaced = lambda_client.put_function_event_invoke_config(FunctionName="echo", MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in replaced
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}


def test_update_without_a_config_is_a_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.update_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=1)
    assert error_of(caught)[:2] == (404, "ResourceNotFoundException")


def test_delete_is_a_204_then_a_404(lambda_client: Any) -> None:
    lambda_client.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=2)
    response = lambda_client.delete_function_event_invoke_config(FunctionName="echo")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        lambda_client.delete_function_event_invoke_config(FunctionName="echo")
    assert error_of(caught)[:2] == (404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "You must specify at least one of error handling or destination setting."),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": f"{ARN}:echo"}}},
            "You can't specify the function as a destination for itself.",
        ),
        (
            {"DestinationConfig": {"OnFailure": {"Destination": f"{ARN}:missing"}}},
            f"The destination ARN {ARN}:missing is invalid.",
        ),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:dynamodb:us-east-1:000000000000:table/t"}}},
            "The provided destination config DestinationConfig(onSuccess=OnSuccess("
            "destination=arn:aws:dynamodb:us-east-1:000000000000:table/t), onFailure=null) is invalid.",
        ),
    ],
)
def test_invalid_settings_are_400s_with_awss_messages(lambda_client: Any, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.put_function_event_invoke_config(FunctionName="echo", **arguments)
    assert error_of(caught) == (400, "InvalidParameterValueException", message)


@pytest.mark.parametrize(
    ("arguments", "field", "value", "constraint"),
    [
        ({"MaximumRetryAttempts": 3}, "maximumRetryAttempts", "3", "less than or equal to 2"),
        ({"MaximumEventAgeInSeconds": 21601}, "maximumEventAgeInSeconds", "21601", "less than or equal to 21600"),
    ],
)
def test_out_of_range_numbers_are_validation_errors(
    lambda_client: Any, arguments: dict[str, Any], field: str, value: str, constraint: str
) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.put_function_event_invoke_config(FunctionName="echo", **arguments)
    assert error_of(caught) == (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must have value {constraint}",
    )


def test_an_unknown_function_or_qualifier_is_a_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.put_function_event_invoke_config(FunctionName="nope", MaximumRetryAttempts=1)
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:nope")
    with pytest.raises(ClientError) as caught:
        lambda_client.put_function_event_invoke_config(FunctionName="echo", Qualifier="7", MaximumRetryAttempts=1)
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:echo:7")


def test_webhook_destinations_are_accepted(lambda_client: Any) -> None:
    response = lambda_client.put_function_event_invoke_config(
        FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": "https://hooks.example.com/x"}}
    )
    assert response["DestinationConfig"]["OnSuccess"] == {"Destination": "https://hooks.example.com/x"}


def test_list_pages_with_marker_and_max_items(lambda_client: Any) -> None:
    for qualifier in ("$LATEST", "1", "prod"):
        lambda_client.put_function_event_invoke_config(FunctionName="echo", Qualifier=qualifier, MaximumRetryAttempts=1)
    first = lambda_client.list_function_event_invoke_configs(FunctionName="echo", MaxItems=2)
    assert [c["FunctionArn"] for c in first["FunctionEventInvokeConfigs"]] == [f"{ARN}:echo:$LATEST", f"{ARN}:echo:1"]
    second = lambda_client.list_function_event_invoke_configs(FunctionName="echo", Marker=first["NextMarker"])
    assert [c["FunctionArn"] for c in second["FunctionEventInvokeConfigs"]] == [f"{ARN}:echo:prod"]
    assert "NextMarker" not in second
    assert lambda_client.list_function_event_invoke_configs(FunctionName="other")["FunctionEventInvokeConfigs"] == []
    paginator = lambda_client.get_paginator("list_function_event_invoke_configs")
    pages = list(paginator.paginate(FunctionName="echo", PaginationConfig={"PageSize": 1}))
    assert sum(len(p["FunctionEventInvokeConfigs"]) for p in pages) == 3


def test_list_refuses_more_than_50_items(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.list_function_event_invoke_configs(FunctionName="echo", MaxItems=51)
    assert error_of(caught)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as caught:
        lambda_client.list_function_event_invoke_configs(FunctionName="nope")
    assert error_of(caught)[:2] == (404, "ResourceNotFoundException")
