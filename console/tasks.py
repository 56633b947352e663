"""The console's Celery tasks: thin, they take ids and call one service (STYLE.md, habit 6)."""

from __future__ import annotations

from celery import shared_task

from console.services import runs, suites


@shared_task(name=runs.RUN_CONSOLE_TEST, ignore_result=True)
def run_console_test(run_id: int) -> None:
    runs.run_console_test(run_id=run_id)


@shared_task(name=suites.RUN_SUITE, ignore_result=True)
def run_suite(suite_id: int) -> None:
    suites.run_suite(suite_id=suite_id)
