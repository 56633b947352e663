"""Every invocation ends by its deadline whatever the runtime does, and no failed environment is
handed to the next caller (issue 11, items 4 and 5)."""

from __future__ import annotations

import time

from invocations.engine import Pool
from tests.invocations.engine.conftest import invoke, payload

# A custom runtime that answers its first event, then misbehaves as the event says it should.
ONCE = """\
#!/usr/bin/python3
import json, os, socket, time, urllib.request
api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
with urllib.request.urlopen(f"{api}/invocation/next") as r:
    rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
urllib.request.urlopen(urllib.request.Request(f"{api}/invocation/{rid}/response", data=b'"first"', method="POST")).read()
if os.environ.get("MODE") == "hang-up":
    # take the next event on a raw socket, then close it without answering
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    s.recv(65536)
    s.close()
time.sleep(3600)  # never ask for another event
"""


def test_a_runtime_that_stops_asking_for_events_times_out_and_is_replaced(pool: Pool, function) -> None:
    spec = function({"bootstrap": ONCE}, runtime="provided.al2023", handler="x", timeout_s=2)
    assert payload(invoke(pool, spec)) == "first"
    started = time.monotonic()
    stuck = invoke(pool, spec)
    assert time.monotonic() - started < 3.0
    assert stuck.error_type == "Sandbox.Timedout" and stuck.status == "timed-out"
    assert payload(stuck)["errorMessage"].endswith("Task timed out after 2.00 seconds")
    fresh = invoke(pool, spec)
    assert fresh.cold_start and payload(fresh) == "first"


def test_a_runtime_that_hangs_up_mid_invocation_times_out(pool: Pool, function) -> None:
    spec = function({"bootstrap": ONCE}, runtime="provided.al2023", handler="x", timeout_s=2,
                    environment=(("MODE", "hang-up"),))
    assert payload(invoke(pool, spec)) == "first"
    started = time.monotonic()
    result = invoke(pool, spec)
    assert result.error_type == "Sandbox.Timedout" and time.monotonic() - started < 3.0


def test_a_runtime_that_never_asks_is_stopped_by_the_init_limit(make_pool, function) -> None:
    pool = make_pool(init_timeout_s=1.5)
    spec = function({"bootstrap": "#!/bin/sh\nsleep 3600\n"}, runtime="provided.al2023", handler="x", timeout_s=30)
    started = time.monotonic()
    result = invoke(pool, spec)
    assert result.error_type == "Sandbox.Timedout" and time.monotonic() - started < 2.5
    for _ in range(100):  # the killed process is reaped a moment later
        if pool.stats()["environments"] == 0:
            break
        time.sleep(0.01)
    assert pool.stats()["environments"] == 0


def test_after_an_oversized_response_the_next_caller_gets_a_fresh_environment(pool: Pool, function) -> None:
    spec = function({"app.py": "def handler(e, c):\n    return 'x' * e['n']\n"})
    big = invoke(pool, spec, {"n": 7 * 1024 * 1024})
    assert big.error_type == "Function.ResponseSizeTooLarge"
    after = invoke(pool, spec, {"n": 3})
    assert after.status == "succeeded" and payload(after) == "xxx" and after.cold_start


def test_a_handled_error_keeps_the_environment_warm(pool: Pool, function) -> None:
    spec = function({"app.py": "def handler(e, c):\n    if e.get('fail'):\n        raise ValueError('no')\n    return 'ok'\n"})
    assert invoke(pool, spec, {"fail": True}).error_type == "ValueError"
    assert not invoke(pool, spec).cold_start  # as on Lambda: only failures of the runtime reset it


def test_retiring_a_revision_ends_its_idle_environments_and_busy_ones_when_they_finish(pool: Pool, function) -> None:
    import threading

    spec = function({"app.py": "import time\ndef handler(e, c):\n    time.sleep(e.get('s', 0))\n    return 'ok'\n"},
                    timeout_s=10)
    invoke(pool, spec)
    busy = threading.Thread(target=lambda: invoke(pool, spec, {"s": 1}))
    busy.start()
    time.sleep(0.3)
    key = f"fn:$LATEST:{spec.revision_id}"
    assert pool.stats()["functions"][key]["environments"] == 1
    assert spec.revision_id in pool.live_revisions()
    pool.retire({spec.revision_id})
    busy.join()
    time.sleep(0.2)
    assert pool.stats()["functions"][key]["environments"] == 0
    assert spec.revision_id not in pool.live_revisions()
