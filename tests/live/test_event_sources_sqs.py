"""SQS event source mappings on the real stack: boto3 creates the mapping, the real Celery worker's
supervisor polls moto (server mode) and invokes the function; a worker killed with SIGKILL is
replaced without losing or re-processing committed messages.

Its own stack (like test_async.py): it kills its worker, and it needs moto endpoints in the stack's
environment.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from scripts.stack import ROOT, Stack, free_port
from tests.invocations.aws_emulator import Moto, moto_server
from tests.live.functions import make_zip
from tests.live.conftest import fresh_database
from tests.live.test_async import AsyncStack

pytestmark = pytest.mark.live

PARTIAL = (
    "def handler(event, context):\n"
    "    return {'batchItemFailures': [{'itemIdentifier': r['messageId']} for r in event['Records'] if 'fail' in r['body']]}\n"
)
NOOP = "def handler(event, context):\n    return None\n"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="module")
def esm_stack(tmp_path_factory: pytest.TempPathFactory, moto: Moto) -> Iterator[AsyncStack]:
    data_dir = tmp_path_factory.mktemp("esm-live")
    env = {
        **moto.env,
        "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
        "LAMBDA_ESM_SLICE_SECONDS": "1",
    }
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith(("redis://", "rediss://")):
        env["CELERY_BROKER_URL"] = urlunsplit(urlsplit(broker)._replace(path="/8"))
    with fresh_database("lw_esm") as url:
        if url:
            env["DATABASE_URL"] = url
        stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
        stack.start(timeout=90)
        try:
            created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "esm").splitlines())
            yield AsyncStack(stack, created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"])
        finally:
            stack.stop()


def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def invocations(stack: AsyncStack, function: str) -> list[dict[str, Any]]:
    """The function's trigger invocations (from the stack's database), in order: request id,
    status, start, and the message ids of its batch."""
    code = (
        "import json; from invocations.models import Invocation; "
        f"rows = Invocation.objects.filter(function_name='{function}', source='trigger').order_by('id'); "
        "print(json.dumps([dict(request_id=i.request_id, status=i.status, started=str(i.started_at), "
        "records=json.loads(i.payload)['Records']) for i in rows]))"
    )
    return json.loads(stack.stack.manage("shell", "-c", code).strip().splitlines()[-1])


def processed(stack: AsyncStack, function: str) -> list[dict[str, Any]]:
    """Every record the function was invoked with and succeeded on, in order."""
    return [r for i in invocations(stack, function) if i["status"] == "succeeded" for r in i["records"]]


def repeats(stack: AsyncStack, function: str) -> str:
    """For a failure message: each invocation that carried a message seen more than once."""
    rows = invocations(stack, function)
    seen: dict[str, int] = {}
    for row in rows:
        for record in row["records"]:
            seen[record["messageId"]] = seen.get(record["messageId"], 0) + 1
    return "\n".join(
        f"{r['request_id']} {r['status']} {r['started']} {[rec['messageId'][:8] + ('*' if seen[rec['messageId']] > 1 else '') for rec in r['records']]}"
        for r in rows
    )


def depth(moto: Moto, url: str) -> int:
    attributes = moto.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def new_queue(moto: Moto, visibility: int = 2) -> tuple[str, str]:
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_a_mapping_created_with_boto3_is_polled_by_the_worker(esm_stack: AsyncStack, moto: Moto) -> None:
    esm_stack.create("partial", PARTIAL)
    url, arn = new_queue(moto)
    client = esm_stack.lambda_
    created = client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="partial", BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip
    assert created["State"] == "Creating"
    eventually(lambda: client.get_event_source_mapping(UUID=created["UUID"])["State"] == "Enabled", timeout=10)
    sqs = moto.client("sqs")
    for body in ("ok-1", "ok-2", "fail-3"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    records = eventually(lambda: [r for r in processed(esm_stack, "partial") if r["body"] == "fail-3"][1:] and processed(esm_stack, "partial"))
    bodies = [r["body"] for r in records]
    assert bodies.count("ok-1") == 1 and bodies.count("ok-2") == 1  # deleted after the first success
    assert bodies.count("fail-3") >= 2  # reported as failed: back after the visibility timeout

    client.update_event_source_mapping(UUID=created["UUID"], Enabled=False)
    eventually(lambda: client.get_event_source_mapping(UUID=created["UUID"])["State"] == "Disabled", timeout=10)
    time.sleep(3)  # the pollers' current slice ends
    sqs.send_message(QueueUrl=url, MessageBody="ok-while-disabled")
    time.sleep(3)
    assert "ok-while-disabled" not in [r["body"] for r in processed(esm_stack, "partial")]
    client.delete_event_source_mapping(UUID=created["UUID"])
    eventually(lambda: not client.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"], timeout=10)


def test_a_worker_killed_with_sigkill_is_replaced_without_losing_or_repeating_messages(
    esm_stack: AsyncStack, moto: Moto
) -> None:
    esm_stack.create("noop", NOOP)
    url, arn = new_queue(moto, visibility=30)  # well above a cold start: a duplicate would be our bug
    esm_stack.lambda_.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="noop", BatchSize=5, MaximumBatchingWindowInSeconds=1
    )
    sqs = moto.client("sqs")
    first = [sqs.send_message(QueueUrl=url, MessageBody=f"a{i}")["MessageId"] for i in range(20)]
    eventually(lambda: depth(moto, url) == 0 and len(processed(esm_stack, "noop")) >= 20, timeout=60)
    esm_stack.restart_worker_after_sigkill()  # its leases name a dead pid: the new worker takes them at once
    second = [sqs.send_message(QueueUrl=url, MessageBody=f"b{i}")["MessageId"] for i in range(20)]
    eventually(lambda: depth(moto, url) == 0 and len(processed(esm_stack, "noop")) >= 40, timeout=60)
    ids = [r["messageId"] for r in processed(esm_stack, "noop")]
    # Nothing lost, nothing committed processed twice (the message names each batch, * = repeated).
    assert sorted(ids) == sorted(first + second), repeats(esm_stack, "noop")
