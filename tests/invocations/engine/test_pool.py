from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from invocations.engine import Pool, RuntimeUnavailable, TooManyRequests
from tests.invocations.engine.conftest import invoke, payload

SLEEPER = {"app.py": """
    import time
    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return "done"
"""}


def test_two_concurrent_invokes_get_two_environments(pool: Pool, function) -> None:
    spec = function(SLEEPER)
    with ThreadPoolExecutor(2) as executor:
        results = list(executor.map(lambda _: invoke(pool, spec, {"sleep": 0.3}), range(2)))
    assert {r.environment_id for r in results} != 1 and len({r.environment_id for r in results}) == 2
    assert all(r.cold_start for r in results)
    stats = pool.stats()["functions"][f"fn:$LATEST:{spec.revision_id}"]
    assert stats["environments"] == 2 and stats["idle"] == 2 and stats["busy"] == 0


def test_reserved_concurrency_zero_throttles_at_once(pool: Pool, function) -> None:
    spec = function(SLEEPER)
    with pytest.raises(TooManyRequests) as raised:
        invoke(pool, spec, reserved_concurrency=0)
    assert raised.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_reserved_concurrency_caps_concurrent_invocations(pool: Pool, function) -> None:
    spec = function(SLEEPER)
    started = threading.Event()

    def slow() -> str:
        started.set()
        return invoke(pool, spec, {"sleep": 1}, reserved_concurrency=1).status

    with ThreadPoolExecutor(1) as executor:
        first = executor.submit(slow)
        started.wait()
        time.sleep(0.2)
        with pytest.raises(TooManyRequests) as raised:
            invoke(pool, spec, reserved_concurrency=1)
        assert raised.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert first.result() == "succeeded"
    assert invoke(pool, spec, reserved_concurrency=1).status == "succeeded"


def test_idle_environments_are_reaped_after_keep_alive(make_pool, function) -> None:
    pool = make_pool(keep_alive_s=0.5)
    spec = function(SLEEPER)
    assert invoke(pool, spec).cold_start
    assert not invoke(pool, spec).cold_start
    time.sleep(1.0)
    assert pool.stats()["environments"] == 0
    assert invoke(pool, spec).cold_start


def test_a_full_pool_evicts_the_least_recently_used_idle_environment(make_pool, function) -> None:
    pool = make_pool(max_environments=2)
    a, b, c = function(SLEEPER), function(SLEEPER), function(SLEEPER)
    invoke(pool, a), invoke(pool, b)
    invoke(pool, a)  # b is now the least recently used
    assert invoke(pool, c).cold_start
    assert pool.stats()["environments"] == 2
    assert not invoke(pool, a).cold_start
    assert invoke(pool, b).cold_start


def test_a_full_busy_pool_waits_then_throttles(make_pool, function) -> None:
    pool = make_pool(max_environments=1, queue_timeout_s=0.3)
    slow, other = function(SLEEPER), function(SLEEPER)
    with ThreadPoolExecutor(1) as executor:
        running = executor.submit(invoke, pool, slow, {"sleep": 1})
        time.sleep(0.3)
        with pytest.raises(TooManyRequests) as raised:
            invoke(pool, other)
        assert raised.value.reason == "ConcurrentInvocationLimitExceeded"
        queued = executor.submit(invoke, pool, slow)  # waits for the busy environment, then reuses it
        assert running.result().status == "succeeded"
    assert queued.result().status == "succeeded"


def test_a_waiting_caller_gets_the_environment_when_it_frees_up(make_pool, function) -> None:
    pool = make_pool(max_environments=1, queue_timeout_s=5)
    spec = function(SLEEPER)
    with ThreadPoolExecutor(2) as executor:
        results = list(executor.map(lambda s: invoke(pool, spec, {"sleep": s}), [0.3, 0.3]))
    assert [r.status for r in results] == ["succeeded", "succeeded"]
    assert len({r.environment_id for r in results}) == 1


def test_an_unavailable_runtime_is_refused(pool: Pool, function) -> None:
    spec = function(SLEEPER, runtime="python2.7")
    with pytest.raises(RuntimeUnavailable):
        invoke(pool, spec)


def test_runtimes_are_discovered_with_real_interpreters(pool: Pool) -> None:
    runtimes = pool.runtimes()
    assert runtimes["python3.11"].available and "shims" not in runtimes["python3.11"].executable
    assert runtimes["provided.al2023"].available and runtimes["provided.al2"].available
    assert set(runtimes) >= {"python3.12", "python3.13", "nodejs20.x", "nodejs22.x"}


def test_without_bwrap_it_runs_in_the_code_dir(make_pool, function) -> None:
    pool = make_pool(sandbox="off", use_cgroups=False)
    spec = function({"app.py": """
        import os
        def handler(event, context):
            return [os.getcwd(), os.environ["LAMBDA_TASK_ROOT"], os.environ["TMPDIR"]]
    """})
    result = invoke(pool, spec)
    cwd, task_root, tmp = payload(result)
    assert cwd == task_root == spec.code_dir and tmp.startswith(pool.config.work_dir)
    assert result.max_memory_used_mb > 0 and pool.stats()["sandbox"] == "off"


def test_a_large_response_is_function_response_size_too_large(pool: Pool, function) -> None:
    spec = function({"app.py": "def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n"})
    result = invoke(pool, spec)
    assert result.error_type == "Function.ResponseSizeTooLarge" and result.function_error == "Unhandled"
    assert payload(result)["errorMessage"] == (
        "Response payload size exceeded maximum allowed payload size (6291556 bytes).")


def test_a_chatty_function_keeps_only_the_tail_of_its_log(pool: Pool, function) -> None:
    spec = function({"app.py": """
        import sys
        def handler(e, c):
            for i in range(60000):
                sys.stdout.write(f"line {i} " + "x" * 100 + "\\n")
            return "ok"
    """})
    result = invoke(pool, spec)
    assert result.status == "succeeded"
    assert len(result.logs) < 4.5 * 1024 * 1024
    assert "line 59999" in result.logs and "truncated" in result.logs
    assert result.logs.splitlines()[-1].startswith("REPORT")
