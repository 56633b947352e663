"""moto in server mode as a real SQS/SNS/EventBridge endpoint, and a local webhook receiver.

Used by the async tests (Django tier and live tier). ``moto_server`` runs as a subprocess on a free
loopback port; the ``AWS_ENDPOINT_URL_*`` variables point boto3 (ours and the platform's) at it.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.stack import free_port

REGION = "us-east-1"
SERVICES = ("SQS", "SNS", "EVENTS")


@dataclass
class Moto:
    endpoint: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        env = {f"AWS_ENDPOINT_URL_{s}": self.endpoint for s in SERVICES}
        env["AWS_ENDPOINT_URL_EVENTBRIDGE"] = self.endpoint  # boto3's own name for the events service
        env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION)
        return env

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip

    def queue(self, name: str | None = None) -> tuple[str, str]:
        """A new SQS queue: (url, arn)."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name or f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def topic_into_queue(self) -> tuple[str, str]:
        """A new SNS topic whose messages land (raw off, i.e. wrapped) in a new queue: (topic arn, queue url)."""
        url, arn = self.queue()
        topic = self.client("sns").create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
        self.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return topic, url

    def bus_into_queue(self) -> tuple[str, str]:
        """A new event bus with a rule sending every ``source: lambda`` event to a new queue."""
        url, arn = self.queue()
        events = self.client("events")
        name = f"b-{uuid.uuid4().hex[:8]}"
        bus = events.create_event_bus(Name=name)["EventBusArn"]
        events.put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": ["lambda"]}))
        events.put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
        return bus, url

    def receive(self, url: str, *, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            ).get("Messages", [])
            for message in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(got)
        return messages


def _moto_command(port: int) -> list[str]:
    # moto_server's own entry point, with SQS receives made atomic (see moto_serial.py).
    return [sys.executable, str(Path(__file__).with_name("moto_serial.py")), "-H", "127.0.0.1", "-p", str(port)]


@contextmanager
def moto_server() -> Iterator[Moto]:
    port = free_port()
    process = subprocess.Popen(
        _moto_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield Moto(endpoint=endpoint, process=process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def moto_environment(moto: Moto) -> Iterator[None]:
    """Point this process's boto3 at moto (and forget clients built for other endpoints)."""
    from invocations import destinations

    saved = {k: os.environ.get(k) for k in moto.env}
    os.environ.update(moto.env)
    destinations._clients.clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        destinations._clients.clear()


@dataclass
class Webhook:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    """An HTTP server on 127.0.0.1 that records every POST and answers ``hook.status``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    hook = Webhook(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/lambda")

    class Handler(http.server.BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.requests.append(({k: v for k, v in self.headers.items()}, body))
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
