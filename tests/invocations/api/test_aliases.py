"""Create/Get/Update/Delete/ListAliases through real boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.models import Alias
from tests.invocations.api.control_plane import ARN, code_dir, create, error_of, runtimes_on_offer  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("code_dir", "runtimes_on_offer")]


@pytest.fixture
def two_versions(lambda_client: Any) -> None:
    create(lambda_client)
    lambda_client.publish_version(FunctionName="hello")
    lambda_client.update_function_configuration(FunctionName="hello", Timeout=10)
    lambda_client.publish_version(FunctionName="hello")


pytestmark.append(pytest.mark.usefixtures("two_versions"))


def test_it_creates_an_alias_with_201_and_awss_shape(lambda_client: Any) -> None:
    response = lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1", Description="prod")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert response["AliasArn"] == f"{ARN}:hello:live"
    assert (response["Name"], response["FunctionVersion"], response["Description"]) == ("live", "1", "prod")
    assert len(response["RevisionId"]) == 36
    assert "RoutingConfig" not in response


def test_an_alias_can_split_traffic_with_one_more_version(lambda_client: Any) -> None:
    response = lambda_client.create_alias(
        FunctionName="hello", Name="canary", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )
    assert response["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert lambda_client.get_alias(FunctionName="hello", Name="canary")["RoutingConfig"] == response["RoutingConfig"]


def test_a_duplicate_alias_is_409_with_its_arn(lambda_client: Any) -> None:
    lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as caught:
        lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="2")
    assert error_of(caught) == (409, "ResourceConflictException", f"Alias already exists: {ARN}:hello:live")


@pytest.mark.parametrize(
    ("arguments", "member"),
    [
        ({"Name": "123", "FunctionVersion": "1"}, "name"),
        ({"Name": "has.dot", "FunctionVersion": "1"}, "name"),
        ({"Name": "ok", "FunctionVersion": "v1"}, "functionVersion"),
        ({"Name": "ok", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}}},
         "routingConfig.additionalVersionWeights"),
    ],
)  # fmt: skip
def test_names_versions_and_weights_are_validated(lambda_client: Any, arguments: dict[str, Any], member: str) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_alias(FunctionName="hello", **arguments)
    status, code, message = error_of(caught)
    assert (status, code) == (400, "ValidationException")
    assert f"at '{member}' failed to satisfy constraint" in message
    assert not Alias.objects.exists()


def test_routing_to_two_extra_versions_is_refused(lambda_client: Any) -> None:
    lambda_client.update_function_configuration(FunctionName="hello", Timeout=11)
    lambda_client.publish_version(FunctionName="hello")
    with pytest.raises(ClientError) as caught:
        lambda_client.create_alias(
            FunctionName="hello", Name="x", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}},
        )  # fmt: skip
    assert error_of(caught)[:2] == (400, "InvalidParameterValueException")


def test_routing_from_latest_is_refused(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_alias(
            FunctionName="hello", Name="x", FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
        )
    assert error_of(caught)[:2] == (400, "InvalidParameterValueException")


def test_an_alias_to_a_missing_version_is_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_alias(FunctionName="hello", Name="x", FunctionVersion="9")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:hello:9")


def test_get_of_a_missing_alias_is_404_with_awss_message(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.get_alias(FunctionName="hello", Name="nope")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:hello:nope")


def test_update_moves_the_alias_and_changes_its_revision(lambda_client: Any) -> None:
    created = lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    updated = lambda_client.update_alias(
        FunctionName="hello", Name="live", FunctionVersion="2", Description="moved", RevisionId=created["RevisionId"]
    )
    assert (updated["FunctionVersion"], updated["Description"]) == ("2", "moved")
    assert updated["RevisionId"] != created["RevisionId"]


def test_update_with_a_stale_revision_is_412(lambda_client: Any) -> None:
    lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as caught:
        lambda_client.update_alias(FunctionName="hello", Name="live", FunctionVersion="2", RevisionId="stale")
    assert error_of(caught)[:2] == (412, "PreconditionFailedException")
    assert Alias.objects.get().function_version == "1"


def test_update_can_clear_the_routing(lambda_client: Any) -> None:
    lambda_client.create_alias(
        FunctionName="hello", Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    updated = lambda_client.update_alias(FunctionName="hello", Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in updated


def test_update_of_a_missing_alias_is_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.update_alias(FunctionName="hello", Name="nope", FunctionVersion="1")
    assert error_of(caught)[:2] == (404, "ResourceNotFoundException")


def test_delete_answers_204(lambda_client: Any) -> None:
    lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1")
    response = lambda_client.delete_alias(FunctionName="hello", Name="live")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not Alias.objects.exists()


def test_list_aliases_filters_by_version_and_pages(lambda_client: Any) -> None:
    for name, version in (("b", "1"), ("a", "2"), ("c", "1")):
        lambda_client.create_alias(FunctionName="hello", Name=name, FunctionVersion=version)
    assert [a["Name"] for a in lambda_client.list_aliases(FunctionName="hello")["Aliases"]] == ["a", "b", "c"]
    only_1 = lambda_client.list_aliases(FunctionName="hello", FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in only_1] == ["b", "c"]
    first = lambda_client.list_aliases(FunctionName="hello", MaxItems=2)
    second = lambda_client.list_aliases(FunctionName="hello", MaxItems=2, Marker=first["NextMarker"])
    assert [a["Name"] for a in second["Aliases"]] == ["c"]


def test_an_alias_qualifier_reads_the_version_it_points_to(lambda_client: Any) -> None:
    lambda_client.create_alias(FunctionName="hello", Name="live", FunctionVersion="2")
    config = lambda_client.get_function_configuration(FunctionName="hello", Qualifier="live")
    assert (config["Version"], config["Timeout"], config["FunctionArn"]) == ("2", 10, f"{ARN}:hello:live")
