"""Turning what a function returned into the HTTP response of its URL (spec §7.3, §7.4), purely.

Only the outcome of the mapping is decided here; ``views`` writes it to the wire. Choices where
AWS's behaviour is unverified: an unparseable or non-integer ``statusCode`` and a ``body`` that is
not base64 although ``isBase64Encoded`` says so are function errors (502), like a crash.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

INTERNAL_SERVER_ERROR = b"Internal Server Error"
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
PRELUDE_SEPARATOR = b"\0" * 8
MAX_PRELUDE_BYTES = 64 * 1024

# Headers a function may not set: they describe the connection or are the platform's own
# (a WSGI server refuses hop-by-hop ones outright). They reach the client renamed, as AWS does
# with Content-Length (x-amzn-Remapped-Content-Length, spec §7.3).
RESERVED_HEADERS = frozenset({
    "connection", "content-length", "date", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "x-amzn-requestid",
})  # fmt: skip


@dataclass
class UrlResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)  # each becomes its own Set-Cookie
    body: bytes = b""


class BadFunctionResponse(ValueError):
    """The function's structured response cannot be mapped (a 502, as a function error)."""


def function_error() -> UrlResponse:
    return UrlResponse(502, [("Content-Type", "application/json")], body=INTERNAL_SERVER_ERROR)


def remap_headers(headers: dict[str, Any]) -> list[tuple[str, str]]:
    mapped = []
    for name, value in headers.items():
        text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        if isinstance(value, bool):
            text = "true" if value else "false"
        if name.lower() in RESERVED_HEADERS:
            name = f"x-amzn-Remapped-{name}"
        mapped.append((name, text))
    return mapped


def _status(value: Any) -> int:
    if isinstance(value, bool):
        raise BadFunctionResponse("statusCode must be an integer")
    if isinstance(value, int):
        status = value
    elif isinstance(value, str) and value.strip().isdigit():  # "418" is accepted (spec §7.3)
        status = int(value)
    else:
        raise BadFunctionResponse(f"statusCode must be an integer, not {value!r}")
    if not 100 <= status <= 599:
        raise BadFunctionResponse(f"statusCode {status} is not an HTTP status")
    return status


def _cookies(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadFunctionResponse("cookies must be a list of strings")
    return [str(cookie) for cookie in value]


def structured(result: dict[str, Any]) -> UrlResponse:
    """A response object with ``statusCode``: status, headers, cookies, body, isBase64Encoded."""
    headers = result.get("headers") or {}
    if not isinstance(headers, dict):
        raise BadFunctionResponse("headers must be an object")
    body = result.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:  # a non-string body is sent as its JSON text
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    if result.get("isBase64Encoded") is True and isinstance(body, str):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadFunctionResponse("body is not valid base64") from None
    mapped = remap_headers(headers)
    if not any(name.lower() == "content-type" for name, _ in mapped):
        mapped.append(("Content-Type", "application/json"))
    return UrlResponse(_status(result.get("statusCode")), mapped, _cookies(result.get("cookies")), data)


def map_buffered(payload: bytes, *, failed: bool) -> UrlResponse:
    """The URL response for a buffered invocation result (spec §7.3)."""
    if failed:
        return function_error()
    try:
        value = json.loads(payload) if payload else None
    except ValueError:  # a bytes-returning handler: not JSON, sent as it is
        return UrlResponse(200, [("Content-Type", "application/json")], body=payload)
    if isinstance(value, dict) and "statusCode" in value:
        try:
            return structured(value)
        except BadFunctionResponse:
            return function_error()
    if isinstance(value, str):
        data = value.encode("utf-8")  # a JSON string is sent without its quotes
    elif value is None and not payload:
        data = b""
    else:
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return UrlResponse(200, [("Content-Type", "application/json")], body=data)


def split_prelude(data: bytes) -> tuple[bytes, bytes] | None:
    """(prelude JSON, rest) once the 8 NUL bytes have arrived; None while they have not."""
    index = data.find(PRELUDE_SEPARATOR)
    if index < 0:
        return None
    return data[:index], data[index + len(PRELUDE_SEPARATOR) :]


def map_prelude(prelude: bytes) -> UrlResponse:
    """Status, headers and cookies of a RESPONSE_STREAM http-integration response (spec §7.4)."""
    try:
        value = json.loads(prelude) if prelude.strip() else {}
    except ValueError:
        raise BadFunctionResponse("the stream's prelude is not JSON") from None
    if not isinstance(value, dict):
        raise BadFunctionResponse("the stream's prelude is not an object")
    value.setdefault("statusCode", 200)
    headers = value.get("headers") or {}
    if not isinstance(headers, dict):
        raise BadFunctionResponse("headers must be an object")
    mapped = remap_headers(headers)
    if not any(name.lower() == "content-type" for name, _ in mapped):
        mapped.append(("Content-Type", "application/octet-stream"))
    return UrlResponse(_status(value["statusCode"]), mapped, _cookies(value.get("cookies")))
