"""/metrics, /healthz and /readyz on the real stack (granian web node + Celery worker).

Its own stack (the module stops its worker): with ``METRICS_TOKEN`` set, on PostgreSQL + Redis
when CI's second run says so. Shows that a synchronous invoke (run by the web process) and an
Event invoke (run by the worker process) both appear on the web node's /metrics — the counters add
up across the node's processes (prometheus_client multiprocess mode, invocations/metrics.py).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from scripts.stack import ROOT, Stack, free_port
from tests.live.conftest import ROLE, fresh_database
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

TOKEN = "live-metrics-token"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Any]]:
    data_dir = tmp_path_factory.mktemp("metrics-data")
    env = {
        "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
        "CELERY_TASK_DEFAULT_QUEUE": f"metrics-{uuid.uuid4().hex[:12]}",
        "METRICS_TOKEN": TOKEN,
        "READYZ_CACHE_SECONDS": "0.5",
        "LAMBDA_LOG_FORMAT": "json",
    }
    with fresh_database("lw_metrics") as url:
        if url:
            env["DATABASE_URL"] = url
        stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs", shutdown_grace=5)
        stack.start(timeout=90)
        try:
            created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "m").splitlines())
            client = boto3.client(
                "lambda", endpoint_url=stack.endpoint, region_name="us-east-1",
                aws_access_key_id=created["AWS_ACCESS_KEY_ID"], aws_secret_access_key=created["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 1}, read_timeout=60),
            )  # fmt: skip
            yield stack, client
        finally:
            stack.stop()


def get(stack: Stack, path: str, token: str | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(stack.endpoint + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body, _ = get(stack, "/metrics", TOKEN)
    assert status == 200, body
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def count(samples: dict[Any, float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


def test_sync_and_event_invocations_show_up_on_the_web_nodes_metrics(stack: tuple[Stack, Any]) -> None:
    node, client = stack
    assert get(node, "/metrics")[0] == 401
    status, _, headers = get(node, "/metrics", "wrong")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    client.create_function(
        FunctionName="metered", Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": ECHO_HANDLER})}, Timeout=5, MemorySize=128,
    )  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName="metered", WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    assert client.invoke(FunctionName="metered", Payload=b'{"n": 1}')["StatusCode"] == 200  # the web process runs it
    assert client.invoke(FunctionName="metered", InvocationType="Event", Payload=b'{"n": 2}')["StatusCode"] == 202  # the worker

    def invocations(samples: dict[Any, float], source: str = "api") -> float:
        return count(samples, "lambda_invocations_total", function="metered", source=source, status="succeeded")

    deadline = time.monotonic() + 60
    while True:
        samples = scrape(node)
        if invocations(samples) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert invocations(samples) == 2, {k: v for k, v in samples.items() if "metered" in str(k)}
    assert count(samples, "lambda_duration_seconds_count", function="metered") == 2
    # One environment in the web process, one in the worker: both cold, each counted where it ran.
    assert count(samples, "lambda_cold_starts_total", function="metered") == 2
    assert count(samples, "lambda_async_queue_depth", function="metered") == 0
    assert count(samples, "lambda_concurrent_executions", function="metered") == 0

    # The worker process wrote its own samples into the node's directory: proof of where it ran.
    metrics_dir = node.data_dir / "prometheus"
    writers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
    assert len(writers) >= 2, sorted(p.name for p in metrics_dir.iterdir())
    assert node.worker is not None and str(node.worker.pid) in writers


def test_healthz_and_readyz_follow_the_worker(stack: tuple[Stack, Any]) -> None:
    node, _ = stack
    status, body, _ = get(node, "/healthz")
    assert (status, body) == (200, b"ok\n")
    status, body, _ = get(node, "/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "broker": "ok", "worker": "ok"}

    assert node.worker is not None
    node.worker.terminate()
    node.worker.wait(30)
    deadline = time.monotonic() + 30
    while True:
        status, body, _ = get(node, "/readyz")
        if status == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 503, body
    verdict = json.loads(body)
    assert verdict["failed"] == ["worker"]
    assert verdict["checks"]["database"] == "ok" and verdict["checks"]["broker"] == "ok"
    # Still alive, only not ready; and /metrics still answers.
    assert get(node, "/healthz")[0] == 200
    assert get(node, "/metrics", TOKEN)[0] == 200


def test_the_worker_logs_json_lines(stack: tuple[Stack, Any]) -> None:
    node, _ = stack
    assert node.log_dir is not None
    lines = [line for line in (node.log_dir / "worker.log").read_text(errors="replace").splitlines() if line.startswith("{")]
    assert lines, "no JSON line in the worker's log"
    parsed = [json.loads(line) for line in lines]
    assert any(p["logger"].startswith("celery") and "ready" in p["message"] for p in parsed)
    assert all({"time", "level", "logger", "message"} <= p.keys() for p in parsed)
