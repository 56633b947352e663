"""Schedule expressions in AWS's syntax, parsed and evaluated (pure: no database, no clock).

Two forms, as EventBridge rules and EventBridge Scheduler accept them (all times UTC):

* ``rate(value unit)`` — ``value`` a positive integer; ``unit`` is ``minute``/``hour``/``day`` when
  the value is 1 and ``minutes``/``hours``/``days`` otherwise (AWS rejects ``rate(1 minutes)`` and
  ``rate(5 minute)``). A rate fires every interval counted from an anchor (the trigger's creation).
* ``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` — six fields. Exactly one of
  Day-of-month and Day-of-week is ``?`` ("If you specify a value or a * in one of the fields, you
  must use a ? in the other"). Lists ``,``, ranges ``-`` (wrapping, e.g. ``FRI-MON``), steps
  ``*/n`` and ``a/n`` and ``a-b/n``, names ``JAN``–``DEC`` and ``SUN``–``SAT`` (1 = SUN … 7 =
  SAT), ``L`` (Day-of-month: last day, ``L-n`` n days before it; Day-of-week: ``L`` alone is
  Saturday, ``nL`` the last weekday n of the month), ``W`` (``nW`` the weekday nearest day n, never
  leaving the month; ``LW`` the last weekday), ``#`` (``n#k`` the k-th weekday n of the month).
  Years 1970–2199.

``next_fire(schedule, after)`` is the first fire time strictly after ``after`` (None when a cron
expression has no more: its years are over).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Final

MONTHS: Final = {n: i for i, n in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
DAYS: Final = {n: i for i, n in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}
YEAR_MIN: Final = 1970
YEAR_MAX: Final = 2199

_RATE = re.compile(r"^rate\(\s*(?P<value>\d+)\s+(?P<unit>[a-z]+)\s*\)$")
_CRON = re.compile(r"^cron\((?P<body>.*)\)$")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}
_ATOM = re.compile(r"^(?P<start>\*|[A-Z0-9]+)(?:-(?P<end>[A-Z0-9]+))?(?:/(?P<step>\d+))?$")


class ScheduleError(ValueError):
    """The expression is not valid; the message says why."""


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class DayOfMonth:
    days: frozenset[int]  # plain days 1–31
    last_offset: int | None = None  # L (0) or L-n (n)
    nearest_weekday: int | None = None  # nW
    last_weekday: bool = False  # LW


@dataclass(frozen=True)
class DayOfWeek:
    days: frozenset[int]  # 1 = SUN … 7 = SAT
    last: int | None = None  # nL: the last weekday n of the month
    nth: tuple[int, int] | None = None  # n#k: (weekday n, k-th)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: DayOfMonth | None  # None = "?"
    months: frozenset[int]
    day_of_week: DayOfWeek | None  # None = "?"
    years: frozenset[int]


Schedule = Rate | Cron


def parse(expression: str) -> Schedule:
    """Parse ``rate(…)`` or ``cron(…)``; raise ScheduleError saying what is wrong."""
    text = expression.strip()
    if text.startswith("rate("):
        return _parse_rate(text)
    if text.startswith("cron("):
        return _parse_cron(text)
    raise ScheduleError("A schedule expression is rate(value unit) or cron(fields), e.g. rate(5 minutes).")


def _parse_rate(text: str) -> Rate:
    match = _RATE.match(text)
    if not match:
        raise ScheduleError("rate(…) takes a positive integer and a unit, e.g. rate(5 minutes) or rate(1 hour).")
    value, unit = int(match["value"]), match["unit"]
    if value < 1:
        raise ScheduleError("The rate value must be a positive integer.")
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _UNIT_SECONDS:
        raise ScheduleError("The rate unit is minute(s), hour(s) or day(s).")
    if value == 1 and unit != singular:
        raise ScheduleError(f"A rate of 1 takes the singular unit: rate(1 {singular}).")
    if value > 1 and unit == singular:
        raise ScheduleError(f"A rate above 1 takes the plural unit: rate({value} {singular}s).")
    return Rate(seconds=value * _UNIT_SECONDS[singular])


def _number(token: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names and token in names:
        return names[token]
    if not token.isdigit():
        raise ScheduleError(f"{field}: {token!r} is not a number{' or a name' if names else ''}.")
    value = int(token)
    if not low <= value <= high:
        raise ScheduleError(f"{field}: {value} is outside {low}–{high}.")
    return value


def _values(text: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """A list of numbers, names, ranges (wrapping) and steps."""
    values: set[int] = set()
    for part in text.split(","):
        match = _ATOM.match(part)
        if not match:
            raise ScheduleError(f"{field}: {part!r} is not valid.")
        start_text, end_text, step_text = match["start"], match["end"], match["step"]
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"{field}: the step must be at least 1.")
        if start_text == "*":
            if end_text:
                raise ScheduleError(f"{field}: {part!r} is not valid.")
            start, end = low, high
        else:
            start = _number(start_text, field, low, high, names)
            if end_text:
                end = _number(end_text, field, low, high, names)
            else:
                end = high if step_text else start  # "a/n": from a to the end of the range
        span = list(range(start, end + 1)) if start <= end else list(range(start, high + 1)) + list(range(low, end + 1))
        values.update(span[::step])
    return frozenset(values)


def _parse_day_of_month(text: str) -> DayOfMonth:
    field = "Day-of-month"
    if text == "L":
        return DayOfMonth(days=frozenset(), last_offset=0)
    if text == "LW":
        return DayOfMonth(days=frozenset(), last_weekday=True)
    if match := re.fullmatch(r"L-(\d+)", text):
        offset = int(match[1])
        if offset > 30:
            raise ScheduleError(f"{field}: L-{offset} goes before the first day of the month.")
        return DayOfMonth(days=frozenset(), last_offset=offset)
    if match := re.fullmatch(r"(\d+)W", text):
        return DayOfMonth(days=frozenset(), nearest_weekday=_number(match[1], field, 1, 31))
    if "L" in text or "W" in text or "#" in text:
        raise ScheduleError(f"{field}: {text!r} is not valid (L, L-n, LW and nW stand alone).")
    return DayOfMonth(days=_values(text, field, 1, 31))


def _parse_day_of_week(text: str) -> DayOfWeek:
    field = "Day-of-week"
    if text == "L":
        return DayOfWeek(days=frozenset({7}))
    if match := re.fullmatch(r"([A-Z0-9]+)L", text):
        return DayOfWeek(days=frozenset(), last=_number(match[1], field, 1, 7, DAYS))
    if match := re.fullmatch(r"([A-Z0-9]+)#(\d+)", text):
        nth = int(match[2])
        if not 1 <= nth <= 5:
            raise ScheduleError(f"{field}: the occurrence after # is 1–5.")
        return DayOfWeek(days=frozenset(), nth=(_number(match[1], field, 1, 7, DAYS), nth))
    if "L" in text.replace("SAT", "").replace("SUN", "") or "#" in text or "W" in text.replace("WED", ""):
        raise ScheduleError(f"{field}: {text!r} is not valid (nL and n#k stand alone).")
    return DayOfWeek(days=_values(text, field, 1, 7, DAYS))


def _parse_cron(text: str) -> Cron:
    match = _CRON.match(text)
    if match is None:
        raise ScheduleError("cron(…) must end with ')': cron(Minutes Hours Day-of-month Month Day-of-week Year).")
    fields = match["body"].upper().split()
    if len(fields) != 6:
        raise ScheduleError(
            f"cron(…) has six fields (Minutes Hours Day-of-month Month Day-of-week Year); got {len(fields)}."
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("Exactly one of Day-of-month and Day-of-week must be '?'.")
    for name, value in (("Minutes", minutes), ("Hours", hours), ("Month", month), ("Year", year)):
        if "?" in value:
            raise ScheduleError(f"{name}: '?' is only allowed in Day-of-month or Day-of-week.")
    return Cron(
        minutes=_values(minutes, "Minutes", 0, 59),
        hours=_values(hours, "Hours", 0, 23),
        day_of_month=None if dom == "?" else _parse_day_of_month(dom),
        months=_values(month, "Month", 1, 12, MONTHS),
        day_of_week=None if dow == "?" else _parse_day_of_week(dow),
        years=_values(year, "Year", YEAR_MIN, YEAR_MAX),
    )


# --- evaluation --------------------------------------------------------------------------------------


def _weekday(day: date) -> int:
    """AWS's numbering: 1 = Sunday … 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, target: int) -> int | None:
    last = calendar.monthrange(year, month)[1]
    if target > last:
        return None
    weekday = _weekday(date(year, month, target))
    if weekday == 7:  # Saturday: the Friday before, or the Monday after when the 1st is a Saturday
        return target - 1 if target > 1 else target + 2
    if weekday == 1:  # Sunday: the Monday after, or the Friday before at the month's end
        return target + 1 if target < last else target - 2
    return target


