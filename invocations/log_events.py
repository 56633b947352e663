"""A function's logs read the way CloudWatch Logs shows them: log streams (one per execution
environment, ``YYYY/MM/DD/[version]<32 hex>``) holding log events (lines).

``log_events`` is the only place that reads log *text*: the console's Logs tab, its live tail, the
``_workbench/api/functions/{name}/logs`` route and ``workbench logs`` all go through it, so moving
the text out of the invocation table changes this one function.

Events are the lines of each finished invocation's logs, in the order the invocations finished (one
environment runs one invocation at a time, so within a stream that is the order they ran). Lines
carry no time of their own here: START and the function's output are stamped with the invocation's
start, END and REPORT with its end (CloudWatch stamps each line as it arrives; these are the bounds).

Paging and following use one cursor, ``"<finished_at epoch, 6 decimals>:<id>"`` of the last
invocation read (the format ``functions/{name}/invocations?since=`` already gives out). Records are
written a little after they finish, by several nodes' recorders, so an invocation that finished
just now may not be visible yet while a later one is: reads stop ``settle_seconds()`` before now, and
a follower that polls with the cursor sees each line exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from invocations.models import Function, Invocation

DEFAULT_LIMIT = 1000  # events per answer (FilterLogEvents's default and maximum: 10,000)
MAX_LIMIT = 10000
BATCH = 100  # invocations read per query
MAX_SCANNED = 2000  # invocations examined per call: a rare match answers with a cursor, not a long scan
MAX_STREAMS = 200
MAX_PATTERN = 256
MAX_ID = 2**63 - 1  # row ids are 64-bit
CURSOR_PATTERN = r"^\d{1,12}\.\d{6}:\d{1,19}$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True)
class LogEvent:
    timestamp: datetime
    message: str
    stream: str
    request_id: str
    event_id: str  # "<invocation id>-<line number>": unique and stable


@dataclass(frozen=True)
class LogPage:
    events: list[LogEvent]
    cursor: str  # where the next read starts (the cursor given when nothing was read)
    more: bool  # more matching invocations may follow the cursor right now (read again at once)


@dataclass(frozen=True)
class LogStream:
    name: str
    first_event: datetime | None
    last_event: datetime | None
    invocations: int


def settle_seconds() -> float:
    """How long a finished invocation may take to become visible (the recorder's flush and a write)."""
    return float(settings.LAMBDA_RECORD_FLUSH_SECONDS) + 0.5


def cursor_of(invocation: Invocation) -> str:
    finished = invocation.finished_at.timestamp() if invocation.finished_at else 0.0
    return f"{finished:.6f}:{invocation.pk}"


def parse_cursor(value: str) -> tuple[datetime, int] | None:
    """A cursor this module gave out, or None (not one)."""
    if not _CURSOR.match(value):
        return None
    stamp, _, pk = value.partition(":")
    if int(pk) > MAX_ID:
        return None
    try:
        return datetime.fromtimestamp(float(stamp), tz=dt_timezone.utc), int(pk)
    except (OverflowError, ValueError, OSError):
        return None


def start_cursor(when: datetime) -> str:
    """A cursor just before everything that finished at or after ``when``."""
    return f"{max(when.timestamp() - 0.000001, 0.0):.6f}:0"


def compile_pattern(text: str) -> re.Pattern[str]:
    """A search's regular expression (Python syntax, case-insensitive); ValueError says what is wrong."""
    if len(text) > MAX_PATTERN:
        raise ValueError(f"at most {MAX_PATTERN} characters")
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None


def log_streams(function: Function, *, limit: int = MAX_STREAMS) -> list[LogStream]:
    """The function's streams, the one with the newest event first."""
    rows = (
        Invocation.objects.filter(function=function).exclude(log_stream="").exclude(finished_at=None)
        .values("log_stream").annotate(first=Min("started_at"), last=Max("finished_at"), count=Count("id"))
        .order_by("-last")[:limit]
    )  # fmt: skip
    return [LogStream(r["log_stream"], r["first"], r["last"], r["count"]) for r in rows]


def log_events(
    function: Function,
    *,
    stream: str | None = None,
    text: str | None = None,
    pattern: re.Pattern[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> LogPage:
    """The function's log lines in order: of one ``stream`` or all; containing ``text``
    (case-insensitive) and matching ``pattern`` (a compiled regular expression); stamped within
    [``start``, ``end``]; of invocations after the cursor ``after``. Stops after the invocation that
    reaches ``limit`` lines (its lines are never split across answers), or after MAX_SCANNED
    invocations."""
    rows: QuerySet[Invocation] = Invocation.objects.filter(function=function).exclude(finished_at=None)
    if stream is not None:
        rows = rows.filter(log_stream=stream)
    if text:
        rows = rows.filter(body__logs__icontains=text)
    if start is not None:
        rows = rows.filter(finished_at__gte=start)
    if end is not None:
        rows = rows.filter(Q(started_at__lte=end) | Q(started_at=None, finished_at__lte=end))
    settled = timezone.now() - timedelta(seconds=settle_seconds())
    rows = rows.filter(finished_at__lte=settled)
    position = parse_cursor(after) if after else None
    cursor = after or ""
    needle = (text or "").casefold()
    events: list[LogEvent] = []
    scanned = 0
    rows = rows.select_related("body").only("id", "request_id", "log_stream", "body__logs", "started_at", "finished_at")
    rows = rows.order_by("finished_at", "id")
    while scanned < MAX_SCANNED:
        page = rows
        if position is not None:
            when, pk = position
            page = rows.filter(Q(finished_at__gt=when) | Q(finished_at=when, pk__gt=pk))
        batch = list(page[:BATCH])
        for invocation in batch:
            scanned += 1
            events.extend(_lines(invocation, needle, pattern, start, end))
            cursor = cursor_of(invocation)
            position = (invocation.finished_at, invocation.pk)
            if len(events) >= limit or scanned >= MAX_SCANNED:
                return LogPage(events, cursor, more=True)
        if len(batch) < BATCH:
            return LogPage(events, cursor, more=False)
    return LogPage(events, cursor, more=True)


def _lines(invocation: Invocation, needle: str, regex: re.Pattern[str] | None, start: datetime | None,
           end: datetime | None) -> list[LogEvent]:
    began = invocation.started_at or invocation.finished_at
    ended = invocation.finished_at
    assert began is not None and ended is not None
    found = []
    when = began
    for number, line in enumerate(invocation.logs.splitlines()):
        if line.startswith(("END RequestId:", "REPORT RequestId:")):
            when = ended
        if not line.strip():
            continue
        if needle and needle not in line.casefold():
            continue
        if regex is not None and not regex.search(line):
            continue
        if (start is not None and when < start) or (end is not None and when > end):
            continue
        found.append(LogEvent(when, line, invocation.log_stream, invocation.request_id, f"{invocation.pk}-{number}"))
    return found
