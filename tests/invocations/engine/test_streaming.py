"""Streamed responses (spec §9.4): Node.js handlers through awslambda.streamifyResponse, the Runtime
API's chunked POST with error trailers, and what a Python (awslambdaric) handler can do."""

from __future__ import annotations

import json
import time
import uuid

from invocations.engine import InvokeRequest, Pool, ResponseStream
from tests.invocations.engine.conftest import invoke, payload

STREAMING_NODE = {"index.js": """
    exports.slow = awslambda.streamifyResponse(async (event, responseStream, context) => {
      responseStream.setContentType("text/plain");
      responseStream.write("first;");
      await new Promise((r) => setTimeout(r, 600));
      responseStream.write("second;");
      responseStream.end();
    });
    exports.http = awslambda.streamifyResponse(async (event, responseStream) => {
      const stream = awslambda.HttpResponseStream.from(responseStream,
        {statusCode: 201, headers: {"x-kind": "streamed"}, cookies: ["a=1"]});
      stream.write("hello ");
      stream.end("world");
    });
    exports.breaks = awslambda.streamifyResponse(async (event, responseStream) => {
      responseStream.write("partial");
      await new Promise((r) => setTimeout(r, 50));
      throw new RangeError("broke midway");
    });
    exports.early = awslambda.streamifyResponse(async () => { throw new TypeError("before any byte"); });
    exports.implicitEnd = awslambda.streamifyResponse(async (event, responseStream) => {
      responseStream.write(JSON.stringify(event));
    });
"""}


def stream_invoke(pool: Pool, spec, payload_: object = None) -> tuple[list[tuple[str, object, float]], object]:
    stream = ResponseStream()
    request = InvokeRequest(request_id=str(uuid.uuid4()), payload=json.dumps(payload_ or {}).encode(),
                            invoked_function_arn=spec.function_arn, stream=stream)
    started = time.monotonic()
    future = pool.submit(spec, request)
    events = []
    while True:
        kind, value = stream.get(timeout=10)
        events.append((kind, value, time.monotonic() - started))
        if kind == "end":
            break
    return events, future.result(timeout=10)


def test_a_node_stream_reaches_the_caller_before_the_handler_finishes(pool: Pool, function) -> None:
    spec = function(STREAMING_NODE, runtime="nodejs20.x", handler="index.slow")
    events, result = stream_invoke(pool, spec)
    assert [e[:2] for e in events] == [("begin", "text/plain"), ("chunk", b"first;"), ("chunk", b"second;"),
                                       ("end", None)]
    first_chunk_at, second_chunk_at = events[1][2], events[2][2]
    assert second_chunk_at - first_chunk_at >= 0.5  # the first chunk did not wait for the handler
    assert result.status == "succeeded" and result.streamed and result.streamed_bytes == 13
    assert result.payload == b"first;second;" and result.content_type == "text/plain"
    assert "END RequestId: " + result.request_id in result.logs


def test_http_response_stream_writes_the_prelude_and_eight_nul_bytes(pool: Pool, function) -> None:
    spec = function(STREAMING_NODE, runtime="nodejs20.x", handler="index.http")
    events, result = stream_invoke(pool, spec)
    assert events[0][:2] == ("begin", "application/vnd.awslambda.http-integration-response")
    body = b"".join(e[1] for e in events if e[0] == "chunk")  # type: ignore[misc]
    prelude, _, rest = body.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-kind": "streamed"}, "cookies": ["a=1"]}
    assert rest == b"hello world"


def test_a_failure_midway_is_reported_in_the_trailers(pool: Pool, function) -> None:
    spec = function(STREAMING_NODE, runtime="nodejs20.x", handler="index.breaks")
    events, result = stream_invoke(pool, spec)
    assert ("chunk", b"partial") in [e[:2] for e in events]
    assert result.status == "failed" and result.function_error == "Unhandled"
    assert result.error_type == "RangeError"
    assert payload(result)["errorMessage"] == "broke midway"


def test_a_failure_before_the_first_byte_is_an_ordinary_error(pool: Pool, function) -> None:
    spec = function(STREAMING_NODE, runtime="nodejs20.x", handler="index.early")
    events, result = stream_invoke(pool, spec)
    assert [e[0] for e in events] == ["end"]
    assert result.error_type == "TypeError" and not result.streamed


def test_a_streaming_handler_invoked_without_a_stream_is_collected(pool: Pool, function) -> None:
    spec = function(STREAMING_NODE, runtime="nodejs20.x", handler="index.implicitEnd")
    result = invoke(pool, spec, {"k": "v"})
    assert result.status == "succeeded" and result.streamed
    assert payload(result) == {"k": "v"}  # the runtime ended the stream the handler left open


def test_a_python_handler_answers_buffered_even_when_the_caller_streams(pool: Pool, function) -> None:
    """awslambdaric 4.2.2 posts one buffered response per invocation (README.md)."""
    spec = function({"app.py": "def handler(event, context):\n    return {'streamed': False}\n"})
    events, result = stream_invoke(pool, spec)
    assert [e[0] for e in events] == ["end"]
    assert payload(result) == {"streamed": False} and not result.streamed


def test_a_stream_is_ended_even_when_the_call_is_throttled(pool: Pool, function) -> None:
    spec = function(STREAMING_NODE, runtime="nodejs20.x", handler="index.slow")
    stream = ResponseStream()
    request = InvokeRequest(request_id=str(uuid.uuid4()), payload=b"{}", invoked_function_arn=spec.function_arn,
                            stream=stream)
    future = pool.submit(spec, request, reserved_concurrency=0)
    assert stream.get(timeout=5) == ("end", None)
    assert type(future.exception(timeout=5)).__name__ == "TooManyRequests"

