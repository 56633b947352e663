"""Resource-based policies (AddPermission, GetPolicy, RemovePermission) with AWS's shapes and errors,
and the attack they guard against: another team's key, through real boto3, on every operation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from invocations.models import Activity, Alias, Function
from tests.conftest import zip_bytes
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

CORE = "arn:aws:lambda:us-east-1:111111111111:function"
FN = f"{CORE}:secret"
OTHER = "222222222222"
OUTSIDER_ARN = "arn:aws:iam::222222222222:user/charlie"


@pytest.fixture(autouse=True)
def secret(settings: Any, tmp_path: Path, team: Any) -> Function:
    """Core's function "secret", with a password in its environment and a published version + alias."""
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function("secret", code_dir=settings.LAMBDA_CODE_DIR, versions=("$LATEST", "1"),
                             environment={"DB_PASSWORD": "hunter2"}, team=team)  # fmt: skip
    Alias.objects.create(function=function, name="prod", function_version="1")
    return function


def error_of(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def denied(action: str, resource: str = FN) -> tuple[int, str, str]:
    return 403, "AccessDeniedException", (
        f"User: {OUTSIDER_ARN} is not authorized to perform: lambda:{action} on resource: {resource} "
        f"because no resource-based policy allows the lambda:{action} action"
    )


# --- AddPermission / GetPolicy / RemovePermission ------------------------------------------------------


def test_add_permission_answers_201_with_the_statement_as_aws_writes_it(lambda_client: Any) -> None:
    response = lambda_client.add_permission(FunctionName="secret", StatementId="xaccount", Action="lambda:InvokeFunction",
                                            Principal=OTHER)  # fmt: skip
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(response["Statement"]) == {
        "Sid": "xaccount", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "lambda:InvokeFunction", "Resource": FN,
    }  # fmt: skip


def test_conditions_and_service_principals_are_rendered_like_aws(lambda_client: Any) -> None:
    response = lambda_client.add_permission(
        FunctionName="secret", StatementId="sns", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
        SourceArn="arn:aws:sns:us-east-1:222222222222:orders", SourceAccount=OTHER,
    )
    assert json.loads(response["Statement"])["Principal"] == {"Service": "sns.amazonaws.com"}
    assert json.loads(response["Statement"])["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": OTHER},
        "ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:222222222222:orders"},
    }
    url = lambda_client.add_permission(FunctionName="secret", StatementId="url", Action="lambda:InvokeFunctionUrl",
                                       Principal="*", FunctionUrlAuthType="NONE")  # fmt: skip
    assert json.loads(url["Statement"])["Principal"] == "*"
    assert json.loads(url["Statement"])["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}


def test_get_policy_is_a_json_string_with_version_id_and_statements_and_a_revision(lambda_client: Any) -> None:
    assert error_of(lambda: lambda_client.get_policy(FunctionName="secret")) == (
        404, "ResourceNotFoundException", "The resource you requested does not exist."
    )
    lambda_client.add_permission(FunctionName="secret", StatementId="a", Action="lambda:InvokeFunction", Principal=OTHER)
    lambda_client.add_permission(FunctionName="secret", StatementId="b", Action="lambda:GetFunction", Principal=OTHER)
    answer = lambda_client.get_policy(FunctionName="secret")
    policy = json.loads(answer["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["a", "b"]
    assert answer["RevisionId"]


def test_a_duplicate_statement_id_is_a_409(lambda_client: Any) -> None:
    lambda_client.add_permission(FunctionName="secret", StatementId="a", Action="lambda:InvokeFunction", Principal=OTHER)
    assert error_of(lambda: lambda_client.add_permission(
        FunctionName="secret", StatementId="a", Action="lambda:GetFunction", Principal=OTHER
    )) == (409, "ResourceConflictException", "The statement id (a) provided already exists. Please specify a "
           "different statement id, or remove the existing statement.")  # fmt: skip


def test_remove_permission_answers_204_and_404_for_an_unknown_statement(lambda_client: Any) -> None:
    lambda_client.add_permission(FunctionName="secret", StatementId="a", Action="lambda:InvokeFunction", Principal=OTHER)
    assert lambda_client.remove_permission(FunctionName="secret", StatementId="a")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(lambda: lambda_client.remove_permission(FunctionName="secret", StatementId="a")) == (
        404, "ResourceNotFoundException", "Statement a is not found in resource policy."
    )


def test_a_stale_revision_id_is_a_412(lambda_client: Any) -> None:
    lambda_client.add_permission(FunctionName="secret", StatementId="a", Action="lambda:InvokeFunction", Principal=OTHER)
    revision = lambda_client.get_policy(FunctionName="secret")["RevisionId"]
    lambda_client.add_permission(FunctionName="secret", StatementId="b", Action="lambda:InvokeFunction",
                                 Principal=OTHER, RevisionId=revision)  # fmt: skip
    assert error_of(lambda: lambda_client.add_permission(
        FunctionName="secret", StatementId="c", Action="lambda:InvokeFunction", Principal=OTHER, RevisionId=revision
    ))[:2] == (412, "PreconditionFailedException")  # fmt: skip
    assert error_of(lambda: lambda_client.remove_permission(FunctionName="secret", StatementId="a", RevisionId=revision))[:2] == (
        412, "PreconditionFailedException"
    )


def test_versions_and_aliases_have_policies_of_their_own(lambda_client: Any) -> None:
    lambda_client.add_permission(FunctionName="secret", Qualifier="prod", StatementId="a", Action="lambda:InvokeFunction",
                                 Principal=OTHER)  # fmt: skip
    policy = json.loads(lambda_client.get_policy(FunctionName="secret", Qualifier="prod")["Policy"])
    assert policy["Statement"][0]["Resource"] == f"{FN}:prod"
    assert error_of(lambda: lambda_client.get_policy(FunctionName="secret"))[0] == 404
    assert error_of(lambda: lambda_client.get_policy(FunctionName="secret", Qualifier="nope")) == (
        404, "ResourceNotFoundException", f"Function not found: {FN}:nope"
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"Qualifier": "$LATEST"}, (400, "InvalidParameterValueException", "We currently do not support adding policies for $LATEST.")),
        ({"Principal": "not a principal"}, (400, "InvalidParameterValueException",
                                            "The provided principal was invalid. Please check the principal and try again.")),
        ({"Action": "s3:GetObject"}, (400, "ValidationException", None)),
        ({"Action": "lambda:FlyToTheMoon"}, (400, "InvalidParameterValueException", None)),
        ({"StatementId": "has space"}, (400, "ValidationException", None)),
        ({"SourceAccount": "12"}, (400, "ValidationException", None)),
    ],
)
def test_bad_permissions_are_4xx_with_awss_codes(lambda_client: Any, arguments: dict[str, Any], expected: tuple[Any, ...]) -> None:
    call = {"FunctionName": "secret", "StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": OTHER, **arguments}
    status, code, message = error_of(lambda: lambda_client.add_permission(**call))
    assert (status, code) == expected[:2]
    if expected[2]:
        assert message == expected[2]


