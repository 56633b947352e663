"""The node's pool of execution environments.

One asyncio (uvloop) event loop in a daemon thread owns every environment and Runtime API socket;
`Pool.invoke` is the thread-safe blocking entry point for WSGI and Celery threads, `invoke_async`
the same on the loop. Environments are reused per FunctionSpec.key, one invocation at a time; a
busy function gets a new environment while the node has room, else the least recently used idle
environment of any function is evicted, else the caller waits (up to queue_timeout_s) and is then
throttled like AWS (429 ConcurrentInvocationLimitExceeded).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Coroutine, TypeVar

import uvloop

from invocations.engine import logs
from invocations.engine.environment import INIT_TIMEOUT_S, ExecutionEnvironment, error_payload
from invocations.engine.interpreters import default_runtimes_dir, discover_runtimes
from invocations.engine.limits import Limits
from invocations.engine.sandbox import Backend, SandboxConfig, SandboxUnavailable, make_sandbox
from invocations.engine.types import (
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    RuntimeInfo,
    RuntimeUnavailable,
    TooManyRequests,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONCURRENT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
DEFAULT_STORAGE_MB = 512  # ready environments have the default /tmp
# A claimed ready environment is replaced this long after, not at once: starting one while the
# claimed one imports its function would slow that cold start on two cores (as for slots).
REFILL_DELAY_S = 0.25
READY_START_DELAY_S = 0.5  # after the pool starts: its first slots are built by then
RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"


def _default_work_dir() -> str:
    return os.path.join(tempfile.gettempdir(), "lambda-workbench-environments")


@dataclass
class PoolConfig:
    max_environments: int = 128
    keep_alive_s: float = 300.0
    runtimes_dir: str = field(default_factory=default_runtimes_dir)
    work_dir: str = field(default_factory=_default_work_dir)  # /tmp images and the seccomp program
    sandbox: str = "bwrap"  # "bwrap" | "off" (sandbox/__init__.py)
    queue_timeout_s: float = 10.0
    use_cgroups: bool = True  # False forces the rlimit fallback (tests of the degraded mode)
    egress: str = "on"  # on | off | an allow-list (sandbox/egress.py)
    sandbox_uid: int = 65993  # the unprivileged host uid environments run as
    internal_endpoints: tuple[tuple[str, int], ...] = ()  # (host, port) no function may reach
    spare_slots: int = 2  # sandbox slots kept built ahead of cold starts
    init_timeout_s: float = INIT_TIMEOUT_S  # a runtime that has not asked for its first event by then is killed
    # Environments started ahead of their function (runtime client imported, waiting), per runtime in
    # use; a cold start claims one (environment.py, ``claim``). 0: every cold start starts a process.
    ready_environments: int = 0

    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(mode=self.sandbox, host_uid=self.sandbox_uid, egress=self.egress,
                             internal_endpoints=self.internal_endpoints, spares=self.spare_slots)


@dataclass
class _FunctionState:
    environments: set[ExecutionEnvironment] = field(default_factory=set)
    idle: list[ExecutionEnvironment] = field(default_factory=list)  # most recently used last
    in_flight: int = 0
    invocations: int = 0
    cold_starts: int = 0
    throttles: int = 0


class Pool:
    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config or PoolConfig()
        self._shutdown_lock = threading.Lock()
        os.makedirs(self.config.work_dir, mode=0o700, exist_ok=True)
        self._runtimes = discover_runtimes(self.config.runtimes_dir)
        self._limits = Limits(self.config.use_cgroups)
        self._loop = uvloop.new_event_loop()
        # No silent downgrade: without its sandbox the pool refuses every invocation and says why.
        self._sandbox: Backend | None = None
        self.unavailable: str | None = None
        try:
            self._sandbox = make_sandbox(self.config.sandbox_config(), runtimes=self._runtimes,
                                         runtimes_dir=self.config.runtimes_dir, work_dir=self.config.work_dir,
                                         loop=self._loop)
        except SandboxUnavailable as error:
            self.unavailable = f"functions cannot run on this node: {error}"
            logger.error("%s", self.unavailable)
        self._functions: dict[tuple[str, str, str], _FunctionState] = {}
        self._environments: set[ExecutionEnvironment] = set()
        self._idle_lru: OrderedDict[ExecutionEnvironment, None] = OrderedDict()  # oldest first
        self._starting = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self._closed = False
        self._retired_revisions: set[str] = set()  # their environments end as soon as they are idle
        self._ready: dict[str, list[ExecutionEnvironment]] = {}  # by runtime, oldest first
        self._ready_starting: dict[str, int] = {}
        self._ready_claims = 0
        self._ready_runtimes = {"python3.11"}  # and every runtime that had a cold start here
        self._reaper: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run_loop, name="lambda-engine", daemon=True)
        self._thread.start()
        self._call(self._start_reaper())

    # ----- public, thread-safe -----------------------------------------------------------------
    def invoke(self, spec: FunctionSpec, request: InvokeRequest, *,
               reserved_concurrency: int | None = None) -> InvokeResult:
        if threading.current_thread() is self._thread:
            raise RuntimeError("Pool methods block: from the pool's loop use invoke_async")
        done: Future[InvokeResult] = Future()
        self._loop.call_soon_threadsafe(self._begin, spec, request, reserved_concurrency, done)
        return done.result()

    def submit(self, spec: FunctionSpec, request: InvokeRequest, *,
               reserved_concurrency: int | None = None) -> Future[InvokeResult]:
        """Start an invocation without waiting for it (for callers that read ``request.stream``).

        The stream, when there is one, always gets its ``end`` once the future is done — also when
        the invocation never started (throttled, runtime unavailable) — so a reader never hangs.
        """
        future: Future[InvokeResult] = asyncio.run_coroutine_threadsafe(
            self.invoke_async(spec, request, reserved_concurrency=reserved_concurrency), self._loop)
        stream = request.stream
        if stream is not None:
            future.add_done_callback(lambda _: stream.end())
        return future

    def runtimes(self) -> dict[str, RuntimeInfo]:
        if self.unavailable is not None:
            return {name: RuntimeInfo(name, info.executable, False, self.unavailable) for name, info in self._runtimes.items()}
        return dict(self._runtimes)

    def live_revisions(self) -> set[str]:
        """Revision ids of the function versions this pool holds environments of."""
        return self._call(self._live_revisions())

    def retire(self, revision_ids: set[str]) -> None:
        """End the environments of these revisions (a deleted or updated function): idle ones now,
        busy ones when their invocation ends."""
        if revision_ids:
            self._call(self._retire_revisions(revision_ids))

    def stats(self) -> dict[str, Any]:
        return self._call(self._stats())

    def shutdown(self) -> None:
        """End everything; idempotent, and a second caller waits until the first is done."""
        with self._shutdown_lock:
            if self._closed:
                return
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if self._sandbox is not None:
                self._sandbox.close()
        if not self._thread.is_alive():
            self._loop.close()
        self._limits.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    # ----- on the loop ---------------------------------------------------------------------------
    async def invoke_async(self, spec: FunctionSpec, request: InvokeRequest, *,
                           reserved_concurrency: int | None = None) -> InvokeResult:
        admitted = self._admit(spec, request, reserved_concurrency)
        if isinstance(admitted, InvokeResult):
            return admitted
        function, runtime = admitted
        # Shielded: a caller that stops waiting must not cancel an invocation already running.
        return await asyncio.shield(await self._run_admitted(spec, request, function, runtime))

    def _begin(self, spec: FunctionSpec, request: InvokeRequest, reserved_concurrency: int | None,
               done: Future[InvokeResult]) -> None:
        """On the loop, for `invoke`: a warm environment is taken and given the event right here,
        without a Task or chained futures — the hot path of every warm synchronous invoke."""
        if not done.set_running_or_notify_cancel():
            return
        try:
            admitted = self._admit(spec, request, reserved_concurrency)
            if isinstance(admitted, InvokeResult):
                done.set_result(admitted)
                return
            function, runtime = admitted
            environment = self._take_idle(function)
            if environment is None:
                task = self._loop.create_task(self._run_admitted(spec, request, function, runtime))
                task.add_done_callback(lambda t: _forward(t, done, nested=True))
                return
            outcome = self._start(environment, function, request, cold=False)
        except BaseException as error:
            done.set_exception(error)
            return
        outcome.add_done_callback(lambda f: _forward(f, done))

    def _admit(self, spec: FunctionSpec, request: InvokeRequest,
               reserved_concurrency: int | None) -> tuple[_FunctionState, RuntimeInfo] | InvokeResult:
        """Checks before an environment is sought; counts the invocation in flight when admitted."""
        if self._closed:
            raise RuntimeUnavailable("the environment pool is shut down")
        if self.unavailable is not None:
            raise RuntimeUnavailable(self.unavailable)
        runtime = self._runtimes.get(spec.runtime)
        if runtime is None or not runtime.available:
            raise RuntimeUnavailable(runtime.reason if runtime else f"unknown runtime {spec.runtime}")
        function = self._functions.setdefault(spec.key, _FunctionState())
        # AWS throttles at the reserved limit at once instead of queueing.
        if reserved_concurrency is not None and function.in_flight >= reserved_concurrency:
            function.throttles += 1
            raise TooManyRequests(RESERVED_LIMIT_EXCEEDED)
        entrypoint_error = self._entrypoint_error(spec, request)
        if entrypoint_error is not None:
            return entrypoint_error
        function.in_flight += 1
        return function, runtime

    async def _run_admitted(self, spec: FunctionSpec, request: InvokeRequest, function: _FunctionState,
                            runtime: RuntimeInfo) -> asyncio.Future[InvokeResult]:
        try:
            queue_timeout = request.queue_timeout_s if request.queue_timeout_s is not None else self.config.queue_timeout_s
            environment, cold = await self._acquire(spec, function, runtime, queue_timeout)
        except BaseException:
            function.in_flight -= 1
            raise
        return self._start(environment, function, request, cold=cold)

    def _take_idle(self, function: _FunctionState) -> ExecutionEnvironment | None:
        while function.idle:
            environment = function.idle.pop()
            self._idle_lru.pop(environment, None)
            if environment.alive:
                return environment
        return None

    def _start(self, environment: ExecutionEnvironment, function: _FunctionState, request: InvokeRequest, *,
               cold: bool) -> asyncio.Future[InvokeResult]:
        function.invocations += 1
        try:
            outcome = environment.invoke(request, cold=cold)
        except BaseException:
            self._release(environment, function)
            raise
        outcome.add_done_callback(lambda _: self._release(environment, function))
        return outcome

    async def _acquire(self, spec: FunctionSpec, function: _FunctionState, runtime: RuntimeInfo,
                       queue_timeout: float) -> tuple[ExecutionEnvironment, bool]:
        deadline = self._loop.time() + queue_timeout
        while True:
            environment = self._take_idle(function)
            if environment is not None:
                return environment, False
            claimed = await self._claim_ready(spec, function)
            if claimed is not None:
                return claimed, True
            if len(self._environments) + self._starting < self.config.max_environments:
                return await self._spawn(spec, function, runtime), True
            if self._idle_lru:
                self._retire(next(iter(self._idle_lru)))
                continue
            spare = next((e for ready in self._ready.values() for e in ready), None)
            if spare is not None:  # a ready environment of another runtime makes room
                self._retire(spare)
                continue
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                function.throttles += 1
                raise TooManyRequests(CONCURRENT_LIMIT_EXCEEDED)
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                function.throttles += 1
                raise TooManyRequests(CONCURRENT_LIMIT_EXCEEDED) from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _spawn(self, spec: FunctionSpec, function: _FunctionState, runtime: RuntimeInfo) -> ExecutionEnvironment:
        env_id = f"env-{self._prefix}-{next(self._ids)}"
        assert self._sandbox is not None  # _admit refused otherwise
        environment = ExecutionEnvironment(env_id, spec, runtime, sandbox=self._sandbox, limits=self._limits,
                                           on_dead=self._environment_died, init_timeout_s=self.config.init_timeout_s)
        self._starting += 1
        try:
            await environment.start()
        finally:
            self._starting -= 1
        self._environments.add(environment)
        function.environments.add(environment)
        function.cold_starts += 1
        return environment

    # ----- ready environments ---------------------------------------------------------------------
    async def _claim_ready(self, spec: FunctionSpec, function: _FunctionState) -> ExecutionEnvironment | None:
        """A ready environment of ``spec.runtime`` given to this function, when there is one."""
        assert self._sandbox is not None
        if self.config.ready_environments <= 0 or not self._sandbox.ready_runtime(spec.runtime) \
                or spec.ephemeral_storage_mb != DEFAULT_STORAGE_MB:
            return None
        self._ready_runtimes.add(spec.runtime)
        waiting = self._ready.get(spec.runtime, [])
        environment = next((e for e in waiting if e.waiting_for_claim and e.alive), None)
        if environment is None:
            return None
        waiting.remove(environment)
        self._loop.call_later(REFILL_DELAY_S, self._refill_ready)
        try:
            await environment.claim(spec)
        except Exception:
            logger.exception("claiming ready environment %s failed; starting a new one", environment.id)
            return None
        if not environment.alive:  # it died while it was given its code
            return None
        function.environments.add(environment)
        function.cold_starts += 1
        self._ready_claims += 1
        return environment

    def _refill_ready(self) -> None:
        if self._closed or self._sandbox is None or self.config.ready_environments <= 0:
            return
        for runtime_name in sorted(self._ready_runtimes):
            runtime = self._runtimes.get(runtime_name)
            if runtime is None or not runtime.available or not self._sandbox.ready_runtime(runtime_name):
                continue
            while (len(self._ready.get(runtime_name, [])) + self._ready_starting.get(runtime_name, 0)
                   < self.config.ready_environments
                   and len(self._environments) + self._starting < self.config.max_environments):
                self._ready_starting[runtime_name] = self._ready_starting.get(runtime_name, 0) + 1
                self._loop.create_task(self._start_ready(runtime))

    async def _start_ready(self, runtime: RuntimeInfo) -> None:
        assert self._sandbox is not None
        spec = FunctionSpec(function_name="", function_arn="", version="$LATEST", revision_id="", code_dir="",
                            code_sha256="", runtime=runtime.name, handler="")
        environment = ExecutionEnvironment(f"env-{self._prefix}-{next(self._ids)}", spec, runtime, sandbox=self._sandbox,
                                           limits=self._limits, on_dead=self._environment_died,
                                           init_timeout_s=self.config.init_timeout_s, ready=True)
        self._starting += 1
        try:
            await environment.start()
        except Exception:
            logger.exception("starting a ready %s environment failed", runtime.name)
            return
        finally:
            self._starting -= 1
            self._ready_starting[runtime.name] -= 1
        if self._closed:
            environment.kill()
            return
        self._environments.add(environment)
        self._ready.setdefault(runtime.name, []).append(environment)

    def _release(self, environment: ExecutionEnvironment, function: _FunctionState) -> None:
        function.in_flight -= 1
        if environment.spec.revision_id in self._retired_revisions:
            self._retire(environment)
        elif environment.alive and environment in self._environments and not self._closed:
            function.idle.append(environment)
            self._idle_lru[environment] = None
            self._idle_lru.move_to_end(environment)
        self._wake_one()

    async def _live_revisions(self) -> set[str]:
        return {e.spec.revision_id for e in self._environments if e.spec.revision_id}  # not ready ones

    async def _retire_revisions(self, revision_ids: set[str]) -> None:
        self._retired_revisions |= revision_ids
        for environment in [e for e in self._idle_lru if e.spec.revision_id in revision_ids]:
            self._retire(environment)
        # Forget revisions with nothing left running (a revision id is never reused).
        self._retired_revisions &= {e.spec.revision_id for e in self._environments}

    def _retire(self, environment: ExecutionEnvironment) -> None:
        """Take an environment out of service (eviction, reaping) and kill it."""
        self._forget(environment)
        environment.kill()
        self._wake_one()

    def _forget(self, environment: ExecutionEnvironment) -> None:
        self._environments.discard(environment)
        ready = self._ready.get(environment.runtime.name)
        if ready is not None and environment in ready:
            ready.remove(environment)
        self._idle_lru.pop(environment, None)
        function = self._functions.get(environment.spec.key)
        if function is not None:
            function.environments.discard(environment)
            if environment in function.idle:
                function.idle.remove(environment)

    def _environment_died(self, environment: ExecutionEnvironment) -> None:
        known = environment in self._environments
        self._forget(environment)
        if known:
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    def _entrypoint_error(self, spec: FunctionSpec, request: InvokeRequest) -> InvokeResult | None:
        """provided.* needs an executable /var/task/bootstrap (Runtime.InvalidEntrypoint otherwise)."""
        if not spec.runtime.startswith("provided"):
            return None
        bootstrap = os.path.join(spec.code_dir, "bootstrap")
        request_id = request.request_id
        if not os.path.isfile(bootstrap):
            message = (f"RequestId: {request_id} Error: Couldn't find valid bootstrap(s): "
                       "[/var/task/bootstrap /opt/bootstrap]")
        elif not os.access(bootstrap, os.X_OK):
            message = f"RequestId: {request_id} Error: fork/exec /var/task/bootstrap: permission denied"
        else:
            return None
        now = time.time()
        text = (logs.start_line(request_id, spec.version) + f"{message}\nRuntime.InvalidEntrypoint\n"
                + logs.end_line(request_id)
                + logs.report_line(request_id, duration_ms=0.0, billed_ms=0, memory_mb=spec.memory_mb,
                                   max_memory_mb=0, init_duration_ms=None))
        return InvokeResult(request_id=request_id, payload=error_payload("Runtime.InvalidEntrypoint", message),
                            function_error="Unhandled", error_type="Runtime.InvalidEntrypoint", status="failed",
                            logs=text, duration_ms=0.0, billed_duration_ms=0, init_duration_ms=None,
                            memory_size_mb=spec.memory_mb, max_memory_used_mb=0, cold_start=True,
                            started_at=now, finished_at=now, executed_version=spec.version)

    async def _start_reaper(self) -> None:
        self._reaper = self._loop.create_task(self._reap_forever())
        if self._sandbox is not None:
            self._sandbox.start()
            self._loop.call_later(READY_START_DELAY_S, self._refill_ready)

    async def _reap_forever(self) -> None:
        interval = min(max(self.config.keep_alive_s / 4, 0.05), 5.0)
        while not self._closed:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - self.config.keep_alive_s
            for environment in [e for e in self._idle_lru if e.last_used <= cutoff]:
                self._retire(environment)

    async def _stats(self) -> dict[str, Any]:
        functions = {}
        for (name, version, revision), function in self._functions.items():
            functions[f"{name}:{version}:{revision}"] = {
                "environments": len(function.environments),
                "busy": len(function.environments) - len(function.idle),
                "idle": len(function.idle),
                "in_flight": function.in_flight,
                "invocations": function.invocations,
                "cold_starts": function.cold_starts,
                "throttles": function.throttles,
            }
        return {
            "environments": len(self._environments),
            "starting": self._starting,
            "idle": len(self._idle_lru),
            "busy": len(self._environments) - len(self._idle_lru),
            "max_environments": self.config.max_environments,
            "waiting": len(self._waiters),
            "ready": {name: n for name, ready in self._ready.items() if (n := sum(e.waiting_for_claim for e in ready))},
            "ready_claims": self._ready_claims,
            "cold_starts": sum(f.cold_starts for f in self._functions.values()),
            "invocations": sum(f.invocations for f in self._functions.values()),
            "throttles": sum(f.throttles for f in self._functions.values()),
            **(self._sandbox.stats() if self._sandbox is not None else {"sandbox": "unavailable"}),
            "memory_cgroup": self._limits.memory_parent is not None,
            "pids_cgroup": self._limits.pids_parent is not None,
            "functions": functions,
        }

    async def _shutdown(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        environments = list(self._environments)
        for environment in environments:
            self._retire(environment)
        # Give the kills a moment to be reaped so cgroups and tmp dirs are removed.
        for _ in range(100):
            if all(e.cleaned_up for e in environments):
                break
            await asyncio.sleep(0.01)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("Pool methods block: from the pool's loop use invoke_async")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result()


def _forward(source: asyncio.Future[Any], target: Future[InvokeResult], *, nested: bool = False) -> None:
    """Copy an asyncio future's outcome into the caller's concurrent future. With `nested`, the
    source's result is itself the invocation's future (a Task that found an environment)."""
    if source.cancelled():
        target.set_exception(RuntimeUnavailable("the invocation was cancelled (pool shutting down)"))
    elif source.exception() is not None:
        target.set_exception(source.exception())
    elif nested:
        source.result().add_done_callback(lambda f: _forward(f, target))
    else:
        target.set_result(source.result())
