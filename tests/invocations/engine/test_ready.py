"""Ready environments: started ahead of their function, claimed by a cold start (pool.py, environment.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from invocations.engine import Pool
from tests.invocations.engine.conftest import invoke, payload

PROBE = {"app.py": """
    import os, sys, time
    print("init", os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    def handler(event, context):
        if event.get("mb"):
            blocks = [bytearray(event["mb"] << 20) for _ in range(1)]
            blocks[0][::4096] = b"x" * len(blocks[0][::4096])
        return {"cwd": os.getcwd(), "path0": sys.path[0], "name": context.function_name,
                "memory": context.memory_limit_in_mb, "mine": os.environ.get("MINE"),
                "launcher_env": "PYTHONPATH" in os.environ and os.environ["PYTHONPATH"],
                "tz": time.tzname[0], "task": sorted(os.listdir("/var/task"))}
"""}


def wait_for_ready(pool: Pool) -> None:
    for _ in range(200):  # one starts half a second after the pool, and a quarter after a claim
        if pool.stats()["ready"].get("python3.11"):
            return
        time.sleep(0.05)
    pytest.fail("no ready environment after 10 s")


@pytest.fixture(params=["bwrap", "gvisor"])
def ready_pool(request: pytest.FixtureRequest, make_pool: Callable[..., Pool]) -> Pool:
    pool = make_pool(sandbox=request.param, ready_environments=1)
    wait_for_ready(pool)
    return pool


def test_a_cold_start_claims_the_ready_environment_and_becomes_that_function(ready_pool: Pool, function) -> None:
    spec = function(PROBE, function_name="claimer", memory_mb=256, environment=(("MINE", "yes"),))
    claims = ready_pool.stats()["ready_claims"]
    result = invoke(ready_pool, spec)
    assert ready_pool.stats()["ready_claims"] == claims + 1
    assert result.cold_start and result.status == "succeeded", result.logs
    assert payload(result) == {"cwd": payload(result)["cwd"], "path0": "/var/task", "name": "claimer", "memory": "256",
                               "mine": "yes", "launcher_env": "/var/runtime", "tz": "UTC", "task": ["app.py"]}
    assert result.logs.startswith("init claimer\nSTART RequestId:")
    assert result.init_duration_ms is not None and result.init_duration_ms < 1000  # the import, not a sandbox start
    assert not invoke(ready_pool, spec).cold_start


def test_the_claimed_environment_has_the_functions_memory_limit(ready_pool: Pool, function) -> None:
    big = function(PROBE, memory_mb=1024)
    assert invoke(ready_pool, big, {"mb": 400}).status == "succeeded"  # above the 128 MB it started with
    wait_for_ready(ready_pool)
    small = function(PROBE, memory_mb=128)
    claims = ready_pool.stats()["ready_claims"]
    assert invoke(ready_pool, small, {"mb": 400}).error_type == "Runtime.OutOfMemory"
    assert ready_pool.stats()["ready_claims"] == claims + 1 == 2


def test_json_logging_is_read_from_the_functions_configuration(ready_pool: Pool, function) -> None:
    spec = function({"app.py": "import logging\ndef handler(e, c):\n    logging.getLogger().warning('careful')\n    return 1\n"},
                    log_format="JSON")
    result = invoke(ready_pool, spec)
    assert ready_pool.stats()["ready_claims"] == 1
    line = next(line for line in result.logs.splitlines() if "careful" in line)
    assert json.loads(line)["message"] == "careful" and json.loads(line)["level"] == "WARNING"


def test_the_code_stays_read_only_and_in_place_while_other_sandboxes_start(ready_pool: Pool, function) -> None:
    spec = function({"app.py": """
        import os, time
        def handler(event, context):
            time.sleep(1.5)  # other sandboxes start meanwhile: the pool replaces what was claimed
            try:
                open("/var/task/app.py", "a")
                writable = True
            except OSError:
                writable = False
            try:
                open("/var/task/new.py", "w")
                created = True
            except OSError:
                created = False
            return {"task": os.listdir("/var/task"), "writable": writable, "created": created}
    """}, timeout_s=10)
    result = invoke(ready_pool, spec)
    assert ready_pool.stats()["ready_claims"] == 1
    assert payload(result) == {"task": ["app.py"], "writable": False, "created": False}
