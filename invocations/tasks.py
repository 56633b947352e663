"""Celery tasks: thin — they take ids and call one service (STYLE.md, habit 6).

Also the worker's node life cycle: on ``worker_ready`` it registers its runtimes (the worker has its
own environment pool, ``invocations.node.get_pool``), and on ``worker_shutdown`` it withdraws.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from invocations import dispatch, node, recorder
from invocations.services import invoke as invoke_service


@shared_task(name=dispatch.RUN_QUEUED_INVOCATION, ignore_result=True)
def run_queued_invocation(invocation_id: int) -> None:
    invoke_service.run_queued_invocation(invocation_id=invocation_id)


@worker_ready.connect
def _register_worker(**_: Any) -> None:
    node.start_node("worker")


@worker_shutdown.connect
def _withdraw_worker(**_: Any) -> None:
    node.stop_node()
    recorder.get_recorder().close()
