"""The payload format 2.0 request event (spec §7.2)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest

from invocations.urls_function.payload import (
    HttpRequestData,
    UrlContext,
    build_event,
    encode_body,
    format_time,
    merged_headers,
    query_parameters,
    source_ip,
    split_cookies,
)

ID = "abcdefghijklmnopqrstuvwxyz012345"
NOW = datetime(2020, 3, 12, 19, 3, 58, 390000, tzinfo=timezone.utc)
CONTEXT = UrlContext(account_id="000000000000", url_id=ID, domain_name=f"{ID}.lambda-url.us-east-1.localhost",
                     request_id="req-1", now=NOW)


@pytest.mark.parametrize(
    ("remote", "expected"),
    [("::ffff:127.0.0.1", "127.0.0.1"), ("::FFFF:10.0.0.2", "10.0.0.2"), ("::1", "::1"), ("127.0.0.1", "127.0.0.1"),
     ("2001:db8::ffff:1", "2001:db8::ffff:1")],
)
def test_source_ip(remote: str, expected: str) -> None:
    assert source_ip(remote) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), ("a=1", {"a": "1"}), ("parameter1=value1&parameter1=value2&parameter2=value",
                                        {"parameter1": "value1,value2", "parameter2": "value"}),
     ("q=a%20b&e=", {"q": "a b", "e": ""})],
)
def test_query_parameters(raw: str, expected: dict[str, str] | None) -> None:
    assert query_parameters(raw) == expected


def test_headers_are_lower_cased_and_repeated_ones_comma_joined() -> None:
    assert merged_headers([("X-Rep", "1"), ("x-rep", "2"), ("Host", "h")]) == {"x-rep": "1,2", "host": "h"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("a=1", ["a=1"]), ("cookie1=1; cookie2=2;", ["cookie1=1", "cookie2=2"])],
)
def test_split_cookies(header: str | None, expected: list[str] | None) -> None:
    assert split_cookies(header) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"hello", "text/plain", ("hello", False)),
        (b'{"a":1}', "application/json; charset=utf-8", ('{"a":1}', False)),
        (b"<a/>", "application/soap+xml", ("<a/>", False)),
        (b"a=1", "application/x-www-form-urlencoded", ("a=1", False)),
        (b"plain", None, ("plain", False)),
        (b"\xff\x00", None, (base64.b64encode(b"\xff\x00").decode(), True)),
        (b"--x\r\n", "multipart/form-data; boundary=x", (base64.b64encode(b"--x\r\n").decode(), True)),
        (b"PNG", "image/png", (base64.b64encode(b"PNG").decode(), True)),
        (b"\xff", "text/plain", (base64.b64encode(b"\xff").decode(), True)),
    ],
)
def test_encode_body(body: bytes, content_type: str | None, expected: tuple[str, bool]) -> None:
    assert encode_body(body, content_type) == expected


def test_time_is_in_clf_format() -> None:
    assert format_time(NOW) == "12/Mar/2020:19:03:58 +0000"


def test_the_whole_event() -> None:
    request = HttpRequestData(
        method="POST", raw_path="/my/path", raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[("Host", "h"), ("User-Agent", "agent"), ("Cookie", "cookie1; cookie2"), ("Content-Type", "text/plain"),
                 ("X-Multi", "value1"), ("x-multi", "value2")],
        body=b"Hello from client!", source_ip="::ffff:123.123.123.123", port=8000,
    )
    event = build_event(request, CONTEXT)
    assert event == {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {"host": "h", "user-agent": "agent", "content-type": "text/plain", "x-multi": "value1,value2",
                    "x-forwarded-for": "123.123.123.123", "x-forwarded-proto": "http", "x-forwarded-port": "8000"},
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "000000000000", "apiId": ID, "domainName": f"{ID}.lambda-url.us-east-1.localhost",
            "domainPrefix": ID,
            "http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "123.123.123.123",
                     "userAgent": "agent"},
            "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1584039838390,
        },
        "body": "Hello from client!",
        "isBase64Encoded": False,
    }


def test_no_query_no_body_no_cookies_and_the_iam_authorizer() -> None:
    iam = {"accessKey": "AKIA", "accountId": "000000000000", "callerId": "1", "cognitoIdentity": None,
           "principalOrgId": None, "userArn": "arn:aws:iam::000000000000:user/alice", "userId": "1"}
    context = UrlContext(**{**CONTEXT.__dict__, "iam": iam})
    event = build_event(HttpRequestData(method="GET", raw_path="/", raw_query="", headers=[], body=b"",
                                        source_ip="::1"), context)
    assert "queryStringParameters" not in event and "body" not in event and "cookies" not in event
    assert event["isBase64Encoded"] is False and event["rawQueryString"] == ""
    assert event["requestContext"]["authorizer"] == {"iam": iam}
    assert event["requestContext"]["http"]["sourceIp"] == "::1"
    assert "authorizer" not in build_event(HttpRequestData(method="GET", raw_path="/", raw_query="", headers=[],
                                                           body=b"", source_ip="::1"), CONTEXT)["requestContext"]
