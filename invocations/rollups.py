"""Per-minute metrics (``MetricMinute``), added to as invocations are recorded, so the Monitor tab
and the function header never scan the invocation table.

Where the counts come from (each one call, next to the write it counts):

* ``count_recorded`` — the recorder's batch of synchronous records (``recorder._insert``), in the
  batch's own transaction: invocations, errors, throttles, cold starts, durations, concurrency.
* ``count_enqueued`` — Event invocations accepted (``pipeline.py``).
* ``count_event`` — each attempt of an Event invocation, and the event's end
  (``services/async_events.py``): AWS counts every attempt as an invocation.
* ``count_batch`` — an event source's batch (``event_sources/base.py``): its size and the age of
  its oldest record when the function was invoked (trigger lag).

Counting each record once. The journal replays records whose commit was not seen, and a retried
batch may already be in the table; ``bulk_create(ignore_conflicts=True)`` skips them silently (and
PostgreSQL returns no ids for it). So ``count_recorded`` runs in the batch's transaction and first
reads which of the batch's ``request_id``\\ s are already stored (one query on the unique index), and
counts only the others: the rows it counts are exactly the rows this transaction inserts, and the
rollup commits or rolls back with them. Making the rollup itself idempotent would need a row per
record (which is the invocation table again).

Levels. Every (function, minute) is added to its bucket of each of ``LEVELS`` (1, 5, 60 and 1440
minutes), and again to the account's own row (``function_name`` = ``ACCOUNT``, ""), so a chart reads
one row a point at the finest level that gives ≤ 300 points (an hour: 60 minute rows; a day: 288
five-minute rows; a week: 168 hour rows; 90 days: 90 day rows), and the team dashboard reads only
the account rows. Counts and duration buckets are sums and maxima are maxima, so a coarser bucket
is exactly the merge of its finer ones and percentiles read from it are the same as from them.

The upsert is one ``INSERT … ON CONFLICT (key) DO UPDATE SET n = n + excluded.n`` per batch, every
bucket the batch touches a row of it (``expand`` merges the batch's own rows first); both SQLite
(≥ 3.24) and PostgreSQL have it. Maxima use ``MAX(a, b)`` on SQLite and ``GREATEST(a, b)`` on
PostgreSQL.

Durations go into fixed buckets (``DURATION_BOUNDS_MS``); a percentile is read from the summed
buckets of a window by interpolating inside the bucket that holds its rank (``percentile``).

Concurrent executions: the most invocations of one function running at the same instant among the
records of one batch (their [started_at, finished_at) intervals), kept as the minute's maximum. A
batch holds ``LAMBDA_RECORD_FLUSH_SECONDS`` of one process's records, so this is a lower bound:
runs that overlap across processes or batches are not seen together.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.db import DatabaseError, connection, transaction

from invocations import rows
from invocations.models import DURATION_BOUNDS_MS, DURATION_BUCKETS, Invocation, MetricMinute

logger = logging.getLogger(__name__)

ADDED = (
    "invocations", "errors", "throttles", "cold_starts", "duration_count", "duration_sum_ms",
    "async_enqueued", "async_processed", "batches", "batch_records", "lag_count", "lag_sum_ms",
    *DURATION_BUCKETS,
)  # fmt: skip
MAXED = ("duration_max_ms", "max_concurrent", "lag_max_ms")
KEY = ("account_id", "function_name", "level", "minute")
LEVELS = (1, 5, 60, 1440)  # minutes per bucket: a chart reads the finest level giving ≤ 300 points
ACCOUNT = ""  # the function_name of an account's own rows (no function is named "")
ERROR_STATUSES = (Invocation.Status.FAILED, Invocation.Status.TIMED_OUT)


def minute_of(moment: datetime) -> int:
    """Minutes since the epoch (UTC) of an aware datetime."""
    return int(moment.timestamp() // 60)


def bucket_of(duration_ms: float) -> int:
    """The index of the bucket holding ``duration_ms`` (upper bounds inclusive)."""
    return bisect.bisect_left(DURATION_BOUNDS_MS, duration_ms)


@dataclass
class Tally:
    """What one (function, minute) gains from one write."""

    values: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ADDED + MAXED, 0))

    def add(self, name: str, amount: float = 1) -> None:
        self.values[name] += amount

    def most(self, name: str, value: float) -> None:
        self.values[name] = max(self.values[name], value)

    def duration(self, duration_ms: float) -> None:
        self.add("duration_count")
        self.add("duration_sum_ms", duration_ms)
        self.add(DURATION_BUCKETS[bucket_of(duration_ms)])
        self.most("duration_max_ms", duration_ms)

    def lag(self, lag_ms: float) -> None:
        lag_ms = max(0.0, lag_ms)
        self.add("lag_count")
        self.add("lag_sum_ms", lag_ms)
        self.most("lag_max_ms", lag_ms)


Key = tuple[str, str, int]


class Tallies(dict[Key, Tally]):
    account_most: dict[tuple[str, int], int]  # (account, minute): most runs at once across its functions

    def __init__(self) -> None:
        super().__init__()
        self.account_most = {}

    def of(self, account_id: str, function_name: str, moment: datetime) -> Tally:
        key = (account_id, function_name, minute_of(moment))
        if key not in self:
            self[key] = Tally()
        return self[key]


def count_run(tally: Tally, invocation: Invocation, status: str = "") -> None:
    """One run (or throttle) of a function: AWS counts a throttled request in Throttles only.
    ``status``: an Event attempt's end, while its row is still running."""
    status = status or invocation.status
    if status == Invocation.Status.THROTTLED:
        tally.add("throttles")
        return
    tally.add("invocations")
    # Read from the instance's loaded values: an Event run's instance defers the fields it did not
    # read (async_events._RUN_FIELDS), and reading one of those would cost a query each.
    loaded = invocation.__dict__
    if status in ERROR_STATUSES or loaded.get("function_error"):
        tally.add("errors")
    if loaded.get("cold_start"):
        tally.add("cold_starts")
    if loaded.get("duration_ms") is not None:
        tally.duration(loaded["duration_ms"])


