"""Two web nodes on one database (and one broker) hold a function's reserved concurrency together.

Each node alone would admit the reservation (its pool's own check); the shared counter
(invocations/concurrency.py) keeps the sum at the reservation: simultaneous callers at both nodes
get ``429 ReservedFunctionConcurrentInvocationLimitExceeded`` beyond it, and the function's own
clock shows never more than that many running at once.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from scripts.stack import ROOT, Stack, free_port
from tests.live.conftest import REGION, ROLE, fresh_database
from tests.live.functions import make_zip
from invocations.rollups import most_concurrent

SLEEPER = '''\
import time

def handler(event, context):
    start = time.time()
    time.sleep(event.get("sleep", 0.6))
    return {"start": start, "end": time.time()}
'''


def _client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("lambda", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=5))  # fmt: skip


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir = tmp_path_factory.mktemp("two-nodes")  # one DATA_DIR: the code store and (SQLite) the database
    with fresh_database("lw_two_nodes") as database_url:
        env = {"CELERY_TASK_DEFAULT_QUEUE": f"two-{uuid.uuid4().hex[:12]}",
               "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes"))}
        if database_url:
            env["DATABASE_URL"] = database_url
        first = Stack(data_dir, port=free_port(), env=env, log_dir=Path(data_dir) / "logs-a")
        second = Stack(data_dir, port=free_port(), env=env, log_dir=Path(data_dir) / "logs-b", worker=False)
        first.start(timeout=90)
        try:
            second.start(timeout=90, prepare=False)
            try:
                created = dict(line.split("=", 1) for line in first.manage("bootstrapadmin", "--username", "two").splitlines())
                yield [_client(stack.endpoint, created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"])
                       for stack in (first, second)]  # fmt: skip
            finally:
                second.stop()
        finally:
            first.stop()


def test_two_web_nodes_never_run_more_than_the_reservation_together(two_nodes: list[Any]) -> None:
    node_a, node_b = two_nodes
    node_a.create_function(FunctionName="sleeper", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": SLEEPER})}, Timeout=10, MemorySize=128)
    node_a.get_waiter("function_active_v2").wait(FunctionName="sleeper", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    node_a.put_function_concurrency(FunctionName="sleeper", ReservedConcurrentExecutions=2)
    for node in two_nodes:  # both nodes warm: the race below is about admission, not cold starts
        node.invoke(FunctionName="sleeper", Payload=b'{"sleep": 0}')

    spans: list[tuple[float, float]] = []
    reasons: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(8)

    def call(node: Any) -> None:
        gate.wait()
        try:
            response = node.invoke(FunctionName="sleeper", Payload=b'{"sleep": 0.8}')
        except ClientError as error:
            with lock:
                reasons.append(error.response.get("Reason") or error.response["Error"]["Code"])
            return
        body = json.loads(response["Payload"].read())
        with lock:
            spans.append((body["start"], body["end"]))

    threads = [threading.Thread(target=call, args=(two_nodes[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(spans) + len(reasons) == 8
    assert 1 <= len(spans) <= 4  # each node alone would have let 2 run: 4 at once
    assert most_concurrent(spans) <= 2
    assert reasons and set(reasons) == {"ReservedFunctionConcurrentInvocationLimitExceeded"}
    # GetAccountSettings at either node: the reservation is out of the unreserved pool.
    limits = node_b.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (1000, 998)
