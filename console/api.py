"""Saved test events and test suites over the workbench API (``/_workbench/api/functions/{name}/…``),
for the ``workbench`` CLI and CI: SigV4-signed like the AWS API (same keys, same frame, same error
shapes, the same team rules through the services).

Saved events are the console's data, so their API lives here: ``console`` depends on
``invocations`` (and its API frame), never the other way round. Every change goes through
``console/services/events.py`` or ``suites.py``, so names and expectations are checked and shared
events keep their versions. An event's expectations are its ``Expect`` (``console/expectations.py``;
``null``: not part of the suite).

* ``GET    functions/{name}/events`` — the events visible to the caller (own private + shared)
* ``GET    functions/{name}/events/{event}`` — one of them (the caller's private event wins)
* ``POST   functions/{name}/events`` — import ``{"Events": [{"Name", "Body", "Scope", "Expect"}], "Overwrite": bool}``
* ``PUT    functions/{name}/events/{event}`` — create or update ``{"Body", "Scope", "Expect"}``: 201 created,
  200 updated or unchanged (``"Result"`` says which)
* ``DELETE functions/{name}/events/{event}?Scope=private|shared`` — 204
* ``POST   functions/{name}/suites`` — start a run ``{"Qualifier": "$LATEST", "Events": [names]}``: 202
* ``GET    functions/{name}/suites`` — runs, newest first (``limit``, ``Marker``)
* ``GET    functions/{name}/suites/{id}`` — one run with its results
* ``GET    functions/{name}/suites/compare?a=ID&b=ID`` — two runs event by event (no ids: the two
  newest finished runs)
* ``GET|PUT functions/{name}/suite-settings`` — ``{"RunOnDeploy": bool}``
"""

from __future__ import annotations

import json
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django import forms
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from console.models import SuiteResult, SuiteRun, TestEvent
from console.services import events as services
from console.services import suites
from invocations import json_input
from invocations.access import Caller, find_function
from invocations.api.base import aws_operation, caller, empty_response, json_body, json_response, valid_query
from invocations.errors import InvalidParameterValueException, ResourceNotFoundException
from invocations.models import Function
from invocations.selectors import parse_control_function_name

MAX_LIMIT = 200
MAX_RESPONSE = 4096  # of a result's response in the API; the whole one is in its invocation record
FIELDS = {"name": "Name", "body": "Body", "scope": "Scope", "expect": "Expect"}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _invalid(error: services.EventError, where: str = "") -> InvalidParameterValueException:
    """An EventError named by the API's field (``Events[2].Expect: JsonPath[0].Matches: …``)."""
    message = error.message.removeprefix("Expectations: ") if error.field == "expect" else error.message
    if error.field == "expect" and message.startswith("Expect:"):  # the object itself is the place
        return InvalidParameterValueException(f"{where}{message}")
    return InvalidParameterValueException(f"{where}{FIELDS.get(error.field, error.field)}: {message}")


def _function(request: HttpRequest, function_name: str, action: str) -> tuple[Function, Caller]:
    who = caller(request)
    return find_function(who, parse_control_function_name(function_name), action, qualified=False), who


# --- saved events ----------------------------------------------------------------------------------


def _event_json(event: TestEvent) -> dict[str, Any]:
    try:
        body = json_input.loads(event.body)
    except ValueError:
        body = event.body  # kept as written (the console accepts placeholders)
    return {"Name": event.name, "Scope": event.scope, "Body": body, "Expect": event.expect,
            "Owner": getattr(event.owner, "username", None)}  # fmt: skip


def _body_text(value: Any) -> str:
    return value if isinstance(value, str) else _indented(value)


def _visible(request: HttpRequest, function_name: str) -> tuple[Function, Caller, QuerySet[TestEvent]]:
    function, who = _function(request, function_name, "lambda:GetTestEvent")
    return function, who, services.visible_events(caller=who, function=function).select_related("owner", "function")


def _scope(value: Any, where: str = "Scope") -> str | None:
    if value in (None, ""):
        return None
    if value not in TestEvent.Scope.values:
        raise InvalidParameterValueException(f"{where}: must be private or shared.")
    return str(value)


def _one(events: QuerySet[TestEvent], name: str, scope: str | None) -> TestEvent:
    # The caller's private event wins over a shared one of the same name.
    found = sorted(events.filter(name=name, **({"scope": scope} if scope else {})), key=lambda e: e.scope != "private")
    if not found:
        raise ResourceNotFoundException(f"Test event not found: {name}")
    return found[0]


def _indented(body: Any) -> str:
    """A body given as JSON, saved indented as the console shows it. Encoding recurses as parsing
    does, so a body nested about as deep as the request parser takes may fail to re-encode here."""
    try:
        return json.dumps(body, indent=2)
    except RecursionError:
        raise InvalidParameterValueException("Body is nested too deep to save as a test event.") from None


