"""The migration from today's schema (0007): existing rows land in teams as accounts, and what
worked keeps working with the statements AWS would need."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from invocations import policy
from invocations.access import statements
from invocations.models import AccessKey, EventSourceMapping, Function, Membership, Team

BEFORE = [("invocations", "0007_fewer_invocation_indexes")]


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_rows(transactional_db: Any, settings: Any) -> dict[str, Any]:
    apps = migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Team_ = apps.get_model("invocations", "Team")
    Function_ = apps.get_model("invocations", "Function")
    Version = apps.get_model("invocations", "FunctionVersion")
    Key = apps.get_model("invocations", "AccessKey")
    Url = apps.get_model("invocations", "FunctionUrlConfig")
    Trigger = apps.get_model("invocations", "Trigger")
    Mapping = apps.get_model("invocations", "EventSourceMapping")
    Invocation = apps.get_model("invocations", "Invocation")

    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    root = User.objects.create(username="root", is_superuser=True, is_staff=True)
    core = Team_.objects.create(name="core")
    core.members.add(bob)
    api_made = Function_.objects.create(name="api-made", owner=alice)  # no team: made through the API
    console_made = Function_.objects.create(name="console-made", owner=bob, team=core)
    for function in (api_made, console_made):
        Version.objects.create(function=function, version="$LATEST", runtime="python3.11", handler="a.b", role="r",
                               code_sha256="x", code_digest="x")  # fmt: skip
    Key.objects.create(user=alice, access_key_id="AKIAALICE", secret_encrypted="x")
    Key.objects.create(user=root, access_key_id="AKIAROOT", secret_encrypted="x")
    Url.objects.create(function=api_made, qualifier="", url_id="a" * 32, auth_type="NONE")
    Url.objects.create(function=console_made, qualifier="", url_id="b" * 32, auth_type="AWS_IAM")
    Trigger.objects.create(function=console_made, name="nightly.job", kind="schedule", schedule_expression="rate(1 day)")
    Trigger.objects.create(function=api_made, name="orders", kind="sns", topic_arn="arn:aws:sns:us-east-1:000000000000:o")
    Trigger.objects.create(function=api_made, name="hook", kind="webhook", token="t")
    Mapping.objects.create(uuid="m-1", function=console_made, source_kind="sqs", batch_size=10,
                           event_source_arn="arn:aws:sqs:us-east-1:000000000000:q")  # fmt: skip
    Invocation.objects.create(request_id="r-1", function=api_made, function_name="api-made")
    return {}


def test_todays_rows_move_into_teams_that_are_accounts(old_rows: dict[str, Any], settings: Any) -> None:
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    default = Team.objects.get(name="default")
    core = Team.objects.get(name="core")
    assert default.account_id == settings.LAMBDA_ACCOUNT_ID
    assert len(core.account_id) == 12 and core.account_id.isdigit() and core.account_id != default.account_id

    api_made, console_made = Function.objects.get(name="api-made"), Function.objects.get(name="console-made")
    assert (api_made.team, console_made.team) == (default, core)

    roles = {(m.team.name, m.user.username): m.role for m in Membership.objects.select_related("team", "user")}
    assert roles == {
        ("core", "bob"): "developer",  # a member could do everything a developer does
        ("default", "alice"): "developer",  # owner of a function there, and her key acts there
        ("default", "root"): "admin",
    }
    assert {k.access_key_id: k.team.name for k in AccessKey.objects.select_related("team")} == {
        "AKIAALICE": "default", "AKIAROOT": "default"
    }
    assert EventSourceMapping.objects.get(uuid="m-1").team == core

    public = statements(api_made.pk, None)
    assert [s["Sid"] for s in public[:2]] == ["FunctionURLAllowPublicAccess", "FunctionURLAllowInvokeAction"]
    context = policy.Context(function_url_auth_type="NONE", invoked_via_function_url=True)
    anonymous = policy.Principal(kind="anonymous")
    for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):  # the public URL still answers
        assert policy.decide(principal=anonymous, action=action, resource_account=default.account_id,
                             statements=public, context=context).allowed  # fmt: skip
    assert not statements(console_made.pk, None)[1:]  # an AWS_IAM URL gets no public statement
    (schedule,) = statements(console_made.pk, None)
    assert schedule["Sid"] == "workbench-trigger-nightly_job"
    assert schedule["Principal"] == {"Service": "events.amazonaws.com"}
    assert schedule["Condition"] == {"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{core.account_id}:rule/nightly.job"}}
    sids = [s["Sid"] for s in public]
    assert "workbench-trigger-orders" in sids and "workbench-trigger-hook" not in sids
