"""PublishVersion and ListVersionsByFunction through real boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.models import Function, FunctionVersion
from tests.conftest import zip_bytes
from tests.invocations.api.control_plane import ARN, code_dir, create, error_of, runtimes_on_offer  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("code_dir", "runtimes_on_offer")]


def test_publishing_makes_version_1_with_a_qualified_arn_and_201(lambda_client: Any) -> None:
    created = create(lambda_client, Description="base")
    response = lambda_client.publish_version(FunctionName="hello", Description="first")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert response["Version"] == "1"
    assert response["FunctionArn"] == f"{ARN}:hello:1"
    assert response["Description"] == "first"
    assert response["CodeSha256"] == created["CodeSha256"]
    assert response["State"] == "Active"


def test_publishing_unchanged_code_and_configuration_returns_the_existing_version(lambda_client: Any) -> None:
    create(lambda_client)
    first = lambda_client.publish_version(FunctionName="hello")
    again = lambda_client.publish_version(FunctionName="hello")
    assert again["Version"] == "1"
    assert again["RevisionId"] == first["RevisionId"]
    assert FunctionVersion.objects.count() == 2


def test_a_configuration_change_makes_the_next_number(lambda_client: Any) -> None:
    create(lambda_client)
    lambda_client.publish_version(FunctionName="hello")
    lambda_client.update_function_configuration(FunctionName="hello", Timeout=30)
    second = lambda_client.publish_version(FunctionName="hello")
    assert (second["Version"], second["Timeout"]) == ("2", 30)


def test_version_numbers_are_never_reused_after_a_delete(lambda_client: Any) -> None:
    create(lambda_client)
    lambda_client.publish_version(FunctionName="hello")
    lambda_client.delete_function(FunctionName="hello", Qualifier="1")
    lambda_client.update_function_code(FunctionName="hello", ZipFile=zip_bytes({"app.py": "v = 2\n"}))
    assert lambda_client.publish_version(FunctionName="hello")["Version"] == "2"
    assert Function.objects.get().next_version == 3


def test_a_different_code_sha256_is_refused_with_awss_message(lambda_client: Any) -> None:
    created = create(lambda_client)
    with pytest.raises(ClientError) as caught:
        lambda_client.publish_version(FunctionName="hello", CodeSha256="abc=")
    assert error_of(caught) == (
        400,
        "InvalidParameterValueException",
        f"CodeSHA256 (abc=) is different from current CodeSHA256 in $LATEST ({created['CodeSha256']}). "
        "Please try again with the CodeSHA256 in $LATEST.",
    )
    assert FunctionVersion.objects.count() == 1


def test_the_matching_code_sha256_publishes(lambda_client: Any) -> None:
    created = create(lambda_client)
    assert lambda_client.publish_version(FunctionName="hello", CodeSha256=created["CodeSha256"])["Version"] == "1"


def test_a_stale_revision_id_is_412(lambda_client: Any) -> None:
    create(lambda_client)
    with pytest.raises(ClientError) as caught:
        lambda_client.publish_version(FunctionName="hello", RevisionId="stale")
    assert error_of(caught) == (
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to "
        "retrieve the latest Revision Id",
    )


def test_publishing_a_missing_function_is_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.publish_version(FunctionName="ghost")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:ghost")


def test_a_published_version_keeps_its_configuration_when_latest_changes(lambda_client: Any) -> None:
    create(lambda_client, Timeout=3)
    lambda_client.publish_version(FunctionName="hello")
    lambda_client.update_function_configuration(FunctionName="hello", Timeout=60)
    assert lambda_client.get_function_configuration(FunctionName="hello", Qualifier="1")["Timeout"] == 3
    assert lambda_client.get_function_configuration(FunctionName="hello")["Timeout"] == 60


def test_list_versions_starts_with_latest_named_in_its_arn(lambda_client: Any) -> None:
    create(lambda_client)
    for timeout in (4, 5, 6, 7, 8, 9, 10, 11, 12, 13):
        lambda_client.update_function_configuration(FunctionName="hello", Timeout=timeout)
        lambda_client.publish_version(FunctionName="hello")
    versions = lambda_client.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", *[str(n) for n in range(1, 11)]]
    assert versions[0]["FunctionArn"] == f"{ARN}:hello:$LATEST"
    assert versions[10]["FunctionArn"] == f"{ARN}:hello:10"


def test_list_versions_pages(lambda_client: Any) -> None:
    create(lambda_client)
    lambda_client.publish_version(FunctionName="hello")
    first = lambda_client.list_versions_by_function(FunctionName="hello", MaxItems=1)
    second = lambda_client.list_versions_by_function(FunctionName="hello", MaxItems=1, Marker=first["NextMarker"])
    assert [v["Version"] for v in first["Versions"] + second["Versions"]] == ["$LATEST", "1"]
    assert "NextMarker" not in second


def test_list_versions_of_a_missing_function_is_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.list_versions_by_function(FunctionName="ghost")
    assert error_of(caught)[:2] == (404, "ResourceNotFoundException")
