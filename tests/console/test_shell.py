"""The console's shell: the functions list's search and pages, error pages, titles and the top bar."""

from __future__ import annotations

from typing import Any

import pytest
from django.template.loader import get_template
from django.test import Client

from console.selectors import FUNCTIONS_PER_PAGE
from invocations.models import Function, FunctionVersion, Membership, Team

pytestmark = pytest.mark.django_db


def add_functions(hello: Function, names: list[str]) -> None:
    latest = FunctionVersion.objects.get(function=hello, version="$LATEST")
    for name in names:
        function = Function.objects.create(name=name, team=hello.team)
        latest.pk, latest.function = None, function
        latest.save()


def listed(body: str) -> list[str]:
    import re

    return re.findall(r'<td class="mono"><a href="/functions/([^/"]+)/">', body)


def test_search_keeps_only_matching_names_in_any_case(client: Client, owner: Any, hello: Function) -> None:
    add_functions(hello, ["orders-api", "Orders-worker", "billing"])
    client.force_login(owner)
    body = client.get("/", {"q": "ORDERS"}).content.decode()
    assert sorted(listed(body)) == ["Orders-worker", "orders-api"]
    assert 'value="ORDERS"' in body and "2 functions matching" in body


def test_an_empty_search_result_says_so_and_offers_the_whole_list(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    body = client.get("/", {"q": "nothing-like-this"}).content.decode()
    assert 'id="no-match"' in body and "No functions match “nothing-like-this”" in body
    assert "No functions yet" not in body


def test_pages_hold_25_and_page_links_keep_the_search(client: Client, owner: Any, hello: Function) -> None:
    add_functions(hello, [f"fn-{n:02}" for n in range(30)])
    client.force_login(owner)
    first = client.get("/", {"q": "fn-"}).content.decode()
    assert len(listed(first)) == FUNCTIONS_PER_PAGE == 25
    assert 'href="?q=fn-&amp;page=2"' in first
    second = client.get("/", {"q": "fn-", "page": "2"}).content.decode()
    assert listed(second) == [f"fn-{n:02}" for n in range(25, 30)]
    assert 'aria-current="page"' in second and "page 2 of 2" in second


@pytest.mark.parametrize("page", ["0", "-3", "abc", "999"])
def test_a_bad_or_past_the_end_page_never_fails(client: Client, owner: Any, hello: Function, page: str) -> None:
    client.force_login(owner)
    response = client.get("/", {"page": page})
    assert response.status_code == 200 and listed(response.content.decode()) == ["hello"]


def test_other_query_parameters_survive_a_search(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    body = client.get("/", {"q": "h", "sort": "name"}).content.decode()
    assert '<input type="hidden" name="sort" value="name">' in body


def test_the_list_costs_a_fixed_number_of_queries(client: Client, owner: Any, hello: Function, django_assert_max_num_queries: Any) -> None:
    add_functions(hello, [f"fn-{n:02}" for n in range(30)])
    client.force_login(owner)
    client.get("/")
    with django_assert_max_num_queries(12):
        client.get("/", {"page": "2"})


def test_a_missing_function_gets_the_styled_404_page(client: Client, owner: Any, team: Team) -> None:
    client.force_login(owner)
    response = client.get("/functions/nope/versions/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "<title>Not found · Lambda Workbench</title>" in body and 'href="/">Back to functions' in body
    assert "/functions/nope/versions/" in body


def test_a_refusal_gets_the_styled_403_page_with_the_missing_permission(client: Client, teammate: Any, team: Team, hello: Function) -> None:
    Membership.objects.filter(team=team, user=teammate).update(role="viewer")
    client.force_login(teammate)
    response = client.post("/functions/hello/configuration/", {"handler": "x.y", "timeout": 3, "memory_size": 128})
    assert response.status_code == 403
    body = response.content.decode()
    assert "<title>Not allowed · Lambda Workbench</title>" in body and "Back to functions" in body
    assert "lambda:UpdateFunctionConfiguration" in body


def test_the_500_page_renders_without_a_request_or_the_database(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        html = get_template("500.html").render()
    assert "Something went wrong" in html and "favicon.svg" in html


def test_every_page_links_the_favicon_and_shows_name_and_role_apart(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert 'rel="icon" href="/static/console/favicon.svg"' in body
    assert '<span id="my-name">alice</span>' in body and "role: admin" in body


def test_revoke_asks_for_confirmation_naming_the_key(client: Client, owner: Any, team: Team, access_key: Any) -> None:
    client.force_login(owner)
    body = client.get("/keys/").content.decode()
    assert f'data-confirm="Revoke access key {access_key.access_key_id}' in body
