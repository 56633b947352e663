"""The RabbitMQ source against a real rabbitmq-server (Debian's): the Amazon MQ event shape, batches,
acks after success, requeues (redelivered) after failure, the batching window, filtering, 6 MB.

The server: ``LAMBDA_TEST_RABBITMQ_URL`` when set (e.g. by ``.ci/run``), else one started here for
the session on loopback, on free ports, with its node name, database and logs in a temporary
directory, stopped afterwards (and its ``epmd`` too, if this started it). Without rabbitmq-server
installed the tests are skipped — except under CI, where that is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from invocations.event_sources import rabbitmq
from invocations.event_sources.base import MAX_BATCH_PAYLOAD_BYTES, BatchResult, invoke_batch
from invocations.models import EventSourceMapping, Invocation
from scripts.stack import free_port
from tests.invocations.services.test_invoke import make_function

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")  # Debian's real scripts (/usr/sbin's wrappers su to "rabbitmq")
ARN = "arn:aws:mq:us-east-1:000000000000:broker:test:b-1234"

ECHO_DATA_PY = """
import base64

def handler(event, context):
    (messages,) = event["rmqMessagesByQueue"].values()
    datas = [base64.b64decode(m["data"]).decode() for m in messages]
    if "bad" in datas:
        raise ValueError("bad message")
    return {"seen": datas}
"""


def _tool(name: str) -> str:
    path = RABBITMQ_BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def _epmd_running() -> bool:
    return subprocess.run(["epmd", "-names"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def rabbit_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("LAMBDA_TEST_RABBITMQ_URL")
    if given:
        yield given
        return
    if not (RABBITMQ_BIN / "rabbitmq-server").exists() and shutil.which("rabbitmq-server") is None:
        pytest.fail("rabbitmq-server is not installed (apt-get install -y rabbitmq-server; `make test` does it as root)")
    base = tmp_path_factory.mktemp("rabbitmq")
    (base / "enabled_plugins").write_text("[].\n")
    port = free_port()
    node = f"lwtest{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),  # none: the defaults
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
    }
    had_epmd = _epmd_running()
    subprocess.run([_tool("rabbitmq-server"), "-detached"], env=env, check=True, capture_output=True)
    try:
        # await_startup fails at once while the node is not yet registered with epmd: ask again.
        deadline = time.monotonic() + 90
        while True:
            ready = subprocess.run(
                [_tool("rabbitmqctl"), "-n", node, "await_startup", "--timeout", "60"], env=env, capture_output=True, text=True
            )
            if ready.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if ready.returncode != 0:
            logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in (base / "log").glob("*.log"))
            pytest.fail(f"rabbitmq-server did not start: {ready.stdout} {ready.stderr}\n{logs}")
        yield f"amqp://guest:guest@127.0.0.1:{port}/"
    finally:
        subprocess.run([_tool("rabbitmqctl"), "-n", node, "stop"], env=env, capture_output=True)
        if not had_epmd:
            for _ in range(50):
                if subprocess.run(["epmd", "-kill"], capture_output=True, text=True).stdout.strip() == "Killed":
                    break
                time.sleep(0.2)


@pytest.fixture(autouse=True)
def fast(settings: Any, tmp_path: Path) -> None:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    settings.LAMBDA_RABBITMQ_RETRY_DELAY_SECONDS = 0.1


class Broker:
    """A py-amqp connection for the test's side: declare, publish, inspect."""

    def __init__(self, url: str) -> None:
        import amqp

        parts = rabbitmq.parse_url(url)
        self.amqp = amqp
        self.connection = amqp.Connection(host=f"{parts.host}:{parts.port}", userid=parts.userid, password=parts.password)
        self.connection.connect()
        self.channel = self.connection.channel()

    def queue(self) -> str:
        name = f"q-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(name, durable=False, auto_delete=False)
        return name

    def publish(self, queue: str, *bodies: bytes | str, **properties: Any) -> None:
        for body in bodies:
            self.channel.basic_publish(self.amqp.Message(body, **properties), routing_key=queue)

    def depth(self, queue: str) -> int:
        return int(self.channel.queue_declare(queue, passive=True).message_count)

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def broker(rabbit_url: str) -> Iterator[Broker]:
    client = Broker(rabbit_url)
    yield client
    client.close()


class Calls:
    def __init__(self, mapping: EventSourceMapping, script: Callable[[dict[str, Any]], BatchResult] | None = None) -> None:
        self.mapping = mapping
        self.script = script
        self.events: list[dict[str, Any]] = []
        self.results: list[BatchResult] = []

    def __call__(self, event: dict[str, Any]) -> BatchResult:
        self.events.append(json.loads(json.dumps(event)))
        result = self.script(event) if self.script else invoke_batch(self.mapping, event)
        self.results.append(result)
        return result

    def messages(self, index: int) -> list[dict[str, Any]]:
        (messages,) = self.events[index]["rmqMessagesByQueue"].values()
        return list(messages)

    @property
    def batches(self) -> list[list[str]]:
        return [[base64.b64decode(m["data"]).decode("latin-1") for m in self.messages(i)] for i in range(len(self.events))]


