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

from invocations import concurrency, lifecycle, policy, recorder
from invocations.access import Caller
from invocations.arns import function_arn, parse_function_name
from invocations.engine.types import InvokeRequest, InvokeResult, ResponseStream, RuntimeUnavailable, TooManyRequests
from invocations.models import Invocation
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
    _invocation: Invocation
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
        self._result = _finish(self._future, self._invocation, self._wait_s)


def _finish(future: Future[InvokeResult], invocation: Invocation, wait_s: float) -> InvokeResult:
    """The engine's result, recorded; platform failures raised as AWS errors (after recording)."""
    try:
        result = future.result(timeout=wait_s)
    except (TooManyRequests, RuntimeUnavailable) as error:
        raise invoke_service.engine_failure(invocation, error) from None
    invoke_service.apply_result(invocation, result)
    recorder.record(invocation)
    return result


def start(
    *,
    caller: Caller,
    function_name: str,
    qualifier: str | None,
    payload: bytes,
    invocation_type: str | None,
    client_context: str | None,
    source: str,
    request_id: str,
    context: policy.Context = policy.Context(),
) -> StreamedInvocation | None:
    """Validate, authorize (``lambda:InvokeFunction``) and start the invocation; wait for its first
    byte (or its whole buffered result).

    Returns None for a DryRun. Raises AwsError before anything is sent, so the caller can still
    answer with a proper error.
    """
    from invocations.node import get_pool

    invocation_type = invocation_type or invoke_service.REQUEST_RESPONSE
    invoke_service._check_enum(invocation_type, "invocationType", STREAM_INVOCATION_TYPES)
    ref = parse_function_name(function_name, qualifier=qualifier)
    payload = invoke_service._check_payload(payload, invocation_type=invocation_type,
                                            event_limit=invoke_service.EVENT_PAYLOAD_LIMIT)
    context_text = invoke_service.decode_client_context(client_context)
    version = invoke_service.resolve(caller, ref, context=context)
    if invocation_type == invoke_service.DRY_RUN:
        return None
    invocation = Invocation(
        request_id=request_id,
        function=version.function,
        function_name=ref.name,
        account_id=version.function.team.account_id,
        qualifier=ref.qualifier or "",
        executed_version=version.version,
        source=source,
        invocation_type=Invocation.Type.REQUEST_RESPONSE,
        status=lifecycle.initial_status(Invocation.Type.REQUEST_RESPONSE),
        caller_id=caller.user_id,
        payload=payload.decode("utf-8"),
        client_context=context_text or "",
        memory_size_mb=version.memory_size,
        code_sha256=version.code_sha256,
    )
    stream = ResponseStream()
    request = InvokeRequest(
        request_id=request_id,
        payload=payload,
        invoked_function_arn=function_arn(ref.name, ref.qualifier, account=version.function.team.account_id),
        client_context=context_text,
        stream=stream,
    )
    wait_s = version.timeout + WAIT_MARGIN_S
    spec, reserved = invoke_service.function_spec(version), version.function.reserved_concurrency
    try:
        lease = concurrency.admit(function_id=version.function_id, team_id=version.function.team_id, reserved=reserved)
    except TooManyRequests as error:
        raise invoke_service.engine_failure(invocation, error) from None
    invoke_service.release_connection_while_waiting()
    try:
        future = get_pool().submit(spec, request, reserved_concurrency=reserved)
    except BaseException:
        concurrency.release(lease)
        raise
    future.add_done_callback(lambda _: concurrency.release(lease))
    kind, value = stream.get(timeout=wait_s)
    started = StreamedInvocation(
        request_id=request_id, executed_version=version.version, content_type=None, buffered=None,
        _stream=stream, _future=future, _invocation=invocation, _wait_s=wait_s,
    )  # fmt: skip
    if kind == "begin":
        started.content_type = str(value)
        return started
    # The function answered with an ordinary POST /response (or failed before its first byte).
    started.buffered = started.result
    return started
