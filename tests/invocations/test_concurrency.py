"""Cluster-wide concurrency (invocations/concurrency.py): both backends, the per-process spares,
expiry of a dead holder's leases, and two processes that never exceed a limit together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from invocations import concurrency
from invocations.concurrency import DatabaseBackend, Limiter, RedisBackend
from invocations.engine.types import TooManyRequests
from tests.live.cluster import redis as redis_server
from invocations.rollups import most_concurrent

ROOT = Path(__file__).resolve().parents[2]

# Other threads and processes write too: no test-wide transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:  # a throw-away redis-server on a free port
        yield url


@pytest.fixture(params=["database", "redis"])
def backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return RedisBackend(url, f"t{time.monotonic_ns()}")
    return DatabaseBackend()


def grant(backend: Any, key: str, limit: int, tokens: list[str], *, ttl: float = 30.0, holder: str = "h") -> list[str]:
    return backend.acquire(key, limit, tokens, holder=holder, ttl=ttl, team_id=1, function_id=None)


def test_a_counter_grants_up_to_its_limit_and_counts_live_leases(backend: Any) -> None:
    assert grant(backend, "fn:1", 2, ["a"]) == ["a"]
    assert grant(backend, "fn:1", 2, ["b", "c"]) == ["b"]  # only what fits
    assert grant(backend, "fn:1", 2, ["d"]) == []
    assert grant(backend, "fn:2", 2, ["e"]) == ["e"]  # counters are independent
    assert backend.usage(["fn:1", "fn:2", "fn:3"]) == {"fn:1": 2, "fn:2": 1, "fn:3": 0}


def test_releasing_is_idempotent(backend: Any) -> None:
    grant(backend, "fn:1", 2, ["a", "b"])
    backend.release("fn:1", ["a"])
    backend.release("fn:1", ["a"])  # twice: nothing more happens
    backend.release("fn:1", ["never-granted"])
    assert backend.usage(["fn:1"]) == {"fn:1": 1}
    assert grant(backend, "fn:1", 2, ["c", "d"]) == ["c"]


def test_a_dead_holders_leases_expire_and_a_live_one_renews(backend: Any) -> None:
    assert grant(backend, "fn:1", 2, ["dead"], ttl=0.3, holder="crashed") == ["dead"]
    assert grant(backend, "fn:1", 2, ["alive"], ttl=0.3, holder="alive") == ["alive"]
    assert grant(backend, "fn:1", 2, ["x"]) == []
    time.sleep(0.2)
    backend.renew({"fn:1": ["alive"]}, 0.6)  # the live node's keeper; the crashed one is silent
    time.sleep(0.25)
    assert backend.usage(["fn:1"]) == {"fn:1": 1}
    assert grant(backend, "fn:1", 2, ["y", "z"]) == ["y"]  # the dead holder's unit is free again


def test_a_process_reuses_its_spare_without_asking_the_counter(backend: Any) -> None:
    calls: list[str] = []

    class Counting:
        name = "counting"

        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(backend, name)

    limiter = Limiter(Counting(), linger=0.2, keeper=False)  # type: ignore[arg-type]
    for _ in range(5):
        lease = limiter.acquire("fn:1", 1, reason="R", team_id=1, function_id=1)
        limiter.release(lease)
        limiter.release(lease)  # idempotent here too
    assert calls == ["acquire"]  # one round trip for five invocations
    assert backend.usage(["fn:1"]) == {"fn:1": 1}  # the spare is still held …
    limiter.tick(now=time.monotonic() + 1)  # … until it has lingered
    assert calls[-1] == "release"
    assert backend.usage(["fn:1"]) == {"fn:1": 0}
    assert limiter.held() == {}


def test_a_refusal_waits_one_linger_for_another_nodes_spare(backend: Any) -> None:
    node_a = Limiter(backend, linger=0.1, keeper=False)
    node_b = Limiter(backend, linger=0.1, keeper=False)
    lease = node_a.acquire("fn:1", 1, reason="R", team_id=1, function_id=1)
    node_a.release(lease)  # a spare of node A now
    threading.Timer(0.05, lambda: node_a.tick(now=time.monotonic() + 1)).start()  # A's keeper returns it
    started = time.monotonic()
    lease_b = node_b.acquire("fn:1", 1, reason="R", team_id=1, function_id=1)
    assert lease_b.token and time.monotonic() - started < 1
    with pytest.raises(TooManyRequests) as caught:
        node_a.acquire("fn:1", 1, reason=concurrency.RESERVED_LIMIT_EXCEEDED, team_id=1, function_id=1)
    assert caught.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_a_lease_held_long_goes_back_to_the_counter_when_finished(backend: Any) -> None:
    limiter = Limiter(backend, linger=5, keeper=False, max_reuse=0.05)
    lease = limiter.acquire("fn:1", 1, reason="R", team_id=1, function_id=1)
    time.sleep(0.1)
    limiter.release(lease)  # granted 0.1 s ago: not kept as a spare
    assert limiter.held() == {"fn:1": (0, 0)}
    limiter.tick()
    assert backend.usage(["fn:1"]) == {"fn:1": 0}


def test_a_spare_does_not_outlive_a_lowered_limit(backend: Any) -> None:
    limiter = Limiter(backend, linger=5, keeper=False)
    leases = [limiter.acquire("fn:1", 2, reason="R", team_id=1, function_id=1) for _ in range(2)]
    limiter.release(leases[0])
    # The reservation is now 1: the one unit still in use fills it, the spare must not be taken.
    with pytest.raises(TooManyRequests):
        limiter.acquire("fn:1", 1, reason="R", team_id=1, function_id=1, wait_once=False)


def test_threads_of_two_limiters_never_exceed_the_limit(backend: Any) -> None:
    nodes = [Limiter(backend, linger=0.01, keeper=False) for _ in range(2)]
    running, peak, lock = [0], [0], threading.Lock()

    def hammer(node: Limiter) -> None:
        for _ in range(30):
            try:
                lease = node.acquire("fn:9", 2, reason="R", team_id=1, function_id=9, wait_once=False)
            except TooManyRequests:
                continue
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.002)
            with lock:
                running[0] -= 1
            node.release(lease)
            node.tick()

    threads = [threading.Thread(target=hammer, args=(nodes[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2


def test_reserved_functions_count_alone_and_the_rest_share_the_unreserved_pool(settings: Any) -> None:
    from invocations.models import Function, Team

    settings.LAMBDA_ACCOUNT_CONCURRENCY = 5
    settings.LAMBDA_CONCURRENCY_BACKEND = "database"
    concurrency.reset_limiter()
    try:
        team = Team.objects.create(name="t", account_id="333333333333")
        reserved = Function.objects.create(team=team, name="r", reserved_concurrency=3)
        plain = Function.objects.create(team=team, name="p")
        assert concurrency.reserved_total(team.pk, fresh=True) == 3
        held = [concurrency.admit(function_id=reserved.pk, team_id=team.pk, reserved=3) for _ in range(3)]
        with pytest.raises(TooManyRequests) as caught:
            concurrency.admit(function_id=reserved.pk, team_id=team.pk, reserved=3, wait_once=False)
        assert caught.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        others = [concurrency.admit(function_id=plain.pk, team_id=team.pk, reserved=None) for _ in range(2)]
        with pytest.raises(TooManyRequests) as caught:  # 5 − 3 reserved = 2 unreserved
            concurrency.admit(function_id=plain.pk, team_id=team.pk, reserved=None, wait_once=False)
        assert caught.value.reason == "ConcurrentInvocationLimitExceeded"
        with pytest.raises(TooManyRequests):  # reserved 0: throttled at once
            concurrency.admit(function_id=plain.pk, team_id=team.pk, reserved=0)
        assert concurrency.account_usage(team.pk, [reserved.pk, plain.pk]) == 5
        for lease in held + others:
            concurrency.release(lease)
            concurrency.release(lease)
    finally:
        concurrency.reset_limiter()


def test_get_account_settings_reports_the_configured_limit(lambda_client: Any, settings: Any) -> None:
    settings.LAMBDA_ACCOUNT_CONCURRENCY = 2000
    limits = lambda_client.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (2000, 2000)


# ----- two processes, one counter -------------------------------------------------------------------

WORKER = r"""
import json, os, sys, time, random
sys.path.insert(0, os.environ["ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
from django.conf import settings
db_name = os.environ.get("DB_NAME")
if db_name:
    settings.DATABASES["default"]["NAME"] = db_name
django.setup()
from invocations.concurrency import DatabaseBackend, Limiter, RedisBackend
from invocations.engine.types import TooManyRequests
kind = os.environ["KIND"]
backend = RedisBackend(os.environ["REDIS_URL"], os.environ["NS"]) if kind == "redis" else DatabaseBackend()
limiter = Limiter(backend, linger=0.02)
import threading
spans, lock = [], threading.Lock()
start_at = float(os.environ["START"])  # both processes compete over the same window
time.sleep(max(0.0, start_at - time.time()))
def work():
    deadline = start_at + float(os.environ["SECONDS"])
    while time.time() < deadline:
        try:
            lease = limiter.acquire("fn:77", 2, reason="R", team_id=1, function_id=77, wait_once=False)
        except TooManyRequests:
            time.sleep(0.002)
            continue
        start = time.time()
        time.sleep(random.uniform(0.001, 0.01))
        end = time.time()
        limiter.release(lease)
        with lock:
            spans.append((start, end))
threads = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in threads]
[t.join() for t in threads]
limiter.stop()
print(json.dumps(spans))
"""


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_two_processes_hammering_one_function_never_exceed_its_reservation(kind: str, request: pytest.FixtureRequest) -> None:
    # Both start at one instant, after their Django start-up (a process that started late would
    # otherwise find the other holding the counter for its whole window).
    env = {**os.environ, "ROOT": str(ROOT), "KIND": kind, "SECONDS": "2.5", "NS": f"mp{time.monotonic_ns()}",
           "START": str(time.time() + 5)}  # fmt: skip
    if kind == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    else:
        env["DB_NAME"] = str(connection.settings_dict["NAME"])
    processes = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]  # fmt: skip
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    per_process = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    spans = [tuple(span) for process_spans in per_process for span in process_spans]
    assert len(spans) > 20 and most_concurrent(spans) == 2  # the counter was full, and never overfull
    # Both processes asked for the whole window; which of them got turns is not promised (see
    # invocations/concurrency.py: a saturated process can keep the counter), only the limit.
