"""The Lambda Runtime API (spec §9.1), served to one execution environment per listening socket.

AWS_LAMBDA_RUNTIME_API is only host:port, so the port identifies the environment. The server is an
asyncio Protocol with the httptools parser: one route table, one small handler per endpoint, and the
errors the real service returns as exceptions mapped to statuses in one table (as in the RIE).
Every accepted socket gets TCP_NODELAY (Nagle + delayed ACK costs 40 ms per request here) and each
response goes out in a single write.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol, TypeVar, Union

import httptools

API_PREFIX = "/2018-06-01/runtime"
# 6 MiB + 100 bytes: the response cap of both AWS and the RIE (MaxPayloadSize), spec §3.3.
MAX_RESPONSE_PAYLOAD = 6291556
# A streamed response may be much larger: 200 MB per the current model (spec §3.4).
MAX_STREAMED_PAYLOAD = 200 * 1024 * 1024

# Error types as Lambda spells them.
INVALID_REQUEST_ID = "InvalidRequestID"
INVALID_STATE_TRANSITION = "InvalidStateTransition"
REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
INVALID_FUNCTION_RESPONSE_MODE = "InvalidFunctionResponseMode"

ERROR_STATUS = {
    INVALID_REQUEST_ID: 400,
    INVALID_FUNCTION_RESPONSE_MODE: 400,
    INVALID_STATE_TRANSITION: 403,
    REQUEST_ENTITY_TOO_LARGE: 413,
}

REASONS = {100: "Continue", 200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large",
           500: "Internal Server Error"}

RESPONSE_MODE_HEADER = "lambda-runtime-function-response-mode"
ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
# Trailers of a streamed response that failed midway; the body trailer is base64 JSON (spec §9.4).
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
STREAMING = "streaming"


class RuntimeApiError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Event:
    """One invocation as handed to the runtime by GET /invocation/next."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str | None = None
    client_context: str | None = None
    cognito_identity: str | None = None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytearray = field(default_factory=bytearray)
    body_too_large: bool = False
    # A streamed POST /response: its body went to the backend chunk by chunk, not into ``body``.
    streaming: bool = False
    stream_id: str = ""  # the request id a streamed POST answers
    stream_error: RuntimeApiError | None = None  # the backend refused the stream when it began
    trailers: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


class Backend(Protocol):
    """What an execution environment implements to answer its runtime."""

    def next_invocation(self) -> "asyncio.Future[Event]": ...

    def invocation_response(self, request_id: str, body: bytes) -> None: ...

    def invocation_response_too_large(self, request_id: str) -> None: ...

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def init_error(self, body: bytes, error_type: str | None) -> None: ...

    def invocation_stream_begin(self, request_id: str, content_type: str) -> None: ...

    def invocation_stream_chunk(self, request_id: str, chunk: bytes) -> None: ...

    def invocation_stream_end(self, request_id: str, error_type: str | None, error_body: str | None) -> None: ...

    def runtime_disconnected(self) -> None: ...

    def launch(self) -> "asyncio.Future[bytes]": ...


Result = Union[Response, "asyncio.Future[Response]"]
Handler = Callable[[Backend, Request, re.Match[str]], Result]

ACCEPTED = Response(202, b'{"status":"OK"}')


def error_response(error: RuntimeApiError) -> Response:
    body = json.dumps({"errorMessage": error.message, "errorType": error.error_type}).encode()
    return Response(ERROR_STATUS.get(error.error_type, 500), body)


def event_response(event: Event) -> Response:
    headers = [
        ("Content-Type", "application/json"),
        ("Lambda-Runtime-Aws-Request-Id", event.request_id),
        ("Lambda-Runtime-Deadline-Ms", str(event.deadline_ms)),
        ("Lambda-Runtime-Invoked-Function-Arn", event.invoked_function_arn),
    ]
    # The RIE omits empty headers rather than sending blank values.
    for name, value in (("Lambda-Runtime-Trace-Id", event.trace_id),
                        ("Lambda-Runtime-Client-Context", event.client_context),
                        ("Lambda-Runtime-Cognito-Identity", event.cognito_identity)):
        if value:
            headers.append((name, value))
    return Response(200, event.payload, tuple(headers))


