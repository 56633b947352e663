"""The console's Celery tasks: thin, they take ids and call one service (STYLE.md, habit 6)."""

from __future__ import annotations

from celery import shared_task

from console.services import runs


@shared_task(name=runs.RUN_CONSOLE_TEST, ignore_result=True)
def run_console_test(run_id: int) -> None:
    runs.run_console_test(run_id=run_id)
