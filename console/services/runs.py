"""Console tests: a Test press becomes a TestRun; a Celery worker runs it through the invoke service.

Synchronous tests never run user code in the web process (the console never blocks a web worker on
a function): the view stores a TestRun and enqueues `console.run_console_test` after commit; the
worker calls `invoke(..., source="console")`, waits for its invocation record to be written, and
marks the run done. The panel polls the run until then.

Asynchronous tests ("Invoke asynchronously") are an Event invoke: the invoke service stores the
queued Invocation and hands it to the async engine's task; the panel polls its timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.http import Http404

from console.models import TestRun
from console.placeholders import resolve
from invocations import pipeline, recorder
from invocations.access import Caller, check_function, user_caller
from invocations.arns import arn_of
from invocations.errors import AwsError
from invocations.models import Function, Invocation
from invocations.services import invoke as invoke_service

RUN_CONSOLE_TEST = "console.run_console_test"


def _enqueue(run_id: int) -> None:
    def send() -> None:
        from config.celery import app  # importing Celery is slow: only where a task is sent

        app.send_task(RUN_CONSOLE_TEST, args=[run_id])

    transaction.on_commit(send)


@dataclass(frozen=True)
class Started:
    run: TestRun
    error: str | None = None  # a platform error raised while queueing (asynchronous tests)


def start_test(*, caller: Caller, function: Function, body: str, qualifier: str, asynchronous: bool) -> Started:
    """Resolve the placeholders, store the run and queue it. The body must already be valid JSON.

    The caller must be allowed to invoke the function now; the worker runs the test as the same
    user in the function's team (their role is read again there: a role taken away meanwhile stops it).
    """
    check_function(caller, "lambda:InvokeFunction", function, qualifier if qualifier != "$LATEST" else None)
    payload = resolve(body)
    run = TestRun(
        function=function,
        user_id=caller.user_id,
        request_id=str(uuid.uuid4()),
        qualifier="" if qualifier in ("", "$LATEST") else qualifier,
        invocation_type=invoke_service.EVENT if asynchronous else invoke_service.REQUEST_RESPONSE,
        payload=payload,
    )
    if asynchronous:
        run.status = TestRun.Status.DONE
        try:
            pipeline.invoke(
                pipeline.InvocationRequest(
                    caller=caller,
                    function_name=arn_of(function),
                    qualifier=run.qualifier or None,
                    payload=payload.encode(),
                    invocation_type=invoke_service.EVENT,
                    source=Invocation.Source.CONSOLE,
                    request_id=run.request_id,
                )
            )
        except AwsError as error:
            run.status, run.error_type, run.error_message = TestRun.Status.ERROR, error.code, str(error.message)
        run.save()
        return Started(run=run, error=run.error_message or None)
    with transaction.atomic():
        run.save()
        _enqueue(run.pk)
    return Started(run=run)


def run_console_test(*, run_id: int) -> None:
    """The worker's side: run the test through the invoke service and mark the run done."""
    run = (
        TestRun.objects.select_related("function__team", "user").filter(pk=run_id, status=TestRun.Status.PENDING).first()
    )  # fmt: skip
    if run is None:
        return
    try:
        pipeline.invoke(
            pipeline.InvocationRequest(
                caller=user_caller(user=run.user, team=run.function.team, via="console"),
                function_name=arn_of(run.function),
                qualifier=run.qualifier or None,
                payload=run.payload.encode(),
                invocation_type=run.invocation_type,
                source=Invocation.Source.CONSOLE,
                request_id=run.request_id,
            )
        )
    except AwsError as error:
        recorder.flush()
        TestRun.objects.filter(pk=run.pk).update(
            status=TestRun.Status.ERROR, error_type=error.code, error_message=str(error.message)
        )
        return
    # The record is written by the recorder's thread: wait for it, so "done" means it is readable.
    recorder.flush()
    TestRun.objects.filter(pk=run.pk).update(status=TestRun.Status.DONE)


def get_run(*, function: Function, run_id: int) -> TestRun:
    run = TestRun.objects.filter(pk=run_id, function=function).first()
    if run is None:
        raise Http404("No such test run")
    return run


def invocation_of(run: TestRun) -> Invocation | None:
    return Invocation.objects.filter(request_id=run.request_id).first()
