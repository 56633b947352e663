"""``GET _workbench/api/functions/{name}/logs`` — a function's log events, CloudWatch-like.

Read with ``lambda:ListInvocations`` on the function, as its invocation history is. Query:
``logStreamName`` (one stream), ``filterPattern`` (a case-insensitive substring), ``regex`` (a
Python regular expression, case-insensitive), ``startTime``/``endTime`` (epoch milliseconds, as
CloudWatch's), ``limit`` (1–10,000, default 1,000) and ``nextToken`` (or ``since``: the same cursor).

Answer: ``events`` (``logStreamName``, ``timestamp`` and ``ingestionTime`` in epoch ms, ``message``,
``eventId``, ``requestId``), ``nextToken`` when more may be read at once, and ``since``: the cursor to
poll with for what finishes later (``workbench logs --follow``; it never repeats a line).
"""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse

from invocations import log_events
from invocations.access import find_function
from invocations.api.base import aws_operation, caller, json_response, valid_query
from invocations.selectors import parse_control_function_name

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


class LogsQuery(forms.Form):
    logStreamName = forms.CharField(max_length=512, required=False)
    filterPattern = forms.CharField(max_length=1024, required=False, strip=False)
    regex = forms.CharField(max_length=log_events.MAX_PATTERN, required=False, strip=False)
    startTime = forms.IntegerField(min_value=0, max_value=MAX_MS, required=False)
    endTime = forms.IntegerField(min_value=0, max_value=MAX_MS, required=False)
    limit = forms.IntegerField(min_value=1, max_value=log_events.MAX_LIMIT, required=False)
    nextToken = forms.CharField(max_length=64, required=False)
    since = forms.CharField(max_length=64, required=False)

    def clean_regex(self) -> Any:
        text = self.cleaned_data["regex"]
        if not text:
            return None
        try:
            return log_events.compile_pattern(text)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("nextToken", "since"):
            if data.get(name) and log_events.parse_cursor(data[name]) is None:
                self.add_error(name, "This token was not given out by this API.")
        data["cursor"] = data.get("nextToken") or data.get("since") or ""
        start, end = data.get("startTime"), data.get("endTime")
        if start is not None and end is not None and start > end:
            self.add_error("endTime", "endTime is before startTime.")
        return data


def _when(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=dt_timezone.utc) if ms is not None else None


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@aws_operation
def get_log_events(request: HttpRequest, function_name: str) -> HttpResponse:
    who = caller(request)
    function = find_function(who, parse_control_function_name(function_name), "lambda:ListInvocations", qualified=False)
    query = valid_query(LogsQuery(request.GET))
    page = log_events.log_events(
        function, stream=query["logStreamName"] or None, text=query["filterPattern"] or None, pattern=query["regex"],
        start=_when(query["startTime"]), end=_when(query["endTime"]), after=query["cursor"] or None,
        limit=query["limit"] or log_events.DEFAULT_LIMIT,
    )  # fmt: skip
    data: dict[str, Any] = {
        "events": [{"logStreamName": e.stream, "timestamp": _ms(e.timestamp), "ingestionTime": _ms(e.timestamp),
                    "message": e.message, "eventId": e.event_id, "requestId": e.request_id} for e in page.events],
        "since": page.cursor,
    }
    if page.more:
        data["nextToken"] = page.cursor
    return json_response(data)