@aws_operation
def list_events(request: HttpRequest, function_name: str) -> HttpResponse:
    _, _, events = _visible(request, function_name)
    return json_response({"Events": [_event_json(e) for e in events.order_by("name", "scope")]})


@aws_operation
def get_event(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    _, _, events = _visible(request, function_name)
    return json_response(_event_json(_one(events, name, _scope(request.GET.get("Scope")))))


@aws_operation
def create_events(request: HttpRequest, function_name: str) -> HttpResponse:
    """Import: ``{"Events": [{"Name", "Body", "Scope"?, "Expect"?}], "Overwrite": bool}`` (all or
    nothing). Overwriting without an ``Expect`` key keeps the event's expectations."""
    function, who, events = _visible(request, function_name)
    body = json_body(request)
    items = body.get("Events")
    if not isinstance(items, list) or not items:
        raise InvalidParameterValueException("Events must be a non-empty list.")
    saved = []
    where = ""
    try:
        with transaction.atomic():
            for n, item in enumerate(items):
                where = f"Events[{n}]."
                if not isinstance(item, dict) or not isinstance(item.get("Name"), str) or "Body" not in item:
                    raise InvalidParameterValueException("Each event needs a Name and a Body.")
                scope = _scope(item.get("Scope"), f"{where}Scope") or "private"
                text = _body_text(item["Body"])
                existing = events.filter(name=item["Name"], scope=scope)
                existing = existing.filter(owner_id=who.user_id) if scope == "private" else existing
                current = existing.first()
                if current is not None and body.get("Overwrite"):
                    saved.append(services.update_event(caller=who, event=current, body=text,
                                                       expect=item.get("Expect", services.UNSET)))  # fmt: skip
                else:
                    saved.append(services.create_event(caller=who, function=function, name=item["Name"],
                                                       scope=scope, body=text, expect=item.get("Expect")))  # fmt: skip
    except services.EventError as error:
        raise _invalid(error, where) from None
    return json_response({"Events": [_event_json(e) for e in saved]}, status=201)


@aws_operation
def put_event(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    """Create or update one event: ``{"Body", "Scope"?, "Expect"?}`` (no ``Expect`` key: keep the
    expectations; ``null``: take the event out of the suite). 201 when created, else 200."""
    function, who = _function(request, function_name, "lambda:GetTestEvent")
    body = json_body(request)
    if "Name" in body and body["Name"] != name:
        raise InvalidParameterValueException("Name: must be the event's name in the path (renaming is not supported here).")
    text = _body_text(body["Body"]) if "Body" in body else None
    try:
        event, result = suites.put_event(caller=who, function=function, name=name, scope=_scope(body.get("Scope")),
                                         body=text, expect=body.get("Expect", services.UNSET))  # fmt: skip
    except services.EventError as error:
        raise _invalid(error) from None
    return json_response({**_event_json(event), "Result": result}, status=201 if result == "created" else 200)


@aws_operation
def delete_event(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    _, who, events = _visible(request, function_name)
    services.delete_event(caller=who, event=_one(events, name, _scope(request.GET.get("Scope"))))
    return empty_response(204)


# --- suites ----------------------------------------------------------------------------------------


class PageQuery(forms.Form):
    limit = forms.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False)
    Marker = forms.IntegerField(min_value=1, required=False)


class CompareQuery(forms.Form):
    a = forms.IntegerField(min_value=1, required=False)
    b = forms.IntegerField(min_value=1, required=False)


def _run_json(run: SuiteRun, function: Function) -> dict[str, Any]:
    return {
        "Id": run.pk,
        "FunctionName": function.name,
        "Qualifier": run.qualifier,
        "ExecutedVersion": run.executed_version or None,
        "CodeSha256": run.code_sha256 or None,
        "Trigger": run.trigger,
        "Status": run.status,
        "Total": run.total,
        "Passed": run.passed,
        "Failed": run.failed,  # failed or could not be run
        "Pending": max(0, run.total - run.passed - run.failed),
        "StartedBy": getattr(run.started_by, "username", None),
        "CreatedAt": _iso(run.created_at),
        "FinishedAt": _iso(run.finished_at),
    }


def _result_json(result: SuiteResult) -> dict[str, Any]:
    return {
        "EventName": result.event_name,
        "Scope": result.event_scope,
        "Status": result.status,
        "RequestId": result.request_id or None,
        "DurationMs": result.duration_ms,
        "Failures": result.failures,
        "Expect": result.expect,
        "Response": result.response[:MAX_RESPONSE],
        "ResponseTruncated": len(result.response) > MAX_RESPONSE,
        "FinishedAt": _iso(result.finished_at),
    }


def _detail(run: SuiteRun, function: Function) -> dict[str, Any]:
    results = list(run.results.all())
    return {**_run_json(run, function), "Errors": sum(r.status == SuiteResult.Status.ERROR for r in results),
            "Results": [_result_json(r) for r in results]}  # fmt: skip


def _run(who: Caller, function: Function, suite_id: int) -> SuiteRun:
    try:
        return suites.get_suite(caller=who, function=function, suite_id=suite_id)
    except Http404:
        raise ResourceNotFoundException(f"Suite run not found: {suite_id}") from None


@aws_operation
def start_suite(request: HttpRequest, function_name: str) -> HttpResponse:
    """Run the function's events with expectations (or exactly ``Events``) on ``Qualifier``: 202, the run."""
    function, who = _function(request, function_name, "lambda:GetTestEvent")
    body = json_body(request)
    qualifier = body.get("Qualifier") or "$LATEST"
    if not isinstance(qualifier, str) or len(qualifier) > 128:
        raise InvalidParameterValueException("Qualifier: must be $LATEST, a version number or an alias name.")
    names = body.get("Events") or []
    if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
        raise InvalidParameterValueException("Events: must be a list of saved event names.")
    try:
        run = suites.start_suite(caller=who, function=function, qualifier=qualifier, names=names,
                                 trigger=SuiteRun.Trigger.API)  # fmt: skip
    except suites.SuiteError as error:
        raise InvalidParameterValueException(str(error)) from None
    return json_response(_detail(run, function), status=202)


@aws_operation
def list_suites(request: HttpRequest, function_name: str) -> HttpResponse:
    function, who = _function(request, function_name, "lambda:GetTestEvent")
    query = valid_query(PageQuery(request.GET))
    limit = query["limit"] or 50
    rows = suites.suite_runs(caller=who, function=function)
    if query["Marker"]:
        rows = rows.filter(pk__lt=query["Marker"])
    page = list(rows.order_by("-pk")[: limit + 1])
    data: dict[str, Any] = {"SuiteRuns": [_run_json(run, function) for run in page[:limit]]}
    if len(page) > limit:
        data["NextMarker"] = str(page[limit - 1].pk)
    return json_response(data)


@aws_operation
def get_suite(request: HttpRequest, function_name: str, suite_id: str) -> HttpResponse:
    function, who = _function(request, function_name, "lambda:GetTestEvent")
    return json_response(_detail(_run(who, function, int(suite_id)), function))


def _side(result: SuiteResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"Status": result.status, "RequestId": result.request_id or None, "DurationMs": result.duration_ms,
            "Failures": result.failures}  # fmt: skip


@aws_operation
def compare_suites(request: HttpRequest, function_name: str) -> HttpResponse:
    """Two runs event by event: which changed outcome, and how each response differs (a unified
    diff of the pretty-printed JSON). Without ``a`` and ``b``: the two newest finished runs."""
    function, who = _function(request, function_name, "lambda:GetTestEvent")
    query = valid_query(CompareQuery(request.GET))
    if query["a"] and query["b"]:
        left, right = _run(who, function, query["a"]), _run(who, function, query["b"])
    elif query["a"] or query["b"]:
        raise InvalidParameterValueException("Give both a and b (suite run ids), or neither for the two newest runs.")
    else:
        pair = suites.latest_pair(caller=who, function=function)
        if pair is None:
            raise ResourceNotFoundException("This function has fewer than two finished suite runs to compare.")
        left, right = pair
    rows = []
    for row in suites.compare(left, right):
        x, y = row["left"], row["right"]
        rows.append({
            "EventName": row["event"], "A": _side(x), "B": _side(y), "OutcomeChanged": row["changed"],
            "ResponseChanged": row["response_changed"],
            "ResponseDiff": suites.response_diff(x.response, y.response, left_label=f"suite {left.pk}",
                                                 right_label=f"suite {right.pk}") if x and y else "",
        })  # fmt: skip
    return json_response({"A": _run_json(left, function), "B": _run_json(right, function),
                          "Changed": [row["EventName"] for row in rows if row["OutcomeChanged"]],
                          "Events": rows})  # fmt: skip


@aws_operation
def get_suite_settings(request: HttpRequest, function_name: str) -> HttpResponse:
    function, who = _function(request, function_name, "lambda:GetFunctionConfiguration")
    return json_response({"RunOnDeploy": suites.run_on_deploy_enabled(caller=who, function=function)})


@aws_operation
def put_suite_settings(request: HttpRequest, function_name: str) -> HttpResponse:
    function, who = _function(request, function_name, "lambda:UpdateFunctionConfiguration")
    enabled = json_body(request).get("RunOnDeploy")
    if not isinstance(enabled, bool):
        raise InvalidParameterValueException("RunOnDeploy: must be true or false.")
    row = suites.set_run_on_deploy(caller=who, function=function, enabled=enabled)
    return json_response({"RunOnDeploy": row.run_on_deploy})