def test_policy_changes_are_in_the_activity_log(lambda_client: Any) -> None:
    lambda_client.add_permission(FunctionName="secret", StatementId="a", Action="lambda:InvokeFunction", Principal=OTHER)
    lambda_client.remove_permission(FunctionName="secret", StatementId="a")
    entries = list(Activity.objects.filter(function__name="secret").order_by("id").values_list("action", "actor_name"))
    assert entries == [("lambda:AddPermission", "alice"), ("lambda:RemovePermission", "alice")]


# --- the attack: another team's key on every operation --------------------------------------------------

CODE = {"ZipFile": zip_bytes({"app.py": "def handler(e, c):\n    return 'pwned'\n"})}
ATTACKS: list[tuple[str, Callable[[Any], Any], str, str]] = [
    ("GetFunction", lambda c: c.get_function(FunctionName=FN), "GetFunction", FN),
    ("GetFunctionConfiguration", lambda c: c.get_function_configuration(FunctionName=FN), "GetFunctionConfiguration", FN),
    ("Invoke", lambda c: c.invoke(FunctionName=FN, Payload=b"{}"), "InvokeFunction", FN),
    ("Invoke (Event)", lambda c: c.invoke(FunctionName=FN, InvocationType="Event", Payload=b"{}"), "InvokeFunction", FN),
    ("Invoke (DryRun)", lambda c: c.invoke(FunctionName=FN, InvocationType="DryRun"), "InvokeFunction", FN),
    ("Invoke an alias", lambda c: c.invoke(FunctionName=f"{FN}:prod", Payload=b"{}"), "InvokeFunction", f"{FN}:prod"),
    ("UpdateFunctionCode", lambda c: c.update_function_code(FunctionName=FN, **CODE), "UpdateFunctionCode", FN),
    ("UpdateFunctionConfiguration", lambda c: c.update_function_configuration(FunctionName=FN, Timeout=9),
     "UpdateFunctionConfiguration", FN),
    ("PutFunctionConcurrency", lambda c: c.put_function_concurrency(FunctionName=FN, ReservedConcurrentExecutions=0),
     "PutFunctionConcurrency", FN),
    ("CreateFunctionUrlConfig", lambda c: c.create_function_url_config(FunctionName=FN, AuthType="NONE"),
     "CreateFunctionUrlConfig", FN),
    ("UpdateFunctionUrlConfig", lambda c: c.update_function_url_config(FunctionName=FN, AuthType="NONE"),
     "UpdateFunctionUrlConfig", FN),
    ("DeleteFunction", lambda c: c.delete_function(FunctionName=FN), "DeleteFunction", FN),
    ("PublishVersion", lambda c: c.publish_version(FunctionName=FN), "PublishVersion", FN),
    ("CreateAlias", lambda c: c.create_alias(FunctionName=FN, Name="mine", FunctionVersion="1"), "CreateAlias", FN),
    ("ListVersionsByFunction", lambda c: c.list_versions_by_function(FunctionName=FN), "ListVersionsByFunction", FN),
    ("GetPolicy", lambda c: c.get_policy(FunctionName=FN), "GetPolicy", FN),
    ("AddPermission", lambda c: c.add_permission(FunctionName=FN, StatementId="me", Action="lambda:*", Principal=OTHER),
     "AddPermission", FN),
    ("PutFunctionEventInvokeConfig", lambda c: c.put_function_event_invoke_config(FunctionName=FN, MaximumRetryAttempts=0),
     "PutFunctionEventInvokeConfig", FN),
    ("CreateEventSourceMapping", lambda c: c.create_event_source_mapping(
        EventSourceArn="arn:aws:sqs:us-east-1:222222222222:q", FunctionName=FN), "InvokeFunction", FN),
]


