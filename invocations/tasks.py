"""Celery tasks: thin — they take ids and call one service (STYLE.md, habit 6).

Also the worker's node life cycle: on ``worker_ready`` it registers its runtimes (the worker has its
own environment pool, ``invocations.node.get_pool``) and starts the asynchronous-event sweep (a
timer thread, so ``make run``'s single worker needs no separate ``celery beat``); on
``worker_shutdown`` it stops both.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import shared_task
from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connection

from invocations import dispatch, node, recorder
from invocations.event_sources import scheduler
from invocations.services import async_events, cleanup

logger = logging.getLogger(__name__)

_sweep_stop = threading.Event()
_sweep_thread: threading.Thread | None = None


@shared_task(name=dispatch.RUN_QUEUED_INVOCATION, ignore_result=True)
def run_queued_invocation(invocation_id: int) -> None:
    async_events.run_queued_invocation(invocation_id=invocation_id)


@shared_task(name=dispatch.DELIVER_DESTINATION, ignore_result=True)
def deliver_destination(delivery_id: int) -> None:
    async_events.deliver(delivery_id=delivery_id)


@shared_task(name=dispatch.SWEEP_ASYNC_EVENTS, ignore_result=True)
def sweep_async_events() -> None:
    async_events.sweep()


HISTORY_PRUNE_SECONDS = 3600.0  # how often a worker removes records past the retention


def _sweep_loop() -> None:
    # A sweep right away: a restarted worker recovers what its predecessor was running.
    pruned_at = float("-inf")
    while True:
        try:
            async_events.sweep()
        except Exception:
            logger.exception("asynchronous event sweep failed")
        now = time.monotonic()
        if now - pruned_at >= HISTORY_PRUNE_SECONDS:
            pruned_at = now
            try:
                report = cleanup.PruneReport()
                if cleanup.prune_history(report=report):
                    logger.info("removed %d invocation records past the retention (%d by age, %d by count, %d batches)",
                                report.removed, report.by_age, report.by_count, report.batches)  # fmt: skip
            except Exception:
                logger.exception("removing invocation records past the retention failed")
        connection.close()
        if _sweep_stop.wait(settings.LAMBDA_ASYNC_SWEEP_SECONDS):
            return


def start_sweeper() -> None:
    global _sweep_thread
    if _sweep_thread is None or not _sweep_thread.is_alive():
        _sweep_stop.clear()
        _sweep_thread = threading.Thread(target=_sweep_loop, name="async-sweep", daemon=True)
        _sweep_thread.start()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**_: Any) -> None:
    # What Django does around each request (config/celery.py says why not Celery's own closing).
    close_old_connections()


@worker_ready.connect
def _register_worker(**_: Any) -> None:
    node.start_node("worker")
    start_sweeper()
    scheduler.start()


@worker_shutdown.connect
def _withdraw_worker(**_: Any) -> None:
    _sweep_stop.set()
    scheduler.stop()
    node.stop_node()
    recorder.get_recorder().close()
