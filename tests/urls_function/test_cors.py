"""CORS from the URL config (spec §7.3)."""

from __future__ import annotations

import pytest

from invocations.urls_function import cors

CONFIG = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-custom"],
          "ExposeHeaders": ["x-out"], "MaxAge": 300, "AllowCredentials": True}


@pytest.mark.parametrize(
    ("config", "origin", "expected"),
    [
        (CONFIG, "https://app.example", "https://app.example"),
        (CONFIG, "https://APP.example", "https://APP.example"),
        (CONFIG, "https://evil.example", None),
        (CONFIG, None, None),
        ({"AllowOrigins": ["*"]}, "https://any.example", "*"),
        ({"AllowOrigins": ["*"], "AllowCredentials": True}, "https://any.example", "https://any.example"),
        ({"AllowOrigins": []}, "https://any.example", None),
    ],
)
def test_allowed_origin(config: dict, origin: str | None, expected: str | None) -> None:
    assert cors.allowed_origin(config, origin) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"origin": "https://app.example", "access-control-request-method": "POST"}, [
            ("Access-Control-Allow-Origin", "https://app.example"), ("Access-Control-Allow-Methods", "GET, POST"),
            ("Access-Control-Allow-Headers", "x-custom"), ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Max-Age", "300"), ("Vary", "Origin")]),
        ({"origin": "https://app.example", "access-control-request-method": "DELETE"}, []),
        ({"origin": "https://evil.example", "access-control-request-method": "GET"}, []),
    ],
)
def test_preflight_headers(headers: dict[str, str], expected: list[tuple[str, str]]) -> None:
    assert cors.preflight_headers(CONFIG, headers) == expected


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [("OPTIONS", {"origin": "o", "access-control-request-method": "GET"}, True),
     ("OPTIONS", {"origin": "o"}, False), ("GET", {"origin": "o", "access-control-request-method": "GET"}, False)],
)
def test_is_preflight(method: str, headers: dict[str, str], expected: bool) -> None:
    assert cors.is_preflight(method, headers) is expected


def test_the_config_wins_over_the_function_headers() -> None:
    function_headers = [("Access-Control-Allow-Origin", "*"), ("x-own", "1")]
    assert cors.apply(CONFIG, function_headers, "https://app.example") == [
        ("x-own", "1"), ("Access-Control-Allow-Origin", "https://app.example"),
        ("Access-Control-Allow-Credentials", "true"), ("Access-Control-Expose-Headers", "x-out"), ("Vary", "Origin"),
    ]
    assert cors.apply({}, function_headers, "https://app.example") == function_headers
