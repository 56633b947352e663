"""The console as a team sees it: the switcher, roles enforced on every change, the Members page,
keys per team, the function's policy and public URL statements, and the activity log."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from console.models import TestEvent
from invocations.models import AccessKey, Activity, Function, FunctionVersion, Membership, PolicyStatement, Team

pytestmark = pytest.mark.django_db


def as_role(client: Client, user: Any, team: Team, role: str) -> Client:
    Membership.objects.filter(team=team, user=user).update(role=role)
    client.force_login(user)
    return client


def test_the_switcher_lists_the_users_teams_and_switches_between_them(
    client: Client, owner: Any, hello: Function, other_team: Team
) -> None:
    elsewhere = Function.objects.create(name="elsewhere", team=other_team)
    FunctionVersion.objects.create(function=elsewhere, version="$LATEST", runtime="python3.11", handler="a.b", role="r",
                                   code_sha256="x", code_digest="x")  # fmt: skip
    Membership.objects.create(team=other_team, user=owner, role="viewer")
    client.force_login(owner)
    home = client.get("/").content.decode()
    assert "core (111111111111)" in home and "other (222222222222)" in home
    assert "hello" in home and "elsewhere" not in home
    client.post("/team/switch/", {"team": other_team.pk})
    home = client.get("/").content.decode()
    assert "elsewhere" in home and ">hello<" not in home
    assert client.get("/functions/hello/").status_code == 404  # another team's name, looked up here


def test_a_user_cannot_switch_to_a_team_they_are_not_in(client: Client, outsider: Any, hello: Function, team: Team) -> None:
    client.force_login(outsider)
    client.post("/team/switch/", {"team": team.pk})
    assert client.get("/functions/hello/").status_code == 404


@pytest.mark.parametrize(
    ("role", "may_deploy", "may_test", "may_share"),
    [("viewer", False, False, False), ("tester", False, True, False), ("developer", True, True, True)],
)
def test_each_role_is_enforced_on_the_consoles_changes(
    client: Client, teammate: Any, team: Team, hello: Function, role: str, may_deploy: bool, may_test: bool,
    may_share: bool,
) -> None:  # fmt: skip
    as_role(client, teammate, team, role)
    assert client.get("/functions/hello/configuration/").status_code == 200  # everyone reads
    deploy = client.post("/functions/hello/", {"filename": "lambda_function.py", "source": "x = 1\n"})
    assert (deploy.status_code != 403) is may_deploy
    config = client.post("/functions/hello/configuration/", {"handler": "a.b", "timeout": 3, "memory_size": 128})
    assert (config.status_code != 403) is may_deploy
    run = client.post("/functions/hello/test/run/", {"body": "{}", "qualifier": "$LATEST"})
    assert (run.status_code != 403) is may_test
    shared = client.post("/functions/hello/events/", {"name": "s", "scope": "shared", "body": "{}"})
    # A viewer gets a 403; a tester the editor again with the refusal under Sharing (issue 15).
    assert (shared.status_code == 403) is (not may_test)
    assert TestEvent.objects.filter(name="s", scope="shared").exists() is may_share
    if not may_deploy:
        assert "is not authorized to perform" in deploy.content.decode()


def test_members_page_is_for_team_admins(client: Client, owner: Any, teammate: Any, team: Team, django_user_model: Any) -> None:
    as_role(client, teammate, team, "developer")
    assert client.get("/team/members/").status_code == 403
    client.force_login(owner)
    page = client.get("/team/members/").content.decode()
    assert 'data-user="alice"' in page and 'data-user="bob"' in page
    django_user_model.objects.create_user("dana")
    assert client.post("/team/members/", {"username": "dana", "role": "tester"}).status_code == 302
    dana = Membership.objects.get(team=team, user__username="dana")
    assert dana.role == "tester"
    client.post(f"/team/members/{dana.user_id}/", {"role": "viewer"})
    dana.refresh_from_db()
    assert dana.role == "viewer"
    client.post(f"/team/members/{dana.user_id}/", {"action": "remove"})
    assert not Membership.objects.filter(pk=dana.pk).exists()
    actions = list(Activity.objects.filter(team=team).order_by("id").values_list("action", flat=True))
    assert actions == ["workbench:AddMember", "workbench:SetRole", "workbench:RemoveMember"]


def test_a_team_keeps_its_last_admin(client: Client, owner: Any, team: Team) -> None:
    client.force_login(owner)
    client.post(f"/team/members/{owner.pk}/", {"role": "viewer"})
    assert Membership.objects.get(team=team, user=owner).role == "admin"


def test_removing_a_member_deactivates_their_keys_in_that_team(client: Client, owner: Any, teammate: Any, team: Team) -> None:
    client.force_login(teammate)
    client.post("/keys/", {"description": "bobs"})
    key = AccessKey.objects.get(user=teammate)
    assert key.team == team and key.is_active
    client.force_login(owner)
    client.post(f"/team/members/{teammate.pk}/", {"action": "remove"})
    key.refresh_from_db()
    assert not key.is_active


def test_an_admin_sees_and_revokes_every_key_of_the_team_a_member_only_their_own(
    client: Client, owner: Any, teammate: Any, team: Team
) -> None:
    client.force_login(teammate)
    client.post("/keys/", {"description": "bobs"})
    client.force_login(owner)
    client.post("/keys/", {"description": "alices"})
    assert "bobs" in client.get("/keys/").content.decode()
    bobs = AccessKey.objects.get(user=teammate)
    client.post(f"/keys/{bobs.access_key_id}/revoke/")
    bobs.refresh_from_db()
    assert not bobs.is_active
    client.force_login(teammate)
    assert "alices" not in client.get("/keys/").content.decode()
    alices = AccessKey.objects.get(user=owner)
    assert client.post(f"/keys/{alices.access_key_id}/revoke/").status_code == 403
    alices.refresh_from_db()
    assert alices.is_active


def test_a_public_url_made_in_the_console_gets_the_two_statements_and_shows_them(
    client: Client, owner: Any, hello: Function
) -> None:
    client.force_login(owner)
    client.post("/functions/hello/configuration/url/", {"auth_type": "NONE", "invoke_mode": "BUFFERED"})
    sids = set(PolicyStatement.objects.filter(function=hello).values_list("sid", flat=True))
    assert sids == {"FunctionURLAllowPublicAccess", "FunctionURLAllowInvokeAction"}
    page = client.get("/functions/hello/configuration/").content.decode()
    assert "FunctionURLAllowPublicAccess" in page and "lambda:FunctionUrlAuthType" in page
    client.post("/functions/hello/configuration/url/", {"auth_type": "AWS_IAM", "invoke_mode": "BUFFERED"})
    assert not PolicyStatement.objects.filter(function=hello).exists()


def test_the_configuration_tab_adds_and_removes_a_statement_for_another_account(
    client: Client, owner: Any, hello: Function
) -> None:
    client.force_login(owner)
    client.post("/functions/hello/configuration/policy/",
                {"statement_id": "partners", "principal": "222222222222", "action": "lambda:InvokeFunction"})
    statement = PolicyStatement.objects.get(function=hello, sid="partners").statement
    assert statement["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert "partners" in client.get("/functions/hello/configuration/").content.decode()
    client.post("/functions/hello/configuration/policy/partners/remove/")
    assert not PolicyStatement.objects.filter(function=hello).exists()


def test_the_activity_log_shows_who_changed_what_per_function_and_per_team(
    client: Client, owner: Any, hello: Function
) -> None:
    client.force_login(owner)
    client.post("/functions/hello/configuration/", {"handler": "lambda_function.lambda_handler", "timeout": 9,
                                                    "memory_size": 128, "environment": "DB_PASSWORD=hunter2"})
    entry = Activity.objects.filter(function=hello, action="lambda:UpdateFunctionConfiguration").get()
    assert (entry.actor_name, entry.via) == ("alice", "console")
    assert entry.changes["timeout"] == [3, 9]
    assert entry.changes["environment"] == {"DB_PASSWORD": "(added)"}  # names, never values
    assert "hunter2" not in json.dumps(entry.changes)
    for page in ("/functions/hello/activity/", "/team/activity/"):
        body = client.get(page).content.decode()
        assert "lambda:UpdateFunctionConfiguration" in body and "lambda:CreateFunction" in body


def test_the_activity_log_cannot_be_edited_in_the_admin(client: Client, django_user_model: Any, hello: Function) -> None:
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    entry = Activity.objects.filter(function=hello).first()
    assert entry is not None
    assert client.get("/admin/invocations/activity/").status_code == 200
    assert client.post(f"/admin/invocations/activity/{entry.pk}/change/", {"action": "forged"}).status_code == 403
    assert client.post(f"/admin/invocations/activity/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/invocations/activity/add/").status_code == 403
