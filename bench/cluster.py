"""Cluster benchmark: two web nodes and two workers behind nginx (TLS), on PostgreSQL + Redis.

    .venv/bin/python bench/cluster.py
    .venv/bin/python bench/cluster.py --sync 2000 --events 2000 --threads 16

Starts the cluster of ``tests/live/cluster.py`` (the scale-out test's harness: PostgreSQL and Redis
from the environment or started here, two web-only and two worker-only nodes, nginx with
``deploy/nginx/lambda-workbench.conf`` and a test certificate), creates no-op functions and measures,
all through nginx over HTTPS:

1. **sync under load**: ``--sync`` RequestResponse invokes from ``--threads`` client threads, spread
   over ``--functions`` functions (nginx hashes each to one web node, so both nodes take load):
   invokes/s, and p50/p99 of the client-side latency;
2. **Event end to end**: ``--events`` Event invokes from the same threads while both workers run
   them: accepts/s, and events/s end to end = events / (last completion − first 202), completions
   counted in the database; and how many each worker ran.

Figures only, no assertions. Client and servers share the machine's cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import noop_zip  # noqa: E402
from tests.live.cluster import cluster  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sync", type=int, default=1000, help="synchronous invokes")
    parser.add_argument("--events", type=int, default=1000, help="Event invokes")
    parser.add_argument("--threads", type=int, default=16, help="client threads")
    parser.add_argument("--functions", type=int, default=4, help="functions the load is spread over")
    parser.add_argument("--worker-concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lw-bench-cluster-") as directory, cluster(
        Path(directory), worker_concurrency=args.worker_concurrency,
        env={"LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS": "1"},
    ) as c:  # fmt: skip
        print(f"cluster: {len(c.webs)} web nodes, {len(c.workers)} workers "
              f"(threads pool, {args.worker_concurrency} each), nginx TLS on :{c.proxy.port}")  # fmt: skip
        local = threading.local()

        def client() -> Any:
            if not hasattr(local, "client"):
                local.client = c.client()
            return local.client

        names = [f"bench-{i}" for i in range(args.functions)]
        for name in names:
            client().create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                     Code={"ZipFile": noop_zip()}, MemorySize=128, Timeout=10)  # fmt: skip
            client().get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
        for name in names:  # one warm-up call each, so the figures are about warm invokes
            client().invoke(FunctionName=name, Payload=b"{}")

        latencies: list[float] = []

        def sync(i: int) -> None:
            started = time.perf_counter()
            client().invoke(FunctionName=names[i % len(names)], Payload=b"{}")["Payload"].read()
            latencies.append(time.perf_counter() - started)

        with ThreadPoolExecutor(args.threads) as pool:
            started = time.perf_counter()
            list(pool.map(sync, range(args.sync)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        print(f"sync, through nginx: {args.sync} invokes, {args.threads} threads, {args.functions} functions: "
              f"{args.sync / elapsed:.0f} invokes/s, p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms")  # fmt: skip

        def event(i: int) -> None:
            answer = client().invoke(FunctionName=names[i % len(names)], InvocationType="Event", Payload=b"{}")
            assert answer["StatusCode"] == 202

        query = ("SELECT count(*), max(finished_at) FROM invocations_invocation WHERE invocation_type = 'Event' "
                 "AND status IN ('succeeded', 'failed', 'timed-out', 'throttled')")  # fmt: skip
        first = c.query("SELECT now()")[0][0]
        with ThreadPoolExecutor(args.threads) as pool:
            started = time.perf_counter()
            list(pool.map(event, range(args.events)))
            accepted = time.perf_counter() - started
        deadline = time.monotonic() + 300
        while (done := c.query(query))[0][0] < args.events and time.monotonic() < deadline:
            time.sleep(0.2)
        count, last = done[0]
        end_to_end = (last - first).total_seconds()
        per_worker = Counter(row[0] for row in c.query(
            "SELECT a.worker FROM invocations_invocationattempt a JOIN invocations_invocation i "
            "ON i.id = a.invocation_id WHERE i.invocation_type = 'Event' AND a.outcome = 'succeeded'"))  # fmt: skip
        print(f"Event, through nginx: {args.events} events, {args.threads} threads: "
              f"{args.events / accepted:.0f} accepts/s; {count} done, {count / end_to_end:.0f} events/s end to end "
              f"(first 202 to last completion {end_to_end:.1f} s); per worker: {sorted(per_worker.values())}")  # fmt: skip


if __name__ == "__main__":
    main()
