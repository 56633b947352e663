"""Monitor response times with 1,000,000 invocations (and their per-minute rollups) stored.

    .venv/bin/python bench/monitor.py [--rows 1000000] [--repeat 50]
    DATABASE_URL=postgres://… .venv/bin/python bench/monitor.py   # a throwaway PostgreSQL database

Loads the rows in bulk (not through the engine: one executemany per 50,000 rows on SQLite, COPY on
PostgreSQL) into a fresh SQLite database under a temporary DATA_DIR (or DATABASE_URL), spread over
the last 7 days across 20 functions, and writes their rollups directly (tallied as the rows are
generated, expanded to every level and the account rows by ``rollups.expand``, as the recorder's
upsert does, then inserted the same way). Then times, through Django's test client
(full middleware, templates and queries, no network), the Monitor JSON endpoint for an hour, a day
and a week, the Monitor tab, the dashboard and a function page (its header reads the 24 h summary).
Prints the median and p95 per URL. Target: ≤ 50 ms for the chart endpoint.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="lw-bench-monitor-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LAMBDA_RECORD_MODE", "sync")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from invocations import rollups  # noqa: E402
from invocations.models import Function, FunctionVersion, Invocation, Membership, MetricMinute, Team  # noqa: E402

FUNCTIONS = 20
STATUSES = ["succeeded"] * 18 + ["failed", "throttled"]
WEEK = timedelta(days=7)


def populate(rows: int) -> object:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench")
    team = Team.objects.create(name="bench", account_id="111122223333")
    Membership.objects.create(team=team, user=user, role=Membership.Role.ADMIN)
    functions = []
    for i in range(FUNCTIONS):
        fn = Function.objects.create(name=f"fn-{i:02d}", team=team, owner=user)
        FunctionVersion.objects.create(function=fn, version="$LATEST", runtime="python3.11", handler="app.handler",
                                       role="arn:aws:iam::000000000000:role/x", code_sha256="x", code_digest="x")  # fmt: skip
        functions.append(fn)
    now = timezone.now()
    gap = WEEK / rows
    fields = [f for f in Invocation._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    template = Invocation(function=functions[0], function_name="x", account_id=team.account_id)
    constant = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
    at = {name: names.index(name) for name in
          ("request_id", "function_id", "function_name", "status", "duration_ms", "cold_start", "created_at", "started_at", "finished_at")}
    payload = names.index("payload") if "payload" in names else None  # another branch may move bodies out
    moment = (lambda d: d) if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value
    tallies = rollups.Tallies()
    batch: list[list[object]] = []
    for n in range(rows):
        fn = functions[n % FUNCTIONS]
        created = now - gap * (rows - n)
        duration = 1.5 + (n * 7919) % 400
        status = STATUSES[n % len(STATUSES)]
        cold = n % 97 == 0
        row = list(constant)
        row[at["request_id"]] = f"{n:08d}-0000-4000-8000-000000000000"
        row[at["function_id"]], row[at["function_name"]], row[at["status"]] = fn.pk, fn.name, status
        row[at["duration_ms"]], row[at["cold_start"]] = duration, cold
        row[at["created_at"]], row[at["started_at"]] = moment(created), moment(created)
        row[at["finished_at"]] = moment(created + timedelta(milliseconds=duration))
        if payload is not None:
            row[payload] = '{"n": %d}' % n
        batch.append(row)
        # The rollup of the same row, as the recorder counts it (rollups.count_run) without a model
        # instance. Runs of one function are 12 s apart and last < 0.4 s: one at a time.
        tally = tallies.of(team.account_id, fn.name, created)
        if status == "throttled":
            tally.add("throttles")
        else:
            tally.add("invocations")
            if status == "failed":
                tally.add("errors")
            if cold:
                tally.add("cold_starts")
            tally.duration(duration)
            tally.most("max_concurrent", 1)
            tallies.account_most[(team.account_id, rollups.minute_of(created))] = 1
        if len(batch) == 50_000:
            _insert(Invocation, names, batch)
            batch = []
    _insert(Invocation, names, batch)
    buckets = rollups.expand(tallies)
    _insert(MetricMinute, [*rollups.KEY, *rollups.NAMES], [[*key, *values] for key, values in buckets.items()])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return user


def _insert(model: type, names: list[str], batch: list[list[object]]) -> None:
    """Rows straight into the table: COPY on PostgreSQL, one executemany on SQLite."""
    if not batch:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    by_attname = {f.attname: f.column for f in model._meta.concrete_fields}
    columns = ", ".join(connection.ops.quote_name(by_attname[n]) for n in names)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))})", batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    user = populate(args.rows)
    print(f"{Invocation.objects.count()} invocations, {MetricMinute.objects.count()} rollup rows, {FUNCTIONS} functions, "
          f"{connection.vendor} ({time.perf_counter() - started:.1f} s to load)")  # fmt: skip
    client = Client()
    client.force_login(user)
    urls = [
        ("chart JSON, function, last hour", "/functions/fn-03/monitor/data/?range=1h"),
        ("chart JSON, function, last day", "/functions/fn-03/monitor/data/?range=1d"),
        ("chart JSON, function, last week", "/functions/fn-03/monitor/data/?range=1w"),
        ("chart JSON, team, last week", "/monitor/data/?range=1w"),
        ("Monitor tab, last day", "/functions/fn-03/monitor/?range=1d"),
        ("dashboard, last week", "/monitor/?range=1w"),
        ("function page (header 24 h summary)", "/functions/fn-03/configuration/"),
        ("history, function", "/functions/fn-03/history/"),
        ("history, all functions", "/history/"),
    ]
    print(f"{'url':40} {'median ms':>10} {'p95 ms':>8}")
    for label, url in urls:
        assert client.get(url).status_code == 200, url
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"{label:40} {statistics.median(times):10.1f} {times[max(0, int(len(times) * 0.95) - 1)]:8.1f}")


if __name__ == "__main__":
    main()
