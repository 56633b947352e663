"""InvokeWithResponseStream (spec §4.1): the response as AWS event-stream frames, sent as produced.

Each chunk the runtime streams becomes a ``PayloadChunk`` event as soon as it arrives; the last
event is ``InvokeComplete``. A function that answers buffered (every Python handler) arrives as one
``PayloadChunk``. Choices where AWS is unverified: a function error is reported in
``InvokeComplete`` with ``ErrorCode`` = the error type and ``ErrorDetails`` = the error object's JSON
text, without a ``PayloadChunk`` for it; ``LogResult`` (with ``X-Amz-Log-Type: Tail``) is the same
base64 4 KB tail as Invoke's.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from invocations.api import eventstream
from invocations.api.base import aws_operation
from invocations.api.views.invoke import invocation_request
from invocations.engine.types import InvokeResult
from invocations.services import invoke as invoke_service
from invocations.services import streaming

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def _complete(result: InvokeResult, log_type: str | None) -> bytes:
    failed = bool(result.function_error)
    return eventstream.invoke_complete(
        error_code=(result.error_type or result.function_error) if failed else None,
        error_details=result.payload.decode("utf-8", "replace") if failed else None,
        log_result=invoke_service.log_tail(result.logs) if log_type == "Tail" else None,
    )


@aws_operation
def invoke_with_response_stream(request: HttpRequest, function_name: str) -> HttpResponse:
    log_type = request.META.get("HTTP_X_AMZ_LOG_TYPE")
    if log_type:
        invoke_service.check_enum(log_type, "logType", invoke_service.LOG_TYPES)
    started = streaming.start(invocation_request(request, function_name, log_type=False))
    if started is None:  # DryRun
        return HttpResponse(b"", status=204)
    response: HttpResponse | StreamingHttpResponse
    if started.buffered is not None:
        result = started.buffered
        chunks = [] if result.function_error else eventstream.payload_chunks(result.payload)
        response = HttpResponse(b"".join([*chunks, _complete(result, log_type)]), content_type=CONTENT_TYPE)
    else:

        def frames() -> Iterator[bytes]:
            for chunk in started.chunks():
                yield from eventstream.payload_chunks(chunk)
            yield _complete(started.result, log_type)

        response = StreamingHttpResponse(frames(), content_type=CONTENT_TYPE)
    response["X-Amz-Executed-Version"] = started.executed_version
    return response  # type: ignore[return-value]
