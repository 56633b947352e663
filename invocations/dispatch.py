"""Enqueueing Celery tasks — by name, after the surrounding transaction commits.

Services call these instead of importing ``invocations.tasks`` (which imports the services: the
cycle HackSoft's styleguide warns about). A task is published only once the rows it reads are
committed, so a worker never looks for a row it cannot see yet.

Publishing is not ``robust``: if the broker refuses the message, the exception propagates out of the
commit (or out of this call when there is no transaction), so the caller can tell its client the
work was *not* queued instead of answering 202.
"""

from __future__ import annotations

from django.db import transaction

RUN_QUEUED_INVOCATION = "invocations.run_queued_invocation"
DELIVER_DESTINATION = "invocations.deliver_destination"
SWEEP_ASYNC_EVENTS = "invocations.sweep_async_events"


def _send(name: str, *args: object) -> None:
    from config.celery import app  # importing Celery costs ≈ 0.4 s: only where something is sent

    # ignore_result: nobody waits on these tasks; without it Celery registers every message with the
    # result backend (a Redis pub/sub subscription, then its cancellation) — most of an Event
    # accept's CPU in the web process.
    app.send_task(name, args=list(args), ignore_result=True)


def send_now(name: str, *args: object) -> None:
    """Publish at once (the sweep: its rows are committed already)."""
    _send(name, *args)


def run_queued_invocation(*, invocation_id: int) -> None:
    transaction.on_commit(lambda: _send(RUN_QUEUED_INVOCATION, invocation_id))


def deliver_destination(*, delivery_id: int) -> None:
    # robust: the delivery row is committed either way, and the sweep republishes it if this fails.
    transaction.on_commit(lambda: _send(DELIVER_DESTINATION, delivery_id), robust=True)
