"""Mapping what a function returned to the URL's HTTP response (spec §7.3, §7.4)."""

from __future__ import annotations

import base64
import json

import pytest

from invocations.urls_function.responses import (
    BadFunctionResponse,
    UrlResponse,
    map_buffered,
    map_prelude,
    split_prelude,
)

JSON = [("Content-Type", "application/json")]


def payload(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        # No statusCode: 200, application/json, the payload (a string without its quotes).
        ("hello", UrlResponse(200, JSON, body=b"hello")),
        ({"hello": "world"}, UrlResponse(200, JSON, body=b'{"hello":"world"}')),
        (["hello", 3, True], UrlResponse(200, JSON, body=b'["hello",3,true]')),
        (3, UrlResponse(200, JSON, body=b"3")),
        (3.1, UrlResponse(200, JSON, body=b"3.1")),
        (True, UrlResponse(200, JSON, body=b"true")),
        (None, UrlResponse(200, JSON, body=b"null")),
        # Structured.
        ({"statusCode": 201, "body": "made"}, UrlResponse(201, JSON, body=b"made")),
        ({"statusCode": "418", "headers": {"Content-Type": "text/plain"}, "body": "teapot"},
         UrlResponse(418, [("Content-Type", "text/plain")], body=b"teapot")),
        ({"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": ""},
         UrlResponse(200, JSON, ["a=1; Path=/", "b=2"], b"")),
        ({"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x89PNG").decode(),
          "headers": {"content-type": "image/png"}}, UrlResponse(200, [("content-type", "image/png")], body=b"\x89PNG")),
        ({"statusCode": 200, "headers": {"Content-Length": "5", "Date": "x", "x-n": 5}, "body": "hello"},
         UrlResponse(200, [("x-amzn-Remapped-Content-Length", "5"), ("x-amzn-Remapped-Date", "x"), ("x-n", "5"),
                           *JSON], body=b"hello")),
        ({"statusCode": 204}, UrlResponse(204, JSON, body=b"")),
        ({"statusCode": 200, "body": {"a": 1}}, UrlResponse(200, JSON, body=b'{"a":1}')),
        # Unmappable structured responses are function errors.
        ({"statusCode": "teapot"}, UrlResponse(502, JSON, body=b"Internal Server Error")),
        ({"statusCode": 42}, UrlResponse(502, JSON, body=b"Internal Server Error")),
        ({"statusCode": 200, "isBase64Encoded": True, "body": "***"}, UrlResponse(502, JSON, body=b"Internal Server Error")),
        ({"statusCode": 200, "headers": ["x"]}, UrlResponse(502, JSON, body=b"Internal Server Error")),
    ],
)
def test_map_buffered(returned: object, expected: UrlResponse) -> None:
    assert map_buffered(payload(returned), failed=False) == expected


def test_a_function_error_is_a_502() -> None:
    assert map_buffered(b'{"errorType":"ValueError"}', failed=True) == UrlResponse(502, JSON, body=b"Internal Server Error")


def test_bytes_that_are_not_json_pass_through() -> None:
    assert map_buffered(b"\x00raw", failed=False) == UrlResponse(200, JSON, body=b"\x00raw")


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b'{"statusCode":200}' + b"\0" * 8 + b"body", (b'{"statusCode":200}', b"body")),
     (b'{"statusCode":200}' + b"\0" * 7, None),
     (b"\0" * 8, (b"", b""))],
)
def test_split_prelude(data: bytes, expected: tuple[bytes, bytes] | None) -> None:
    assert split_prelude(data) == expected


def test_map_prelude() -> None:
    mapped = map_prelude(b'{"statusCode":201,"headers":{"x-a":"1"},"cookies":["c=1"]}')
    assert mapped == UrlResponse(201, [("x-a", "1"), ("Content-Type", "application/octet-stream")], ["c=1"])
    assert map_prelude(b"").status == 200
    with pytest.raises(BadFunctionResponse):
        map_prelude(b"not json")
