"""What the Monitor tab and the team dashboard show: series read from the per-minute rollups
(``invocations/rollups.py``) only, bucketed in SQL so a week answers in one grouped query, and the
live Event-queue gauges read from the queued rows themselves.

The step is the smallest of ``STEPS`` that keeps a window at or under ``MAX_POINTS`` points, as
CloudWatch widens its period for long ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any

from django import forms
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from invocations import rollups, rows
from invocations.models import DURATION_BUCKETS, Invocation, MetricMinute

MAX_POINTS = 300
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)  # minutes
RANGES = {"1h": ("Last hour", 60), "1d": ("Last day", 1440), "1w": ("Last week", 10080)}
MAX_CUSTOM = timedelta(days=90)


def step_for(minutes: int) -> int:
    for step in STEPS:
        if math.ceil(minutes / step) <= MAX_POINTS:
            return step
    return STEPS[-1]


class RangeForm(forms.Form):
    """The time picker: a preset, or ``custom`` with a start and an end (UTC)."""

    range = forms.ChoiceField(choices=[*((k, v[0]) for k, v in RANGES.items()), ("custom", "Custom")], required=False)
    start = forms.DateTimeField(required=False, label="Start (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(required=False, label="End (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("range") == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None and "start" not in self.errors:
                self.add_error("start", "Give a start time for a custom range.")
            if end is None and "end" not in self.errors:
                self.add_error("end", "Give an end time for a custom range.")
            if start and end:
                if end <= start:
                    self.add_error("end", "The end must be after the start.")
                elif end - start > MAX_CUSTOM:
                    self.add_error("end", "A custom range can span at most 90 days.")
        return data

    def window(self, now: datetime) -> Window:
        """The chosen window (call after ``is_valid``); the last hour when nothing is chosen."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("range") == "custom":
            start, end = data["start"].astimezone(dt_timezone.utc), data["end"].astimezone(dt_timezone.utc)
            return Window.of(rollups.minute_of(start), rollups.minute_of(end - timedelta(microseconds=1)) + 1)
        minutes = RANGES[data.get("range") or "1h"][1]
        end_minute = rollups.minute_of(now) + 1
        return Window.of(end_minute - minutes, end_minute)


@dataclass(frozen=True)
class Window:
    start: int  # minute (inclusive)
    end: int  # minute (exclusive)
    step: int  # minutes per point

    @classmethod
    def of(cls, start: int, end: int) -> Window:
        step = step_for(end - start)
        return cls(start=start, end=end, step=step)

    @property
    def points(self) -> int:
        return math.ceil((self.end - self.start) / self.step)


_SUMMED = (
    "invocations", "errors", "throttles", "cold_starts", "duration_count", "duration_sum_ms", "async_enqueued",
    "async_processed", "batches", "batch_records", "lag_count", "lag_sum_ms", *DURATION_BUCKETS,
)  # fmt: skip
_MAXED = ("duration_max_ms", "max_concurrent", "lag_max_ms")


def _aggregates() -> str:
    return ", ".join(
        [f"SUM({rows.column(MetricMinute, n)})" for n in _SUMMED] + [f"MAX({rows.column(MetricMinute, n)})" for n in _MAXED]
    )


def _grouped_sql(by_function: bool, *, one_function: bool = False) -> str:
    def build() -> str:
        minute, name = rows.column(MetricMinute, "minute"), rows.column(MetricMinute, "function_name")
        where = f"{rows.column(MetricMinute, 'account_id')} = %s AND {minute} >= %s AND {minute} < %s"
        if by_function:
            return (f"SELECT {name}, {_aggregates()} FROM {rows.table(MetricMinute)} WHERE {where} "
                    f"GROUP BY {name} ORDER BY {name}")  # fmt: skip
        return (
            f"SELECT ({minute} - %s) / %s AS b, {_aggregates()} FROM {rows.table(MetricMinute)} "
            f"WHERE {where}{f' AND {name} = %s' if one_function else ''} GROUP BY b ORDER BY b"
        )

    return rows.statement(("monitor-series", by_function, one_function), build)


