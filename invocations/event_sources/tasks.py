"""The worker's side of event source mappings: start the poller supervisor with the worker.

Autodiscovered by ``config/celery.py``; no Celery tasks of its own — pollers are long-lived threads
in the worker process (``supervisor.py``), started on ``worker_ready`` and stopped on
``worker_shutdown``, like the asynchronous-event sweep (``invocations/tasks.py``).
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready, worker_shutdown

from invocations.event_sources import supervisor


@worker_ready.connect
def _start_pollers(**_: Any) -> None:
    supervisor.start_supervisor()


@worker_shutdown.connect
def _stop_pollers(**_: Any) -> None:
    supervisor.stop_supervisor()
