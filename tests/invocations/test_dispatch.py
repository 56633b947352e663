"""Publishing: the message a web node sends is the one Celery's ``send_task`` would send, on the
broker this run is configured with (the embedded SQLite broker, or Redis in CI's second run)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Queue

from config.celery import app
from invocations import dispatch


@pytest.fixture
def queue_name(settings: Any) -> Iterator[str]:
    name = f"test-dispatch-{uuid.uuid4().hex[:12]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = name
    try:
        yield name
    finally:
        app.conf.task_default_queue = previous
        with app.connection_for_write() as connection:
            Queue(name, channel=connection.default_channel).delete()


def receive(name: str) -> Any:
    with app.connection_for_read() as connection:
        with connection.SimpleQueue(name, no_ack=True) as queue:
            return queue.get(timeout=10)


def test_it_publishes_a_task_message_to_the_default_queue(queue_name: str) -> None:
    dispatch.send_now(dispatch.RUN_QUEUED_INVOCATION, 42)
    message = receive(queue_name)
    assert message.headers["task"] == dispatch.RUN_QUEUED_INVOCATION
    assert message.headers["ignore_result"] is True
    assert message.decode() == [[42], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    assert message.properties["delivery_mode"] == 2
    assert message.headers["id"] == message.properties["correlation_id"]


def test_its_message_has_the_same_headers_and_properties_as_send_tasks(queue_name: str) -> None:
    dispatch.send_now(dispatch.RUN_QUEUED_INVOCATION, 1)
    ours = receive(queue_name)
    app.send_task(dispatch.RUN_QUEUED_INVOCATION, args=[1], ignore_result=True, queue=queue_name)
    celerys = receive(queue_name)
    assert set(ours.headers) == set(celerys.headers)
    assert {k: v for k, v in ours.headers.items() if k not in ("id", "root_id")} == {
        k: v for k, v in celerys.headers.items() if k not in ("id", "root_id")
    }
    assert set(ours.properties) <= set(celerys.properties) | {"delivery_info"}
    assert ours.content_type == celerys.content_type == "application/json"


def test_send_many_publishes_one_message_per_argument_list_in_order(queue_name: str) -> None:
    dispatch.send_many(dispatch.RUN_QUEUED_INVOCATION, [(1,), (2,), (3,)])
    messages = [receive(queue_name) for _ in range(3)]
    assert [m.decode()[0] for m in messages] == [[1], [2], [3]]
    assert len({m.headers["id"] for m in messages}) == 3
    dispatch.send_now(dispatch.RUN_QUEUED_INVOCATION, 4)
    alone = receive(queue_name)
    assert set(alone.headers) == set(messages[0].headers)
    assert {k: v for k, v in alone.properties.items() if k not in ("correlation_id", "delivery_tag")} == {
        k: v for k, v in messages[0].properties.items() if k not in ("correlation_id", "delivery_tag")
    }
