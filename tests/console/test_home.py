from __future__ import annotations

import pytest
from django.contrib.auth.models import User  # the cast (owner, …) is in tests/conftest.py
from django.test import Client

from invocations.models import LATEST, Function, FunctionVersion, Invocation

pytestmark = pytest.mark.django_db


@pytest.fixture
def hello(owner: User) -> Function:
    fn: Function = Function.objects.create(name="hello", owner=owner)
    FunctionVersion.objects.create(
        function=fn,
        version=LATEST,
        runtime="python3.11",
        handler="app.handler",
        role="arn:aws:iam::000000000000:role/x",
        code_sha256="x",
        code_digest="x",
    )
    return fn


def test_it_redirects_anonymous_users_to_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_login_page_renders(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_it_logs_in_with_a_password_and_lands_on_home(client: Client, owner: User) -> None:
    response = client.post("/login/", {"username": "alice", "password": "password"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_it_rejects_a_wrong_password(client: Client, owner: User) -> None:
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_logged_in_user_sees_functions_and_recent_invocations(client: Client, owner: User, hello: Function) -> None:
    Invocation.objects.create(
        request_id="11111111-2222-3333-4444-555555555555",
        function=hello,
        function_name="hello",
        executed_version=LATEST,
        status=Invocation.Status.SUCCEEDED,
        duration_ms=1.25,
        cold_start=True,
    )
    client.force_login(owner)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "hello" in body
    assert "python3.11" in body
    assert "11111111-2222-3333-4444-555555555555" in body
    assert "1.25 ms" in body


def test_home_shows_empty_states(client: Client, owner: User) -> None:
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert "No functions yet" in body
    assert "No invocations yet" in body


def test_home_query_count_does_not_grow_with_rows(
    client: Client, owner: User, hello: Function, django_assert_max_num_queries: object
) -> None:
    for i in range(60):
        Invocation.objects.create(request_id=f"req-{i}", function=hello, function_name="hello")
    client.force_login(owner)
    with django_assert_max_num_queries(6):  # type: ignore[operator]
        response = client.get("/")
    assert response.content.decode().count("req-") == 50


def test_logout_is_a_post_and_ends_the_session(client: Client, owner: User) -> None:
    client.force_login(owner)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302