def _days_in_month(cron: Cron, year: int, month: int) -> list[int]:
    last = calendar.monthrange(year, month)[1]
    chosen: set[int] = set()
    dom, dow = cron.day_of_month, cron.day_of_week
    if dom is not None:
        chosen.update(d for d in dom.days if d <= last)
        if dom.last_offset is not None and last - dom.last_offset >= 1:
            chosen.add(last - dom.last_offset)
        if dom.nearest_weekday is not None and (day := _nearest_weekday(year, month, dom.nearest_weekday)):
            chosen.add(day)
        if dom.last_weekday:
            day = last
            while _weekday(date(year, month, day)) in (1, 7):
                day -= 1
            chosen.add(day)
    if dow is not None:
        first = _weekday(date(year, month, 1))
        for day in range(1, last + 1):
            weekday = (first - 1 + day - 1) % 7 + 1
            if weekday in dow.days:
                chosen.add(day)
            if dow.last is not None and weekday == dow.last and day + 7 > last:
                chosen.add(day)
            if dow.nth is not None and weekday == dow.nth[0] and (day - 1) // 7 + 1 == dow.nth[1]:
                chosen.add(day)
    return sorted(chosen)


def _next_cron(cron: Cron, after: datetime) -> datetime | None:
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    minutes, hours = sorted(cron.minutes), sorted(cron.hours)
    for year in sorted(y for y in cron.years if y >= start.year):
        for month in sorted(cron.months):
            if (year, month) < (start.year, start.month):
                continue
            for day in _days_in_month(cron, year, month):
                if (year, month, day) < (start.year, start.month, start.day):
                    continue
                same_day = (year, month, day) == (start.year, start.month, start.day)
                for hour in hours:
                    if same_day and hour < start.hour:
                        continue
                    for minute in minutes:
                        if same_day and hour == start.hour and minute < start.minute:
                            continue
                        return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)
    return None


def next_fire(schedule: Schedule, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
    """The first fire time strictly after ``after`` (aware, UTC). A rate counts whole intervals from
    ``anchor`` (default: ``after`` itself, i.e. one interval from now)."""
    after = after.astimezone(timezone.utc)
    if isinstance(schedule, Rate):
        base = (anchor or after).astimezone(timezone.utc)
        if base > after:
            return base
        elapsed = (after - base).total_seconds()
        intervals = int(elapsed // schedule.seconds) + 1
        return base + timedelta(seconds=intervals * schedule.seconds)
    return _next_cron(schedule, after)


def describe(expression: str) -> str:
    """A short human description for the console (the expression itself when nothing better)."""
    schedule = parse(expression)
    if isinstance(schedule, Rate):
        for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if schedule.seconds % seconds == 0:
                count = schedule.seconds // seconds
                return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"{expression} (UTC)"
