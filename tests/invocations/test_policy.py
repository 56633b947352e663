"""The decision itself, as a table (pure): role × action × own/other account × resource policy."""

from __future__ import annotations

from typing import Any

import pytest

from invocations import policy
from invocations.policy import Context, Principal, decide

OWN, OTHER = "111111111111", "222222222222"
FUNCTION = f"arn:aws:lambda:us-east-1:{OWN}:function:f"


def user(role: str | None, account: str = OWN, **extra: Any) -> Principal:
    return Principal(kind="user", account_id=account, name="alice", role=role, **extra)


def allow(principal: Any, action: str = "lambda:InvokeFunction", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": "s", "Effect": "Allow", "Principal": principal, "Action": action, "Resource": FUNCTION}
    if condition:
        statement["Condition"] = condition
    return statement


# Every action, every role, in the caller's own account: the README's table.
EXPECTED_LEAST_ROLE = {
    "lambda:GetFunction": "viewer", "lambda:ListFunctions": "viewer", "lambda:GetPolicy": "viewer",
    "lambda:ListInvocations": "viewer", "lambda:GetInvocation": "viewer", "lambda:GetTestEvent": "viewer",
    "lambda:GetTrigger": "viewer", "lambda:ListActivity": "viewer",
    "lambda:InvokeFunction": "tester", "lambda:InvokeFunctionUrl": "tester", "lambda:PutPrivateTestEvent": "tester",
    "lambda:CreateFunction": "developer", "lambda:UpdateFunctionCode": "developer",
    "lambda:UpdateFunctionConfiguration": "developer", "lambda:DeleteFunction": "developer",
    "lambda:PutFunctionConcurrency": "developer", "lambda:UpdateFunctionUrlConfig": "developer",
    "lambda:AddPermission": "developer", "lambda:RemovePermission": "developer", "lambda:CreateTrigger": "developer",
    "lambda:UpdateTrigger": "developer", "lambda:PutSharedTestEvent": "developer",
    "lambda:CreateEventSourceMapping": "developer",
    "workbench:ManageMembers": "admin", "workbench:ManageAccessKeys": "admin", "workbench:MoveFunction": "admin",
}  # fmt: skip
RANK = {"viewer": 0, "tester": 1, "developer": 2, "admin": 3}


@pytest.mark.parametrize("role", policy.ROLES)
@pytest.mark.parametrize("action", sorted(EXPECTED_LEAST_ROLE))
def test_in_its_own_account_a_role_allows_exactly_its_actions(role: str, action: str) -> None:
    decision = decide(principal=user(role), action=action, resource_account=OWN)
    assert decision.allowed is (RANK[role] >= RANK[EXPECTED_LEAST_ROLE[action]])
    assert decision.basis == ("role" if decision.allowed else "identity")


def test_every_action_has_a_least_role_and_only_lambda_actions_can_be_granted() -> None:
    assert set(policy.MINIMUM_ROLE) >= set(EXPECTED_LEAST_ROLE)
    assert all(action.startswith("lambda:") for action in policy.GRANTABLE)
    assert "workbench:ManageMembers" not in policy.GRANTABLE


@pytest.mark.parametrize("role", policy.ROLES)
@pytest.mark.parametrize("action", ["lambda:GetFunction", "lambda:InvokeFunction", "lambda:UpdateFunctionCode"])
def test_in_another_account_no_role_allows_anything(role: str, action: str) -> None:
    decision = decide(principal=user(role, account=OTHER), action=action, resource_account=OWN)
    assert not decision.allowed and decision.basis == "resource"


# (statement principal, caller, allowed): how a statement's Principal names someone.
PRINCIPALS = [
    ({"AWS": f"arn:aws:iam::{OTHER}:root"}, user("viewer", OTHER), True),
    ({"AWS": OTHER}, user("viewer", OTHER), True),
    ({"AWS": f"arn:aws:iam::{OTHER}:user/alice"}, user("viewer", OTHER), True),
    ({"AWS": f"arn:aws:iam::{OTHER}:user/bob"}, user("viewer", OTHER), False),
    ({"AWS": "arn:aws:iam::333333333333:root"}, user("admin", OTHER), False),
    ({"AWS": f"arn:aws:iam::{OTHER}:root"}, Principal(kind="account", account_id=OTHER), True),
    ("*", user(None, OTHER), True),
    ("*", Principal(kind="anonymous"), True),
    ({"AWS": f"arn:aws:iam::{OTHER}:root"}, Principal(kind="anonymous"), False),
    ({"Service": "sns.amazonaws.com"}, Principal(kind="service", service="sns.amazonaws.com"), True),
    ({"Service": "sns.amazonaws.com"}, Principal(kind="service", service="events.amazonaws.com"), False),
    ({"Service": "sns.amazonaws.com"}, user("admin", OTHER), False),
]


@pytest.mark.parametrize(("named", "caller", "allowed"), PRINCIPALS)
def test_a_statement_allows_the_principal_it_names(named: Any, caller: Principal, allowed: bool) -> None:
    decision = decide(principal=caller, action="lambda:InvokeFunction", resource_account=OWN, statements=[allow(named)])
    assert decision.allowed is allowed


@pytest.mark.parametrize(
    ("action_in_statement", "allowed"),
    [("lambda:InvokeFunction", True), ("lambda:*", True), ("*", True), (["lambda:GetFunction", "lambda:InvokeFunction"], True),
     ("lambda:GetFunction", False)],
)
def test_a_statement_allows_only_its_actions(action_in_statement: Any, allowed: bool) -> None:
    statements = [allow({"AWS": OTHER}, action_in_statement)]
    assert decide(principal=user("viewer", OTHER), action="lambda:InvokeFunction", resource_account=OWN,
                  statements=statements).allowed is allowed  # fmt: skip


CONDITIONS = [
    ({"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:*:orders"}},
     Context(source_arn="arn:aws:sns:us-east-1:222222222222:orders"), True),
    ({"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:*:orders"}},
     Context(source_arn="arn:aws:sns:us-east-1:222222222222:other"), False),
    ({"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:*:orders"}}, Context(), False),
    ({"StringEquals": {"AWS:SourceAccount": OTHER}}, Context(source_account=OTHER), True),
    ({"StringEquals": {"AWS:SourceAccount": OTHER}}, Context(source_account=OWN), False),
    ({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}, Context(function_url_auth_type="NONE"), True),
    ({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}, Context(function_url_auth_type="AWS_IAM"), False),
    ({"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}, Context(invoked_via_function_url=True), True),
    ({"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}, Context(), False),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}, Context(), False),  # no organizations here
    ({"NumericLessThan": {"aws:EpochTime": "1"}}, Context(), False),  # unknown operators never grant
]


@pytest.mark.parametrize(("condition", "context", "allowed"), CONDITIONS)
def test_conditions_are_evaluated_and_fail_closed(condition: dict[str, Any], context: Context, allowed: bool) -> None:
    statement = {**allow("*"), "Condition": condition}
    decision = decide(principal=Principal(kind="anonymous"), action="lambda:InvokeFunction", resource_account=OWN,
                      statements=[statement], context=context)  # fmt: skip
    assert decision.allowed is allowed


def test_a_statement_for_its_own_account_adds_nothing_to_a_role() -> None:
    # As AWS's arn:aws:iam::<own>:root: it delegates to identity policies, it does not grant.
    statements = [allow({"AWS": OWN}, "lambda:UpdateFunctionCode")]
    assert not decide(principal=user("viewer"), action="lambda:UpdateFunctionCode", resource_account=OWN,
                      statements=statements).allowed  # fmt: skip


def test_a_public_statement_lets_everyone_in_its_own_account_too() -> None:
    statements = [allow("*", "lambda:InvokeFunctionUrl", StringEquals={"lambda:FunctionUrlAuthType": "NONE"})]
    context = Context(function_url_auth_type="NONE", invoked_via_function_url=True)
    assert decide(principal=user("viewer"), action="lambda:InvokeFunctionUrl", resource_account=OWN,
                  statements=statements, context=context).allowed  # fmt: skip


def test_only_allow_statements_grant() -> None:
    statement = {**allow({"AWS": OTHER}), "Effect": "Deny"}
    assert not decide(principal=user("admin", OTHER), action="lambda:InvokeFunction", resource_account=OWN,
                      statements=[statement]).allowed  # fmt: skip


def test_the_platform_acting_for_an_account_may_do_anything_there_and_nothing_elsewhere() -> None:
    platform = Principal(kind="account", account_id=OWN)
    assert decide(principal=platform, action="lambda:InvokeFunction", resource_account=OWN).allowed
    assert not decide(principal=platform, action="lambda:InvokeFunction", resource_account=OTHER).allowed


def test_superusers_administer_every_account() -> None:
    root = user(None, account=OTHER, superuser=True)
    assert decide(principal=root, action="workbench:ManageMembers", resource_account=OWN).allowed


def test_the_denial_message_is_awss() -> None:
    caller = user("viewer", OTHER)
    decision = decide(principal=caller, action="lambda:GetFunction", resource_account=OWN)
    assert decision.message(caller, "lambda:GetFunction", FUNCTION) == (
        f"User: arn:aws:iam::{OTHER}:user/alice is not authorized to perform: lambda:GetFunction on resource: "
        f"{FUNCTION} because no resource-based policy allows the lambda:GetFunction action"
    )
    mine = user("viewer")
    denied = decide(principal=mine, action="lambda:UpdateFunctionCode", resource_account=OWN)
    assert denied.message(mine, "lambda:UpdateFunctionCode", FUNCTION).endswith(
        "because no identity-based policy allows the lambda:UpdateFunctionCode action"
    )
