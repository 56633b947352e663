"""Test suites in the console: Run all, a suite run's live table, the runs list, compare, run on deploy.

The views translate: console/services/suites.py starts, runs, reads and judges (and checks who may).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from console.access import allowed, console_caller, get_visible_function
from console.diffs import pretty_value, side_by_side
from console.forms import RunAllForm, RunOnDeployForm, SuiteCompareForm
from console.models import SuiteResult, SuiteRun
from console.selectors import qualifiers
from console.services import suites
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.models import Function

RUN_TEMPLATE = "console/suite_run.html"
LIST_SIZE = 50


def _failures(result: SuiteResult) -> list[dict[str, Any]]:
    """A result's failures with Expected vs Actual as a side-by-side diff (JSON indented to line up)."""
    shown = []
    for failure in result.failures:
        expected, actual = failure.get("Expected", ""), failure.get("Actual", "")
        diff = side_by_side(pretty_value(expected), pretty_value(actual)) if expected or actual else []
        shown.append({"where": failure.get("Where", ""), "message": failure.get("Message", ""), "diff": diff})
    return shown


def run_context(function: Function, suite: SuiteRun) -> dict[str, Any]:
    results = list(suite.results.all())
    return {
        "function": function, "tab": "suites", "suite": suite,
        "rows": [{"result": result, "failures": _failures(result)} for result in results],
        "done": sum(1 for result in results if result.status != SuiteResult.Status.PENDING),
        "final": suite.status != SuiteRun.Status.RUNNING,
    }  # fmt: skip


@login_required
@require_POST
def run_all(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The Test tab's Run all: start a suite run and show its table (which polls until it is done)."""
    function = get_visible_function(request, name)
    form = RunAllForm(request.POST)
    if not form.is_valid():
        return _not_started(request, function, " ".join(e for errors in form.errors.values() for e in errors))
    try:
        suite = suites.start_suite(
            caller=console_caller(request), function=function, qualifier=form.cleaned_data["qualifier"] or "$LATEST",
            names=form.cleaned_data["events"],
        )  # fmt: skip
    except suites.SuiteError as error:
        return _not_started(request, function, str(error))
    if not request.htmx:
        return redirect(reverse("console:suite_run", args=[function.name, suite.pk]))
    return render_page(request, RUN_TEMPLATE, run_context(function, suite), partial="run")


def _not_started(request: HtmxHttpRequest, function: Function, message: str) -> HttpResponse:
    if not request.htmx:
        messages.error(request, f"The suite did not start: {message}")
        return redirect(reverse("console:test", args=[function.name]))
    return render_page(request, RUN_TEMPLATE, {"function": function, "refusal": message}, partial="run", status=422)


@login_required
@require_GET
def suite_run(request: HtmxHttpRequest, name: str, suite_id: int) -> HttpResponse:
    """A suite run's table (polled every 500 ms by htmx until the run is over), or its own page."""
    function = get_visible_function(request, name)
    suite = suites.get_suite(caller=console_caller(request), function=function, suite_id=suite_id)
    context = run_context(function, suite)
    if not request.htmx:
        return render_page(request, RUN_TEMPLATE, context)
    response = render_page(request, RUN_TEMPLATE, context, partial="run")
    return HttpResponseStopPolling(response.content) if context["final"] else response


@login_required
@require_GET
def suite_list(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The function's suite runs (newest first), two of them to compare, and the run-on-deploy switch."""
    function = get_visible_function(request, name)
    return render_page(request, "console/suites.html", _list_context(request, function))


def _list_context(request: HtmxHttpRequest, function: Function) -> dict[str, Any]:
    caller = console_caller(request)
    runs = list(suites.suite_runs(caller=caller, function=function)[:LIST_SIZE])
    return {
        "function": function, "tab": "suites", "runs": runs,
        "pick_a": runs[1].pk if len(runs) > 1 else None, "pick_b": runs[0].pk if runs else None,
        "run_on_deploy": suites.run_on_deploy_enabled(caller=caller, function=function),
        "may_configure": allowed(caller, "lambda:UpdateFunctionConfiguration", function),
        "qualifiers": qualifiers(function), "may_run": allowed(caller, "lambda:InvokeFunction", function),
    }  # fmt: skip


@login_required
@require_POST
def run_on_deploy(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The per-function switch: a code or configuration update of $LATEST starts the suite."""
    function = get_visible_function(request, name)
    form = RunOnDeployForm(request.POST)
    if form.is_valid():
        enabled = form.cleaned_data["run_on_deploy"] == "on"
        suites.set_run_on_deploy(caller=console_caller(request), function=function, enabled=enabled)
        messages.success(request, f"Run on deploy is {'on' if enabled else 'off'}.")
    else:
        messages.error(request, "Choose on or off.")
    return redirect(reverse("console:suites", args=[function.name]))


@login_required
@require_GET
def compare_suites(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """Two suite runs side by side: per event both statuses, the changed outcomes, the response diffs."""
    function = get_visible_function(request, name)
    form = SuiteCompareForm(request.GET)
    if not form.is_valid():
        context = {**_list_context(request, function), "compare_form": form}
        return render_page(request, "console/suites.html", context, status=400)
    caller = console_caller(request)
    left = suites.get_suite(caller=caller, function=function, suite_id=form.cleaned_data["a"])
    right = suites.get_suite(caller=caller, function=function, suite_id=form.cleaned_data["b"])
    rows = suites.compare(left, right)
    for row in rows:
        row["diff"] = (
            side_by_side(pretty_value(row["left"].response), pretty_value(row["right"].response)) if row["response_changed"] else []
        )  # fmt: skip
    context = {
        "function": function, "tab": "suites", "left": left, "right": right, "rows": rows,
        "changed": sum(1 for row in rows if row["changed"]),
    }  # fmt: skip
    return render_page(request, "console/suite_compare.html", context)
