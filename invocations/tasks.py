"""Celery tasks: thin — they take ids and call one service (STYLE.md, habit 6).

Also the worker's node life cycle: ``worker_ready`` starts this process's node (its runtimes
registered, its sweep, schedules and pollers running: ``invocations/node.py``); ``worker_shutdown``
stops it.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown
from django.db import close_old_connections

from invocations import dispatch, node
from invocations.services import async_events


@shared_task(name=dispatch.RUN_QUEUED_INVOCATION, ignore_result=True)
def run_queued_invocation(invocation_id: int) -> None:
    async_events.run_queued_invocation(invocation_id=invocation_id)


@shared_task(name=dispatch.DELIVER_DESTINATION, ignore_result=True)
def deliver_destination(delivery_id: int) -> None:
    async_events.deliver(delivery_id=delivery_id)


@shared_task(name=dispatch.SWEEP_ASYNC_EVENTS, ignore_result=True)
def sweep_async_events() -> None:
    async_events.sweep()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**_: Any) -> None:
    # What Django does around each request (config/celery.py says why not Celery's own closing).
    close_old_connections()


@worker_ready.connect
def _start_worker_node(**_: Any) -> None:
    node.current().start("worker")


@worker_shutdown.connect
def _stop_worker_node(**_: Any) -> None:
    node.current().stop()