T = TypeVar("T")


def _answer_when(waiting: asyncio.Future[T], render: Callable[[T], Response]) -> asyncio.Future[Response]:
    """A response that is sent once ``waiting`` is done; the backend's errors become their status.
    A connection that goes away cancels the wait."""
    answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    def done(fut: asyncio.Future[T]) -> None:
        if answer.done():
            return
        if fut.cancelled():
            answer.cancel()
        elif isinstance(fut.exception(), RuntimeApiError):
            answer.set_result(error_response(fut.exception()))  # type: ignore[arg-type]
        elif fut.exception() is not None:
            answer.set_exception(fut.exception())  # type: ignore[arg-type]
        else:
            answer.set_result(render(fut.result()))

    waiting.add_done_callback(done)
    answer.add_done_callback(lambda a: waiting.cancel() if a.cancelled() else None)
    return answer


def handle_next(backend: Backend, request: Request, match: re.Match[str]) -> Result:
    return _answer_when(backend.next_invocation(), event_response)


def handle_launch(backend: Backend, request: Request, match: re.Match[str]) -> Result:
    """Not AWS's: a ready environment's launcher asks here which function it is to run, and gets
    its answer when the pool gives the environment to a function (environment.py, ``claim``)."""
    return _answer_when(backend.launch(), lambda body: Response(200, body))


def _buffered_response(backend: Backend, request: Request, request_id: str) -> Response:
    if request.body_too_large:
        backend.invocation_response_too_large(request_id)
        raise RuntimeApiError(REQUEST_ENTITY_TOO_LARGE,
                              f"Exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes).")
    backend.invocation_response(request_id, bytes(request.body))
    return ACCEPTED


def _streaming_response(backend: Backend, request: Request, request_id: str) -> Response:
    """The end of a streamed POST: its chunks already went to the backend as they arrived
    (``RuntimeApiConnection.on_headers_complete``/``on_body``); the trailers say how it ended."""
    if request.stream_error is not None:
        raise request.stream_error
    backend.invocation_stream_end(
        request_id, request.trailers.get(ERROR_TYPE_HEADER) or None, request.trailers.get(ERROR_BODY_TRAILER) or None
    )
    return ACCEPTED


# Response modes of POST /response (spec §9.4).
RESPONSE_MODES: dict[str, Callable[[Backend, Request, str], Response]] = {
    "buffered": _buffered_response,
    STREAMING: _streaming_response,
}


def handle_response(backend: Backend, request: Request, match: re.Match[str]) -> Result:
    mode = request.headers.get(RESPONSE_MODE_HEADER, "buffered").lower()
    handler = RESPONSE_MODES.get(mode)
    if handler is None:
        raise RuntimeApiError(INVALID_FUNCTION_RESPONSE_MODE, f"Invalid response mode: {mode}")
    return handler(backend, request, match.group("request_id"))


def handle_error(backend: Backend, request: Request, match: re.Match[str]) -> Result:
    backend.invocation_error(match.group("request_id"), bytes(request.body), request.headers.get(ERROR_TYPE_HEADER))
    return ACCEPTED


def handle_init_error(backend: Backend, request: Request, match: re.Match[str]) -> Result:
    backend.init_error(bytes(request.body), request.headers.get(ERROR_TYPE_HEADER))
    return ACCEPTED


LAUNCH_PATH = "/workbench/launch"
RESPONSE_ROUTE = re.compile(rf"{API_PREFIX}/invocation/(?P<request_id>[^/]+)/response")

ROUTES: tuple[tuple[str, re.Pattern[str], Handler], ...] = (
    ("GET", re.compile(rf"{API_PREFIX}/invocation/next"), handle_next),
    ("POST", RESPONSE_ROUTE, handle_response),
    ("POST", re.compile(rf"{API_PREFIX}/invocation/(?P<request_id>[^/]+)/error"), handle_error),
    ("POST", re.compile(rf"{API_PREFIX}/init/error"), handle_init_error),
    ("GET", re.compile(re.escape(LAUNCH_PATH)), handle_launch),
)