@pytest.mark.parametrize(("name", "attack", "action", "resource"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_another_teams_key_is_denied_every_operation_on_a_function_it_may_not_use(
    outsider_client: Any, secret: Function, name: str, attack: Callable[[Any], Any], action: str, resource: str
) -> None:
    assert error_of(lambda: attack(outsider_client)) == denied(action, resource)
    secret.refresh_from_db()
    assert Function.objects.filter(pk=secret.pk).exists() and secret.reserved_concurrency is None
    assert not Activity.objects.filter(function=secret).exists()


def test_another_account_is_denied_whether_or_not_the_function_exists(outsider_client: Any) -> None:
    missing = f"{CORE}:no-such-function"
    assert error_of(lambda: outsider_client.get_function(FunctionName=missing)) == denied("GetFunction", missing)


def test_a_bare_name_is_looked_up_in_the_callers_own_team(outsider_client: Any) -> None:
    assert error_of(lambda: outsider_client.get_function(FunctionName="secret")) == (
        404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:222222222222:function:secret"
    )
    assert outsider_client.list_functions()["Functions"] == []


def test_what_a_statement_grants_is_allowed_and_nothing_more_until_it_is_removed(
    lambda_client: Any, outsider_client: Any
) -> None:
    lambda_client.add_permission(FunctionName="secret", StatementId="xaccount", Action="lambda:InvokeFunction",
                                 Principal=OTHER)  # fmt: skip
    answer = outsider_client.invoke(FunctionName=FN, Payload=b'{"from": "other"}')
    assert answer["StatusCode"] == 200 and json.loads(answer["Payload"].read()) == {"from": "other"}
    # The statement is for the function itself: its alias has its own (empty) policy.
    assert error_of(lambda: outsider_client.invoke(FunctionName=f"{FN}:prod", Payload=b"{}")) == denied(
        "InvokeFunction", f"{FN}:prod"
    )
    assert error_of(lambda: outsider_client.get_function(FunctionName=FN)) == denied("GetFunction")
    assert error_of(lambda: outsider_client.update_function_code(FunctionName=FN, **CODE)) == denied("UpdateFunctionCode")
    lambda_client.remove_permission(FunctionName="secret", StatementId="xaccount")
    assert error_of(lambda: outsider_client.invoke(FunctionName=FN, Payload=b"{}")) == denied("InvokeFunction")


def test_a_teammate_with_a_lesser_role_is_denied_by_identity(
    lambda_client: Any, teammate: Any, team: Any
) -> None:
    from invocations.access_keys import create_access_key
    from invocations.models import Membership
    from tests.conftest import make_lambda_client

    Membership.objects.filter(team=team, user=teammate).update(role="viewer")
    viewer = make_lambda_client(create_access_key(user=teammate, team=team))
    assert viewer.get_function(FunctionName="secret")["Configuration"]["FunctionName"] == "secret"
    status, code, message = error_of(lambda: viewer.invoke(FunctionName="secret", Payload=b"{}"))
    assert (status, code) == (403, "AccessDeniedException")
    assert message == (
        f"User: arn:aws:iam::111111111111:user/bob is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{FN} because no identity-based policy allows the lambda:InvokeFunction action"
    )
