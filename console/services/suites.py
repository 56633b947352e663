"""Test suites: a function's saved events with expectations, run together, judged, kept.

``start_suite`` (the Test tab's Run all, the workbench API and CLI, a deploy) stores a ``SuiteRun``
with one pending ``SuiteResult`` per event — its body with placeholders filled and its expectations
as they are now, so a later edit does not change what this run meant — and queues
``console.run_suite`` after commit. A Celery worker runs the events in parallel (at most the
function's reserved concurrency, else ``LAMBDA_SUITE_PARALLELISM``) through the invoke service as
the user who started it (their role read again there), source ``suite``; each invocation's record
is the result's evidence, and ``expectations.evaluate`` its verdict.

Run on deploy: with ``SuiteSettings.run_on_deploy``, an update of ``$LATEST``'s code or
configuration (``invocations.signals.function_updated``) starts the suite on ``$LATEST``; its
outcome goes into the function's activity log.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from console import expectations
from console.models import SuiteResult, SuiteRun, SuiteSettings, TestEvent
from console.placeholders import resolve
from console.services.events import UNSET, EventError, create_event, update_event, visible_events
from invocations import activity, pipeline, recorder
from invocations.access import Caller, account_caller, check_function, user_caller
from invocations.arns import arn_of
from invocations.errors import AwsError, ResourceNotFoundException
from invocations.selectors import version_of
from invocations.models import Function, FunctionVersion, Invocation
from invocations.services import invoke as invoke_service

logger = logging.getLogger(__name__)

RUN_SUITE = "console.run_suite"
SUITE_ACTION = "workbench:RunTestSuite"  # in the activity log only: running needs lambda:InvokeFunction


class SuiteError(ValueError):
    """A suite that cannot start (no events with expectations, unknown event names)."""


def _enqueue(suite_id: int) -> None:
    def send() -> None:
        from config.celery import app  # importing Celery is slow: only where a task is sent

        app.send_task(RUN_SUITE, args=[suite_id])

    transaction.on_commit(send)


def suite_events(*, caller: Caller, function: Function, names: Iterable[str] | None = None) -> list[TestEvent]:
    """The events a suite runs: those with expectations, or exactly ``names`` (visible to the caller)."""
    events = visible_events(caller=caller, function=function)
    wanted = [name for name in (names or []) if name]
    if not wanted:
        return list(events.exclude(expect__isnull=True).order_by("name", "id"))
    chosen = list(events.filter(name__in=wanted).order_by("name", "id"))
    missing = sorted(set(wanted) - {event.name for event in chosen})
    if missing:
        raise SuiteError(f"No saved event named {', '.join(repr(name) for name in missing)} for this function.")
    return chosen


def _version_of(function: Function, qualifier: str) -> FunctionVersion | None:
    try:
        return version_of(function, qualifier or None)
    except ResourceNotFoundException:
        return None


def start_suite(
    *, caller: Caller, function: Function, qualifier: str = "$LATEST", names: Iterable[str] | None = None,
    trigger: str = SuiteRun.Trigger.CONSOLE,
) -> SuiteRun:  # fmt: skip
    """Store a suite run of ``function``'s events on ``qualifier`` and queue it."""
    qualifier = qualifier or "$LATEST"
    check_function(caller, "lambda:InvokeFunction", function, None if qualifier == "$LATEST" else qualifier)
    version = _version_of(function, qualifier)
    if version is None:
        raise SuiteError(f"Unknown qualifier {qualifier!r} for this function.")
    events = suite_events(caller=caller, function=function, names=names)
    if not events:
        raise SuiteError("This function has no saved events with expectations: add expectations to an event first.")
    with transaction.atomic():
        suite = SuiteRun.objects.create(
            function=function, qualifier=qualifier, started_by_id=caller.user_id, started_in_id=caller.team_id,
            trigger=trigger,
            code_sha256=version.code_sha256, executed_version=version.version, total=len(events),
        )  # fmt: skip
        SuiteResult.objects.bulk_create([
            SuiteResult(suite=suite, event=event, event_name=event.name, event_scope=event.scope,
                        body=resolve(event.body), expect=event.expect or {})
            for event in events
        ])  # fmt: skip
        _enqueue(suite.pk)
    return suite


def _caller_of(suite: SuiteRun) -> Caller:
    via = "console" if suite.trigger == SuiteRun.Trigger.CONSOLE else "system" if suite.trigger == SuiteRun.Trigger.DEPLOY else "api"
    team = suite.started_in or suite.function.team
    if suite.started_by is not None:
        return user_caller(user=suite.started_by, team=team, via=via)
    return account_caller(team, via=via)


def parallelism(function: Function, events: int) -> int:
    limit = function.reserved_concurrency if function.reserved_concurrency else settings.LAMBDA_SUITE_PARALLELISM
    return max(1, min(events, limit))


