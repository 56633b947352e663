"""Asynchronous invocation on the real stack (granian + a real Celery worker), with moto as SQS.

This module runs its own stack (not the session one): it kills its worker with SIGKILL, and it
needs fast retry settings and moto endpoints in the stack's environment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from scripts.stack import ROOT, Stack, free_port
from tests.invocations.aws_emulator import Moto, moto_server
from tests.live.conftest import fresh_database
from tests.live.functions import ECHO_HANDLER, ERROR_HANDLER, make_zip

pytestmark = pytest.mark.live

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
SLEEPER = "import time\n\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return event\n"


class AsyncStack:
    def __init__(self, stack: Stack, key_id: str, secret: str) -> None:
        self.stack, self.key_id, self.secret = stack, key_id, secret
        self.lambda_ = self.new_client()

    def new_client(self) -> Any:
        return boto3.client(
            "lambda", endpoint_url=self.stack.endpoint, region_name="us-east-1",
            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
        )  # fmt: skip

    def status(self, function: str, request_id: str) -> dict[str, Any]:
        url = f"{self.stack.endpoint}/2015-03-31/functions/{function}/async-invocations/{request_id}"
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(self.key_id, self.secret), "lambda", "us-east-1").add_auth(request)
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers)), timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def wait_for(self, function: str, request_id: str, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            document = self.status(function, request_id)
            if predicate(document):
                return document
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; last status: {document}")
            time.sleep(0.1)

    def create(self, name: str, source: str, timeout: int = 10) -> None:
        self.lambda_.create_function(
            FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": source})}, Timeout=timeout,
        )  # fmt: skip
        self.lambda_.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    def event(self, name: str, payload: dict[str, Any]) -> str:
        response = self.lambda_.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
        assert response["StatusCode"] == 202
        return str(response["ResponseMetadata"]["RequestId"])

    def restart_worker_after_sigkill(self) -> None:
        worker = self.stack.worker
        assert worker is not None
        log = self.stack.log_dir / "worker.log"  # type: ignore[operator]
        ready_before = log.read_bytes().count(b" ready.")
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its function environments, no clean-up
        worker.wait()
        self.stack.worker = self.stack._spawn("worker", self.stack.worker_command())
        deadline = time.monotonic() + 60
        while log.read_bytes().count(b" ready.") <= ready_before:
            assert time.monotonic() < deadline, "the restarted worker never became ready"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="module")
def astack(tmp_path_factory: pytest.TempPathFactory, moto: Moto) -> Iterator[AsyncStack]:
    data_dir = tmp_path_factory.mktemp("async-live")
    env = {
        **moto.env,
        "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
        "LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS": "0.5",
        "LAMBDA_ASYNC_SWEEP_SECONDS": "0.2",
        "LAMBDA_ASYNC_REDISPATCH_SECONDS": "10",
    }
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith(("redis://", "rediss://")):
        # Not the session stack's Redis database: its worker would take our tasks (ids of our rows).
        parts = urlsplit(broker)
        env["CELERY_BROKER_URL"] = urlunsplit(parts._replace(path="/7"))
    with fresh_database("lw_async") as url:
        if url:
            env["DATABASE_URL"] = url
        stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
        stack.start(timeout=90)
        try:
            created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "async").splitlines())
            yield AsyncStack(stack, created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"])
        finally:
            stack.stop()


def test_a_worker_killed_mid_invocation_loses_nothing(astack: AsyncStack) -> None:
    astack.create("sleeper", SLEEPER)
    request_id = astack.event("sleeper", {"sleep": 3})
    astack.wait_for("sleeper", request_id, lambda d: d["Status"] == "running" and d["Attempts"])
    time.sleep(0.5)  # well inside the function's 3 s
    astack.restart_worker_after_sigkill()
    final = astack.wait_for("sleeper", request_id, lambda d: d["Condition"] is not None)
    assert (final["Status"], final["Condition"], final["ApproximateInvokeCount"]) == ("succeeded", "Success", 2)
    assert [(a["Number"], a["Outcome"], a["ErrorType"]) for a in final["Attempts"]] == [
        (1, "platform-error", "Platform.WorkerLost"),
        (2, "succeeded", None),
    ]
    assert final["Attempts"][0]["Worker"] != final["Attempts"][1]["Worker"]


def test_function_errors_are_retried_then_the_record_reaches_sqs(astack: AsyncStack, moto: Moto) -> None:
    url, arn = moto.queue()
    astack.create("failing", ERROR_HANDLER)
    astack.lambda_.put_function_event_invoke_config(
        FunctionName="failing", MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    request_id = astack.event("failing", {"n": 1})
    [message] = moto.receive(url, timeout=30)
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert (record["requestContext"]["condition"], record["requestContext"]["approximateInvokeCount"]) == ("RetriesExhausted", 3)
    assert record["responsePayload"]["errorMessage"] == "something went wrong"
    final = astack.status("failing", request_id)
    assert [a["Outcome"] for a in final["Attempts"]] == ["failed"] * 3
    assert final["Deliveries"][0]["Status"] == "delivered"


def test_a_concurrent_burst_is_stored_run_and_recorded_once_each(astack: AsyncStack, moto: Moto) -> None:
    """Sixteen clients at once: the web stores their events in shared batches (group commit), and
    each record that reaches SQS carries the payload its own caller sent, exactly once."""
    url, arn = moto.queue()
    astack.create("burst", ECHO_HANDLER)
    astack.lambda_.put_function_event_invoke_config(
        FunctionName="burst", MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    clients = [astack.new_client() for _ in range(16)]

    def send(client_index: int) -> list[tuple[str, int]]:
        sent = []
        for n in range(8):
            i = client_index * 8 + n
            response = clients[client_index].invoke(
                FunctionName="burst", InvocationType="Event", Payload=json.dumps({"i": i}).encode()
            )
            assert response["StatusCode"] == 202
            sent.append((str(response["ResponseMetadata"]["RequestId"]), i))
        return sent

    with ThreadPoolExecutor(max_workers=16) as pool:
        sent = dict(pair for pairs in pool.map(send, range(16)) for pair in pairs)
    assert len(sent) == 128  # a request id per event
    records = [json.loads(m["Body"]) for m in moto.receive(url, count=128, timeout=90)]
    assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(sent)
    for record in records:
        i = sent[record["requestContext"]["requestId"]]
        assert record["requestPayload"] == {"i": i} and record["responsePayload"] == {"i": i}
        assert (record["requestContext"]["condition"], record["requestContext"]["approximateInvokeCount"]) == ("Success", 1)
