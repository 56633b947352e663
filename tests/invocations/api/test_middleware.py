"""AWS API paths go straight to their views; unknown API paths and methods answer in AWS's shape."""

from __future__ import annotations

import pytest
from django.test import Client

from invocations.api.middleware import is_api_path

pytestmark = pytest.mark.django_db


def test_every_api_route_is_an_api_path() -> None:
    from console.api_urls import urlpatterns as console_api
    from invocations.api.urls import urlpatterns

    for pattern in [*urlpatterns, *console_api]:
        assert is_api_path("/" + pattern.pattern.regex.pattern.lstrip("^")), pattern


def test_an_api_call_sets_no_cookie_and_no_console_headers(client: Client) -> None:
    response = client.get("/2015-03-31/functions/", HTTP_COOKIE="sessionid=stale")
    assert response.status_code == 403  # unsigned: the API's own answer
    assert response.json()["message"] == "Missing Authentication Token"
    assert not response.cookies
    assert "X-Content-Type-Options" not in response and "Vary" not in response


@pytest.mark.parametrize(
    "path", ["/2015-03-31/nothing-here", "/2099-01-01/functions", "/_workbench/api/nope", "/2015-03-31/functions/f/x/y"]
)
def test_an_unknown_api_route_is_an_aws_error_not_html(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response["x-amzn-ErrorType"] == "UnknownOperationException"
    assert b"<html" not in response.content.lower()


def test_an_unknown_method_on_a_known_route_is_an_aws_error(client: Client) -> None:
    response = client.patch("/2015-03-31/functions/hello")
    assert response.status_code == 404
    assert response["x-amzn-ErrorType"] == "UnknownOperationException"


def test_console_paths_keep_the_full_stack(client: Client) -> None:
    response = client.get("/no-such-console-page/")
    assert response.status_code == 404
    assert "X-Content-Type-Options" in response  # SecurityMiddleware ran
