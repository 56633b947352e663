"""What the Monitor tab and the team dashboard show: series read from the rollups
(``invocations/rollups.py``) only, and the live Event-queue gauges read from the queued rows.

The step is the finest rollup level (1, 5, 60 or 1440 minutes) that keeps a window at or under
``MAX_POINTS`` points, as CloudWatch widens its period for long ranges, and the window is widened to
whole buckets of it: a point is one stored row, read by one range scan of the unique index (a week:
168 hour rows; a team's week: the account's own 168), so a chart costs the same with a thousand or
a billion invocations stored. Totals of an arbitrary window (the function header) read the fewest
buckets that cover it (``cover``).
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
STEPS = rollups.LEVELS  # minutes: a point is one stored bucket of that level
RANGES = {"1h": ("Last hour", 60), "1d": ("Last day", 1440), "1w": ("Last week", 10080)}
MAX_CUSTOM = timedelta(days=90)


def step_for(minutes: int, *, aligned: bool = True) -> int:
    """The finest level that draws ``minutes`` in at most MAX_POINTS points (one more, when the
    window is not ``aligned`` to it, for the partial buckets at its ends)."""
    for step in STEPS:
        if math.ceil(minutes / step) + (0 if aligned else 1) <= MAX_POINTS:
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
        return Window.ending(rollups.minute_of(now) + 1, RANGES[data.get("range") or "1h"][1])


@dataclass(frozen=True)
class Window:
    start: int  # minute (inclusive)
    end: int  # minute (exclusive)
    step: int  # minutes per point

    @classmethod
    def of(cls, start: int, end: int) -> Window:
        """[start, end) widened to whole buckets of the finest level that fits in MAX_POINTS."""
        step = step_for(end - start, aligned=start % 1440 == 0 and end % 1440 == 0)
        return cls(start=start // step * step, end=-(-end // step) * step, step=step)

    @classmethod
    def ending(cls, end: int, minutes: int) -> Window:
        """The last ``minutes`` up to ``end``, the end moved up to a whole bucket."""
        step = step_for(minutes)
        end = -(-end // step) * step
        return cls(start=end - minutes, end=end, step=step)

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


def _series_sql() -> str:
    """One level's buckets of one function (or the account row): one range scan of the unique
    index (account_id, function_name, level, minute), a row per point, nothing to group."""

    def build() -> str:
        c = lambda n: rows.column(MetricMinute, n)  # noqa: E731
        return (
            f"SELECT {c('minute')}, {rows.columns(MetricMinute, (*_SUMMED, *_MAXED))} FROM {rows.table(MetricMinute)} "
            f"WHERE {c('account_id')} = %s AND {c('function_name')} = %s AND {c('level')} = %s "
            f"AND {c('minute')} >= %s AND {c('minute')} < %s ORDER BY {c('minute')}"
        )

    return rows.statement(("monitor-series",), build)


def _union(count: int, *, function: str, names: tuple[str, ...]) -> str:
    """``count`` level ranges of one account as a UNION ALL of range scans (an OR of them lets
    SQLite fall back to scanning the account's whole prefix). ``function`` is the test on the
    function's name (``= %s`` or ``<> %s``)."""
    c = lambda n: rows.column(MetricMinute, n)  # noqa: E731
    one = (
        f"SELECT {rows.columns(MetricMinute, names)} FROM {rows.table(MetricMinute)} WHERE {c('account_id')} = %s "
        f"AND {c('function_name')} {function} AND {c('level')} = %s AND {c('minute')} >= %s AND {c('minute')} < %s"
    )
    return " UNION ALL ".join([one] * count)


def _by_function_sql(ranges: int) -> str:
    """An account's functions' buckets covering a window (``cover``), summed per function: a range
    scan of the (account_id, level, minute) index per level range (a week: 20 functions' 6 days
    and ~30 hour and finer rows each, not their 168 hours)."""

    def build() -> str:
        name = rows.column(MetricMinute, "function_name")
        inner = _union(ranges, function="<> %s", names=("function_name", *_SUMMED, *_MAXED))
        return f"SELECT {name}, {_aggregates()} FROM ({inner}) AS buckets GROUP BY {name} ORDER BY {name}"

    return rows.statement(("monitor-by-function", ranges), build)


def cover(start: int, end: int) -> list[tuple[int, int, int]]:
    """[start, end) as the fewest whole buckets: (level, first, end) ranges, coarsest first. A day
    not on day boundaries is 23 hour buckets and at most 11 five-minute and 4 minute buckets at each
    end: about 50 rows however the window falls."""
    out: list[tuple[int, int, int]] = []

    def split(a: int, b: int, levels: tuple[int, ...]) -> None:
        if a >= b:
            return
        level, finer = levels[0], levels[1:]
        first, last = -(-a // level) * level, b // level * level
        if not finer:
            out.append((level, a, b))
        elif first < last:
            out.append((level, first, last))
            split(a, first, finer)
            split(last, b, finer)
        else:
            split(a, b, finer)

    split(start, end, tuple(reversed(rollups.LEVELS)))
    return out


def _totals_sql(ranges: int) -> str:
    def build() -> str:
        return f"SELECT {_aggregates()} FROM ({_union(ranges, function='= %s', names=(*_SUMMED, *_MAXED))}) AS buckets"

    return rows.statement(("monitor-totals", ranges), build)


def totals(*, account_id: str, start: int, end: int, function_name: str | None = None) -> dict[str, float | None]:
    """The totals of [start, end) (minutes, any alignment) of one function or the account: one
    query over the fewest buckets that cover it (``cover``)."""
    ranges = cover(start, end)
    name = rollups.ACCOUNT if function_name is None else function_name
    params: list[Any] = [value for level, first, last in ranges for value in (account_id, name, level, first, last)]
    with connection.cursor() as cursor:
        cursor.execute(_totals_sql(len(ranges)), params)
        return point(_values(cursor.fetchone()))


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
    """The window's points (every step, empty ones with zero counts and no percentiles) and totals,
    read from the window's level only: the account's own rows when no function is named."""
    name = rollups.ACCOUNT if function_name is None else function_name
    with connection.cursor() as cursor:
        cursor.execute(_series_sql(), [account_id, name, window.step, window.start, window.end])
        found = {(int(row[0]) - window.start) // window.step: _values(row[1:]) for row in cursor.fetchall()}
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
    ranges = cover(window.start, window.end)
    params = [value for level, first, last in ranges for value in (account_id, rollups.ACCOUNT, level, first, last)]
    with connection.cursor() as cursor:
        cursor.execute(_by_function_sql(len(ranges)), params)
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
