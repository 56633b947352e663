"""The Logs tab: a function's log streams (one per execution environment), a stream's lines, a search
across streams by text and time, and a live tail that polls every second (htmx) from the cursor of
the last line shown, so a line never appears twice.

Every line comes from ``invocations.log_events.log_events``; this view only parses and renders.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from console.access import get_visible_function
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations import log_events
from invocations.models import Function

TEMPLATE = "console/function_logs.html"
PAGE_LINES = 500
DEFAULT_WINDOW = timedelta(hours=1)  # a search of all streams without a start: the last hour
UTC_INPUT = "%Y-%m-%dT%H:%M"


class LogSearchForm(forms.Form):
    stream = forms.CharField(max_length=128, required=False, widget=forms.HiddenInput)
    q = forms.CharField(max_length=1024, required=False, strip=False, label="Text",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. ERROR"}))
    regex = forms.BooleanField(required=False, label="Regular expression")
    start = forms.DateTimeField(required=False, label="From (UTC)", input_formats=[UTC_INPUT, "%Y-%m-%dT%H:%M:%S"],
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=UTC_INPUT))
    end = forms.DateTimeField(required=False, label="To (UTC)", input_formats=[UTC_INPUT, "%Y-%m-%dT%H:%M:%S"],
                              widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=UTC_INPUT))
    after = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def clean_start(self) -> datetime | None:
        return _utc(self.cleaned_data["start"])

    def clean_end(self) -> datetime | None:
        return _utc(self.cleaned_data["end"])

    def clean_after(self) -> str:
        after: str = self.cleaned_data["after"]
        if after and log_events.parse_cursor(after) is None:
            raise forms.ValidationError("This page link is not valid; search again.")
        return after

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end is before the start.")
        data["pattern"] = None
        if data.get("regex") and data.get("q"):
            try:
                data["pattern"] = log_events.compile_pattern(data["q"])
            except ValueError as error:
                message = str(error)
                self.add_error("q", f"{message[:1].upper()}{message[1:]}.")
        return data


def _utc(value: datetime | None) -> datetime | None:
    """The form's times are UTC (the console shows UTC everywhere), whatever the server's zone."""
    if value is None:
        return None
    return timezone.make_naive(value).replace(tzinfo=dt_timezone.utc) if timezone.is_aware(value) else value.replace(tzinfo=dt_timezone.utc)


def _search(function: Function, data: dict[str, Any], *, after: str | None) -> tuple[log_events.LogPage, str]:
    """The page of lines, and the cursor a live tail starts from (after the page; when the page read
    nothing, the start of the search, never the whole history)."""
    start = data.get("start")
    if start is None and not data.get("stream") and not after:
        start = timezone.now() - DEFAULT_WINDOW
    page = log_events.log_events(
        function, stream=data.get("stream") or None, text=None if data.get("pattern") else data.get("q") or None,
        pattern=data.get("pattern"), start=start, end=data.get("end"), after=after, limit=PAGE_LINES,
    )  # fmt: skip
    return page, page.cursor or (log_events.start_cursor(start) if start else "")


def _query(data: dict[str, Any], **extra: str) -> str:
    """The search as a query string (times back in the form's format), with ``extra`` on top."""
    values = {
        "stream": data.get("stream") or "", "q": data.get("q") or "", "regex": "on" if data.get("regex") else "",
        "start": data["start"].strftime(UTC_INPUT) if data.get("start") else "",
        "end": data["end"].strftime(UTC_INPUT) if data.get("end") else "",
    }  # fmt: skip
    values.update(extra)
    return urlencode({k: v for k, v in values.items() if v})


def _context(request: HtmxHttpRequest, function: Function, form: LogSearchForm, **extra: Any) -> dict[str, Any]:
    return {"function": function, "tab": "logs", "form": form,
            "tail_url": reverse("console:function_logs_tail", args=[function.name]), **extra}


@login_required
@require_GET
def function_logs(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = LogSearchForm(request.GET or None)
    if request.GET and not form.is_valid():
        context = _context(request, function, form, streams=log_events.log_streams(function), page=None)
        return render_page(request, TEMPLATE, context, partial="results", status=400)
    data = form.cleaned_data if request.GET else {}
    page, cursor = _search(function, data, after=data.get("after") or None)
    context = _context(request, function, form, streams=log_events.log_streams(function), page=page, cursor=cursor,
                       stream=data.get("stream") or "", query=_query(data), tailing=request.GET.get("tail") == "1",
                       more_query=_query(data, after=page.cursor) if page.more else "")  # fmt: skip
    return render_page(request, TEMPLATE, context, partial="results")


@login_required
@require_GET
def function_logs_tail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """Live tail. ``tail=1``/``tail=0`` start and stop it (the control region); ``poll=1`` is the
    poller's request: the lines that finished after ``after`` and a poller that carries the new cursor."""
    function = get_visible_function(request, name)
    form = LogSearchForm(request.GET)
    if not form.is_valid():
        return HttpResponse(status=400)
    data = form.cleaned_data
    tailing = request.GET.get("tail") != "0"
    after = data.get("after") or ""
    lines: list[log_events.LogEvent] = []
    if tailing:
        page = log_events.log_events(
            function, stream=data.get("stream") or None, text=None if data.get("pattern") else data.get("q") or None,
            pattern=data.get("pattern"), end=data.get("end"), after=after or None, limit=PAGE_LINES,
        )  # fmt: skip
        lines, after = page.events, page.cursor
    context = _context(request, function, form, stream=data.get("stream") or "", query=_query(data), tailing=tailing,
                       cursor=after, lines=lines)
    partial = "poller" if request.GET.get("poll") == "1" and tailing else "tail_control"
    return render_page(request, f"console/function_logs.html#{partial}", context)
