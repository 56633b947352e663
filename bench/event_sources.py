"""SQS event source benchmark: messages/s end to end per batch size, and send → function-start latency.

    .venv/bin/python bench/event_sources.py                      # batch sizes 1, 10, 100
    .venv/bin/python bench/event_sources.py --messages 5000 --batch-sizes 100

Starts moto in server mode (SQS) and the stack (``scripts/stack.py``: granian + one Celery worker,
threads pool, SQLite) on a temporary DATA_DIR with the moto endpoint in its environment, creates a
no-op function, then:

1. **throughput**, per batch size: ``--messages`` messages are put in a fresh queue first, then a
   mapping is created (``MaximumConcurrency`` = ``--concurrency``; window 0 s, or 1 s for batch sizes
   over 10 as AWS requires); msgs/s = messages / (last invocation finished − first started), read
   from the database; every message is checked to have been delivered;
2. **latency**: a batch-size-1, 0 s window mapping on an idle queue; ``--latency-messages`` sent one
   by one, ``--latency-gap`` apart; latency = the invocation's ``started_at`` − the message's
   ``SentTimestamp`` (one clock: moto and the worker run here).

Figures only, no assertions. Every process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.stack import Stack, free_port  # noqa: E402
from bench.common import noop_zip  # noqa: E402
from tests.invocations.aws_emulator import moto_server  # noqa: E402

def _when(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def _rows(db: Path, function: str) -> list[tuple[float, float, list[dict[str, Any]]]]:
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT i.started_at, i.finished_at, b.payload FROM invocations_invocation i "
            "JOIN invocations_invocationbody b ON b.request_id = i.request_id "
            "WHERE i.function_name = ? AND i.source = 'trigger' AND i.finished_at IS NOT NULL ORDER BY i.id",
            (function,),
        ).fetchall()
    return [(_when(s), _when(f), json.loads(p)["Records"]) for s, f, p in rows]


def _fill(sqs: Any, url: str, count: int) -> None:
    def put(start: int) -> None:
        entries = [{"Id": str(i), "MessageBody": json.dumps({"n": start + i})} for i in range(min(10, count - start))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(0, count, 10)))


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _wait_for(db: Path, function: str, count: int, timeout: float) -> list[tuple[float, float, list[dict[str, Any]]]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _rows(db, function)
        if sum(len(r[2]) for r in rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def throughput(lambda_: Any, sqs: Any, db: Path, batch_size: int, messages: int, concurrency: int) -> None:
    function = f"noop-{batch_size}"
    lambda_.create_function(
        FunctionName=function, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="app.handler", Code={"ZipFile": noop_zip()}, Timeout=30,
    )  # fmt: skip
    url, arn = _queue(sqs)
    started = time.monotonic()
    _fill(sqs, url, messages)
    fill = time.monotonic() - started
    lambda_.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, BatchSize=batch_size,
        MaximumBatchingWindowInSeconds=1 if batch_size > 10 else 0,
        ScalingConfig={"MaximumConcurrency": concurrency},
    )  # fmt: skip
    rows = _wait_for(db, function, messages, timeout=600)
    delivered = sorted(json.loads(r["body"])["n"] for row in rows for r in row[2])
    first, last = min(r[0] for r in rows), max(r[1] for r in rows)
    sizes = [len(r[2]) for r in rows]
    complete = "all delivered once" if delivered == list(range(messages)) else f"DELIVERED {len(delivered)}/{messages}"
    print(
        f"batch {batch_size:>3}: {messages / (last - first):8.0f} msg/s  ({messages} msgs in {last - first:.2f} s, "
        f"{len(rows)} invocations, mean batch {statistics.mean(sizes):.1f}; queue filled in {fill:.1f} s; {complete})",
        flush=True,
    )


def latency(lambda_: Any, sqs: Any, db: Path, count: int, gap: float) -> None:
    function = "noop-latency"
    lambda_.create_function(
        FunctionName=function, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="app.handler", Code={"ZipFile": noop_zip()}, Timeout=30,
    )  # fmt: skip
    url, arn = _queue(sqs)
    uuid_ = lambda_.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, BatchSize=1, MaximumBatchingWindowInSeconds=0
    )["UUID"]
    while lambda_.get_event_source_mapping(UUID=uuid_)["State"] != "Enabled":
        time.sleep(0.2)
    sqs.send_message(QueueUrl=url, MessageBody="warm-up")
    _wait_for(db, function, 1, timeout=60)
    for i in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        time.sleep(gap)
    rows = _wait_for(db, function, count + 1, timeout=120)
    samples = sorted(
        (start - int(r["attributes"]["SentTimestamp"]) / 1000) * 1000
        for start, _, records in rows for r in records if r["body"] != "warm-up"
    )  # fmt: skip
    p50, p99 = samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"send → function start (batch 1, window 0 s, {len(samples)} messages): p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {samples[-1]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--concurrency", type=int, default=5, help="ScalingConfig.MaximumConcurrency (pollers)")
    parser.add_argument("--latency-messages", type=int, default=50)
    parser.add_argument("--latency-gap", type=float, default=0.1)
    args = parser.parse_args()

    import boto3
    from botocore.config import Config

    with moto_server() as moto, tempfile.TemporaryDirectory(prefix="bench-esm-") as tmp:
        data_dir = Path(tmp)
        env = {**moto.env, "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes"))}
        stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs", listen_address="127.0.0.1")
        stack.start(timeout=120)
        try:
            created = dict(l.split("=", 1) for l in stack.manage("bootstrapadmin", "--username", "bench").splitlines())
            lambda_ = boto3.client(
                "lambda", endpoint_url=stack.endpoint, region_name="us-east-1",
                aws_access_key_id=created["AWS_ACCESS_KEY_ID"], aws_secret_access_key=created["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 1}),
            )  # fmt: skip
            sqs = moto.client("sqs")
            sqs.meta.config.max_pool_connections = 16
            db = data_dir / "db.sqlite3"
            print(f"moto SQS at {moto.endpoint}; stack at {stack.endpoint}; {os.cpu_count()} CPUs", flush=True)
            latency(lambda_, sqs, db, args.latency_messages, args.latency_gap)
            for batch_size in args.batch_sizes:
                throughput(lambda_, sqs, db, batch_size, args.messages, args.concurrency)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