def ok(event: dict[str, Any]) -> BatchResult:
    return BatchResult(request_id=str(uuid.uuid4()), function_error=None, payload=b"null")


def failing(event: dict[str, Any]) -> BatchResult:
    return BatchResult(request_id=str(uuid.uuid4()), function_error="Unhandled", payload=b'{"errorMessage":"no"}')


def mapping_for(url: str, queue: str, function: Any = None, **fields: Any) -> EventSourceMapping:
    from django.conf import settings

    fields.setdefault("batch_size", 100)
    function = function or make_function(f"fn-{uuid.uuid4().hex[:6]}", code_dir=Path(settings.LAMBDA_CODE_DIR))
    return EventSourceMapping.objects.create(
        uuid=str(uuid.uuid4()),
        team=function.team,
        function=function,
        source_kind="rabbitmq",
        event_source_arn=ARN,
        source_url=url,
        queues=[queue],
        state=EventSourceMapping.State.ENABLED,
        **fields,
    )


def run(mapping: EventSourceMapping, calls: Callable[[dict[str, Any]], BatchResult], seconds: float = 1.0) -> None:
    source = rabbitmq.RabbitMQSource()
    (unit,) = source.units(mapping)
    source.run_slice(mapping, unit, deadline=time.monotonic() + seconds, invoke=calls)


# --- pure ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "vhost"),
    [
        ("amqp://u:p@h:5673/", "h", 5673, "u", "/"),
        ("amqp://u:p@h", "h", 5672, "u", "/"),
        ("amqp://u:p@h/%2F", "h", 5672, "u", "/"),
        ("amqp://u:p@h/prod", "h", 5672, "u", "prod"),
        ("amqps://u%40x:p@h/a%2Fb", "h", 5671, "u@x", "a/b"),
    ],
)
def test_amqp_urls_name_host_port_credentials_and_vhost(url: str, host: str, port: int, user: str, vhost: str) -> None:
    parsed = rabbitmq.parse_url(url)
    assert (parsed.host, parsed.port, parsed.userid, parsed.vhost) == (host, port, user, vhost)


def test_dates_are_written_as_amazon_mq_writes_them() -> None:
    assert rabbitmq._timestamp(2021) == "Jan 1, 1970, 12:33:41 AM"
    assert rabbitmq._timestamp(1_700_000_000) == "Nov 14, 2023, 10:13:20 PM"
    assert rabbitmq._timestamp(None) is None


# --- against rabbitmq-server -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_has_the_amazon_mq_shape_and_is_acked_after_success(rabbit_url: str, broker: Broker) -> None:
    queue = broker.queue()
    broker.publish(
        queue, b'{"n": 1}', content_type="application/json", delivery_mode=2, priority=3, timestamp=2021,
        application_headers={"h": "v", "n": 10}, message_id="m-1", correlation_id="c-1", expiration="60000",
    )  # fmt: skip
    broker.publish(queue, b"\xff two")
    mapping = mapping_for(rabbit_url, queue)
    calls = Calls(mapping, ok)
    run(mapping, calls)
    assert len(calls.events) == 1
    event = calls.events[0]
    assert event["eventSource"] == "aws:rmq"
    assert event["eventSourceArn"] == ARN
    assert list(event["rmqMessagesByQueue"]) == [f"{queue}::/"]
    first, second = calls.messages(0)
    assert first == {
        "basicProperties": {
            "contentType": "application/json",
            "contentEncoding": None,
            "headers": {"h": {"bytes": [118]}, "n": 10},
            "deliveryMode": 2,
            "priority": 3,
            "correlationId": "c-1",
            "replyTo": None,
            "expiration": "60000",
            "messageId": "m-1",
            "timestamp": "Jan 1, 1970, 12:33:41 AM",
            "type": None,
            "userId": None,
            "appId": None,
            "clusterId": None,
            "bodySize": 8,
        },
        "redelivered": False,
        "data": base64.b64encode(b'{"n": 1}').decode(),
    }
    assert second["data"] == base64.b64encode(b"\xff two").decode()
    assert second["basicProperties"]["bodySize"] == 5
    assert broker.depth(queue) == 0  # acked