def most_concurrent(intervals: Iterable[tuple[Any, Any]]) -> int:
    """The most intervals [start, end) open at one instant (datetimes or numbers)."""
    edges = sorted(edge for start, end in intervals for edge in ((start, 1), (max(start, end), -1)))
    most = running = 0
    for _, step in edges:  # (t, -1) sorts before (t, 1): ends before starts at a tie
        running += step
        most = max(most, running)
    return most


def tally_records(records: Sequence[Invocation]) -> Tallies:
    """The rollup of a batch of finished synchronous records."""
    tallies = Tallies()
    runs: dict[Key, list[tuple[datetime, datetime]]] = {}
    account_runs: dict[tuple[str, int], list[tuple[datetime, datetime]]] = {}
    for record in records:
        if record.invocation_type == Invocation.Type.EVENT:
            continue  # Event rows are counted per attempt (count_event), not here
        tally = tallies.of(record.account_id, record.function_name, record.created_at)
        count_run(tally, record)
        if record.started_at is not None and record.finished_at is not None:
            key = (record.account_id, record.function_name, minute_of(record.created_at))
            runs.setdefault(key, []).append((record.started_at, record.finished_at))
            account_runs.setdefault((key[0], key[2]), []).append((record.started_at, record.finished_at))
    for key, intervals in runs.items():
        tallies[key].most("max_concurrent", most_concurrent(intervals))
    for account_key, intervals in account_runs.items():
        tallies.account_most[account_key] = most_concurrent(intervals)
    return tallies


def count_recorded(records: Sequence[Invocation]) -> None:
    """Add a batch of records about to be inserted (call inside the batch's transaction, before
    the insert): the ones whose request id is already stored are not counted again."""
    if not records:
        return
    stored = set(
        Invocation.objects.filter(request_id__in=[r.request_id for r in records]).values_list("request_id", flat=True)
    )
    add(tally_records([r for r in records if r.request_id not in stored] if stored else records))


def count_enqueued(invocations: Sequence[Invocation]) -> None:
    tallies = Tallies()
    for invocation in invocations:
        tallies.of(invocation.account_id, invocation.function_name, invocation.created_at).add("async_enqueued")
    add(tallies)


def count_event(
    invocation: Invocation, *, ran: bool, final: bool, started_at: datetime | None, status: str = ""
) -> None:
    """One attempt of an Event invocation (``ran``: it was run or throttled, and ended as
    ``status``), and its end (``final``). Trigger lag: from the accept to the start of its first
    attempt."""
    tallies = Tallies()
    moment = started_at or invocation.finished_at or invocation.created_at
    tally = tallies.of(invocation.account_id, invocation.function_name, moment)
    if ran:
        count_run(tally, invocation, status)
        if invocation.attempt == 1 and started_at is not None:
            tally.lag((started_at - invocation.created_at).total_seconds() * 1000)
    if final:
        tally.add("async_processed")
    add(tallies)


def count_batch(*, account_id: str, function_name: str, size: int, oldest_arrival: datetime | None, now: datetime) -> None:
    """An event source's batch: its size, and the age of its oldest record at invoke."""
    tallies = Tallies()
    tally = tallies.of(account_id, function_name, now)
    tally.add("batches")
    tally.add("batch_records", size)
    if oldest_arrival is not None:
        tally.lag((now - oldest_arrival).total_seconds() * 1000)
    add(tallies)