def _values(row: Any) -> dict[str, float]:
    return {name: float(value or 0) for name, value in zip((*_SUMMED, *_MAXED), row)}


def _percentiles(v: dict[str, float]) -> dict[str, float | None]:
    buckets = [v[name] for name in DURATION_BUCKETS]
    maximum = v["duration_max_ms"] or None
    return {f"p{p}": _round(rollups.percentile(buckets, p, maximum=maximum)) for p in (50, 90, 99)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


SERIES = (
    "invocations", "errors", "throttles", "cold_starts", "p50", "p90", "p99", "concurrency",
    "async_enqueued", "async_processed", "lag_avg", "lag_max", "batches", "batch_size_avg",
)  # fmt: skip


def point(v: dict[str, float]) -> dict[str, float | None]:
    return {
        "invocations": v["invocations"], "errors": v["errors"], "throttles": v["throttles"], "cold_starts": v["cold_starts"],
        **_percentiles(v),
        "concurrency": v["max_concurrent"],
        "async_enqueued": v["async_enqueued"], "async_processed": v["async_processed"],
        "lag_avg": _round(v["lag_sum_ms"] / v["lag_count"]) if v["lag_count"] else None,
        "lag_max": _round(v["lag_max_ms"]) if v["lag_count"] else None,
        "batches": v["batches"],
        "batch_size_avg": _round(v["batch_records"] / v["batches"]) if v["batches"] else None,
    }  # fmt: skip


def series(*, account_id: str, window: Window, function_name: str | None = None) -> dict[str, Any]:
    """The window's points (every step, empty ones with zero counts and no percentiles) and totals."""
    params: list[Any] = [window.start, window.step, account_id, window.start, window.end]
    if function_name is not None:
        params.append(function_name)
    with connection.cursor() as cursor:
        cursor.execute(_grouped_sql(False, one_function=function_name is not None), params)
        found = {int(row[0]): _values(row[1:]) for row in cursor.fetchall()}
    empty = dict.fromkeys((*_SUMMED, *_MAXED), 0.0)
    total = dict(empty)
    result: dict[str, Any] = {name: [] for name in SERIES}
    result["t"] = []
    for index in range(window.points):
        values = found.get(index, empty)
        for name in _SUMMED:
            total[name] += values[name]
        for name in _MAXED:
            total[name] = max(total[name], values[name])
        result["t"].append((window.start + index * window.step) * 60)
        for name, value in point(values).items():
            result[name].append(value)
    return {"start": window.start * 60, "end": window.end * 60, "step": window.step * 60, "series": result,
            "totals": point(total)}  # fmt: skip


def by_function(*, account_id: str, window: Window) -> list[dict[str, Any]]:
    """Each function's totals over the window (the dashboard's table), by name."""
    with connection.cursor() as cursor:
        cursor.execute(_grouped_sql(True), [account_id, window.start, window.end])
        return [{"name": row[0], **point(_values(row[1:]))} for row in cursor.fetchall()]


@dataclass(frozen=True)
class QueueGauge:
    depth: int
    oldest_age_s: float | None


def event_queue(*, account_id: str, function_id: int | None = None, now: datetime | None = None) -> QueueGauge:
    """Event invocations waiting now (queued: not yet run, or waiting for a retry), and the age of
    the oldest. Read from the queued rows through the (status, created_at) index: the queue is
    short next to the table."""
    queued = Invocation.objects.filter(status=Invocation.Status.QUEUED, account_id=account_id)
    if function_id is not None:
        queued = queued.filter(function_id=function_id)
    found = queued.aggregate(depth=Count("id"), oldest=Min("created_at"))
    now = now or timezone.now()
    oldest = found["oldest"]
    return QueueGauge(depth=found["depth"], oldest_age_s=(now - oldest).total_seconds() if oldest else None)


def rows_with_data(data: dict[str, Any], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The table fallback of one chart: its points that have a value, with their times."""
    out = []
    s = data["series"]
    for index, t in enumerate(s["t"]):
        values = [s[name][index] for name in names]
        if any(v for v in values):
            out.append({"time": datetime.fromtimestamp(t, tz=dt_timezone.utc), "values": values})
    return out
