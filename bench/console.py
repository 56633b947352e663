"""Console page server times with 100,000 invocations in the database.

    .venv/bin/python bench/console.py [--rows 100000] [--repeat 20]

Runs in-process against a fresh SQLite database under a temporary DATA_DIR (or DATABASE_URL when
set), through Django's test client — the full middleware stack, templates and queries, no network.
Prints the median and p95 server time per page. Target: ≤ 50 ms each.
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
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="lw-bench-console-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LAMBDA_RECORD_MODE", "sync")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from console import selectors  # noqa: E402
from console.models import TestEvent  # noqa: E402
from invocations.models import Function, FunctionVersion, Invocation, InvocationAttempt, Team  # noqa: E402

FUNCTIONS = 20
STATUSES = ["succeeded"] * 8 + ["failed", "timed-out"]
SOURCES = ["console", "api", "cli", "url", "trigger", "async-retry"]


def populate(rows: int) -> tuple[object, str]:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench")
    team = Team.objects.create(name="bench")
    team.members.add(user)
    functions = []
    for i in range(FUNCTIONS):
        fn = Function.objects.create(name=f"fn-{i:02d}", team=team, owner=user)
        FunctionVersion.objects.create(function=fn, version="$LATEST", runtime="python3.11", handler="app.handler",
                                       role="arn:aws:iam::000000000000:role/x", code_sha256="x", code_digest="x")
        functions.append(fn)
    for j in range(30):
        TestEvent.objects.create(function=functions[0], name=f"event-{j}", scope="shared", owner=user, body='{"k": 1}')
    now = timezone.now()
    batch: list[Invocation] = []
    for n in range(rows):
        fn = functions[n % FUNCTIONS]
        batch.append(Invocation(
            request_id=f"{n:08d}-0000-4000-8000-000000000000", function=fn, function_name=fn.name,
            executed_version="$LATEST", source=SOURCES[n % len(SOURCES)], status=STATUSES[n % len(STATUSES)],
            invocation_type="Event" if n % 7 == 0 else "RequestResponse", payload='{"n": %d}' % n,
            response='{"ok": true}', logs="START\nline\nEND\nREPORT", duration_ms=1.5 + n % 50, memory_size_mb=128,
            created_at=now - timedelta(seconds=(rows - n) * 0.8),  # all within the last 24 h
        ))  # fmt: skip
        if len(batch) == 5000:
            Invocation.objects.bulk_create(batch)
            batch = []
    Invocation.objects.bulk_create(batch)
    last = Invocation.objects.order_by("-id").first()
    assert last is not None
    InvocationAttempt.objects.create(invocation=last, number=1, outcome="succeeded", duration_ms=2.0)
    return user, last.request_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    user, request_id = populate(args.rows)
    print(f"{Invocation.objects.count()} invocations, {FUNCTIONS} functions "
          f"({time.perf_counter() - started:.1f} s to load; DATA_DIR={os.environ['DATA_DIR']})")  # fmt: skip
    client = Client()
    client.force_login(user)
    second_page = selectors.history(user=user, function=None, filters=selectors.HistoryFilters(), cursor=None).next_cursor
    fn03 = Function.objects.get(name="fn-03")
    fn_page = selectors.history(user=user, function=fn03, filters=selectors.HistoryFilters(), cursor=None).next_cursor
    pages = [
        ("functions list (24 h counts)", "/"),
        ("global history, page 1", "/history/"),
        ("global history, page 2 (keyset)", f"/history/?cursor={second_page}"),
        ("global history, status=failed", "/history/?status=failed"),
        ("global history, source=url", "/history/?source=url"),
        ("global history, request id", f"/history/?request_id={request_id}"),
        ("function history, page 1", "/functions/fn-03/history/"),
        ("function history, page 2", f"/functions/fn-03/history/?cursor={fn_page}"),
        ("function history, type=Event", "/functions/fn-03/history/?type=Event"),
        ("test tab (30 saved events)", "/functions/fn-00/test/"),
        ("invocation page", f"/invocations/{request_id}/"),
        ("compare", f"/compare/?a={request_id}&b=00000001-0000-4000-8000-000000000000"),
        ("configuration tab", "/functions/fn-00/configuration/"),
    ]
    print(f"{'page':40} {'median ms':>10} {'p95 ms':>8}")
    worst = 0.0
    for label, url in pages:
        assert client.get(url).status_code == 200, url
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        median, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
        worst = max(worst, median)
        print(f"{label:40} {median:10.1f} {p95:8.1f}")
    print(f"worst median: {worst:.1f} ms (target ≤ 50 ms)")


if __name__ == "__main__":
    main()