@pytest.mark.django_db
def test_the_real_function_gets_the_batch_and_the_invocation_is_recorded(rabbit_url: str, broker: Broker) -> None:
    from django.conf import settings

    queue = broker.queue()
    broker.publish(queue, "a", "b", "c")
    fn = make_function("rmq-reader", files={"app.py": ECHO_DATA_PY}, code_dir=Path(settings.LAMBDA_CODE_DIR))
    mapping = mapping_for(rabbit_url, queue, fn)
    calls = Calls(mapping)
    run(mapping, calls, 3)
    assert calls.batches == [["a", "b", "c"]]
    assert json.loads(calls.results[0].payload) == {"seen": ["a", "b", "c"]}
    assert Invocation.objects.get(request_id=calls.results[0].request_id).source == Invocation.Source.TRIGGER
    assert broker.depth(queue) == 0


@pytest.mark.django_db
def test_a_failed_batch_is_requeued_and_comes_back_redelivered(rabbit_url: str, broker: Broker) -> None:
    from django.conf import settings

    queue = broker.queue()
    broker.publish(queue, "ok", "bad")
    fn = make_function("rmq-failer", files={"app.py": ECHO_DATA_PY}, code_dir=Path(settings.LAMBDA_CODE_DIR))
    mapping = mapping_for(rabbit_url, queue, fn)
    calls = Calls(mapping)
    run(mapping, calls, 2)
    assert len(calls.events) >= 2
    assert calls.batches[0] == ["ok", "bad"] and calls.batches[1] == ["ok", "bad"]
    assert [m["redelivered"] for m in calls.messages(0)] == [False, False]
    assert [m["redelivered"] for m in calls.messages(1)] == [True, True]
    assert all(r.function_error == "Unhandled" for r in calls.results)
    time.sleep(0.2)
    assert broker.depth(queue) == 2  # still there: nacked with requeue, never acked
    later = Calls(mapping, ok)
    run(mapping, later, 1)
    assert later.batches == [["ok", "bad"]]
    assert broker.depth(queue) == 0


@pytest.mark.django_db
def test_batches_hold_at_most_batch_size_messages(rabbit_url: str, broker: Broker) -> None:
    queue = broker.queue()
    broker.publish(queue, *(f"m{i}" for i in range(7)))
    mapping = mapping_for(rabbit_url, queue, batch_size=3)
    calls = Calls(mapping, ok)
    run(mapping, calls, 2)
    assert calls.batches == [["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6"]]
    assert broker.depth(queue) == 0


@pytest.mark.django_db
def test_the_batching_window_gathers_messages_published_while_it_is_open(rabbit_url: str, broker: Broker) -> None:
    import threading

    queue = broker.queue()
    broker.publish(queue, "a")
    mapping = mapping_for(rabbit_url, queue, maximum_batching_window_in_seconds=1)
    other = Broker(rabbit_url)
    timer = threading.Timer(0.4, lambda: other.publish(queue, "b"))
    timer.start()
    calls = Calls(mapping, ok)
    run(mapping, calls, 2.5)
    timer.join()
    other.close()
    assert calls.batches == [["a", "b"]]


@pytest.mark.django_db
def test_a_batch_is_cut_before_6_mb(rabbit_url: str, broker: Broker) -> None:
    queue = broker.queue()
    broker.publish(queue, *[bytes([65 + i]) * 1_000_000 for i in range(6)])
    mapping = mapping_for(rabbit_url, queue, batch_size=100)
    sizes: list[int] = []

    def measure(event: dict[str, Any]) -> BatchResult:
        sizes.append(len(json.dumps(event, separators=(",", ":"))))
        return ok(event)

    calls = Calls(mapping, measure)
    run(mapping, calls, 3)
    assert [len(b) for b in calls.batches] == [4, 2]
    assert all(size <= MAX_BATCH_PAYLOAD_BYTES for size in sizes)
    assert broker.depth(queue) == 0


@pytest.mark.django_db
def test_messages_the_filter_drops_are_acked_and_never_invoke(rabbit_url: str, broker: Broker) -> None:
    queue = broker.queue()
    broker.publish(queue, json.dumps({"kind": "keep", "n": 1}), json.dumps({"kind": "drop"}), "plain text", json.dumps({"kind": "keep", "n": 2}))
    pattern = {"data": {"kind": ["keep"]}}
    mapping = mapping_for(rabbit_url, queue, filter_criteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    calls = Calls(mapping, ok)
    run(mapping, calls)
    assert [[json.loads(d)["n"] for d in batch] for batch in calls.batches] == [[1, 2]]
    assert broker.depth(queue) == 0


@pytest.mark.django_db
def test_an_unreachable_broker_ends_the_slice_quietly(settings: Any) -> None:
    settings.LAMBDA_RABBITMQ_RECONNECT_SECONDS = 0.1
    mapping = mapping_for(f"amqp://guest:guest@127.0.0.1:{free_port()}/", "q")
    calls = Calls(mapping, ok)
    started = time.monotonic()
    run(mapping, calls, 1)
    assert calls.events == [] and time.monotonic() - started < 1.5
