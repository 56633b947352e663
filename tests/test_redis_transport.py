"""Our Redis transport (config/redis_transport.py) against a real redis-server started here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kombu import Connection

from config.celery import transport_for
from tests.live.cluster import redis as redis_server

TRANSPORT = "config.redis_transport:Transport"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:  # a throw-away redis-server on a free port
        yield url


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
