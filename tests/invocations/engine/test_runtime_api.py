"""The Runtime API server against a fake backend, over real sockets."""

from __future__ import annotations

import asyncio
import json

import pytest

from invocations.engine.runtime_api import (
    INVALID_REQUEST_ID,
    INVALID_STATE_TRANSITION,
    MAX_RESPONSE_PAYLOAD,
    Event,
    RuntimeApiError,
    start_server,
)

PREFIX = "/2018-06-01/runtime"


class FakeBackend:
    def __init__(self) -> None:
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.responses: dict[str, bytes] = {}
        self.errors: dict[str, tuple[bytes, str | None]] = {}
        self.init_errors: list[tuple[bytes, str | None]] = []
        self.too_large: list[str] = []
        self.initialized = False

    def next_invocation(self) -> asyncio.Future[Event]:
        self.initialized = True
        return asyncio.ensure_future(self.events.get())

    def _check(self, request_id: str) -> None:
        if request_id != "known" or request_id in self.responses:
            raise RuntimeApiError(INVALID_REQUEST_ID, "Invalid request ID")

    def invocation_response(self, request_id: str, body: bytes) -> None:
        self._check(request_id)
        self.responses[request_id] = body

    def invocation_response_too_large(self, request_id: str) -> None:
        self._check(request_id)
        self.too_large.append(request_id)

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self._check(request_id)
        self.errors[request_id] = (body, error_type)

    def init_error(self, body: bytes, error_type: str | None) -> None:
        if self.initialized:
            raise RuntimeApiError(INVALID_STATE_TRANSITION, "Invalid state transition")
        self.init_errors.append((body, error_type))

    def runtime_disconnected(self) -> None:
        pass

    def invocation_stream_begin(self, request_id: str, content_type: str) -> None:
        self._check(request_id)
        self.streams = getattr(self, "streams", {})
        self.streams[request_id] = [content_type]

    def invocation_stream_chunk(self, request_id: str, chunk: bytes) -> None:
        self.streams[request_id].append(chunk)

    def invocation_stream_end(self, request_id: str, error_type: str | None, error_body: str | None) -> None:
        self.streams[request_id].append(("end", error_type, error_body))


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def exchange(raw: list[bytes], backend: FakeBackend | None = None, responses: int = 1,
             before: object = None) -> tuple[FakeBackend, list[tuple[int, dict[str, str], bytes]]]:
    async def run() -> tuple[FakeBackend, list[tuple[int, dict[str, str], bytes]]]:
        fake = backend or FakeBackend()
        server, port = await start_server(fake)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if before is not None:
            await fake.events.put(before)  # type: ignore[arg-type]
        for chunk in raw:
            writer.write(chunk)
        got = [await asyncio.wait_for(read_response(reader), 2) for _ in range(responses)]
        writer.close()
        server.close()
        return fake, got

    return asyncio.run(run())


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {PREFIX}{path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def test_next_returns_the_event_with_lambda_headers() -> None:
    event = Event("known", b'{"a":1}', 1700000000000, "arn:aws:lambda:us-east-1:1:function:f:prod",
                  trace_id="Root=1-abc", client_context=None, cognito_identity=None)
    _, [(status, headers, body)] = exchange([f"GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode()],
                                            before=event)
    assert status == 200 and body == b'{"a":1}'
    assert headers["lambda-runtime-aws-request-id"] == "known"
    assert headers["lambda-runtime-deadline-ms"] == "1700000000000"
    assert headers["lambda-runtime-invoked-function-arn"].endswith(":f:prod")
    assert headers["lambda-runtime-trace-id"] == "Root=1-abc"
    assert headers["content-type"] == "application/json"
    assert "lambda-runtime-client-context" not in headers and "lambda-runtime-cognito-identity" not in headers


def test_a_response_is_accepted_and_keep_alive_serves_the_next_request() -> None:
    backend, got = exchange([post("/invocation/known/response", b'"ok"'), post("/invocation/known/response", b'"x"')],
                            responses=2)
    assert got[0][0] == 202 and json.loads(got[0][2]) == {"status": "OK"}
    assert backend.responses == {"known": b'"ok"'}
    assert got[1][0] == 400 and json.loads(got[1][2]) == {"errorMessage": "Invalid request ID",
                                                        "errorType": "InvalidRequestID"}


@pytest.mark.parametrize("path", ["/invocation/unknown/response", "/invocation/unknown/error"])
def test_an_unknown_request_id_is_invalid_request_id(path: str) -> None:
    _, [(status, _, body)] = exchange([post(path, b"{}")])
    assert status == 400 and json.loads(body)["errorType"] == "InvalidRequestID"


def test_expect_100_continue_is_answered_before_the_body() -> None:
    async def run() -> tuple[bytes, int, FakeBackend]:
        backend = FakeBackend()
        server, port = await start_server(backend)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {PREFIX}/invocation/known/response HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                     "Expect: 100-continue\r\n\r\n".encode())
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        writer.write(b'"ok"')
        status, _, _ = await asyncio.wait_for(read_response(reader), 2)
        writer.close()
        server.close()
        return interim, status, backend

    interim, status, backend = asyncio.run(run())
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n" and status == 202 and backend.responses["known"] == b'"ok"'


def test_a_chunked_body_is_reassembled() -> None:
    raw = (f"POST {PREFIX}/invocation/known/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n").encode()
    backend, [(status, _, _)] = exchange([raw[:40], raw[40:]])
    assert status == 202 and backend.responses["known"] == b'{"a":1}'


def test_an_error_post_passes_the_body_and_error_type_header() -> None:
    backend, [(status, _, _)] = exchange([post("/invocation/known/error", b'{"errorType":"X"}',
                                               "Lambda-Runtime-Function-Error-Type: Runtime.Custom\r\n")])
    assert status == 202 and backend.errors["known"] == (b'{"errorType":"X"}', "Runtime.Custom")


def test_init_error_is_accepted_once_and_then_an_invalid_state_transition() -> None:
    backend, [(status, _, _)] = exchange([post("/init/error", b"{}", "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\n")])
    assert status == 202 and backend.init_errors == [(b"{}", "Runtime.ImportModuleError")]
    late = FakeBackend()
    late.initialized = True
    _, [(status, _, body)] = exchange([post("/init/error", b"{}")], backend=late)
    assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"


def test_a_too_large_response_is_413() -> None:
    body = b"x" * (MAX_RESPONSE_PAYLOAD + 1)
    backend, [(status, _, text)] = exchange([post("/invocation/known/response", body)])
    assert status == 413 and json.loads(text) == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).", "errorType": "RequestEntityTooLarge"}
    assert backend.too_large == ["known"]


