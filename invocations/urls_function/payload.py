"""The request event a function URL sends: payload format 2.0 (spec §7.2), as a pure function.

Choices where AWS's behaviour is unverified (spec §13 item 8), made here once:

* The ``cookie`` header moves to ``cookies`` (split on ``;``) and is not kept in ``headers``, as
  API Gateway's 2.0 format does.
* ``queryStringParameters`` is absent when there is no query string; ``body`` when there is none.
* ``x-forwarded-for/-port/-proto`` and ``x-amzn-trace-id`` are added as the real service adds them.
* A body is text when its Content-Type is textual (``text/*``, JSON, XML, JavaScript, form
  encoding, YAML, CSV, GraphQL) and decodes as UTF-8, or when there is no Content-Type and it
  decodes as UTF-8; anything else is base64 with ``isBase64Encoded: true``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

_TEXT_TYPE = re.compile(r"^(text/|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|yaml|x-yaml|csv|graphql)\b)")
_IPV4_MAPPED = "::ffff:"


@dataclass(frozen=True)
class HttpRequestData:
    """What the event is made of, taken from the HTTP request."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]  # as received; names in any case, possibly repeated
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"
    port: int | None = None
    scheme: str = "http"


@dataclass(frozen=True)
class UrlContext:
    """Who serves the request: the URL, the invocation, the caller (AWS_IAM only)."""

    account_id: str
    url_id: str
    domain_name: str  # <url-id>.lambda-url.<region>.<domain>
    request_id: str
    now: datetime
    trace_id: str = ""
    iam: dict[str, Any] | None = field(default=None)


def source_ip(remote_addr: str) -> str:
    """An IPv4 client on a dual-stack socket shows as ``::ffff:a.b.c.d``; report ``a.b.c.d`` (spec §12)."""
    if remote_addr.lower().startswith(_IPV4_MAPPED) and "." in remote_addr:
        return remote_addr[len(_IPV4_MAPPED) :]
    return remote_addr


def merged_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased names; repeated headers comma-joined, in the order received."""
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged


def query_parameters(raw_query: str) -> dict[str, str] | None:
    """Decoded query parameters; a repeated key's values comma-joined; None without a query."""
    if not raw_query:
        return None
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def split_cookies(header: str | None) -> list[str] | None:
    if not header:
        return None
    cookies = [part.strip() for part in header.split(";") if part.strip()]
    return cookies or None


def encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """(body text, isBase64Encoded) for the event."""
    textual = content_type is None or bool(_TEXT_TYPE.match(content_type.strip().lower()))
    if textual:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def format_time(now: datetime) -> str:
    """``12/Mar/2020:19:03:58 +0000`` (CLF, always UTC)."""
    return now.astimezone(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")


def build_event(request: HttpRequestData, context: UrlContext) -> dict[str, Any]:
    headers = merged_headers(request.headers)
    cookies = split_cookies(headers.pop("cookie", None))
    ip = source_ip(request.source_ip)
    headers.setdefault("x-forwarded-for", ip)
    headers.setdefault("x-forwarded-proto", request.scheme)
    if request.port:
        headers.setdefault("x-forwarded-port", str(request.port))
    if context.trace_id:
        headers.setdefault("x-amzn-trace-id", context.trace_id)
    request_context: dict[str, Any] = {
        "accountId": context.account_id,
        "apiId": context.url_id,
        "domainName": context.domain_name,
        "domainPrefix": context.url_id,
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": context.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": format_time(context.now),
        "timeEpoch": int(context.now.timestamp() * 1000),
    }
    if context.iam is not None:
        request_context["authorizer"] = {"iam": context.iam}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies is not None:
        event["cookies"] = cookies
    event["headers"] = headers
    parameters = query_parameters(request.raw_query)
    if parameters is not None:
        event["queryStringParameters"] = parameters
    event["requestContext"] = request_context
    if request.body:
        event["body"], event["isBase64Encoded"] = encode_body(request.body, headers.get("content-type"))
    else:
        event["isBase64Encoded"] = False
    return event
