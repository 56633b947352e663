"""The Test tab: the event editor, templates, the Test button and the polled result panel."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from console import event_templates, expect_form, placeholders
from console.access import allowed, console_caller, get_visible_function
from console.forms import TestForm
from console.models import TestEvent, TestRun
from console.selectors import qualifiers
from console.services import events as event_service
from console.services import runs
from console.timeline_view import result_context
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.models import LATEST, Function

TEMPLATE = "console/function_test.html"


def qualifier_groups(function: Function, names: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The qualifier picker's option groups: (value, label) with each alias's version in its label
    ("live → 3", or "live → 3 / 4 (10%)" with weighted routing)."""
    aliases = {a.name: a for a in function.aliases.all()}
    versions = [(n, f"Version {n}") for n in names if n != LATEST and n not in aliases]
    labelled = []
    for n in names:
        if n in aliases:
            weights = (aliases[n].routing_config or {}).get("AdditionalVersionWeights") or {}
            extra = "".join(f" / {v} ({round(w * 100)}%)" for v, w in weights.items())
            labelled.append((n, f"{n} → {aliases[n].function_version}{extra}"))
    groups = [("Unpublished", [(LATEST, LATEST)])]
    if versions:
        groups.append(("Versions", versions))
    if labelled:
        groups.append(("Aliases", labelled))
    return groups


def editor_context(
    request: HtmxHttpRequest, function: Function, *, event: TestEvent | None = None, body: str | None = None,
    template_key: str = "", form_errors: dict[str, Any] | None = None, name: str = "", scope: str = "",
    expect: expect_form.ExpectFields | None = None, note: str = "", status: str = "",
) -> dict[str, Any]:  # fmt: skip
    if body is None:
        body = event.body if event else event_templates.BY_KEY.get(template_key, event_templates.DEFAULT).body
    caller = console_caller(request)
    names = qualifiers(function)
    # The qualifier picked before a Save or a template switch stays picked (the editor is redrawn).
    picked = request.POST.get("qualifier") or request.GET.get("qualifier") or LATEST
    return {
        "function": function,
        "tab": "test",
        "event": event,
        "body": body,
        "event_name": name or (event.name if event else ""),
        "event_scope": scope or (event.scope if event else TestEvent.Scope.PRIVATE),
        "template_key": template_key,
        "templates": event_templates.TEMPLATES,
        "placeholders_found": placeholders.found(body),
        "events": list(event_service.visible_events(function=function, caller=caller).select_related("owner")),
        "qualifiers": names,
        "qualifier_groups": qualifier_groups(function, names),
        "qualifier": picked if picked in names else LATEST,
        "may_change_scope": event is None or event_service.may_change_scope(caller=caller, event=event),
        "errors": form_errors or {},
        "expect": expect or expect_form.from_expect(event.expect if event else None),
        "expect_json": json.dumps(event.expect, indent=2, ensure_ascii=False) if event and event.expect is not None else "",
        "note": note,
        "status": status,
        "may_run": allowed(caller, "lambda:InvokeFunction", function),
    }


@login_required
@require_GET
def test_page(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    event = None
    if request.GET.get("event", "").isdigit():
        event = event_service.get_event(function=function, caller=console_caller(request), event_id=int(request.GET["event"]))
    template_key = request.GET.get("template", "")
    if template_key and template_key not in event_templates.BY_KEY:
        template_key = ""
    context = editor_context(request, function, event=event, template_key=template_key)
    return render_page(request, TEMPLATE, context, partial="editor")


@login_required
@require_POST
def run_test(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = TestForm(request.POST)
    if not form.is_valid():
        context = {"function": function, "form_errors": form.errors, "run": None}
        return render_page(request, TEMPLATE, {**editor_context(request, function, body=request.POST.get("body", "")), **context}, partial="result", status=422 if request.htmx else 200)
    qualifier = form.cleaned_data["qualifier"] or "$LATEST"
    if qualifier not in qualifiers(function):
        form_errors = {"qualifier": [f"Unknown qualifier {qualifier}."]}
        return render_page(request, TEMPLATE, {**editor_context(request, function, body=form.cleaned_data["body"]), "form_errors": form_errors}, partial="result", status=422 if request.htmx else 200)
    started = runs.start_test(
        function=function, caller=console_caller(request), body=form.cleaned_data["body"], qualifier=qualifier,
        asynchronous=form.cleaned_data["asynchronous"],
    )  # fmt: skip
    if not request.htmx:
        return redirect(reverse("console:test_run", args=[function.name, started.run.pk]))
    event_id = request.POST.get("event_id", "")
    context = {"function": function, **result_context(started.run), "event_id": int(event_id) if event_id.isdigit() else None}
    return render_page(request, TEMPLATE, context, partial="result")


@login_required
@require_GET
def test_run(request: HtmxHttpRequest, name: str, run_id: int) -> HttpResponse:
    """The result panel (polled every 500 ms by htmx until final), or the run's own page without JS."""
    function = get_visible_function(request, name)
    run = runs.get_run(function=function, run_id=run_id)
    event_id = request.GET.get("event", "")
    # The event the editor held when Test was pressed: the panel offers to approve this response for it.
    context = {"function": function, "tab": "test", **result_context(run), "event_id": int(event_id) if event_id.isdigit() else None}
    if not request.htmx:
        return render_page(request, "console/test_run.html", context)
    response = render_page(request, TEMPLATE, context, partial="result")
    if context["final"]:
        stop = HttpResponseStopPolling(response.content)
        return stop
    return response


@login_required
@require_POST
def preview(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The event as it would be sent: placeholders resolved (each press draws new values)."""
    function = get_visible_function(request, name)
    body = request.POST.get("body", "")
    problem = None
    try:
        placeholders.check_json(body)
    except placeholders.JsonProblem as error:
        problem = error
    resolved = placeholders.pretty(placeholders.resolve(body)) if problem is None else ""
    context = {"function": function, "problem": problem, "resolved": resolved, "found": placeholders.found(body)}
    return render_page(request, "console/preview.html", context)


@login_required
@require_POST
def validate(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The editor's inline check: the first JSON error's line and column (Python's parser is exact,
    where browsers' JSON.parse messages often leave the position out)."""
    get_visible_function(request, name)
    try:
        placeholders.check_json(request.POST.get("body", ""))
    except placeholders.JsonProblem as problem:
        return JsonResponse({"ok": False, "line": problem.line, "column": problem.column, "message": problem.message})
    return JsonResponse({"ok": True})