NOT_FOUND = Response(404, b"404 page not found", (("Content-Type", "text/plain; charset=utf-8"),))
METHOD_NOT_ALLOWED = Response(405, b"", (("Content-Type", "text/plain; charset=utf-8"),))


def dispatch(backend: Backend, request: Request) -> Result:
    path_matched = False
    for method, pattern, handler in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        path_matched = True
        if method != request.method:
            continue
        try:
            return handler(backend, request, match)
        except RuntimeApiError as error:
            return error_response(error)
    return METHOD_NOT_ALLOWED if path_matched else NOT_FOUND


def encode_response(response: Response, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, '')}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class RuntimeApiConnection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection from a runtime. Requests are answered in order."""

    def __init__(self, backend: Backend, max_body: int = MAX_RESPONSE_PAYLOAD) -> None:
        self.backend = backend
        self.max_body = max_body
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._request: Request | None = None
        self._queue: deque[tuple[Request, bool]] = deque()
        self._pending: asyncio.Future[Response] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self.backend.runtime_disconnected()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(encode_response(Response(400, b"Bad Request"), keep_alive=False))
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # After the headers, httptools reports a chunked body's trailers through this same callback.
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        path = self._url.decode("latin-1").split("?", 1)[0]
        request = Request(self.parser.get_method().decode("latin-1"), path, self._headers)
        self._request = request
        self._headers = request.trailers  # anything reported from now on is a trailer
        # libcurl (awslambdaric) sends Expect: 100-continue for large bodies and waits for it.
        if request.headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._begin_stream(request)

    def _begin_stream(self, request: Request) -> None:
        """A streamed response is forwarded as it arrives, so it starts at its headers (spec §9.4)."""
        if request.method != "POST" or request.headers.get(RESPONSE_MODE_HEADER, "").lower() != STREAMING:
            return
        match = RESPONSE_ROUTE.fullmatch(request.path)
        if match is None:
            return
        request.streaming = True
        request.stream_id = match.group("request_id")
        content_type = request.headers.get("content-type", "application/octet-stream")
        try:
            self.backend.invocation_stream_begin(request.stream_id, content_type)
        except RuntimeApiError as error:
            request.stream_error = error

    def on_body(self, body: bytes) -> None:
        request = self._request
        if request is None or request.body_too_large:
            return
        if request.streaming:
            if request.stream_error is None:
                self.backend.invocation_stream_chunk(request.stream_id, body)
            return
        if len(request.body) + len(body) > self.max_body:
            request.body_too_large = True
            request.body = bytearray()
        else:
            request.body += body

    def on_message_complete(self) -> None:
        if self._request is not None:
            self._queue.append((self._request, self.parser.should_keep_alive()))
            self._request = None
            self._process()

    def _process(self) -> None:
        while self._queue and self._pending is None:
            request, keep_alive = self._queue.popleft()
            result = dispatch(self.backend, request)
            if isinstance(result, Response):
                self._send(result, keep_alive)
            else:
                self._pending = result
                result.add_done_callback(functools.partial(self._pending_done, keep_alive=keep_alive))

    def _pending_done(self, fut: asyncio.Future[Response], *, keep_alive: bool) -> None:
        self._pending = None
        if fut.cancelled():
            return
        if fut.exception() is not None:
            self._send(Response(500, b'{"errorMessage":"internal error","errorType":"ServiceException"}'), False)
            return
        self._send(fut.result(), keep_alive)
        self._process()

    def _send(self, response: Response, keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(encode_response(response, keep_alive))
        if not keep_alive:
            self.transport.close()


async def start_server(backend: Backend) -> tuple[asyncio.AbstractServer, int]:
    """Listen on an ephemeral loopback port for one environment's runtime."""
    loop = asyncio.get_running_loop()
    def connection() -> RuntimeApiConnection:
        return RuntimeApiConnection(backend)

    server = await loop.create_server(connection, "127.0.0.1", 0, backlog=16)
    port = server.sockets[0].getsockname()[1]
    return server, port
