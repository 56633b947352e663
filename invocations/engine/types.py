"""The engine's public data types. The engine imports nothing from Django (a test enforces it)."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FunctionSpec:
    """Everything an execution environment needs to know about the function version it runs.

    Environments are reused only for an identical spec (``revision_id`` changes on every code or
    configuration update, so an update never reaches an old environment).
    """

    function_name: str
    function_arn: str  # unqualified: arn:aws:lambda:<region>:<account>:function:<name>
    version: str  # "$LATEST" or "1", "2", ...
    revision_id: str
    code_dir: str  # unpacked code (mounted read-only at /var/task)
    code_sha256: str  # base64 SHA-256 of the zip, as AWS reports it
    runtime: str  # python3.11 | python3.12 | python3.13 | nodejs20.x | provided.al2023 ...
    handler: str
    memory_mb: int = 128
    timeout_s: int = 3
    ephemeral_storage_mb: int = 512  # the size of /tmp (EphemeralStorage.Size)
    environment: tuple[tuple[str, str], ...] = ()  # the function's own variables
    region: str = "us-east-1"
    log_format: str = "Text"  # LoggingConfig.LogFormat
    log_group: str = ""  # defaults to /aws/lambda/<name>

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.function_name, self.version, self.revision_id)


class ResponseStream:
    """A streamed response (spec §9.4) handed from the engine's loop to the thread that waits for it.

    The environment calls ``begin``/``write`` on the loop as the runtime's chunked POST arrives; the
    pool calls ``end`` when the invocation is over (whatever happened). The waiting thread reads
    events in order with ``get``: ``("begin", content_type)``, ``("chunk", bytes)`` … ``("end", None)``.
    A function that answers with an ordinary buffered POST produces only ``("end", None)``: the
    caller then uses the InvokeResult's payload.
    """

    def __init__(self) -> None:
        self._events: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()

    def begin(self, content_type: str) -> None:
        self._events.put(("begin", content_type))

    def write(self, chunk: bytes) -> None:
        if chunk:
            self._events.put(("chunk", chunk))

    def end(self) -> None:
        self._events.put(("end", None))

    def get(self, timeout: float | None = None) -> tuple[str, object]:
        return self._events.get(timeout=timeout)


@dataclass(frozen=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str  # as invoked: may carry a version or alias qualifier
    client_context: str | None = None  # decoded ClientContext JSON text
    cognito_identity: str | None = None
    trace_id: str | None = None
    # Caller-supplied limit on waiting for a free environment (seconds); None = engine default.
    queue_timeout_s: float | None = None
    # Set by a caller that forwards a streamed response as it is produced (InvokeWithResponseStream,
    # RESPONSE_STREAM function URLs); without it a streamed response is collected into the payload.
    stream: ResponseStream | None = field(default=None, compare=False)


@dataclass
class InvokeResult:
    request_id: str
    payload: bytes  # the function's response, or the error object when function_error is set
    # (for a streamed response the bytes streamed, up to MAX_RESPONSE_PAYLOAD)
    function_error: str | None  # "Unhandled" when `payload` is an error object
    error_type: str | None  # errorType of the error object (Sandbox.Timedout, Runtime.ExitError, ...)
    status: str  # "succeeded" | "failed" | "timed-out"
    logs: str  # the invocation's log stream text, START ... REPORT lines included
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None  # set on a cold start
    memory_size_mb: int
    max_memory_used_mb: int
    cold_start: bool
    started_at: float  # epoch seconds
    finished_at: float
    environment_id: str = ""
    log_stream: str = ""  # the environment's log stream (YYYY/MM/DD/[version]<32 hex>)
    executed_version: str = "$LATEST"
    extra: dict[str, object] = field(default_factory=dict)
    streamed: bool = False  # the runtime answered in streaming response mode
    streamed_bytes: int = 0
    content_type: str | None = None  # of a streamed response


@dataclass(frozen=True)
class RuntimeInfo:
    name: str  # python3.11, nodejs20.x, provided.al2023 ...
    executable: str  # interpreter path (empty for provided.*)
    available: bool
    reason: str = ""  # why it is not available


class EngineError(Exception):
    """A platform-side failure that happens before the function runs."""


class TooManyRequests(EngineError):
    """Throttled: no environment could be had within the limits (AWS 429)."""

    def __init__(self, reason: str, message: str = "Rate Exceeded.") -> None:
        super().__init__(message)
        self.reason = reason  # TooManyRequestsException.Reason enum value
        self.message = message


class RuntimeUnavailable(EngineError):
    """The function's runtime is not installed on this node."""
