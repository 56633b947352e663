"""Deleting a function and moving it to another team, from the console and through the service."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from invocations.access import user_caller
from invocations.errors import AccessDeniedException, InvalidParameterValueException, ResourceConflictException
from invocations.models import Activity, Function, FunctionVersion, Membership, Team
from invocations.services import functions as function_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(team: Team) -> Any:
    user = get_user_model().objects.create_user("vera", password="password")
    Membership.objects.create(team=team, user=user, role=Membership.Role.VIEWER)
    return user


def test_the_configuration_tab_has_a_danger_zone_for_developers_and_admins(client: Client, owner: Any, teammate: Any, viewer: Any, hello: Function, other_team: Team) -> None:
    Membership.objects.create(team=other_team, user=owner, role=Membership.Role.ADMIN)
    client.force_login(owner)
    body = client.get("/functions/hello/configuration/").content.decode()
    assert 'id="danger-zone"' in body and "Delete function hello?" in body and 'id="move-team"' in body and "other (" in body
    client.force_login(teammate)  # a developer deletes but administers no team to move it to
    body = client.get("/functions/hello/configuration/").content.decode()
    assert 'id="delete-function"' in body and 'id="move-team"' not in body
    client.force_login(viewer)
    assert 'id="danger-zone"' not in client.get("/functions/hello/configuration/").content.decode()


def test_a_developer_deletes_a_function_after_the_confirmation_page(client: Client, teammate: Any, hello: Function) -> None:
    client.force_login(teammate)
    confirm = client.get("/functions/hello/delete/")
    assert confirm.status_code == 200 and "Delete function hello?" in confirm.content.decode()
    assert Function.objects.filter(pk=hello.pk).exists()  # a GET deletes nothing
    response = client.post("/functions/hello/delete/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert not Function.objects.filter(pk=hello.pk).exists()
    assert "Function hello deleted." in client.get("/").content.decode()


def test_a_viewer_posting_delete_or_move_directly_is_refused(client: Client, viewer: Any, hello: Function, other_team: Team) -> None:
    client.force_login(viewer)
    assert client.post("/functions/hello/delete/").status_code == 403
    assert client.post("/functions/hello/team/", {"team": other_team.pk}).status_code == 422  # no team to offer
    assert Function.objects.get(pk=hello.pk).team.name == "core"


def test_an_outsider_cannot_reach_another_teams_function(client: Client, outsider: Any, hello: Function, other_team: Team) -> None:
    client.force_login(outsider)
    assert client.post("/functions/hello/delete/").status_code == 404
    assert client.post("/functions/hello/team/", {"team": other_team.pk}).status_code == 404
    assert Function.objects.filter(pk=hello.pk).exists()


def test_an_admin_of_both_teams_moves_a_function_and_follows_it(client: Client, owner: Any, hello: Function, other_team: Team) -> None:
    Membership.objects.create(team=other_team, user=owner, role=Membership.Role.ADMIN)
    client.force_login(owner)
    response = client.post("/functions/hello/team/", {"team": other_team.pk})
    assert response.status_code == 302 and response["Location"] == "/functions/hello/configuration/"
    hello.refresh_from_db()
    assert hello.team == other_team
    page = client.get(response["Location"]).content.decode()  # the session switched to the new team
    assert f"account {other_team.account_id}" in page and "moved to team other" in page
    moves = Activity.objects.filter(action="workbench:MoveFunction")
    assert sorted(moves.values_list("team__name", flat=True)) == ["core", "other"]


def test_moving_needs_admin_in_the_target_team_too(client: Client, owner: Any, hello: Function, other_team: Team) -> None:
    Membership.objects.create(team=other_team, user=owner, role=Membership.Role.DEVELOPER)
    client.force_login(owner)
    response = client.post("/functions/hello/team/", {"team": other_team.pk})
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()  # not offered
    caller = user_caller(user=owner, team=hello.team, via="console")
    with pytest.raises(AccessDeniedException):
        function_service.move_function(caller=caller, function=hello, team=other_team)
    assert Function.objects.get(pk=hello.pk).team.name == "core"


def test_a_developer_of_the_source_team_cannot_move(teammate: Any, hello: Function, other_team: Team) -> None:
    Membership.objects.create(team=other_team, user=teammate, role=Membership.Role.ADMIN)
    with pytest.raises(AccessDeniedException):
        function_service.move_function(caller=user_caller(user=teammate, team=hello.team, via="console"), function=hello, team=other_team)


def test_moving_refuses_a_name_taken_in_the_target_team_with_a_message_on_the_field(client: Client, owner: Any, hello: Function, other_team: Team) -> None:
    Membership.objects.create(team=other_team, user=owner, role=Membership.Role.ADMIN)
    taken = Function.objects.create(name="hello", team=other_team)
    FunctionVersion.objects.create(function=taken, version="$LATEST", runtime="python3.11", handler="a.b", role="r", code_sha256="x", code_digest="x")
    client.force_login(owner)
    response = client.post("/functions/hello/team/", {"team": other_team.pk})
    assert response.status_code == 422 and "Function already exist" in response.content.decode()
    assert 'id="team-error"' in response.content.decode()
    caller = user_caller(user=owner, team=hello.team, via="console")
    with pytest.raises(ResourceConflictException):
        function_service.move_function(caller=caller, function=hello, team=other_team)


def test_moving_to_the_same_team_or_past_the_concurrency_pool_is_refused(owner: Any, hello: Function, other_team: Team) -> None:
    Membership.objects.create(team=other_team, user=owner, role=Membership.Role.ADMIN)
    caller = user_caller(user=owner, team=hello.team, via="console")
    with pytest.raises(InvalidParameterValueException):
        function_service.move_function(caller=caller, function=hello, team=hello.team)
    big = Function.objects.create(name="big", team=other_team, reserved_concurrency=850)
    assert big.pk
    Function.objects.filter(pk=hello.pk).update(reserved_concurrency=100)
    hello.refresh_from_db()
    with pytest.raises(InvalidParameterValueException, match="UnreservedConcurrentExecution"):
        function_service.move_function(caller=caller, function=hello, team=other_team)
