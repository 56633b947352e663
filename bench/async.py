"""Asynchronous invocation benchmark: accept latency and end-to-end throughput, embedded broker vs Redis.

    .venv/bin/python bench/async.py                    # both brokers (Redis when redis-server exists)
    .venv/bin/python bench/async.py --events 1000 --brokers redis

For each broker it starts the stack (``scripts/stack.py``: granian + one Celery worker, threads
pool) on a temporary DATA_DIR with the SQLite database (or, with ``--database URL``, a fresh
PostgreSQL database), creates a no-op function and measures:

1. **accept latency**: ``--sequential`` boto3 ``Invoke(InvocationType=Event)`` calls one after the
   other (p50/p99 of the 202);
2. **accept rate and end-to-end throughput**: ``--events`` Event invokes from ``--threads`` client
   threads; accepts/s = events / time to the last 202; end to end = events / (last completion −
   first 202), completions counted in the database (rows with a final condition).

Figures only, no assertions. Every process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.stack import Stack, free_port  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", NOOP)
    return buffer.getvalue()


def _client(stack: Stack, key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda", endpoint_url=stack.endpoint, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=64),
    )  # fmt: skip


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


_COMPLETIONS_SQL = (
    "SELECT COUNT(*), MAX(finished_at) FROM invocations_invocation "
    "WHERE invocation_type = 'Event' AND condition != ''"
)


class Database:
    """The stack's database: a SQLite file in DATA_DIR, or a fresh PostgreSQL database made for the
    run (``--database postgres://user:pass@host:port/any``; the user needs CREATEDB) and dropped after."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url, self.data_dir, self.created = url, data_dir, ""
        if url != "sqlite":
            import psycopg

            self.created = f"bench_async_{os.getpid()}_{int(time.time())}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.created}"')

    @property
    def env(self) -> dict[str, str]:
        if not self.created:
            return {}
        base, _, _ = self.url.rpartition("/")
        return {"DATABASE_URL": f"{base}/{self.created}"}

    def completions(self) -> tuple[int, float | None]:
        if not self.created:
            with sqlite3.connect(self.data_dir / "db.sqlite3", timeout=30) as conn:
                count, last = conn.execute(_COMPLETIONS_SQL).fetchone()
            if last is None:
                return count, None
            return count, datetime.fromisoformat(str(last)).timestamp()
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            count, last = conn.execute(_COMPLETIONS_SQL).fetchone()  # type: ignore[misc]
        return count, (last.timestamp() if last is not None else None)

    def drop(self) -> None:
        if self.created:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.created}" WITH (FORCE)')


def start_redis() -> tuple[str, Path] | None:
    if shutil.which("redis-server") is None:
        return None
    port = free_port()
    pidfile = Path(tempfile.mkdtemp(prefix="bench-redis-")) / "redis.pid"
    subprocess.run(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes", "--save", "",
         "--appendonly", "no", "--pidfile", str(pidfile)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        if pidfile.exists():
            break
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", pidfile


def stop_redis(pidfile: Path) -> None:
    try:
        os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def run(broker_name: str, broker_url: str | None, args: argparse.Namespace) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-async-{broker_name}-"))
    db = Database(args.database, data_dir)
    env = {"LAMBDA_RECORD_MODE": "thread", **db.env}
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs", listen_address="127.0.0.1")
    stack.start(timeout=120)
    try:
        created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "bench").splitlines())
        key, secret = created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"]
        client = _client(stack, key, secret)
        client.create_function(
            FunctionName="noop", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
            Handler="app.handler", Code={"ZipFile": _zip()}, Timeout=3,
        )  # fmt: skip
        client.get_waiter("function_active_v2").wait(FunctionName="noop", WaiterConfig={"Delay": 1})
        client.invoke(FunctionName="noop", Payload=b"{}")
        for _ in range(20):  # warm the web path, the broker connection and the worker's environments
            client.invoke(FunctionName="noop", InvocationType="Event", Payload=b"{}")
        _wait_for(db, 20, timeout=60)

        latencies = []
        for _ in range(args.sequential):
            started = time.perf_counter()
            client.invoke(FunctionName="noop", InvocationType="Event", Payload=b'{"n": 1}')
            latencies.append((time.perf_counter() - started) * 1000)
        _wait_for(db, 20 + args.sequential, timeout=120)

        per_thread = args.events // args.threads
        clients = [_client(stack, key, secret) for _ in range(args.threads)]
        barrier = threading.Barrier(args.threads + 1)
        first_accept: list[float] = []
        last_accept: list[float] = []

        def blast(c: Any) -> None:
            barrier.wait()
            for _ in range(per_thread):
                c.invoke(FunctionName="noop", InvocationType="Event", Payload=b'{"n": 2}')
                if not first_accept:
                    first_accept.append(time.time())
            last_accept.append(time.time())

        threads = [threading.Thread(target=blast, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.time()
        for t in threads:
            t.join()
        accepted = per_thread * args.threads
        accept_seconds = max(last_accept) - started
        total = 20 + args.sequential + accepted
        last_done = _wait_for(db, total, timeout=args.timeout)
        count, _ = db.completions()
        return {
            "accept p50 ms": statistics.median(latencies),
            "accept p99 ms": _percentile(latencies, 0.99),
            "accepts/s": accepted / accept_seconds,
            "end-to-end events/s": accepted / (last_done - first_accept[0]) if last_done else 0.0,
            "completed": float(count),
            "expected": float(total),
        }
    finally:
        stack.stop()
        db.drop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_for(db: Database, count: int, *, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while True:
        done, last = db.completions()
        if done >= count or time.monotonic() > deadline:
            return last
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--brokers", default="embedded,redis")
    parser.add_argument("--database", default="sqlite", help="sqlite (default) or a PostgreSQL server URL")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for name in args.brokers.split(","):
        if name == "embedded":
            results[name] = run(name, None, args)
        elif name == "redis":
            redis = start_redis()
            if redis is None:
                print("redis-server not installed; skipping Redis", file=sys.stderr)
                continue
            try:
                results[name] = run(name, redis[0], args)
            finally:
                stop_redis(redis[1])
        print(name, json.dumps(results[name]), flush=True)
    print()
    metrics = ["accept p50 ms", "accept p99 ms", "accepts/s", "end-to-end events/s", "completed", "expected"]
    print(f"{'metric':<22}" + "".join(f"{n:>14}" for n in results))
    for metric in metrics:
        print(f"{metric:<22}" + "".join(f"{results[n][metric]:>14.1f}" for n in results))
    print(f"\ncommand: {' '.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