def oldest_arrival(event: dict[str, Any]) -> datetime | None:
    """The earliest arrival time of a batch's records, where the source states one: SQS's
    ``attributes.SentTimestamp`` (epoch ms), Kinesis's ``kinesis.approximateArrivalTimestamp``
    (epoch s)."""
    found: list[float] = []
    for record in event.get("Records") or []:
        if not isinstance(record, dict):
            continue
        try:
            if "kinesis" in record:
                found.append(float(record["kinesis"]["approximateArrivalTimestamp"]))
            elif "attributes" in record:
                found.append(float(record["attributes"]["SentTimestamp"]) / 1000)
        except (KeyError, TypeError, ValueError):
            continue
    return datetime.fromtimestamp(min(found), tz=dt_timezone.utc) if found else None


# --- writing ---------------------------------------------------------------------------------------

NAMES = (*ADDED, *MAXED)
_MAX_INDEXES = range(len(ADDED), len(NAMES))
BucketKey = tuple[str, str, int, int]  # account, function ("" for the account), level, start minute


def expand(tallies: Tallies | dict[Key, Tally]) -> dict[BucketKey, list[float]]:
    """Each (function, minute) tally added to its bucket of every level, for the function and for
    its account (``ACCOUNT``), merged where two land in one bucket (sums added, maxima kept): the
    rows of one upsert, each at most once (PostgreSQL refuses to update a row twice in one
    statement). An account row's concurrency is the batch's most concurrent runs across the
    account's functions (``Tallies.account_most``) where it was counted, else its functions' most."""
    out: dict[BucketKey, list[float]] = {}
    account_most = getattr(tallies, "account_most", {})
    for (account_id, function_name, minute), tally in tallies.items():
        values = [tally.values[name] for name in NAMES]
        for level in LEVELS:
            start = minute // level * level
            for name in (function_name, ACCOUNT):
                key = (account_id, name, level, start)
                found = out.get(key)
                if found is None:
                    out[key] = list(values)
                    continue
                for i in range(len(ADDED)):
                    found[i] += values[i]
                for i in _MAX_INDEXES:
                    found[i] = max(found[i], values[i])
    concurrent = len(ADDED) + MAXED.index("max_concurrent")
    for (account_id, minute), most in account_most.items():
        for level in LEVELS:
            key = (account_id, ACCOUNT, level, minute // level * level)
            if key in out:
                out[key][concurrent] = max(most, out[key][concurrent])
    return out


def _upsert_sql(count: int) -> str:
    def build() -> str:
        table = rows.table(MetricMinute)
        row = "(" + ", ".join(["%s"] * (len(KEY) + len(NAMES))) + ")"
        greatest = "MAX" if connection.vendor == "sqlite" else "GREATEST"
        updates = [f"{rows.column(MetricMinute, n)} = {table}.{rows.column(MetricMinute, n)} + excluded.{rows.column(MetricMinute, n)}" for n in ADDED]
        updates += [f"{rows.column(MetricMinute, n)} = {greatest}({table}.{rows.column(MetricMinute, n)}, excluded.{rows.column(MetricMinute, n)})" for n in MAXED]
        return (
            f"INSERT INTO {table} ({rows.columns(MetricMinute, (*KEY, *NAMES))}) VALUES {', '.join([row] * count)} "
            f"ON CONFLICT ({rows.columns(MetricMinute, KEY)}) DO UPDATE SET {', '.join(updates)}"
        )

    return rows.statement(("metric-upsert", count), build)


def add(tallies: Tallies | dict[Key, Tally]) -> None:
    """Add ``tallies`` to their buckets of every level, for their functions and their accounts: one
    statement (a recorder batch spans a minute or two: 8 rows a function and minute)."""
    if not tallies:
        return
    buckets = expand(tallies)
    params: list[Any] = []
    # In key order: concurrent upserts (recorders, workers) then lock the rows they share in one
    # order, so PostgreSQL never finds two of them waiting for each other (a deadlock).
    for key, values in sorted(buckets.items()):
        params.extend(key)
        params.extend(values)
    # Metrics never cost an invocation: a failed upsert is logged and dropped, in a savepoint so a
    # recorder's batch (whose transaction this may be in) still commits its records.
    try:
        with rows.writing(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_upsert_sql(len(buckets)), params)
    except DatabaseError:
        logger.exception("metric rollups of %d buckets were not written", len(buckets))


# --- reading ---------------------------------------------------------------------------------------


def percentile(buckets: Sequence[float], percent: float, *, maximum: float | None = None) -> float | None:
    """The ``percent``-th percentile of durations counted in ``buckets`` (DURATION_BUCKETS order):
    nearest rank (ceil(p × n)), placed by linear interpolation inside its bucket, never above the
    largest duration seen (``maximum``). None when nothing was counted."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = max(1, math.ceil(percent * total / 100))
    seen = 0.0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            low = DURATION_BOUNDS_MS[index - 1] if index > 0 else 0.0
            high = DURATION_BOUNDS_MS[index] if index < len(DURATION_BOUNDS_MS) else (maximum or low * 2)
            value = low + (high - low) * (rank - seen) / count
            return min(value, maximum) if maximum else value
        seen += count
    return maximum
