"""AWS API paths go straight to their views; everything else keeps the full middleware stack."""

from __future__ import annotations

import pytest
from django.test import Client

from invocations.api.middleware import PREFIXES

pytestmark = pytest.mark.django_db


def test_every_api_route_is_under_one_of_the_prefixes() -> None:
    from invocations.api.urls import urlpatterns

    for pattern in urlpatterns:
        assert ("/" + pattern.pattern.regex.pattern.lstrip("^")).startswith(PREFIXES), pattern


def test_an_api_call_sets_no_cookie_and_no_console_headers(client: Client) -> None:
    response = client.get("/2015-03-31/functions/", HTTP_COOKIE="sessionid=stale")
    assert response.status_code == 403  # unsigned: the API's own answer
    assert response.json()["message"] == "Missing Authentication Token"
    assert not response.cookies
    assert "X-Content-Type-Options" not in response and "Vary" not in response


def test_a_path_the_api_does_not_know_falls_through_to_the_full_stack(client: Client) -> None:
    response = client.get("/2015-03-31/nothing-here")
    assert response.status_code == 404
    assert "X-Content-Type-Options" in response  # SecurityMiddleware ran
