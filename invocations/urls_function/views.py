"""A function URL request, end to end: find the URL, CORS preflight, AWS_IAM, the 2.0 event, the
invocation (source ``url``), the response mapping (spec §7)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone

from invocations.api import sigv4
from invocations.errors import AwsError
from invocations.models import FunctionUrlConfig, Invocation
from invocations.services import function_urls
from invocations.services import invoke as invoke_service
from invocations.services import streaming
from invocations.urls_function import cors
from invocations.urls_function.payload import HttpRequestData, UrlContext, build_event, merged_headers
from invocations.urls_function.responses import (
    HTTP_INTEGRATION,
    MAX_PRELUDE_BYTES,
    BadFunctionResponse,
    UrlResponse,
    function_error,
    map_buffered,
    map_prelude,
    split_prelude,
)
from invocations.urls_function.routing import Route, split_host

logger = logging.getLogger(__name__)


class _UrlHeaders:
    """Django keeps one value per header name; a URL response may repeat one (Set-Cookie)."""

    extra_headers: list[tuple[str, str]]

    def items(self) -> list[tuple[str, str]]:
        return [*super().items(), *self.extra_headers]  # type: ignore[misc]


class UrlHttpResponse(_UrlHeaders, HttpResponse):
    pass


class UrlStreamingResponse(_UrlHeaders, StreamingHttpResponse):
    pass


def _error(request_id: str, status: int, code: str, message: str | None) -> HttpResponse:
    response = HttpResponse(json.dumps({"Message": message}), status=status, content_type="application/json")
    response["x-amzn-RequestId"] = request_id
    response["x-amzn-ErrorType"] = code
    return response


def forbidden(request_id: str) -> HttpResponse:
    """An unknown URL id: 403 {"Message":null} (spec §7.3)."""
    return _error(request_id, 403, "AccessDeniedException", None)


def request_headers(request: HttpRequest) -> list[tuple[str, str]]:
    headers = [(key[5:].lower().replace("_", "-"), value) for key, value in request.META.items()
               if key.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if request.META.get(key):
            headers.append((name, request.META[key]))
    return headers


def _raw_path(route: Route) -> str:
    # WSGI hands over a decoded path; the event's rawPath is re-encoded the way clients send it.
    return quote(route.path, safe="/:@!$&'()*+,;=-._~")


def _iam(principal: sigv4.Principal) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=principal.user_id).values_list("username", flat=True).first()
    account = settings.LAMBDA_ACCOUNT_ID
    return {
        "accessKey": principal.access_key_id,
        "accountId": account,
        "callerId": str(principal.user_id),
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{account}:user/{user or principal.user_id}",
        "userId": str(principal.user_id),
    }


def _render(mapped: UrlResponse, body: bytes | Iterable[bytes], *, config: FunctionUrlConfig, origin: str | None,
            request_id: str) -> HttpResponseBase:
    response: UrlHttpResponse | UrlStreamingResponse
    if isinstance(body, bytes):
        response = UrlHttpResponse(body, status=mapped.status)
    else:
        response = UrlStreamingResponse(body, status=mapped.status)
    del response["Content-Type"]
    extra: list[tuple[str, str]] = []
    for name, value in cors.apply(config.cors, mapped.headers, origin):
        if name.lower() in response:
            extra.append((name, value))
        else:
            response[name] = value
    response.extra_headers = extra + [("Set-Cookie", cookie) for cookie in mapped.cookies]
    response["x-amzn-RequestId"] = request_id
    return response


def serve(request: HttpRequest, route: Route) -> HttpResponseBase:
    request_id = str(uuid.uuid4())
    config = function_urls.config_for_url_id(route.url_id)
    if config is None:
        return forbidden(request_id)
    headers = request_headers(request)
    lowered = merged_headers(headers)
    method = request.method or "GET"
    if cors.is_configured(config.cors) and cors.is_preflight(method, lowered):
        response = HttpResponse(b"", status=200)
        del response["Content-Type"]
        for name, value in cors.preflight_headers(config.cors, lowered):
            response[name] = value
        response["x-amzn-RequestId"] = request_id
        return response
    caller_id = None
    iam = None
    try:
        if config.auth_type == "AWS_IAM":
            principal = sigv4.authenticate(request)
            caller_id, iam = principal.user_id, _iam(principal)
        body = request.body
        if len(body) > invoke_service.SYNC_PAYLOAD_LIMIT:
            return _error(request_id, 413, "RequestEntityTooLargeException",
                          f"Request must be smaller than {invoke_service.SYNC_PAYLOAD_LIMIT} bytes for the "
                          "InvokeFunction operation")
        now = timezone.now()
        _, port = split_host(request.META.get("HTTP_HOST", ""))
        domain = f"{route.url_id}.lambda-url.{settings.LAMBDA_REGION}.{settings.FUNCTION_URL_DOMAIN}"
        event = build_event(
            HttpRequestData(
                method=method, raw_path=_raw_path(route), raw_query=request.META.get("QUERY_STRING", ""),
                headers=headers, body=body, source_ip=request.META.get("REMOTE_ADDR", ""),
                protocol=request.META.get("SERVER_PROTOCOL", "HTTP/1.1"),
                port=port or int(request.META.get("SERVER_PORT") or 0) or None,
                scheme=settings.FUNCTION_URL_SCHEME,
            ),
            UrlContext(account_id=settings.LAMBDA_ACCOUNT_ID, url_id=route.url_id, domain_name=domain,
                       request_id=request_id, now=now, trace_id=f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}",
                       iam=iam),
        )  # fmt: skip
        payload = json.dumps(event, separators=(",", ":")).encode()
        origin = lowered.get("origin")
        if config.invoke_mode == "RESPONSE_STREAM":
            return _streamed(config, payload, caller_id=caller_id, origin=origin, request_id=request_id)
        outcome = invoke_service.invoke(
            function_name=config.function.name, qualifier=config.qualifier or None, payload=payload,
            invocation_type=None, log_type=None, client_context=None, source=Invocation.Source.URL,
            caller_id=caller_id, request_id=request_id,
        )  # fmt: skip
    except AwsError as error:
        return _error(request_id, error.status, error.code, error.message)
    mapped = map_buffered(outcome.payload, failed=bool(outcome.function_error))
    return _safe_render(mapped, config=config, origin=origin, request_id=request_id)


def _safe_render(mapped: UrlResponse, *, config: FunctionUrlConfig, origin: str | None,
                 request_id: str) -> HttpResponseBase:
    try:
        return _render(mapped, mapped.body, config=config, origin=origin, request_id=request_id)
    except Exception:  # a header Django refuses (a newline in it): the function's response is bad
        logger.info("function URL response of %s could not be rendered", request_id, exc_info=True)
        return _render(function_error(), function_error().body, config=config, origin=origin, request_id=request_id)


def _streamed(config: FunctionUrlConfig, payload: bytes, *, caller_id: int | None, origin: str | None,
              request_id: str) -> HttpResponseBase:
    """RESPONSE_STREAM (spec §7.4): status and headers from the prelude, then the body as it comes."""
    started = streaming.start(
        function_name=config.function.name, qualifier=config.qualifier or None, payload=payload,
        invocation_type=None, client_context=None, source=Invocation.Source.URL, caller_id=caller_id,
        request_id=request_id,
    )  # fmt: skip
    assert started is not None
    if started.buffered is not None:  # a handler that does not stream (e.g. Python): mapped as BUFFERED
        result = started.buffered
        return _safe_render(map_buffered(result.payload, failed=bool(result.function_error)), config=config,
                            origin=origin, request_id=request_id)
    chunks = started.chunks()
    if started.content_type != HTTP_INTEGRATION:
        mapped = UrlResponse(200, [("Content-Type", started.content_type or "application/octet-stream")])
        return _render(mapped, chunks, config=config, origin=origin, request_id=request_id)
    head = b""
    split = None
    for chunk in chunks:
        head += chunk
        split = split_prelude(head)
        if split is not None or len(head) > MAX_PRELUDE_BYTES:
            break
    try:
        if split is None:
            raise BadFunctionResponse("the stream ended before its prelude")
        prelude, rest = split
        mapped = map_prelude(prelude)
    except BadFunctionResponse:
        chunks.close()
        return _render(function_error(), function_error().body, config=config, origin=origin, request_id=request_id)
    body: Iterator[bytes] = chain([rest] if rest else [], chunks)
    return _render(mapped, body, config=config, origin=origin, request_id=request_id)
