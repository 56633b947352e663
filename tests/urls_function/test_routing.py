"""Which function URL a request is for, and the URLs the server generates (spec §7.1, §12)."""

from __future__ import annotations

import pytest

from invocations.urls_function.routing import Route, bracket, host_form_url, path_form_url, route, split_host

ID = "abcdefghijklmnopqrstuvwxyz012345"


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        (f"{ID}.lambda-url.us-east-1.localhost:8000", "/a/b", Route(ID, "/a/b", "host")),
        (f"{ID}.lambda-url.us-east-1.localhost", "", Route(ID, "/", "host")),
        (f"{ID.upper()}.LAMBDA-URL.us-east-1.LOCALHOST:80", "/", Route(ID, "/", "host")),
        (f"{ID}.lambda-url.eu-west-1.localhost:8000", "/", None),  # another region
        (f"{ID}.lambda-url.us-east-1.example.com:8000", "/", None),  # another domain
        ("short.lambda-url.us-east-1.localhost", "/", None),
        ("127.0.0.1:8000", f"/lambda-url/{ID}/x/y", Route(ID, "/x/y", "path")),
        ("[::1]:8000", f"/lambda-url/{ID}", Route(ID, "/", "path")),
        ("[::1]:8000", f"/lambda-url/{ID}/", Route(ID, "/", "path")),
        ("127.0.0.1:8000", f"/lambda-url/{ID}x/", None),
        ("127.0.0.1:8000", "/2015-03-31/functions", None),
    ],
)
def test_route(host: str, path: str, expected: Route | None) -> None:
    assert route(host=host, path=path, region="us-east-1", domain="localhost") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:8000", ("127.0.0.1", 8000)), ("[::1]:9000", ("[::1]", 9000)), ("[::1]", ("[::1]", None)),
     ("localhost", ("localhost", None)), ("", ("", None))],
)
def test_split_host(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host(value) == expected


def test_ipv6_literals_are_bracketed_in_generated_urls() -> None:
    assert bracket("::1") == "[::1]" and bracket("[::1]") == "[::1]" and bracket("127.0.0.1") == "127.0.0.1"
    assert path_form_url(url_id=ID, host="::1", scheme="http", port=8000) == f"http://[::1]:8000/lambda-url/{ID}/"
    assert path_form_url(url_id=ID, host="127.0.0.1", scheme="http", port=80) == f"http://127.0.0.1/lambda-url/{ID}/"


def test_host_form_url_omits_default_ports() -> None:
    assert host_form_url(url_id=ID, region="us-east-1", domain="localhost", scheme="http", port=8000) == \
        f"http://{ID}.lambda-url.us-east-1.localhost:8000/"
    assert host_form_url(url_id=ID, region="us-east-1", domain="x.dev", scheme="https", port=443) == \
        f"https://{ID}.lambda-url.us-east-1.x.dev/"