def run_suite(*, suite_id: int) -> None:
    """The worker's side: invoke every pending event, judge it, then close the run."""
    suite = SuiteRun.objects.select_related("function__team", "started_by", "started_in").filter(pk=suite_id).first()
    if suite is None or suite.status != SuiteRun.Status.RUNNING:
        return
    pending = list(suite.results.filter(status=SuiteResult.Status.PENDING))
    caller = _caller_of(suite)
    with ThreadPoolExecutor(max_workers=parallelism(suite.function, len(pending)), thread_name_prefix="suite") as pool:
        list(pool.map(lambda result: _run_one(suite, result, caller), pending))
    _close(suite)


def _run_one(suite: SuiteRun, result: SuiteResult, caller: Caller) -> None:
    import uuid

    try:
        request_id = str(uuid.uuid4())
        SuiteResult.objects.filter(pk=result.pk).update(request_id=request_id)
        try:
            pipeline.invoke(
                pipeline.InvocationRequest(
                    caller=caller, function_name=arn_of(suite.function),
                    qualifier=None if suite.qualifier == "$LATEST" else suite.qualifier,
                    payload=result.body.encode(), invocation_type=invoke_service.REQUEST_RESPONSE,
                    source=Invocation.Source.SUITE, request_id=request_id,
                )
            )  # fmt: skip
        except AwsError as error:
            _store(result, SuiteResult.Status.ERROR,
                   [expectations.Failure("Invoke", f"{error.code}: {error.message}")], response="")  # fmt: skip
            return
        recorder.flush()  # the record is the evidence: written before it is read
        record = Invocation.objects.filter(request_id=request_id).first()
        if record is None:
            _store(result, SuiteResult.Status.ERROR, [expectations.Failure("Invoke", "the invocation left no record")], "")
            return
        verdict = expectations.evaluate(result.expect, observed(record))
        status = SuiteResult.Status.PASSED if verdict.passed else SuiteResult.Status.FAILED
        _store(result, status, verdict.failures, record.response, duration_ms=record.duration_ms)
    except Exception as error:  # one event's trouble must not leave the run open for ever
        logger.exception("suite %s: event %s could not be run", suite.pk, result.event_name)
        _store(result, SuiteResult.Status.ERROR, [expectations.Failure("Invoke", f"platform error: {error}")], "")
    finally:
        connection.close()  # this pool thread's own connection


def observed(record: Invocation) -> expectations.Observed:
    succeeded = record.status == Invocation.Status.SUCCEEDED and not record.function_error
    return expectations.Observed(
        succeeded=succeeded, error_type=record.error_type, response=record.response, logs=record.logs,
        duration_ms=record.duration_ms, max_memory_used_mb=record.max_memory_used_mb,
    )  # fmt: skip


def _store(result: SuiteResult, status: str, failures: list[expectations.Failure], response: str, *,
           duration_ms: float | None = None) -> None:  # fmt: skip
    SuiteResult.objects.filter(pk=result.pk).update(
        status=status, failures=[failure.to_json() for failure in failures], response=response,
        duration_ms=duration_ms, finished_at=timezone.now(),
    )  # fmt: skip
    counter = "passed" if status == SuiteResult.Status.PASSED else "failed"
    SuiteRun.objects.filter(pk=result.suite_id).update(**{counter: F(counter) + 1})


def _close(suite: SuiteRun) -> None:
    suite.refresh_from_db()
    failed = suite.results.exclude(status=SuiteResult.Status.PASSED).exists()
    suite.status = SuiteRun.Status.FAILED if failed else SuiteRun.Status.PASSED
    suite.finished_at = timezone.now()
    suite.save(update_fields=["status", "finished_at"])
    if suite.trigger == SuiteRun.Trigger.DEPLOY:
        activity.record(caller=account_caller(suite.function.team), action=SUITE_ACTION, function=suite.function,
                        qualifier=None if suite.qualifier == "$LATEST" else suite.qualifier,
                        changes={"suite": suite.pk, "status": suite.status, "passed": suite.passed,
                                 "failed": suite.failed, "code_sha256": suite.code_sha256})  # fmt: skip


# --- reading ---------------------------------------------------------------------------------------


def suite_runs(*, caller: Caller, function: Function) -> QuerySet[SuiteRun]:
    check_function(caller, "lambda:GetTestEvent", function)
    return SuiteRun.objects.filter(function=function).select_related("started_by")


def get_suite(*, caller: Caller, function: Function, suite_id: int) -> SuiteRun:
    suite = suite_runs(caller=caller, function=function).filter(pk=suite_id).first()
    if suite is None:
        raise Http404("No such suite run")
    return suite


def last_status(functions: Iterable[Function]) -> dict[int, str]:
    """Each function's latest finished-or-not suite status (the functions list): one query that
    reads one run per function (the suite_run_recent index), however many runs each has."""
    ids = [function.pk for function in functions]
    if not ids:
        return {}
    newest = SuiteRun.objects.filter(function_id=OuterRef("pk")).order_by("-created_at", "-id").values("status")[:1]
    rows = Function.objects.filter(pk__in=ids).annotate(suite_status=Subquery(newest)).values_list("pk", "suite_status")
    return {function_id: status for function_id, status in rows if status}


def deploy_run(*, caller: Caller, function: Function, since: datetime) -> SuiteRun | None:
    """The suite run a deploy of ``function`` started at or after ``since`` (the Code tab links to it)."""
    return suite_runs(caller=caller, function=function).filter(
        trigger=SuiteRun.Trigger.DEPLOY, created_at__gte=since, started_by_id=caller.user_id  # not a concurrent deploy's
    ).first()


