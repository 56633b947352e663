"""One execution environment: a sandboxed runtime process, its Runtime API socket, its logs.

Runs entirely on the pool's event loop. One invocation at a time; the environment implements the
Runtime API backend (runtime_api.Backend) and turns what the runtime posts, or how it dies, into an
InvokeResult. Errors the platform generates copy AWS's wording (spec §3.3, §9.3, §10).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from invocations.engine import logs
from invocations.engine.limits import EnvironmentGroups, Limits, largest_process, rss_peak_mb, vm_hwm_mb
from invocations.engine.runtime_api import (
    INVALID_REQUEST_ID,
    INVALID_STATE_TRANSITION,
    MAX_RESPONSE_PAYLOAD,
    MAX_STREAMED_PAYLOAD,
    Event,
    RuntimeApiConnection,
    RuntimeApiError,
)
from invocations.engine.types import FunctionSpec, InvokeRequest, InvokeResult, RuntimeInfo

if TYPE_CHECKING:
    from invocations.engine.sandbox import Backend, Slot

logger = logging.getLogger(__name__)

INIT_TIMEOUT_S = 10.0  # Lambda's limit on the init phase of an on-demand environment
READ_CHUNK = 65536

SIGNAL_NAMES = {signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGSEGV: "segmentation fault",
                signal.SIGABRT: "aborted", signal.SIGBUS: "bus error", signal.SIGILL: "illegal instruction",
                signal.SIGFPE: "floating point exception", signal.SIGINT: "interrupt", signal.SIGPIPE: "broken pipe"}


class State(enum.Enum):
    STARTING = "starting"  # spawned, no /next yet
    IDLE = "idle"  # waiting in /next
    BUSY = "busy"  # an invocation is in flight
    DEAD = "dead"


@dataclass
class Invocation:
    request: InvokeRequest
    future: asyncio.Future[InvokeResult]
    started_at: float = field(default_factory=time.time)
    head: str = ""  # output before START (init or between invocations) and the START line
    output: logs.LogBuffer = field(default_factory=logs.LogBuffer)
    delivered_at: float | None = None  # monotonic
    deadline: asyncio.TimerHandle | None = None
    cold: bool = False
    # A streamed response (spec §9.4): what was forwarded, and the first bytes kept for the record.
    streaming: bool = False
    content_type: str | None = None
    streamed_bytes: int = 0
    collected: bytearray = field(default_factory=bytearray)


def exit_reason(returncode: int | None, sandboxed: bool) -> str:
    if returncode is None:
        return "signal: killed"
    if returncode < 0 or (sandboxed and returncode > 128):  # bwrap reports a signal as 128 + n
        signum = -returncode if returncode < 0 else returncode - 128
        try:
            name = SIGNAL_NAMES.get(signal.Signals(signum), signal.Signals(signum).name)
        except ValueError:
            name = str(signum)
        return f"signal: {name}"
    return f"exit status {returncode}"


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class _ProcessWatch(asyncio.SubprocessProtocol):
    def __init__(self, on_exit: Callable[[], None]) -> None:
        self.on_exit = on_exit

    def process_exited(self) -> None:
        self.on_exit()


class ExecutionEnvironment:
    """One sandboxed runtime process. Started for a function (``spec``), or *ready*: started for a
    runtime only, its launcher waiting in ``/workbench/launch`` until ``claim`` gives it a function
    (the pool keeps a few so that a cold start does not pay for the sandbox and the runtime client)."""

    def __init__(self, env_id: str, spec: FunctionSpec, runtime: RuntimeInfo, *, sandbox: Backend, limits: Limits,
                 on_dead: Callable[[ExecutionEnvironment], None], init_timeout_s: float = INIT_TIMEOUT_S,
                 ready: bool = False) -> None:
        self.id = env_id
        self.ready = ready
        self.init_timeout_s = init_timeout_s
        self.spec = spec
        self.runtime = runtime
        self.sandbox = sandbox
        self.limits = limits
        self.on_dead = on_dead
        self.state = State.STARTING
        self.created_at = time.time()
        # The CloudWatch log stream of this environment (AWS_LAMBDA_LOG_STREAM_NAME, and recorded
        # on each invocation it runs); a ready environment gets its own when it is claimed.
        self.log_stream = "" if ready else logs.log_stream_name(spec.version, self.created_at)
        self.last_used = time.monotonic()
        self.invocations = 0
        self.init_duration_ms: float | None = None
        self._loop = asyncio.get_running_loop()
        self._server: asyncio.AbstractServer | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._pid: int | None = None
        self._output_fd: int | None = None
        self._sink = logs.LogBuffer()  # where runtime output goes right now
        self._groups = EnvironmentGroups(None, None)
        self._slot: Slot | None = None
        self._status_fd: int | None = None  # /proc/<runtime>/status, kept open for Max Memory Used
        self._spawned_at = 0.0
        self._init_timer: asyncio.TimerHandle | None = None
        self._current: Invocation | None = None
        self._next_waiter: asyncio.Future[Event] | None = None
        self._cleaned = False
        self._initialized = False  # the runtime has called /next at least once
        self._launch_waiter: asyncio.Future[bytes] | None = None  # a ready environment's launcher, waiting
        self.waiting_for_claim = False  # a ready environment whose launcher is waiting: it can be claimed

    # ----- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        try:
            self._slot = await self.sandbox.take(self.spec.ephemeral_storage_mb, None if self.ready else self.spec.code_dir)
            self._server = await self._loop.create_server(lambda: RuntimeApiConnection(self), sock=self._slot.listener)
            self._groups = self.limits.create(self.id, self.spec.memory_mb + self.sandbox.memory_overhead_mb)
            plan = self.sandbox.launch_plan(spec=self.spec, runtime=self.runtime, slot=self._slot,
                                            groups=self._groups, log_stream=self.log_stream, ready=self.ready)
            read_fd, write_fd = os.pipe()  # stdout and stderr merged, as in Lambda's log stream
            os.set_blocking(read_fd, False)
            self._output_fd = read_fd
            self._spawned_at = time.monotonic()
            try:
                self._transport, _ = await self._loop.subprocess_exec(
                    lambda: _ProcessWatch(self._process_exited), *plan.argv, stdin=asyncio.subprocess.DEVNULL,
                    stdout=write_fd, stderr=write_fd, env=plan.env, cwd=plan.cwd, start_new_session=True)
            finally:
                os.close(write_fd)
            self._pid = self._transport.get_pid()
            self._loop.add_reader(read_fd, self._read_output)
            self._init_timer = self._loop.call_later(self.init_timeout_s, self._init_timed_out)
        except BaseException:
            self.state = State.DEAD
            self._cleanup()
            raise

    async def claim(self, spec: FunctionSpec) -> None:
        """Give a ready environment its function: its code, its memory limit, then its launcher's
        answer (the function's environment variables and handler). From here on it is a cold start
        of that function, whose Init Duration counts from now."""
        if not self.waiting_for_claim or self._launch_waiter is None or self._launch_waiter.done() or self._slot is None:
            raise RuntimeError(f"environment {self.id} is not ready to be claimed")
        self.waiting_for_claim = False
        if not self._groups.set_memory_limit(spec.memory_mb + self.sandbox.memory_overhead_mb):
            self.kill()
            raise RuntimeError(f"environment {self.id} already uses more than {spec.memory_mb} MB")
        try:
            await self.sandbox.attach_code(self._slot, spec.code_dir)
        except BaseException:
            self.kill()
            raise
        self.spec = spec
        # From here on it is this function's environment: its log stream starts today.
        self.log_stream = logs.log_stream_name(spec.version)
        config = self.sandbox.launch_config(spec=spec, runtime=self.runtime, slot=self._slot, log_stream=self.log_stream)
        self._spawned_at = time.monotonic()
        self._init_timer = self._loop.call_later(self.init_timeout_s, self._init_timed_out)
        waiter, self._launch_waiter = self._launch_waiter, None
        if not waiter.done():
            waiter.set_result(json.dumps(config).encode())

    def kill(self) -> None:
        """Kill the whole process tree (cgroup members, the session, bwrap's PID namespace)."""
        if self.state is not State.DEAD:
            self.state = State.DEAD
        self._groups.kill_all()
        if self._pid is not None:
            try:
                os.killpg(self._pid, signal.SIGKILL)
            except OSError:
                pass
        if self._transport is not None and self._transport.get_returncode() is None:
            try:
                self._transport.kill()
            except ProcessLookupError:
                pass
        if self._transport is None:
            self._cleanup()

    @property
    def cleaned_up(self) -> bool:
        return self._cleaned

    @property
    def alive(self) -> bool:
        return self.state is not State.DEAD

    # ----- invoking --------------------------------------------------------------------------
    def invoke(self, request: InvokeRequest, *, cold: bool) -> asyncio.Future[InvokeResult]:
        if self._current is not None or not self.alive:
            raise RuntimeError(f"environment {self.id} cannot take an invocation in state {self.state.value}")
        invocation = Invocation(request, self._loop.create_future(), cold=cold)
        self._current = invocation
        self.state = State.BUSY
        waiter, self._next_waiter = self._next_waiter, None
        if waiter is not None and not waiter.done():
            self._deliver(invocation, waiter)
        elif self._initialized:
            # A runtime that stopped asking for events (it hangs after answering, or closed its
            # socket) gets the function's timeout to take this one, as if it had; a cold one is
            # bounded by the init timer first.
            invocation.deadline = self._loop.call_later(self.spec.timeout_s, self._timed_out, invocation)
        return invocation.future

    def _deliver(self, invocation: Invocation, waiter: asyncio.Future[Event]) -> None:
        self._drain()
        request = invocation.request
        invocation.head = self._sink.text() + logs.start_line(request.request_id, self.spec.version)
        self._sink = invocation.output
        invocation.delivered_at = time.monotonic()
        if invocation.deadline is not None:
            invocation.deadline.cancel()
        invocation.deadline = self._loop.call_later(self.spec.timeout_s, self._timed_out, invocation)
        waiter.set_result(Event(
            request_id=request.request_id,
            payload=request.payload,
            deadline_ms=int((time.time() + self.spec.timeout_s) * 1000),
            invoked_function_arn=request.invoked_function_arn,
            trace_id=request.trace_id,
            client_context=request.client_context,
            cognito_identity=request.cognito_identity,
        ))

    def _finish(self, invocation: Invocation, *, payload: bytes, error_type: str | None, status: str,
                platform_lines: str = "", billed_ms: int | None = None, reset: bool = False,
                min_duration_ms: float = 0.0) -> None:
        """Complete an invocation. With ``reset`` the environment is killed first, so that the pool,
        which takes it back when the result is set, never hands it to another caller (Lambda resets
        an environment after a failure of the runtime, not after a handled function error)."""
        if invocation.future.done():
            return
        if invocation.deadline is not None:
            invocation.deadline.cancel()
        self._drain()
        request_id = invocation.request.request_id
        if not invocation.head:  # died or failed before it took the event: init output first
            invocation.head = self._sink.text() + logs.start_line(request_id, self.spec.version)
        if self._current is invocation:
            self._current = None
            self._sink = logs.LogBuffer()
        now = time.monotonic()
        duration_ms = (now - invocation.delivered_at) * 1000 if invocation.delivered_at is not None else 0.0
        # asyncio runs a timer up to its clock resolution early: a timeout never reads as shorter than itself.
        duration_ms = max(duration_ms, min_duration_ms)
        billed = billed_ms if billed_ms is not None else logs.billed_duration_ms(duration_ms)
        max_memory = self.max_memory_used_mb()
        init_ms = self.init_duration_ms if invocation.cold else None
        text = (invocation.head + invocation.output.text() + platform_lines + logs.end_line(request_id)
                + logs.report_line(request_id, duration_ms=duration_ms, billed_ms=billed,
                                   memory_mb=self.spec.memory_mb, max_memory_mb=max_memory,
                                   init_duration_ms=init_ms))
        self.invocations += 1
        self.last_used = now
        if reset:
            self.kill()
        elif self.alive:
            self.state = State.IDLE
        invocation.future.set_result(InvokeResult(
            request_id=request_id, payload=payload, function_error="Unhandled" if error_type else None,
            error_type=error_type, status=status, logs=text, duration_ms=round(duration_ms, 2),
            billed_duration_ms=billed, init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
            memory_size_mb=self.spec.memory_mb, max_memory_used_mb=max_memory, cold_start=invocation.cold,
            started_at=invocation.started_at, finished_at=time.time(), environment_id=self.id,
            log_stream=self.log_stream, executed_version=self.spec.version, streamed=invocation.streaming,
            streamed_bytes=invocation.streamed_bytes, content_type=invocation.content_type,
        ))

    def max_memory_used_mb(self) -> int:
        """The larger of the memory cgroup's peak (what the environment itself charged: its private
        memory, the files it wrote) and the runtime's peak resident set, shared pages included: the
        interpreter and libraries it maps are memory it uses, although the host's page cache had
        them before (and so charged them to no environment)."""
        peak = self._groups.peak_memory_mb()
        if peak is None:
            return rss_peak_mb(self._pid) if self._pid is not None else 0
        return max(peak, self._runtime_peak_rss_mb())

    def _runtime_peak_rss_mb(self) -> int:
        if self._status_fd is None:
            # The runtime is the biggest process of the environment (the others are bwrap's);
            # its status file stays open: a pread per invocation instead of a search.
            pid = largest_process(self._groups.memory)
            if pid is None:
                return 0
            try:
                self._status_fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return 0
        return vm_hwm_mb(self._status_fd)

    def _fail(self, invocation: Invocation, error_type: str, message: str, log_lines: str, *,
              status: str = "failed", billed_ms: int | None = None, min_duration_ms: float = 0.0) -> None:
        """A failure the platform observed (timeout, crash, oversized response): never reused."""
        self._finish(invocation, payload=error_payload(error_type, message), error_type=error_type,
                     status=status, platform_lines=log_lines, billed_ms=billed_ms, reset=True,
                     min_duration_ms=min_duration_ms)

    def _timed_out(self, invocation: Invocation) -> None:
        if self._current is not invocation:
            return
        timeout = self.spec.timeout_s
        request_id = invocation.request.request_id
        # Billed duration of a timed-out invocation is the timeout (spec §10).
        self._fail(invocation, "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
                   logs.timeout_line(request_id, timeout), status="timed-out", billed_ms=int(timeout * 1000),
                   min_duration_ms=timeout * 1000)

    def _init_timed_out(self) -> None:
        if self._initialized:
            return
        invocation = self._current
        if invocation is None:
            self.kill()
        else:
            request_id = invocation.request.request_id
            self._fail(invocation, "Sandbox.Timedout",
                       f"RequestId: {request_id} Error: Task timed out after {self.init_timeout_s:.2f} seconds",
                       logs.timeout_line(request_id, self.init_timeout_s), status="timed-out")

    def _process_exited(self) -> None:
        returncode = self._transport.get_returncode() if self._transport else None
        self.state = State.DEAD
        self._drain()
        invocation = self._current
        if invocation is not None and not invocation.future.done():
            request_id = invocation.request.request_id
            reason = exit_reason(returncode, sandboxed=self.sandbox.name != "off")
            if returncode == 0:
                message = f"RequestId: {request_id} Error: Runtime exited without providing a reason"
            else:
                message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
            # Killed for memory: AWS's errorType is Runtime.OutOfMemory, with the same message.
            kind = "Runtime.OutOfMemory" if self._groups.oom_killed() else "Runtime.ExitError"
            self._fail(invocation, kind, message, f"{message}\n{kind}\n")
        self._cleanup()

    def _cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        if self._init_timer is not None:
            self._init_timer.cancel()
        if self._next_waiter is not None and not self._next_waiter.done():
            self._next_waiter.cancel()
        if self._launch_waiter is not None and not self._launch_waiter.done():
            self._launch_waiter.cancel()
        self.waiting_for_claim = False
        if self._server is not None:
            self._server.close()  # and with it the slot's Runtime API socket
        elif self._slot is not None:
            self._slot.listener.close()
        if self._output_fd is not None:
            self._loop.remove_reader(self._output_fd)
            os.close(self._output_fd)
            self._output_fd = None
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        if self._slot is not None:
            self.sandbox.release(self._slot)
            self._slot = None
        self._remove_groups(attempts=40)
        self.on_dead(self)

    def _remove_groups(self, attempts: int) -> None:
        if not self._groups.remove() and attempts > 0:
            self._groups.kill_all()
            self._loop.call_later(0.05, self._remove_groups, attempts - 1)

    # ----- output ----------------------------------------------------------------------------
    def _read_output(self) -> None:
        self._drain()

    def _drain(self) -> None:
        """Read whatever the runtime already wrote, without blocking, into the current sink."""
        fd = self._output_fd
        while fd is not None:
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._loop.remove_reader(fd)
                os.close(fd)
                self._output_fd = None
                return
            self._sink.write(chunk)

    # ----- Runtime API backend ---------------------------------------------------------------
    def next_invocation(self) -> asyncio.Future[Event]:
        waiter: asyncio.Future[Event] = self._loop.create_future()
        current = self._current
        if current is not None and current.delivered_at is not None:
            waiter.set_exception(RuntimeApiError(INVALID_STATE_TRANSITION,
                                                 "Invalid state transition: invocation/next during an invocation"))
            return waiter
        if not self._initialized:
            self._initialized = True
            self.init_duration_ms = (time.monotonic() - self._spawned_at) * 1000
            if self._init_timer is not None:
                self._init_timer.cancel()
            if self.state is State.STARTING:
                self.state = State.IDLE
        if current is not None:
            self._deliver(current, waiter)
        elif self.alive:
            self._next_waiter = waiter
        return waiter

    def _answered(self, request_id: str) -> Invocation:
        current = self._current
        if current is None or current.delivered_at is None or current.request.request_id != request_id:
            raise RuntimeApiError(INVALID_REQUEST_ID, "Invalid request ID")
        return current

    def invocation_response(self, request_id: str, body: bytes) -> None:
        invocation = self._answered(request_id)
        self._finish(invocation, payload=body, error_type=None, status="succeeded")

    def invocation_response_too_large(self, request_id: str) -> None:
        invocation = self._answered(request_id)
        message = f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes)."
        self._fail(invocation, "Function.ResponseSizeTooLarge", message, "")

    def invocation_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        invocation = self._answered(request_id)
        payload, kind = self._error_body(body, error_type)
        self._finish(invocation, payload=payload, error_type=kind, status="failed")

    def init_error(self, body: bytes, error_type: str | None) -> None:
        if self._initialized or not self.alive:
            raise RuntimeApiError(INVALID_STATE_TRANSITION, "Invalid state transition: init/error after init")
        self.init_duration_ms = (time.monotonic() - self._spawned_at) * 1000
        payload, kind = self._error_body(body, error_type)
        invocation = self._current
        self.state = State.DEAD  # an environment whose init failed is never reused
        if invocation is not None:
            invocation.delivered_at = time.monotonic()
            self._finish(invocation, payload=payload, error_type=kind, status="failed")
        # Let the 202 reach the runtime before the kill (awslambdaric exits 1 by itself).
        self._loop.call_later(0.05, self.kill)

    def invocation_stream_begin(self, request_id: str, content_type: str) -> None:
        invocation = self._answered(request_id)
        if invocation.streaming:
            raise RuntimeApiError(INVALID_STATE_TRANSITION, "Invalid state transition: the response is already streaming")
        invocation.streaming = True
        invocation.content_type = content_type
        if invocation.request.stream is not None:
            invocation.request.stream.begin(content_type)

    def invocation_stream_chunk(self, request_id: str, chunk: bytes) -> None:
        invocation = self._current
        if (invocation is None or not invocation.streaming or invocation.future.done()
                or invocation.request.request_id != request_id):
            return  # the invocation already ended (timed out, too large): drop the rest
        stream = invocation.request.stream
        invocation.streamed_bytes += len(chunk)
        # Forwarded to a streaming caller, a response may reach 200 MB; collected for a buffered
        # caller (Invoke of a streaming handler) it has the ordinary 6 MB cap.
        limit = MAX_STREAMED_PAYLOAD if stream is not None else MAX_RESPONSE_PAYLOAD
        if invocation.streamed_bytes > limit:
            self._fail(invocation, "Function.ResponseSizeTooLarge",
                       f"Response payload size exceeded maximum allowed payload size ({limit} bytes).", "")
            return
        if stream is not None:
            stream.write(chunk)
        room = MAX_RESPONSE_PAYLOAD - len(invocation.collected)
        if room > 0:
            invocation.collected += chunk[:room]

    def invocation_stream_end(self, request_id: str, error_type: str | None, error_body: str | None) -> None:
        invocation = self._answered(request_id)
        if error_type is None and error_body is None:
            self._finish(invocation, payload=bytes(invocation.collected), error_type=None, status="succeeded")
            return
        try:
            body = base64.b64decode(error_body or "", validate=True)
        except (binascii.Error, ValueError):
            body = (error_body or "").encode()
        payload, kind = self._error_body(body, error_type)
        self._finish(invocation, payload=payload, error_type=kind, status="failed")

    def launch(self) -> asyncio.Future[bytes]:
        """A ready environment's launcher waits here for ``claim``."""
        waiter: asyncio.Future[bytes] = self._loop.create_future()
        if not self.ready or self._launch_waiter is not None or self._initialized or not self.alive:
            waiter.set_exception(RuntimeApiError(INVALID_STATE_TRANSITION, "Invalid state transition: launch"))
            return waiter
        self._launch_waiter = waiter
        self.waiting_for_claim = True
        waiter.add_done_callback(self._launcher_gone)
        if self._init_timer is not None:  # its start-up is done; the function's init is timed at claim
            self._init_timer.cancel()
            self._init_timer = None
        return waiter

    def _launcher_gone(self, waiter: asyncio.Future[bytes]) -> None:
        """A launcher that hung up before its claim is of no use: end the environment."""
        if waiter.cancelled() and self.waiting_for_claim:
            self.waiting_for_claim = False
            self.kill()

    def runtime_disconnected(self) -> None:
        if self._next_waiter is not None and self._next_waiter.done():
            self._next_waiter = None

    @staticmethod
    def _error_body(body: bytes, header_type: str | None) -> tuple[bytes, str]:
        """The error object passes through; errorType from the body, else the header (spec §9.2)."""
        kind = None
        try:
            parsed = json.loads(body) if body else None
            if isinstance(parsed, dict) and isinstance(parsed.get("errorType"), str):
                kind = parsed["errorType"]
        except ValueError:
            parsed = None
        kind = kind or header_type or "Unhandled"
        if parsed is None:
            body = error_payload(kind, body.decode("utf-8", errors="replace"))
        return body, kind