def test_unknown_paths_are_404_and_wrong_methods_405() -> None:
    _, [(status, _, _)] = exchange([f"GET {PREFIX}/nope HTTP/1.1\r\nHost: x\r\n\r\n".encode()])
    assert status == 404
    _, [(status, _, _)] = exchange([f"DELETE {PREFIX}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode()])
    assert status == 405


def test_an_unknown_response_mode_is_refused() -> None:
    _, [(status, _, body)] = exchange([post("/invocation/known/response", b"x",
                                            "Lambda-Runtime-Function-Response-Mode: telepathy\r\n")])
    assert status == 400 and json.loads(body)["errorType"] == "InvalidFunctionResponseMode"


STREAM_HEAD = (f"POST {PREFIX}/invocation/known/response HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
               "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n").encode()


def test_a_streamed_response_reaches_the_backend_chunk_by_chunk() -> None:
    fake, [(status, _, _)] = exchange([STREAM_HEAD, b"3\r\nabc\r\n", b"2\r\nde\r\n", b"0\r\n\r\n"])
    assert status == 202
    chunks = fake.streams["known"]
    assert chunks[0] == "text/plain" and b"".join(chunks[1:-1]) == b"abcde"
    assert chunks[-1] == ("end", None, None)


def test_a_streamed_failure_arrives_in_the_trailers() -> None:
    fake, [(status, _, _)] = exchange([STREAM_HEAD, b"1\r\na\r\n0\r\nLambda-Runtime-Function-Error-Type: X.Y\r\n"
                                       b"Lambda-Runtime-Function-Error-Body: e30=\r\n\r\n"])
    assert status == 202 and fake.streams["known"][-1] == ("end", "X.Y", "e30=")


def test_a_stream_for_an_unknown_request_is_refused_at_its_end() -> None:
    head = STREAM_HEAD.replace(b"/known/", b"/other/")
    fake, [(status, _, body)] = exchange([head, b"1\r\na\r\n0\r\n\r\n"])
    assert status == 400 and json.loads(body)["errorType"] == "InvalidRequestID"
