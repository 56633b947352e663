"""Asynchronous invocation benchmark: accept latency and end-to-end throughput, embedded broker vs Redis.

    .venv/bin/python bench/async.py                    # both brokers (Redis when redis-server exists)
    .venv/bin/python bench/async.py --events 1000 --brokers redis

For each broker it starts the stack (``scripts/stack.py``: granian + one Celery worker, threads
pool) on a temporary DATA_DIR with the SQLite database (or, with ``--database URL``, a fresh
PostgreSQL database), creates a no-op function and measures:

1. **accept latency**: ``--sequential`` boto3 ``Invoke(InvocationType=Event)`` calls one after the
   other (p50/p99 of the 202);
2. **accept rate and end-to-end throughput**: ``--events`` Event invokes from ``--threads`` client
   threads, while the worker runs them; accepts/s = events / time to the last 202; end to end =
   events / (last completion − first 202), completions counted in the database (rows with a final
   condition). Twice: with boto3 clients, then with ``SignedHttpClient`` (the same signed REST
   calls at a tenth of the client CPU: client and server share the machine's cores).

``--no-worker`` measures the accept path alone: the same calls with no worker taking the CPU.

Figures only, no assertions. Every process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
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
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import noop_zip  # noqa: E402
from scripts.stack import Stack, free_port  # noqa: E402

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
    stack = Stack(
        data_dir, port=free_port(), env=env, log_dir=data_dir / "logs", listen_address="127.0.0.1",
        worker=not args.no_worker,
    )  # fmt: skip
    stack.start(timeout=120)
    try:
        created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "bench").splitlines())
        key, secret = created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"]
        client = _client(stack, key, secret)
        client.create_function(
            FunctionName="noop", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
            Handler="app.handler", Code={"ZipFile": noop_zip()}, Timeout=3,
        )  # fmt: skip
        client.get_waiter("function_active_v2").wait(FunctionName="noop", WaiterConfig={"Delay": 1})
        client.invoke(FunctionName="noop", Payload=b"{}")
        for _ in range(20):  # warm the web path, the broker connection and the worker's environments
            client.invoke(FunctionName="noop", InvocationType="Event", Payload=b"{}")
        if not args.no_worker:
            _wait_for(db, 20, timeout=60)

        latencies = []
        for _ in range(args.sequential):
            started = time.perf_counter()
            client.invoke(FunctionName="noop", InvocationType="Event", Payload=b'{"n": 1}')
            latencies.append((time.perf_counter() - started) * 1000)
        if not args.no_worker:
            _wait_for(db, 20 + args.sequential, timeout=120)

        expected = 20 + args.sequential
        results: dict[str, float] = {
            "accept p50 ms": statistics.median(latencies),
            "accept p99 ms": _percentile(latencies, 0.99),
        }
        for kind in ("boto3", "http"):
            if kind == "boto3":
                senders = [_client(stack, key, secret) for _ in range(args.threads)]
                send = [lambda c=c: c.invoke(FunctionName="noop", InvocationType="Event", Payload=b'{"n": 2}') for c in senders]
            else:
                senders = [SignedHttpClient(stack, key, secret) for _ in range(args.threads)]
                send = [lambda c=c: c.invoke_event("noop", b'{"n": 3}') for c in senders]
            accepted, accept_seconds, first_accept = _blast(send, args.events // args.threads)
            expected += accepted
            results[f"accepts/s ({kind})"] = accepted / accept_seconds
            if not args.no_worker:
                last_done = _wait_for(db, expected, timeout=args.timeout)
                results[f"end-to-end events/s ({kind})"] = accepted / (last_done - first_accept) if last_done else 0.0
        count, _ = db.completions()
        results["completed"], results["expected"] = float(count), float(expected)
        return results
    finally:
        stack.stop()
        db.drop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _blast(send: list[Any], per_thread: int) -> tuple[int, float, float]:
    """``per_thread`` calls from each sender's own thread, all released at once: (calls, seconds
    to the last 202, epoch of the first 202)."""
    barrier = threading.Barrier(len(send) + 1)
    first_accept: list[float] = []
    last_accept: list[float] = []

    def blast(call: Any) -> None:
        barrier.wait()
        for _ in range(per_thread):
            call()
            if not first_accept:
                first_accept.append(time.time())
        last_accept.append(time.time())

    threads = [threading.Thread(target=blast, args=(call,)) for call in send]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.time()
    for t in threads:
        t.join()
    return per_thread * len(send), max(last_accept) - started, first_accept[0]


class SignedHttpClient:
    """The Invoke API's wire protocol without the SDK: each request signed with botocore's SigV4
    signer and sent on a kept-alive connection (TCP_NODELAY). A tenth of boto3's client-side CPU,
    so on a 2-core machine the figure says more about the server than about the load generator."""

    def __init__(self, stack: Stack, key: str, secret: str) -> None:
        import http.client
        import socket

        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        self.host, self.port = stack.host, stack.port
        self.signer = SigV4Auth(Credentials(key, secret), "lambda", "us-east-1")
        self.connection = http.client.HTTPConnection(self.host, self.port)
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def invoke_event(self, function: str, payload: bytes) -> None:
        from botocore.awsrequest import AWSRequest

        path = f"/2015-03-31/functions/{function}/invocations"
        request = AWSRequest(
            method="POST", url=f"http://{self.host}:{self.port}{path}", data=payload,
            headers={"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"},
        )  # fmt: skip
        self.signer.add_auth(request)
        self.connection.request("POST", path, body=payload, headers=dict(request.headers.items()))
        response = self.connection.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"Event invoke answered {response.status}")


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
    parser.add_argument(
        "--no-worker", action="store_true",
        help="start no worker: the accept path alone (events stay queued; no end-to-end figures)",
    )  # fmt: skip
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
    metrics = list(next(iter(results.values()), {}))
    print(f"{'metric':<32}" + "".join(f"{n:>14}" for n in results))
    for metric in metrics:
        print(f"{metric:<32}" + "".join(f"{results[n][metric]:>14.1f}" for n in results))
    print(f"\ncommand: {' '.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
