"""Our Redis transport (config/redis_transport.py) against a real redis-server started here."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from config.celery import transport_for
from scripts.stack import free_port

TRANSPORT = "config.redis_transport:Transport"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install -y redis-server; `make test` does it as root)")
    port = free_port()
    directory: Path = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            with Connection(url, transport=TRANSPORT, connect_timeout=1) as probe:
                probe.ensure_connection(max_retries=1)
            break
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


def test_redis_urls_get_our_transport_and_the_others_kombus() -> None:
    assert transport_for("redis://127.0.0.1:6379/0") == TRANSPORT
    assert transport_for("rediss://example:6380/0") is None
    assert transport_for("sqla+sqlite:///var/broker.sqlite3") is None


def test_a_channel_keeps_one_synchronous_client_until_its_pool_is_rebuilt(redis_url: str) -> None:
    with Connection(redis_url, transport=TRANSPORT) as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first
        channel._pool = None  # what kombu does when it reconnects
        rebuilt = channel._create_client()
        assert rebuilt is not first and rebuilt.connection_pool is channel.pool


def test_messages_go_through_it_both_ways(redis_url: str) -> None:
    with Connection(redis_url, transport=TRANSPORT) as connection:
        with connection.SimpleQueue("transport-test") as queue:
            for n in range(3):
                queue.put({"n": n})
            received = []
            for _ in range(3):
                message = queue.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
    assert received == [0, 1, 2]
