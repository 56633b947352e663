"""Invocations whose response is forwarded as it is produced (spec §4.1, §7.4, §9.4).

Used by InvokeWithResponseStream and by RESPONSE_STREAM function URLs. The call runs on this
node's pool like a RequestResponse invoke (no queue in the path), but the caller's thread reads the
runtime's chunks from a ``ResponseStream`` while the function still runs. A function that answers
with an ordinary buffered response (every Python handler: see README.md) comes
back whole, as ``buffered``.

The record is written when the stream ends — also when the client went away midway (the function
runs on to its end, as on AWS).
"""

from __future__ import annotations

from collections.abc import Generator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Final

from invocations import concurrency, pipeline
from invocations.engine.types import InvokeResult, ResponseStream, RuntimeUnavailable, TooManyRequests
from invocations.services import invoke as invoke_service

STREAM_INVOCATION_TYPES: Final = (invoke_service.REQUEST_RESPONSE, invoke_service.DRY_RUN)
# Beyond the function's own timeout: waiting for an environment, a cold start, the runtime's init.
WAIT_MARGIN_S: Final = 40.0


@dataclass
class StreamedInvocation:
    request_id: str
    executed_version: str
    content_type: str | None  # of the stream; None when the function answered buffered
    buffered: InvokeResult | None  # the whole result when the function answered buffered
    _stream: ResponseStream
    _future: Future[InvokeResult]
    _prepared: pipeline.Prepared
    _wait_s: float
    _result: InvokeResult | None = field(default=None)

    def chunks(self) -> Generator[bytes, None, None]:
        """The streamed bytes as they arrive; the record is written when they end."""
        try:
            while True:
                kind, value = self._stream.get(timeout=self._wait_s)
                if kind == "end":
                    return
                if kind == "chunk":
                    yield value  # type: ignore[misc]
        finally:
            self._complete()

    @property
    def result(self) -> InvokeResult:
        """The final result (after ``chunks`` is exhausted, or at once when buffered)."""
        if self._result is None:
            self._complete()
        assert self._result is not None
        return self._result

    def _complete(self) -> None:
        if self._result is not None:
            return
        self._result = _finish(self._future, self._prepared, self._wait_s)


def _finish(future: Future[InvokeResult], prepared: pipeline.Prepared, wait_s: float) -> InvokeResult:
    """The engine's result, recorded; platform failures raised as AWS errors (after recording)."""
    try:
        result = future.result(timeout=wait_s)
    except (TooManyRequests, RuntimeUnavailable) as error:
        raise pipeline.platform_error(prepared, error) from None
    pipeline.record(prepared, result)
    return result


def start(request: pipeline.InvocationRequest) -> StreamedInvocation | None:
    """The pipeline's ``prepare`` (RequestResponse or DryRun only), then a run that forwards the
    response as it comes; waits for its first byte (or its whole buffered result).

    Returns None for a DryRun. Raises AwsError before anything is sent, so the caller can still
    answer with a proper error.
    """
    from invocations.node import get_pool

    prepared = pipeline.prepare(request, invocation_types=STREAM_INVOCATION_TYPES)
    if prepared.invocation_type == invoke_service.DRY_RUN:
        return None
    version = prepared.version
    stream = ResponseStream()
    wait_s = version.timeout + WAIT_MARGIN_S
    spec, reserved = invoke_service.function_spec(version), version.function.reserved_concurrency
    lease = pipeline.admit(prepared)
    pipeline.release_connection_while_waiting()
    try:
        future = get_pool().submit(spec, prepared.engine_request(stream), reserved_concurrency=reserved)
    except BaseException:
        concurrency.release(lease)
        raise
    future.add_done_callback(lambda _: concurrency.release(lease))
    kind, value = stream.get(timeout=wait_s)
    started = StreamedInvocation(
        request_id=request.request_id, executed_version=version.version, content_type=None, buffered=None,
        _stream=stream, _future=future, _prepared=prepared, _wait_s=wait_s,
    )  # fmt: skip
    if kind == "begin":
        started.content_type = str(value)
        return started
    # The function answered with an ordinary POST /response (or failed before its first byte).
    started.buffered = started.result
    return started
