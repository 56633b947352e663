"""Graceful shutdown of a web node (SIGTERM), on the real server.

granian stops accepting and waits for the requests in flight; the node (invocations/node.py) ends
the environments of calls still running when ``LAMBDA_SHUTDOWN_GRACE_SECONDS`` is over, so the
process leaves through its exit hooks: queued records written, environments and sandboxes ended,
heartbeat row withdrawn. Records are flushed only at exit here (``LAMBDA_RECORD_FLUSH_SECONDS`` is a
minute), so every record in the database after the stop was written by that exit.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from scripts.stack import ROOT, Stack, free_port
from tests.fault.load import client, records
from tests.fault.processes import children_of, pids_running, wait_for
from tests.fault.summary import report
from tests.live.conftest import fresh_database
from tests.live.functions import make_zip

pytestmark = pytest.mark.fault

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
GRACE = 3.0
SLEEPER = "import time\n\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return event\n"

HEARTBEATS = "from invocations.models import WorkerHeartbeat\nprint(WorkerHeartbeat.objects.filter(kind='web').count())"


@dataclass
class Node:
    stack: Stack
    lam: Any


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    data_dir = tmp_path_factory.mktemp("shutdown-data")
    env = {
        "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
        "LAMBDA_RECORD_FLUSH_SECONDS": "60",
        "CELERY_TASK_DEFAULT_QUEUE": f"fault-shutdown-{uuid.uuid4().hex[:12]}",
    }
    with fresh_database("lw_fault_shutdown") as url:
        if url:
            env["DATABASE_URL"] = url
        stack = Stack(data_dir, port=free_port(), env=env, listen_address="127.0.0.1", log_dir=data_dir / "logs",
                      worker=False, shutdown_grace=GRACE)  # fmt: skip
        stack.start(timeout=90)
        try:
            created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "stop").splitlines())
            lam = client(stack, created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"])
            lam.create_function(FunctionName="sleeper", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                Code={"ZipFile": make_zip({"app.py": SLEEPER})}, Timeout=60)  # fmt: skip
            lam.get_waiter("function_active_v2").wait(FunctionName="sleeper", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            yield Node(stack, lam)
        finally:
            stack.stop()


def test_sigterm_lets_calls_finish_ends_what_outlives_the_grace_and_writes_every_record(node: Node) -> None:
    stack, lam = node.stack, node.lam
    assert stack.web is not None
    (app,) = children_of(stack.web.pid)
    answered: dict[str, tuple[str, float]] = {}  # label → (request id, seconds after SIGTERM)
    results: dict[str, dict[str, Any]] = {}
    signalled = [0.0]

    def call(label: str, sleep: float) -> None:
        r = lam.invoke(FunctionName="sleeper", Payload=json.dumps({"sleep": sleep}).encode())
        results[label] = {"status": r["StatusCode"], "error": r.get("FunctionError"), "body": r["Payload"].read()}
        answered[label] = (r["ResponseMetadata"]["RequestId"], time.monotonic() - signalled[0])

    for n in range(3):  # answered before the signal; their records wait in the recorder's queue
        call(f"before-{n}", 0)
    threads = [threading.Thread(target=call, args=(f"brief-{n}", 1.5)) for n in range(2)]
    threads.append(threading.Thread(target=call, args=("long", 30)))
    for thread in threads:
        thread.start()
    time.sleep(0.7)  # all three running (warm or cold)
    staging = f"/run/lambda-workbench/{app}-"  # where this node's sandboxes live (engine/sandbox/staging.py)
    assert len(pids_running(staging)) >= 3
    assert any(name.startswith(f"{app}-") for name in os.listdir(stack.data_dir / "environments"))

    signalled[0] = time.monotonic()
    stack.web.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert not stack.http_ready(), "the server still accepts connections after SIGTERM"
    wait_for(lambda: stack.web.poll() is not None, GRACE + 20, "the web server's exit")  # type: ignore[union-attr]
    exited = time.monotonic() - signalled[0]
    for thread in threads:
        thread.join(10)

    assert stack.web.returncode == 0
    for n in range(2):
        assert results[f"brief-{n}"] == {"status": 200, "error": None, "body": b'{"sleep": 1.5}'}
    long = results["long"]
    assert long["status"] == 200 and long["error"] == "Unhandled"
    assert json.loads(long["body"])["errorType"] == "Runtime.ExitError"
    assert GRACE <= answered["long"][1] < GRACE + 2
    assert exited < GRACE + 3
    found = records(stack, [rid for rid, _ in answered.values()])
    assert len(found) == len(answered) == 6
    assert found[answered["long"][0]][0] == "failed"
    assert stack.manage("shell", "-c", HEARTBEATS).strip().splitlines()[-1] == "0"
    assert pids_running(staging) == [], "environments outlived their node"
    # Each sandbox's /tmp is an image file there; the pool's shutdown removes them.
    images = sorted(name for name in os.listdir(stack.data_dir / "environments") if name.startswith(f"{app}-"))
    assert images == [], images
    report(
        f"web SIGTERM (grace {GRACE:g} s): 2 calls in flight finished normally, 1 past the grace ended with "
        f"Runtime.ExitError {answered['long'][1]:.1f} s after the signal; server exited after {exited:.1f} s; "
        f"{len(found)} of {len(answered)} records written (at exit); no environment or sandbox image left"
    )
