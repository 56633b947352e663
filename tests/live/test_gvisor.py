"""A smoke test of LAMBDA_SANDBOX=gvisor on the real stack: the web node's and the worker's
environments run inside gVisor (the attack tests of tests/invocations/engine run under it too)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from scripts.stack import Stack, free_port
from tests.live.conftest import ROLE, fresh_database
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

KERNEL = """\
import os, platform
def handler(event, context):
    if event.get("host") == platform.release():
        raise RuntimeError("this ran on the host's kernel")
    return {"release": platform.release(), "uid": os.getuid(), "event": event}
"""


@pytest.fixture(scope="module")
def gvisor_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, str]]:
    data_dir = tmp_path_factory.mktemp("gvisor-data")
    with fresh_database("lw_gvisor") as database_url:
        env = {"LAMBDA_SANDBOX": "gvisor", "CELERY_TASK_DEFAULT_QUEUE": f"gvisor-{free_port()}"}
        if database_url:
            env["DATABASE_URL"] = database_url
        stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
        stack.start(timeout=90)
        try:
            assert stack.manage("sandbox").startswith("sandbox: gVisor")
            created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "g").splitlines())
            yield stack, created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"]
        finally:
            stack.stop()


def client(stack: Stack, key: str, secret: str) -> Any:
    return boto3.client("lambda", endpoint_url=stack.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, read_timeout=60))


def test_functions_run_on_gvisors_kernel_through_every_path(gvisor_stack: tuple[Stack, str, str]) -> None:
    stack, key, secret = gvisor_stack
    lam = client(stack, key, secret)
    lam.create_function(FunctionName="kernel", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": KERNEL})})
    host_release = __import__("platform").release()
    for attempt in range(2):  # cold, then warm
        body = json.loads(lam.invoke(FunctionName="kernel", Payload=b'{"n": %d}' % attempt)["Payload"].read())
        assert body["release"] != host_release and body["uid"] == 993 and body["event"] == {"n": attempt}
    # The worker's environment runs it (under gVisor too: on the host's kernel it would fail).
    accepted = lam.invoke(FunctionName="kernel", InvocationType="Event", Payload=json.dumps({"host": host_release}).encode())
    request_id = accepted["ResponseMetadata"]["RequestId"]
    url = f"{stack.endpoint}/2015-03-31/functions/kernel/async-invocations/{request_id}"
    deadline = time.monotonic() + 60
    while True:
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(request)
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers)), timeout=10) as r:
            document = json.loads(r.read())
        if document.get("Condition") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert document["Status"] == "succeeded" and document["Attempts"][0]["Worker"], document
