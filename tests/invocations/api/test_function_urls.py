"""Create/Get/Update/Delete/ListFunctionUrlConfig(s) through real boto3 (spec §7.1)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.models import FunctionUrlConfig
from invocations.services import function_urls
from tests.invocations.api.control_plane import ARN, error_of
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

URL_RE = re.compile(r"^http://(?P<id>[0-9a-z]{32})\.lambda-url\.us-east-1\.localhost/$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


@pytest.fixture
def fn(tmp_path: Path, settings: Any, team: Any) -> str:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function("web", code_dir=settings.LAMBDA_CODE_DIR)
    function.aliases.create(name="live", function_version="$LATEST")
    return "web"


def test_it_creates_a_url_and_returns_it_in_aws_format(lambda_client: Any, fn: str) -> None:
    created = lambda_client.create_function_url_config(FunctionName=fn, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert URL_RE.match(created["FunctionUrl"]), created["FunctionUrl"]  # endpoint http://lambda.test: no port
    assert created["FunctionArn"] == f"{ARN}:web"
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"
    assert TIME_RE.match(created["CreationTime"]) and "LastModifiedTime" not in created and "Cors" not in created
    got = lambda_client.get_function_url_config(FunctionName=fn)
    assert got["FunctionUrl"] == created["FunctionUrl"] and TIME_RE.match(got["LastModifiedTime"])


def test_the_url_carries_the_port_the_api_was_reached_on(lambda_client: Any, fn: str, settings: Any, owner_caller: Any) -> None:
    config = function_urls.create_function_url_config(caller=owner_caller, function_name=fn, qualifier=None, auth_type="NONE")
    assert function_urls.function_url(config, request_host="127.0.0.1:8765").endswith(".localhost:8765/")
    assert function_urls.function_url(config, request_host="[::1]:8766").endswith(".localhost:8766/")
    settings.FUNCTION_URL_PORT = 443
    settings.FUNCTION_URL_SCHEME = "https"
    settings.FUNCTION_URL_DOMAIN = "fn.example.org"
    assert function_urls.function_url(config, request_host="127.0.0.1:8765") == \
        f"https://{config.url_id}.lambda-url.us-east-1.fn.example.org/"


def test_links_for_the_console(fn: str, owner_caller: Any) -> None:
    config = function_urls.create_function_url_config(caller=owner_caller, function_name=fn, qualifier=None, auth_type="AWS_IAM")
    links = function_urls.links(config, request_host="[::1]:8000")
    assert links.function_url == f"http://{config.url_id}.lambda-url.us-east-1.localhost:8000/"
    assert links.path_url == f"http://[::1]:8000/lambda-url/{config.url_id}/"
    assert links.curl.startswith("curl --aws-sigv4 'aws:amz:us-east-1:lambda'") and links.function_url in links.curl
    public = function_urls.update_function_url_config(caller=owner_caller, function_name=fn, qualifier=None, auth_type="NONE")
    assert function_urls.links(public, request_host="127.0.0.1:8000").curl == f"curl {links.function_url}"


def test_cors_and_invoke_mode_round_trip_and_update_merges(lambda_client: Any, fn: str) -> None:
    cors = {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"], "AllowHeaders": ["x-h"],
            "ExposeHeaders": ["x-e"], "MaxAge": 60, "AllowCredentials": True}
    created = lambda_client.create_function_url_config(FunctionName=fn, AuthType="AWS_IAM", Cors=cors,
                                                       InvokeMode="RESPONSE_STREAM")
    assert created["Cors"] == cors and created["InvokeMode"] == "RESPONSE_STREAM"
    updated = lambda_client.update_function_url_config(FunctionName=fn, AuthType="NONE")
    assert updated["AuthType"] == "NONE" and updated["Cors"] == cors and updated["InvokeMode"] == "RESPONSE_STREAM"
    updated = lambda_client.update_function_url_config(FunctionName=fn, Cors={"AllowOrigins": ["*"]},
                                                       InvokeMode="BUFFERED")
    assert updated["Cors"] == {"AllowOrigins": ["*"]} and updated["InvokeMode"] == "BUFFERED"
    assert updated["FunctionUrl"] == created["FunctionUrl"]


def test_a_url_per_alias_and_the_list(lambda_client: Any, fn: str) -> None:
    plain = lambda_client.create_function_url_config(FunctionName=fn, AuthType="NONE")
    aliased = lambda_client.create_function_url_config(FunctionName=fn, Qualifier="live", AuthType="NONE")
    assert aliased["FunctionArn"] == f"{ARN}:web:live" and aliased["FunctionUrl"] != plain["FunctionUrl"]
    assert lambda_client.get_function_url_config(FunctionName=f"{fn}:live")["FunctionUrl"] == aliased["FunctionUrl"]
    listed = lambda_client.list_function_url_configs(FunctionName=fn)["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{ARN}:web", f"{ARN}:web:live"]
    page = lambda_client.list_function_url_configs(FunctionName=fn, MaxItems=1)
    assert len(page["FunctionUrlConfigs"]) == 1
    rest = lambda_client.list_function_url_configs(FunctionName=fn, Marker=page["NextMarker"])
    assert [c["FunctionArn"] for c in rest["FunctionUrlConfigs"]] == [f"{ARN}:web:live"]
    paginated = lambda_client.get_paginator("list_function_url_configs").paginate(FunctionName=fn,
                                                                                  PaginationConfig={"PageSize": 1})
    assert sum(len(p["FunctionUrlConfigs"]) for p in paginated) == 2


def test_delete_then_get_is_404(lambda_client: Any, fn: str) -> None:
    lambda_client.create_function_url_config(FunctionName=fn, AuthType="NONE")
    assert lambda_client.delete_function_url_config(FunctionName=fn)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        lambda_client.get_function_url_config(FunctionName=fn)
    assert error_of(caught) == (404, "ResourceNotFoundException", "The resource you requested does not exist.")
    assert not FunctionUrlConfig.objects.exists()


@pytest.mark.parametrize(
    ("call", "arguments", "expected"),
    [
        ("create_function_url_config", {"AuthType": "NONE", "Qualifier": "$LATEST"}, (400, "ValidationException")),
        ("create_function_url_config", {"AuthType": "NONE", "Qualifier": "1"}, (400, "ValidationException")),
        ("create_function_url_config", {"AuthType": "NONE", "Qualifier": "nope"}, (404, "ResourceNotFoundException")),
        ("create_function_url_config", {"AuthType": "OPEN"}, (400, "ValidationException")),
        ("create_function_url_config", {"AuthType": "NONE", "InvokeMode": "FAST"}, (400, "ValidationException")),
        ("create_function_url_config", {"AuthType": "NONE", "Cors": {"MaxAge": 86401}}, (400, "ValidationException")),
        ("create_function_url_config", {"AuthType": "NONE", "Cors": {"AllowMethods": ["GET"] * 7}},
         (400, "ValidationException")),
        ("update_function_url_config", {"AuthType": "NONE"}, (404, "ResourceNotFoundException")),
        ("delete_function_url_config", {}, (404, "ResourceNotFoundException")),
        ("list_function_url_configs", {"MaxItems": 51}, (400, "ValidationException")),
    ],
)
def test_bad_requests(lambda_client: Any, fn: str, call: str, arguments: dict[str, Any],
                      expected: tuple[int, str]) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(lambda_client, call)(FunctionName=fn, **arguments)
    assert error_of(caught)[:2] == expected


def test_a_second_url_is_a_conflict_with_aws_wording(lambda_client: Any, fn: str) -> None:
    lambda_client.create_function_url_config(FunctionName=fn, AuthType="NONE")
    with pytest.raises(ClientError) as caught:
        lambda_client.create_function_url_config(FunctionName=fn, AuthType="NONE")
    assert error_of(caught) == (
        409, "ResourceConflictException",
        f"Failed to create function url config for [functionArn = {ARN}:web]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function",
    )


def test_an_unknown_function(lambda_client: Any, db: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_function_url_config(FunctionName="ghost", AuthType="NONE")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:ghost")


def test_deleting_the_function_deletes_its_urls(lambda_client: Any, fn: str) -> None:
    lambda_client.create_function_url_config(FunctionName=fn, AuthType="NONE")
    lambda_client.delete_function(FunctionName=fn)
    assert not FunctionUrlConfig.objects.exists()
