"""The Monitor tab of a function and the team's dashboard: a time picker (a plain GET form), charts
drawn by uPlot from a JSON endpoint, and each chart's numbers in a table under it (built from the
JSON when opened; without JavaScript a link renders that one table on the server). Everything but the Event-queue gauges comes from the
per-minute rollups (``console/monitor.py``)."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from console import monitor
from console.access import console_caller, current_team, get_visible_function
from console.views.common import HtmxHttpRequest, login_required, render_page

# (id, title, unit, series shown) — the table fallback shows the same series.
CHARTS = (
    ("invocations", "Invocations, errors and throttles", "count", ("invocations", "errors", "throttles")),
    ("duration", "Duration p50, p90 and p99", "ms", ("p50", "p90", "p99")),
    ("concurrency", "Concurrent executions (most seen)", "count", ("concurrency",)),
    ("cold-starts", "Cold starts", "count", ("cold_starts",)),
    ("async", "Event invocations enqueued and processed", "count", ("async_enqueued", "async_processed")),
    ("lag", "Trigger lag (enqueue or arrival to invoke)", "ms", ("lag_avg", "lag_max")),
    ("batches", "Event-source batches and their average size", "count", ("batches", "batch_size_avg")),
)
LABELS = {
    "invocations": "Invocations", "errors": "Errors", "throttles": "Throttles", "p50": "p50", "p90": "p90",
    "p99": "p99", "concurrency": "Concurrent", "cold_starts": "Cold starts", "async_enqueued": "Enqueued",
    "async_processed": "Processed", "lag_avg": "Average lag", "lag_max": "Longest lag", "batches": "Batches",
    "batch_size_avg": "Average batch size",
}  # fmt: skip


def _picked(request: HtmxHttpRequest) -> tuple[monitor.RangeForm, monitor.Window]:
    form = monitor.RangeForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    return form, form.window(timezone.now())


def _charts(data: dict[str, Any], numbers: str | None) -> list[dict[str, Any]]:
    """The charts; only the one asked for (``?numbers=<id>``, the no-script link) has its table
    rendered here: the script builds a table from the JSON when its <details> is opened, so a
    week's page does not render 7 × 168 rows nobody reads."""
    return [
        {"id": chart_id, "title": title, "unit": unit, "series": [{"key": k, "label": LABELS[k]} for k in keys],
         "rows": monitor.rows_with_data(data, keys) if numbers == chart_id else None}
        for chart_id, title, unit, keys in CHARTS
    ]  # fmt: skip


def _page(request: HtmxHttpRequest, template: str, *, account_id: str, function_name: str | None,
          data_url: str, extra: dict[str, Any]) -> HttpResponse:  # fmt: skip
    form, window = _picked(request)
    data = monitor.series(account_id=account_id, window=window, function_name=function_name)
    picked = request.GET.copy()
    picked.pop("numbers", None)
    query = picked.urlencode() if form.is_bound and not form.errors else ""
    context = {
        "form": form, "window": window, "data": data, "charts": _charts(data, request.GET.get("numbers")),
        "totals": data["totals"], "query": query,
        "window_start": datetime.fromtimestamp(data["start"], tz=dt_timezone.utc),
        "window_end": datetime.fromtimestamp(data["end"], tz=dt_timezone.utc),
        "data_url": f"{data_url}?{query}" if query else data_url, "ranges": monitor.RANGES, **extra,
    }  # fmt: skip
    return render_page(request, template, context, status=400 if form.errors else 200)


@login_required
@require_GET
def function_monitor(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    gauge = monitor.event_queue(account_id=function.team.account_id, function_id=function.pk)
    return _page(request, "console/function_monitor.html", account_id=function.team.account_id, function_name=function.name,
                 data_url=reverse("console:function_monitor_data", args=[function.name]),
                 extra={"function": function, "tab": "monitor", "queue": gauge})  # fmt: skip


@login_required
@require_GET
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    team = current_team(request)
    if team is None:
        return render_page(request, "console/monitor.html", {"team": None, "charts": []})
    console_caller(request)  # the same caller every console page is checked as
    form, window = _picked(request)
    gauge = monitor.event_queue(account_id=team.account_id)
    functions = monitor.by_function(account_id=team.account_id, window=window)
    return _page(request, "console/monitor.html", account_id=team.account_id, function_name=None,
                 data_url=reverse("console:monitor_data"), extra={"team": team, "queue": gauge, "functions": functions})  # fmt: skip


def _json(request: HtmxHttpRequest, *, account_id: str, function_name: str | None) -> JsonResponse:
    form = monitor.RangeForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return JsonResponse({"errors": {field: [str(e) for e in errors] for field, errors in form.errors.items()}}, status=400)
    return JsonResponse(monitor.series(account_id=account_id, window=form.window(timezone.now()), function_name=function_name))


@login_required
@require_GET
def function_monitor_data(request: HtmxHttpRequest, name: str) -> JsonResponse:
    function = get_visible_function(request, name)
    return _json(request, account_id=function.team.account_id, function_name=function.name)


@login_required
@require_GET
def monitor_data(request: HtmxHttpRequest) -> JsonResponse:
    team = current_team(request)
    if team is None:
        return JsonResponse({"errors": {"team": ["You are in no team."]}}, status=404)
    return _json(request, account_id=team.account_id, function_name=None)
