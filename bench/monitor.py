"""Monitor response times with 1,000,000 invocations (and their per-minute rollups) stored.

    .venv/bin/python bench/monitor.py [--rows 1000000] [--repeat 50]
    DATABASE_URL=postgres://… .venv/bin/python bench/monitor.py   # a throwaway PostgreSQL database

Loads the rows in bulk (not through the engine) into a fresh SQLite database under a temporary
DATA_DIR (or DATABASE_URL), spread over the last 7 days across 20 functions, and adds each batch's
rollup with the recorder's own upsert (``rollups.add``). Then times, through Django's test client
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
    batch: list[Invocation] = []
    for n in range(rows):
        fn = functions[n % FUNCTIONS]
        at = now - gap * (rows - n)
        duration = 1.5 + (n * 7919) % 400
        batch.append(Invocation(
            request_id=f"{n:08d}-0000-4000-8000-000000000000", function=fn, function_name=fn.name, account_id=team.account_id,
            status=STATUSES[n % len(STATUSES)], payload='{"n": %d}' % n, duration_ms=duration, cold_start=n % 97 == 0,
            created_at=at, started_at=at, finished_at=at + timedelta(milliseconds=duration),
        ))  # fmt: skip
        if len(batch) == 5000:
            _write(batch)
            batch = []
    _write(batch)
    return user


def _write(batch: list[Invocation]) -> None:
    with transaction.atomic():
        Invocation.objects.bulk_create(batch)
        rollups.add(rollups.tally_records(batch))


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
