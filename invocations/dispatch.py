"""Enqueueing Celery tasks — by name, after the surrounding transaction commits.

Services call these instead of importing ``invocations.tasks`` (which imports the services: the
cycle HackSoft's styleguide warns about). A task is published only once the rows it reads are
committed, so a worker never looks for a row it cannot see yet.

Publishing is not ``robust``: if the broker refuses the message, the exception propagates out of the
commit (or out of this call when there is no transaction), so the caller can tell its client the
work was *not* queued instead of answering 202.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from django.db import transaction

RUN_QUEUED_INVOCATION = "invocations.run_queued_invocation"
DELIVER_DESTINATION = "invocations.deliver_destination"
SWEEP_ASYNC_EVENTS = "invocations.sweep_async_events"

_declared: weakref.WeakSet[Any] = weakref.WeakSet()  # broker connections our queue was declared on


def _send(name: str, *args: object) -> None:
    """Publish one task message with Celery's own message format, straight to the default queue.

    ``app.send_task`` does the same with routing, option merging and signal machinery this project
    does not use; for an Event accept that was ≈ 0.5 ms of the web process's CPU, this ≈ 0.3 ms
    (bench/async.py, and MACHINE-FACTS.md on Celery round trips). The message is what ``send_task``
    would send (protocol 2, JSON, persistent), to the queue the workers consume; the queue is
    declared (once per connection: kombu caches it), so a broker that has never seen a worker keeps
    the message.
    """
    from config.celery import app  # importing Celery costs ≈ 0.4 s: only where something is sent

    with app.producer_pool.acquire(block=True) as producer:
        _publish(app, producer, name, list(args))


def send_many(name: str, arguments: Sequence[Sequence[object]]) -> None:
    """Publish one ``name`` message per argument list, in one broker round trip where the transport
    can (kombu's ``Producer.batch``: a Redis pipeline; other transports publish one by one).

    Eight messages cost ≈ 0.11 ms each this way, against ≈ 0.3 ms each sent alone (Redis, measured
    in-process). If the flush fails the error propagates; messages of a Redis pipeline that failed
    part-way may have been delivered (the callers' rows say whether to run them). One message goes
    through ``_send``.
    """
    if len(arguments) == 1:
        _send(name, *arguments[0])
        return
    from config.celery import app

    with app.producer_pool.acquire(block=True) as producer, producer.batch():
        for args in arguments:
            _publish(app, producer, name, list(args))


def _publish(app: Any, producer: Any, name: str, arguments: list[object]) -> None:
    from celery.utils import uuid

    queue = app.amqp.queues[app.conf.task_default_queue]
    # ignore_result: nobody waits on these tasks; without it Celery registers every message with
    # the result backend (a Redis pub/sub subscription, then its cancellation).
    message = app.amqp.as_task_v2(
        uuid(), name, args=arguments, kwargs={}, ignore_result=True, argsrepr=repr(arguments), kwargsrepr="{}"
    )
    # Declaring costs ≈ 0.05 ms even when kombu knows it is done: once per pooled connection.
    declared = producer.connection in _declared
    producer.publish(
        message.body,
        exchange="",  # the default exchange: straight to the queue named by the routing key
        routing_key=queue.name,
        declare=[] if declared else [queue],
        headers=message.headers,
        serializer="json",
        delivery_mode=2,
        retry=True,
        retry_policy=app.conf.task_publish_retry_policy,
        **message.properties,
    )
    _declared.add(producer.connection)


def send_now(name: str, *args: object) -> None:
    """Publish at once (the sweep: its rows are committed already)."""
    _send(name, *args)


def run_queued_invocation(*, invocation_id: int) -> None:
    transaction.on_commit(lambda: _send(RUN_QUEUED_INVOCATION, invocation_id))


def deliver_destination(*, delivery_id: int) -> None:
    # robust: the delivery row is committed either way, and the sweep republishes it if this fails.
    transaction.on_commit(lambda: _send(DELIVER_DESTINATION, delivery_id), robust=True)
