"""Accounts, teams and visibility; the access key page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from invocations.access_keys import decrypt_secret
from invocations.models import AccessKey, Function, FunctionVersion, Invocation, Team

pytestmark = pytest.mark.django_db

FUNCTION_PAGES = ["/functions/hello/", "/functions/hello/test/", "/functions/hello/configuration/", "/functions/hello/history/"]


def test_it_redirects_anonymous_users_to_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_it_logs_in_with_a_password_and_lands_on_the_functions_list(client: Client, owner: Any) -> None:
    response = client.post("/login/", {"username": "alice", "password": "password"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_it_rejects_a_wrong_password(client: Client, owner: Any) -> None:
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert b"didn't match" in response.content


def test_logout_is_a_post_and_ends_the_session(client: Client, owner: Any) -> None:
    client.force_login(owner)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("path", FUNCTION_PAGES)
def test_owner_and_teammate_see_every_function_page(client: Client, owner: Any, teammate: Any, hello: Function, path: str) -> None:
    for user in (owner, teammate):
        client.force_login(user)
        assert client.get(path).status_code == 200, (user, path)


@pytest.mark.parametrize("path", FUNCTION_PAGES)
def test_outsider_gets_404_on_every_function_page(client: Client, outsider: Any, hello: Function, path: str) -> None:
    client.force_login(outsider)
    response = client.get(path)
    assert response.status_code == 404
    assert b"hello from the handler" not in response.content


def test_outsider_gets_404_for_posts_too(client: Client, outsider: Any, hello: Function) -> None:
    client.force_login(outsider)
    assert client.post("/functions/hello/test/run/", {"body": "{}"}).status_code == 404
    assert client.post("/functions/hello/events/", {"name": "x", "scope": "shared", "body": "{}"}).status_code == 404
    assert client.post("/functions/hello/configuration/", {"handler": "x.y", "timeout": 3, "memory_size": 128}).status_code == 404


def test_functions_list_shows_only_visible_functions(
    client: Client, owner: Any, outsider: Any, hello: Function, other_team: Any
) -> None:
    Function.objects.create(name="secret-of-nobody", team=Team.objects.create(name="nobody", account_id="333333333333"))
    client.force_login(outsider)
    body = client.get("/").content.decode()
    assert "hello" not in body and "secret-of-nobody" not in body
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert "hello" in body and "secret-of-nobody" not in body


def test_outsider_cannot_open_an_invocation_of_another_team(client: Client, outsider: Any, hello: Function) -> None:
    Invocation.objects.create(request_id="r-1", function=hello, function_name="hello", payload='{"card": "4111"}')
    client.force_login(outsider)
    assert client.get("/invocations/r-1/").status_code == 404
    assert b"r-1" not in client.get("/history/").content


def test_superuser_sees_the_functions_of_any_team_they_switch_to(client: Client, django_user_model: Any) -> None:
    admin = django_user_model.objects.create_superuser("root", password="pw")
    elsewhere = Team.objects.create(name="t", account_id="333333333333")
    fn = Function.objects.create(name="api-made", team=elsewhere)
    FunctionVersion.objects.create(function=fn, version="$LATEST", runtime="python3.11", handler="a.b", role="r", code_sha256="x", code_digest="x")
    client.force_login(admin)
    assert client.post("/team/switch/", {"team": elsewhere.pk}).status_code == 302
    assert b"api-made" in client.get("/").content


def test_user_creates_an_access_key_and_sees_the_secret_once(client: Client, owner: Any, team: Any) -> None:
    client.force_login(owner)
    response = client.post("/keys/", {"description": "laptop"})
    key = AccessKey.objects.get(user=owner)
    secret = decrypt_secret(key.secret_encrypted)
    assert secret and secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    again = client.get("/keys/").content.decode()
    assert key.access_key_id in again and secret not in again and "laptop" in again


def test_user_revokes_their_key_but_not_someone_elses(client: Client, owner: Any, outsider: Any, team: Any, other_team: Any) -> None:
    client.force_login(owner)
    client.post("/keys/", {"description": "k"})
    key = AccessKey.objects.get(user=owner)
    client.force_login(outsider)
    client.post(f"/keys/{key.access_key_id}/revoke/")
    key.refresh_from_db()
    assert key.is_active
    client.force_login(owner)
    client.post(f"/keys/{key.access_key_id}/revoke/")
    key.refresh_from_db()
    assert not key.is_active


def test_key_list_shows_only_another_teams_keys_never(client: Client, owner: Any, outsider: Any, team: Any, other_team: Any) -> None:
    client.force_login(outsider)
    client.post("/keys/", {"description": "charlies-key"})
    client.force_login(owner)
    assert b"charlies-key" not in client.get("/keys/").content


def test_every_page_carries_the_csrf_header_for_htmx(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    body = client.get("/functions/hello/test/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


def test_posts_without_a_csrf_token_are_refused(owner: Any, hello: Function) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/functions/hello/events/", {"name": "x", "scope": "private", "body": "{}"}).status_code == 403
    assert client.post("/keys/", {"description": "x"}).status_code == 403


def test_admin_manages_teams_and_functions(client: Client, django_user_model: Any, hello: Function) -> None:
    admin = django_user_model.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    assert client.get("/admin/invocations/team/").status_code == 200
    assert client.get(f"/admin/invocations/function/{hello.pk}/change/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 200
