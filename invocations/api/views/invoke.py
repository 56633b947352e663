"""Invoke and the deprecated InvokeAsync (spec §3, §4.2): parse the request, call the service, render.

Inputs are headers, one query parameter (``Qualifier``) and the raw body; the service validates
each of them with AWS's errors (a Django form would add cost to the hot path and say nothing more).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from invocations import pipeline
from invocations.api.base import aws_operation, caller
from invocations.services import invoke as invoke_service


def invocation_source(request: HttpRequest) -> str:
    """The history's source of an API call: "cli" or "api", as the caller came (``client_kind``)."""
    return caller(request).via


def invocation_request(request: HttpRequest, function_name: str, *, log_type: bool = True) -> pipeline.InvocationRequest:
    """The Invoke API's inputs (path, ``Qualifier``, body and ``X-Amz-*`` headers) as one request;
    ``log_type=False`` leaves ``X-Amz-Log-Type`` to the caller (the streaming view checks it first)."""
    meta = request.META
    return pipeline.InvocationRequest(
        caller=caller(request),
        function_name=function_name,
        qualifier=request.GET.get("Qualifier"),
        payload=request.body,
        invocation_type=meta.get("HTTP_X_AMZ_INVOCATION_TYPE"),
        log_type=meta.get("HTTP_X_AMZ_LOG_TYPE") if log_type else None,
        client_context=meta.get("HTTP_X_AMZ_CLIENT_CONTEXT"),
        source=invocation_source(request),
        request_id=request.aws_request_id,  # type: ignore[attr-defined]
    )


@aws_operation
def invoke(request: HttpRequest, function_name: str) -> HttpResponse:
    outcome = pipeline.invoke(invocation_request(request, function_name))
    if outcome.status_code != 200:
        return HttpResponse(b"", status=outcome.status_code, content_type="application/json")
    response = HttpResponse(outcome.payload, status=200, content_type="application/json")
    response["X-Amz-Executed-Version"] = outcome.executed_version or ""
    if outcome.function_error:
        response["X-Amz-Function-Error"] = outcome.function_error
    if outcome.log_result is not None:
        response["X-Amz-Log-Result"] = outcome.log_result
    return response


@aws_operation
def invoke_async(request: HttpRequest, function_name: str) -> HttpResponse:
    """InvokeAsync: an Event invoke with the old 256 KB limit; 202 with an empty body."""
    outcome = pipeline.invoke(
        pipeline.InvocationRequest(
            caller=caller(request),
            function_name=function_name,
            payload=request.body,
            invocation_type=invoke_service.EVENT,
            source=invocation_source(request),
            request_id=request.aws_request_id,  # type: ignore[attr-defined]
            event_payload_limit=invoke_service.INVOKE_ASYNC_PAYLOAD_LIMIT,
        )
    )
    return HttpResponse(b"", status=outcome.status_code, content_type="application/json")