def compare(left: SuiteRun, right: SuiteRun) -> list[dict[str, Any]]:
    """Per event name (in either run): both results, whether the outcome changed, the response diff flag."""
    a = {result.event_name: result for result in left.results.all()}
    b = {result.event_name: result for result in right.results.all()}
    rows = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name), b.get(name)
        rows.append({
            "event": name, "left": x, "right": y,
            "changed": (x.status if x else None) != (y.status if y else None),
            "response_changed": bool(x and y and x.response != y.response),
        })  # fmt: skip
    return rows


# --- run on deploy ---------------------------------------------------------------------------------


def set_run_on_deploy(*, caller: Caller, function: Function, enabled: bool) -> SuiteSettings:
    check_function(caller, "lambda:UpdateFunctionConfiguration", function)
    with transaction.atomic():
        row, _ = SuiteSettings.objects.update_or_create(function=function, defaults={"run_on_deploy": enabled})
        activity.record(caller=caller, action="lambda:UpdateFunctionConfiguration", function=function,
                        changes={"suite_run_on_deploy": enabled})  # fmt: skip
    return row


def run_on_deploy(*, function: Function, caller: Caller) -> SuiteRun | None:
    """After an update of $LATEST: start the suite when the function asks for it and has one."""
    if not SuiteSettings.objects.filter(function=function, run_on_deploy=True).exists():
        return None
    starter = caller if caller.user_id is not None else account_caller(function.team)
    try:
        return start_suite(caller=starter, function=function, trigger=SuiteRun.Trigger.DEPLOY)
    except (SuiteError, AwsError) as error:
        logger.info("no suite on deploy of %s: %s", function.name, error)
        return None


def run_on_deploy_enabled(*, caller: Caller, function: Function) -> bool:
    """The switch as ``set_run_on_deploy`` left it (off until set): read like the configuration."""
    check_function(caller, "lambda:GetFunctionConfiguration", function)
    return SuiteSettings.objects.filter(function=function, run_on_deploy=True).exists()


# --- comparing two runs ----------------------------------------------------------------------------

MAX_DIFF_LINES = 200


def _pretty(text: str) -> list[str]:
    value = expectations.response_value(text)
    shown = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return shown.splitlines()


def response_diff(left: str, right: str, *, left_label: str = "a", right_label: str = "b") -> str:
    """A unified diff of two responses, JSON pretty-printed with sorted keys first so that key order
    and spacing are not differences ("" when they are the same); at most ``MAX_DIFF_LINES`` lines."""
    if left == right:
        return ""
    lines = list(difflib.unified_diff(_pretty(left), _pretty(right), fromfile=left_label, tofile=right_label,
                                      lineterm="", n=2))  # fmt: skip
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"… {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines)


def latest_pair(*, caller: Caller, function: Function) -> tuple[SuiteRun, SuiteRun] | None:
    """The two newest finished runs, older first (before and after the latest deploy, say)."""
    finished = list(suite_runs(caller=caller, function=function).exclude(status=SuiteRun.Status.RUNNING)
                    .order_by("-created_at", "-id")[:2])  # fmt: skip
    return (finished[1], finished[0]) if len(finished) == 2 else None


# --- events as files (the workbench API's PUT, ``workbench events push``) ---------------------------


def _same_body(old: str, new: str) -> bool:
    """The same JSON whatever the spacing and key order (1 and 1.0, true and 1 stay different)."""
    if old == new:
        return True
    try:
        return json.dumps(json.loads(old), sort_keys=True) == json.dumps(json.loads(new), sort_keys=True)
    except (ValueError, RecursionError):
        return False


def put_event(
    *, caller: Caller, function: Function, name: str, scope: str | None, body: str | None, expect: Any = UNSET,
) -> tuple[TestEvent, str]:  # fmt: skip
    """Create or update the event ``name`` in ``scope`` — returns it and "created", "updated" or
    "unchanged". ``scope`` None: the caller's private event of that name, else the shared one, else a
    new private one. A body equal as JSON to the stored one keeps the stored text, so pushing the
    same file again (formatted differently) is "unchanged" and makes no new version."""
    events = visible_events(caller=caller, function=function).filter(name=name.strip())
    if scope is not None:
        events = events.filter(scope=scope)
    existing = sorted(events, key=lambda event: event.scope != TestEvent.Scope.PRIVATE)
    if not existing:
        if body is None:
            raise EventError("body", "A new event needs a body.")
        created = create_event(caller=caller, function=function, name=name, scope=scope or TestEvent.Scope.PRIVATE,
                               body=body, expect=None if expect is UNSET else expect)  # fmt: skip
        return created, "created"
    event = existing[0]
    if body is not None and _same_body(event.body, body):
        body = None
    before = (event.name, event.body, event.expect, event.updated_at)
    event = update_event(caller=caller, event=event, body=body, expect=expect)
    return event, "unchanged" if (event.name, event.body, event.expect, event.updated_at) == before else "updated"
