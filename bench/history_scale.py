"""History at scale: a throwaway database filled with many invocation records (default 1,000,000,
with bodies of realistic sizes), then the console's history pages, the invocation page, the API's
ListInvocations and one retention batch, timed server-side (Django's test client: URL routing,
middleware, access checks, queries and template rendering; no network).

    DATA_DIR=$(mktemp -d) .venv/bin/python bench/history_scale.py                 # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/bench .venv/bin/python bench/history_scale.py
    .venv/bin/python bench/history_scale.py --rows 100000 --explain             # smaller, with plans

The database must be a throwaway one (it is migrated and filled; ``--reuse`` keeps a filled one).
Prints p50/p95 per measurement; figures, never assertions.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LAMBDA_RECORD_JOURNAL_DIR", "")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from invocations.access_keys import create_access_key  # noqa: E402
from invocations.models import Function, FunctionVersion, Invocation, InvocationBody, Membership, Team  # noqa: E402
from invocations.services import cleanup  # noqa: E402

FUNCTIONS = 20
STATUSES = ["succeeded"] * 90 + ["failed"] * 8 + ["timed-out"] * 2


def _body(size: int, rng: random.Random) -> str:
    # Incompressible text: PostgreSQL compresses what it moves out of line (TOAST), and repeated
    # characters would make the bodies unrealistically small there.
    return base64.b64encode(rng.randbytes(size * 3 // 4)).decode()[:size]


def fill(rows: int, *, payload: int, response: int, logs: int, days: float) -> tuple[Team, list[Function]]:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    team = Team.objects.create(name="bench", account_id="123456789012")
    Membership.objects.create(team=team, user=user, role="admin")
    functions = []
    for n in range(FUNCTIONS):
        function = Function.objects.create(name=f"fn-{n:02d}", team=team, owner=user)
        FunctionVersion.objects.create(function=function, version="$LATEST", runtime="python3.12", handler="app.handler",
                                       role="arn:aws:iam::123456789012:role/x", code_sha256="x", code_digest="0" * 64)  # fmt: skip
        functions.append(function)
    rng = random.Random(7)
    pool = [(_body(payload, rng), _body(response, rng), _body(logs, rng)) for _ in range(256)]
    fields = [f for f in Invocation._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(Invocation._meta.db_table)} ({columns}) VALUES ({placeholders})"
    body_fields = InvocationBody._meta.concrete_fields
    body_sql = (f"INSERT INTO {connection.ops.quote_name(InvocationBody._meta.db_table)} "
                f"({', '.join(connection.ops.quote_name(f.column) for f in body_fields)}) "
                f"VALUES ({', '.join(['%s'] * len(body_fields))})")  # fmt: skip
    now = timezone.now()
    span = timedelta(days=days).total_seconds()
    chunk = 5000
    started = time.perf_counter()
    for start in range(0, rows, chunk):
        batch, bodies = [], []
        for n in range(start, min(rows, start + chunk)):
            function = functions[n % FUNCTIONS]
            body = pool[n % len(pool)]
            created = now - timedelta(seconds=span * (rows - n) / rows)
            status = STATUSES[n % len(STATUSES)]
            row = Invocation(
                request_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), function=function,
                function_name=function.name, account_id=team.account_id, executed_version="$LATEST", source="api",
                status=status, payload=body[0], response=body[1], logs=body[2], duration_ms=12.5,
                billed_duration_ms=13, memory_size_mb=128, max_memory_used_mb=40, cold_start=n % 50 == 0,
                error_type="Runtime.Unhandled" if status == "failed" else "", created_at=created,
                started_at=created, finished_at=created + timedelta(milliseconds=13),
            )  # fmt: skip
            batch.append(tuple(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields))
            texts = row.body_for_insert()
            bodies.append(tuple(f.get_db_prep_save(getattr(texts, f.attname), connection) for f in body_fields))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
            cursor.executemany(body_sql, bodies)
        if (start // chunk) % 20 == 0:
            print(f"  filled {start + len(batch):,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE invocations_invocation")
            cursor.execute("VACUUM ANALYZE invocations_invocationbody")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"filled {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return team, functions


def timed(label: str, action: Callable[[], object], repeat: int) -> None:
    action()  # warm (templates compiled, connection open)
    samples = []
    for _ in range(repeat):
        begin = time.perf_counter()
        action()
        samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]
    print(f"{label:<52} p50 {statistics.median(samples):8.1f} ms   p95 {p95:8.1f} ms   (n={repeat})", flush=True)


def explain(label: str, queryset: object) -> None:
    print(f"--- plan: {label}")
    print(queryset.explain())  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--payload-bytes", type=int, default=1024)
    parser.add_argument("--response-bytes", type=int, default=512)
    parser.add_argument("--log-bytes", type=int, default=2048)
    parser.add_argument("--days", type=float, default=40.0, help="records spread over this many days back")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure a database filled by an earlier run")
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 500], help="retention batch sizes to time")
    parser.add_argument("--explain", action="store_true", help="print the list queries' plans")
    options = parser.parse_args()

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    if options.reuse:
        team, functions = Team.objects.get(name="bench"), list(Function.objects.order_by("name"))
    else:
        team, functions = fill(options.rows, payload=options.payload_bytes, response=options.response_bytes,
                               logs=options.log_bytes, days=options.days)  # fmt: skip
    print(f"invocation records: {Invocation.objects.count():,}")
    user = get_user_model().objects.get(username="bench")
    client = Client()
    client.force_login(user)
    key = create_access_key(user=user, team=team)

    def get(url: str) -> Callable[[], object]:
        def run() -> object:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response
        return run

    fn = functions[0].name
    timed(f"console: /functions/{fn}/history/", get(f"/functions/{fn}/history/"), options.repeat)
    timed(f"console: /functions/{fn}/history/?status=failed", get(f"/functions/{fn}/history/?status=failed"), options.repeat)
    timed("console: /history/ (every function)", get("/history/"), options.repeat)
    timed("console: /history/?status=timed-out", get("/history/?status=timed-out"), options.repeat)
    # A page deep into the history (the cursor of the 50th page).
    deep = min(2500, Invocation.objects.count() // FUNCTIONS - 1)
    middle = Invocation.objects.filter(function=functions[0]).order_by("-created_at", "-id").values_list("created_at", "id")[deep]
    from console.selectors import encode_cursor

    cursor = encode_cursor(Invocation(created_at=middle[0], id=middle[1]))
    timed(f"console: /functions/{fn}/history/ page 50", get(f"/functions/{fn}/history/?cursor={cursor}"), options.repeat)
    ids = list(Invocation.objects.filter(function=functions[1]).order_by("-id").values_list("request_id", flat=True)[:200])
    picks = iter(ids * 10)
    timed("console: /invocations/<id>/ (detail)", lambda: get(f"/invocations/{next(picks)}/")(), options.repeat)

    from tests.cli.test_server_api import call

    def api(path: str) -> Callable[[], object]:
        def run() -> object:
            response = call(key, "GET", path)
            assert response.status_code == 200, (path, response.status_code, response.content[:200])
            return response
        return run

    timed(f"API: ListInvocations {fn} (50)", api(f"functions/{fn}/invocations"), options.repeat)
    timed(f"API: ListInvocations {fn} status=failed", api(f"functions/{fn}/invocations?status=failed"), options.repeat)
    recent = Invocation.objects.filter(function=functions[0]).order_by("-created_at").values_list("finished_at", "id")[60]
    follow = f"functions/{fn}/invocations?since={recent[0].timestamp():.6f}:{recent[1]}"
    timed(f"API: ListInvocations {fn} since= (logs --follow)", api(follow), options.repeat)
    timed("API: GetInvocation", lambda: api(f"invocations/{next(picks)}")(), options.repeat)

    cutoff = timezone.now() - timedelta(days=30)
    old = cleanup.prunable().filter(created_at__lt=cutoff)
    for size in options.batch:
        timed(f"retention: one batch of {size} by age", lambda: cleanup.delete_batch(old, batch=size), min(options.repeat, 20))
    boundary = Invocation.objects.filter(function=functions[2]).order_by("-created_at", "-id").values_list("created_at", "id")
    timed("retention: a function's 10,000th-newest (count rule)", lambda: list(boundary[10_000:10_001]), options.repeat)
    found = list(boundary[10_000:10_001]) or list(boundary[100:101])
    moment, pk = found[0]
    older = cleanup.prunable().filter(function=functions[2], created_at__lte=moment).exclude(created_at=moment, id__gt=pk)
    for size in options.batch:
        timed(f"retention: one batch of {size} by count", lambda: cleanup.delete_batch(older, batch=size), min(options.repeat, 20))

    if options.explain:
        from console import selectors
        from console.access import Caller  # noqa: F401

        explain("function history", Invocation.objects.filter(function=functions[0]).only(*selectors.LIST_FIELDS)
                .order_by("-created_at", "-id")[:51])  # fmt: skip
        explain("function history, failed", Invocation.objects.filter(function=functions[0], status="failed")
                .only(*selectors.LIST_FIELDS).order_by("-created_at", "-id")[:51])  # fmt: skip
        explain("API list", Invocation.objects.filter(function=functions[0])
                .order_by("-created_at", "-pk")[:51])  # fmt: skip
        explain("API list, failed", Invocation.objects.filter(function=functions[0], status="failed")
                .order_by("-created_at", "-pk")[:51])  # fmt: skip
        explain("retention by age", old.order_by("created_at", "id").values_list("id", flat=True)[:500])
        explain("retention by count", older.order_by("created_at", "id").values_list("id", flat=True)[:500])


if __name__ == "__main__":
    main()
