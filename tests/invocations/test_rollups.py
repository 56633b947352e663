"""Per-minute rollups: bucket and percentile math, the upsert adding, and each record counted once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from invocations import journal, recorder, rollups
from invocations.models import DURATION_BOUNDS_MS, DURATION_BUCKETS, Invocation, MetricMinute

T0 = datetime(2026, 5, 1, 12, 0, 30, tzinfo=dt_timezone.utc)


def record(n: int, *, status: str = "succeeded", duration: float | None = 10.0, cold: bool = False,
           at: datetime = T0, name: str = "fn", **extra: Any) -> Invocation:  # fmt: skip
    started = at
    return Invocation(request_id=f"r-{name}-{n}", function_name=name, account_id="123456789012", status=status,
                      duration_ms=duration, cold_start=cold, created_at=at, started_at=started,
                      finished_at=started + timedelta(milliseconds=duration or 0), **extra)  # fmt: skip


def row(name: str = "fn", level: int = 1) -> MetricMinute:
    return MetricMinute.objects.get(function_name=name, level=level, minute=rollups.minute_of(T0) // level * level)


@pytest.mark.parametrize("duration, bucket", [(0.2, 0), (1, 0), (1.01, 1), (7.5, 4), (7.6, 5), (60000, 24), (60001, 25), (900000, 25)])
def test_a_duration_falls_in_the_bucket_whose_upper_bound_holds_it(duration: float, bucket: int) -> None:
    assert rollups.bucket_of(duration) == bucket
    assert len(DURATION_BUCKETS) == len(DURATION_BOUNDS_MS) + 1


def test_percentiles_come_from_the_buckets_within_one_bucket_of_the_exact_value() -> None:
    durations = [float(d) for d in range(1, 101)]
    buckets = [0] * len(DURATION_BUCKETS)
    for d in durations:
        buckets[rollups.bucket_of(d)] += 1
    p50, p90, p99 = (rollups.percentile(buckets, p, maximum=100.0) for p in (50, 90, 99))
    assert p50 is not None and 30 < p50 <= 50  # exact 50: bucket (30, 50]
    assert p90 is not None and 75 < p90 <= 100  # exact 90: bucket (75, 100]
    assert p99 == pytest.approx(99.0, abs=1.0)
    assert rollups.percentile([0] * len(DURATION_BUCKETS), 50) is None
    one = [0] * len(DURATION_BUCKETS)
    one[rollups.bucket_of(12.5)] = 1
    assert rollups.percentile(one, 99, maximum=12.5) == 12.5  # never above the slowest seen


def test_the_most_concurrent_runs_are_the_most_intervals_open_at_once() -> None:
    s = T0
    ms = lambda n: s + timedelta(milliseconds=n)  # noqa: E731
    assert rollups.most_concurrent([(ms(0), ms(10)), (ms(5), ms(15)), (ms(10), ms(20)), (ms(12), ms(13))]) == 3
    assert rollups.most_concurrent([(ms(0), ms(10)), (ms(10), ms(20))]) == 1  # one ends as the next starts
    assert rollups.most_concurrent([]) == 0


def test_the_oldest_arrival_of_a_batch_is_read_from_sqs_and_kinesis_records() -> None:
    sqs = {"Records": [{"attributes": {"SentTimestamp": "1777636800000"}}, {"attributes": {"SentTimestamp": "1777636790000"}}]}
    kinesis = {"Records": [{"kinesis": {"approximateArrivalTimestamp": 1777636795.5}}]}
    assert rollups.oldest_arrival(sqs) == datetime.fromtimestamp(1777636790, tz=dt_timezone.utc)
    assert rollups.oldest_arrival(kinesis) == datetime.fromtimestamp(1777636795.5, tz=dt_timezone.utc)
    assert rollups.oldest_arrival({"Records": [{"body": "x"}]}) is None and rollups.oldest_arrival({}) is None


@pytest.mark.django_db
def test_a_batch_counts_invocations_errors_throttles_cold_starts_and_durations() -> None:
    batch = [record(0, cold=True), record(1, duration=30.0), record(2, status="failed", duration=5.0),
             record(3, status="timed-out", duration=3000.0), record(4, status="throttled", duration=None),
             record(5, duration=2.0, function_error="Unhandled")]  # fmt: skip
    recorder.Recorder(flush_seconds=0, mode="sync")._write(batch, in_caller=True)
    r = row()
    assert (r.invocations, r.errors, r.throttles, r.cold_starts) == (5, 3, 1, 1)
    assert (r.duration_count, r.duration_sum_ms, r.duration_max_ms) == (5, 3047.0, 3000.0)
    assert getattr(r, DURATION_BUCKETS[rollups.bucket_of(3000.0)]) == 1
    assert r.max_concurrent == 5  # all but the throttled one started at T0 and ran > 0 ms


@pytest.mark.django_db
def test_the_upsert_adds_to_the_minute_and_keeps_maxima() -> None:
    rollups.add(rollups.tally_records([record(0, duration=10.0), record(1, name="other")]))
    rollups.add(rollups.tally_records([record(2, duration=40.0), record(3, status="failed", duration=20.0)]))
    r = row()
    assert (r.invocations, r.errors, r.duration_count, r.duration_sum_ms, r.duration_max_ms) == (3, 1, 3, 70.0, 40.0)
    assert row("other").invocations == 1
    later = record(9, at=T0 + timedelta(minutes=1))
    rollups.add(rollups.tally_records([later]))
    assert MetricMinute.objects.filter(function_name="fn", level=1).count() == 2


@pytest.mark.django_db
def test_every_level_and_the_account_row_are_written_in_one_statement_and_merge_exactly() -> None:
    from django.test.utils import CaptureQueriesContext

    batch = [record(0, duration=10.0), record(1, name="other", duration=300.0),
             record(2, duration=40.0, at=T0 + timedelta(minutes=7)), record(3, status="failed", duration=2.0, at=T0 + timedelta(hours=2))]  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        rollups.add(rollups.tally_records(batch))
    writes = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(writes) == 1 and "ON CONFLICT" in writes[0]
    minute = rollups.minute_of(T0)
    # fn: minutes T0, T0+7, T0+2h; 5-min buckets T0, T0+5, T0+2h; hours T0's, T0+2h's; one day.
    levels = {level: MetricMinute.objects.filter(function_name="fn", level=level).count() for level in rollups.LEVELS}
    assert levels == {1: 3, 5: 3, 60: 2, 1440: 1}
    day = MetricMinute.objects.get(function_name="fn", level=1440)
    assert day.minute == minute // 1440 * 1440 and (day.invocations, day.errors, day.duration_max_ms) == (3, 1, 40.0)
    fine = MetricMinute.objects.filter(function_name="fn", level=1)
    for name in (*rollups.ADDED,):
        assert getattr(day, name) == sum(getattr(r, name) for r in fine), name  # counts and buckets are sums
    account = MetricMinute.objects.get(function_name=rollups.ACCOUNT, level=60, minute=minute // 60 * 60)
    assert (account.invocations, account.duration_max_ms, account.max_concurrent) == (3, 300.0, 2)  # fn and other at T0
    assert MetricMinute.objects.get(function_name=rollups.ACCOUNT, level=1440).invocations == 4
    rollups.add(rollups.tally_records([record(9, duration=500.0)]))  # adding again adds and keeps maxima per level
    day.refresh_from_db()
    assert (day.invocations, day.duration_max_ms) == (4, 500.0)


@pytest.mark.django_db
def test_a_retried_batch_counts_only_the_records_it_inserts() -> None:
    writer = recorder.Recorder(flush_seconds=0, mode="sync")
    writer._write([record(0), record(1)], in_caller=True)
    writer._write([record(0), record(1), record(2)], in_caller=True)  # a retry after a lost acknowledgement
    assert Invocation.objects.count() == 3 and row().invocations == 3


@pytest.mark.django_db(transaction=True)
def test_a_replayed_journal_is_not_counted_twice(settings: Any, tmp_path: Path) -> None:
    recorder.Recorder(flush_seconds=0, mode="sync")._write([record(0)])
    key = journal.database_key(connection.settings_dict)
    lines = b"".join(journal.encode(recorder.values_of(record(n))) for n in range(3))
    (tmp_path / f"records-{key}-1-dead-1.jsonl").write_bytes(lines)
    settings.LAMBDA_RECORD_JOURNAL_DIR = str(tmp_path)
    assert recorder.recover_orphans() == 3
    assert row().invocations == 3  # r-fn-0 once, from the first write


@pytest.mark.django_db
def test_event_accepts_and_attempts_are_counted_with_their_lag() -> None:
    event = record(0, status="failed", duration=8.0, invocation_type="Event", attempt=1)
    rollups.count_enqueued([event])
    rollups.count_event(event, ran=True, final=False, started_at=T0 + timedelta(seconds=2))
    rollups.count_event(event, ran=False, final=True, started_at=None)
    rollups.add(rollups.tally_records([event]))  # an Event row in a recorder batch is not counted again
    r = row()
    assert (r.async_enqueued, r.async_processed, r.invocations, r.errors) == (1, 1, 1, 1)
    assert (r.lag_count, r.lag_sum_ms, r.lag_max_ms) == (1, 2000.0, 2000.0)


@pytest.mark.django_db
def test_a_batch_counts_its_size_and_trigger_lag() -> None:
    rollups.count_batch(account_id="123456789012", function_name="fn", size=7, oldest_arrival=T0 - timedelta(seconds=3), now=T0)
    rollups.count_batch(account_id="123456789012", function_name="fn", size=3, oldest_arrival=None, now=T0)
    r = row()
    assert (r.batches, r.batch_records, r.lag_count, r.lag_max_ms) == (2, 10, 1, 3000.0)
