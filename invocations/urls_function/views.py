"""A function URL request, end to end: find the URL, CORS preflight, who calls (the SigV4 signer
for ``AWS_IAM``, nobody for ``NONE``) and whether the function's policy lets them in, the 2.0
event, the invocation (source ``url``), the response mapping (spec §7) and the origin guard
(``origin.py``).

A call needs ``lambda:InvokeFunctionUrl`` (condition ``lambda:FunctionUrlAuthType``) and
``lambda:InvokeFunction`` (condition ``lambda:InvokedViaFunctionUrl``), as on AWS since October
2025: a teammate's role has both; anyone else, the public included, needs statements in the policy
of the URL's function (or alias). A refusal is AWS's ``403 {"Message":"Forbidden"}``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone

from invocations import pipeline, policy
from invocations.access import ANONYMOUS, Caller, check_function
from invocations.api import sigv4
from invocations.arns import arn_of
from invocations.errors import AccessDeniedException, AwsError
from invocations.models import FunctionUrlConfig, Invocation
from invocations.services import function_urls
from invocations.services import invoke as invoke_service
from invocations.services import streaming
from invocations.urls_function import cors
from invocations.urls_function import origin as guard
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


def refused(request_id: str) -> HttpResponse:
    """No permission to invoke the URL: 403 {"Message":"Forbidden"}, as AWS answers."""
    return _error(request_id, 403, "AccessDeniedException", "Forbidden")


def console_cookies() -> tuple[str, ...]:
    return (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, "messages")


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


def _iam(caller: Caller) -> dict[str, Any]:
    return {
        "accessKey": caller.access_key_id,
        "accountId": caller.account_id,
        "callerId": str(caller.user_id),
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": caller.principal.arn,
        "userId": str(caller.user_id),
    }


def _render(mapped: UrlResponse, body: bytes | Iterable[bytes], *, config: FunctionUrlConfig, origin: str | None,
            request_id: str, path_form: bool) -> HttpResponseBase:
    if path_form:
        mapped = guard.guard_path_form(mapped, console_cookies())
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
    if path_form:
        response.extra_headers.append(("Content-Security-Policy", guard.SANDBOX_CSP))
    response["x-amzn-RequestId"] = request_id
    return response


def serve(request: HttpRequest, route: Route) -> HttpResponseBase:
    request_id = str(uuid.uuid4())
    config = function_urls.config_for_url_id(route.url_id)
    if config is None:
        return forbidden(request_id)
    headers = guard.strip_cookies(request_headers(request), console_cookies())
    lowered = merged_headers(headers)
    method = request.method or "GET"
    path_form = route.via == "path"
    if cors.is_configured(config.cors) and cors.is_preflight(method, lowered):
        response = HttpResponse(b"", status=200)
        del response["Content-Type"]
        for name, value in cors.preflight_headers(config.cors, lowered):
            response[name] = value
        response["x-amzn-RequestId"] = request_id
        return response
    iam = None
    function = config.function
    context = policy.Context(function_url_auth_type=config.auth_type, invoked_via_function_url=True)
    try:
        caller = ANONYMOUS
        if config.auth_type == "AWS_IAM":
            caller = sigv4.authenticate(request).through("url")
            iam = _iam(caller)
        check_function(caller, "lambda:InvokeFunctionUrl", function, config.qualifier or None, context=context)
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
            UrlContext(account_id=function.team.account_id, url_id=route.url_id, domain_name=domain,
                       request_id=request_id, now=now, trace_id=f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}",
                       iam=iam),
        )  # fmt: skip
        payload = json.dumps(event, separators=(",", ":")).encode()
        target = _Target(config=config, caller=caller, context=context, request_id=request_id,
                         origin=lowered.get("origin"), path_form=path_form)  # fmt: skip
        if config.invoke_mode == "RESPONSE_STREAM":
            return _streamed(target, payload)
        outcome = pipeline.invoke(_request(target, payload))
    except AccessDeniedException:
        return refused(request_id)
    except AwsError as error:
        return _error(request_id, error.status, error.code, error.message)
    mapped = map_buffered(outcome.payload, failed=bool(outcome.function_error))
    return _safe_render(mapped, target)


@dataclass(frozen=True)
class _Target:
    """What every rendering of one URL request needs."""

    config: FunctionUrlConfig
    caller: Caller
    context: policy.Context
    request_id: str
    origin: str | None
    path_form: bool

    def render(self, mapped: UrlResponse, body: bytes | Iterable[bytes]) -> HttpResponseBase:
        return _render(mapped, body, config=self.config, origin=self.origin, request_id=self.request_id,
                       path_form=self.path_form)  # fmt: skip


def _safe_render(mapped: UrlResponse, target: _Target) -> HttpResponseBase:
    try:
        return target.render(mapped, mapped.body)
    except Exception:  # a header Django refuses (a newline in it): the function's response is bad
        logger.info("function URL response of %s could not be rendered", target.request_id, exc_info=True)
        return target.render(function_error(), function_error().body)


def _request(target: _Target, payload: bytes) -> pipeline.InvocationRequest:
    """The URL request's invocation: synchronous, recorded with source "url", as its caller and with
    the function URL's policy context."""
    return pipeline.InvocationRequest(
        caller=target.caller, function_name=arn_of(target.config.function), qualifier=target.config.qualifier or None,
        payload=payload, source=str(Invocation.Source.URL), request_id=target.request_id, context=target.context,
    )  # fmt: skip


def _streamed(target: _Target, payload: bytes) -> HttpResponseBase:
    """RESPONSE_STREAM (spec §7.4): status and headers from the prelude, then the body as it comes."""
    started = streaming.start(_request(target, payload))
    assert started is not None
    if started.buffered is not None:  # a handler that does not stream (e.g. Python): mapped as BUFFERED
        result = started.buffered
        return _safe_render(map_buffered(result.payload, failed=bool(result.function_error)), target)
    chunks = started.chunks()
    if started.content_type != HTTP_INTEGRATION:
        mapped = UrlResponse(200, [("Content-Type", started.content_type or "application/octet-stream")])
        return target.render(mapped, chunks)
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
        return target.render(function_error(), function_error().body)
    body: Iterator[bytes] = chain([rest] if rest else [], chunks)
    return target.render(mapped, body)
