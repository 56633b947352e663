"""Engine benchmarks: figures, not assertions.

    .venv/bin/python bench/engine.py [--warm N] [--concurrency N]

Cold start (spawn → first /next) with bwrap + cgroups vs a bare subprocess; warm Pool.invoke round
trips; N concurrent invocations of a function sleeping 2 s (all cold).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from invocations.engine import FunctionSpec, InvokeRequest, Pool, PoolConfig  # noqa: E402

HELLO = "def handler(event, context):\n    return event\n"
SLEEP = "import time\ndef handler(event, context):\n    time.sleep(2)\n    return 'slept'\n"
NODE = "exports.handler = async (event) => event;\n"


def make_spec(code_root: str, source: str, *, runtime: str = "python3.11", filename: str = "app.py",
              handler: str = "app.handler") -> FunctionSpec:
    code = tempfile.mkdtemp(dir=code_root)
    with open(os.path.join(code, filename), "w") as f:
        f.write(source)
    return FunctionSpec(function_name="bench", function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
                        version="$LATEST", revision_id=uuid.uuid4().hex, code_dir=code, code_sha256="x",
                        runtime=runtime, handler=handler, timeout_s=30)


def request(spec: FunctionSpec, body: bytes = b'{"hello":"world"}') -> InvokeRequest:
    return InvokeRequest(request_id=str(uuid.uuid4()), payload=body, invoked_function_arn=spec.function_arn)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def cold_starts(pool: Pool, code_root: str, n: int, **spec_options: str) -> tuple[list[float], list[float]]:
    init, total = [], []
    for _ in range(n):
        spec = make_spec(code_root, spec_options.get("source", HELLO),
                         **{k: v for k, v in spec_options.items() if k != "source"})
        started = time.perf_counter()
        result = pool.invoke(spec, request(spec))
        total.append((time.perf_counter() - started) * 1000)
        assert result.status == "succeeded", result.payload
        init.append(result.init_duration_ms or 0.0)
    return init, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--cold", type=int, default=15)
    args = parser.parse_args()
    code_root = tempfile.mkdtemp(prefix="bench-engine-")
    print(f"cpus: {os.cpu_count()}")

    # Interleaved, so that load from other processes on the node hits both alike.
    bare = Pool(PoolConfig(sandbox="off", use_cgroups=False))
    pool = Pool(PoolConfig(max_environments=128))
    init_bare: list[float] = []
    total_bare: list[float] = []
    init_box: list[float] = []
    total_box: list[float] = []
    for _ in range(args.cold):
        for target, init, total in ((bare, init_bare, total_bare), (pool, init_box, total_box)):
            i, t = cold_starts(target, code_root, 1)
            init += i
            total += t
    bare.shutdown()
    print(f"python3.11 cold start, bare subprocess: init (spawn → first /next) p50 {statistics.median(init_bare):.1f} ms, "
          f"invoke total p50 {statistics.median(total_bare):.1f} ms")
    print(f"python3.11 cold start, bwrap+cgroups:   init p50 {statistics.median(init_box):.1f} ms, "
          f"invoke total p50 {statistics.median(total_box):.1f} ms  → sandbox overhead "
          f"{statistics.median(init_box) - statistics.median(init_bare):.1f} ms")
    node_init, node_total = cold_starts(pool, code_root, 5, source=NODE, runtime="nodejs20.x",
                                        filename="index.js", handler="index.handler")
    print(f"nodejs20.x cold start, bwrap+cgroups:   init p50 {statistics.median(node_init):.1f} ms, "
          f"invoke total p50 {statistics.median(node_total):.1f} ms")

    spec = make_spec(code_root, HELLO)
    pool.invoke(spec, request(spec))
    for _ in range(200):
        pool.invoke(spec, request(spec))
    warm = []
    for _ in range(args.warm):
        started = time.perf_counter()
        result = pool.invoke(spec, request(spec))
        warm.append((time.perf_counter() - started) * 1000)
    assert not result.cold_start
    print(f"warm Pool.invoke round trip (python3.11 echo, {args.warm}x): p50 {statistics.median(warm):.3f} ms, "
          f"p90 {pct(warm, 0.9):.3f} ms, p99 {pct(warm, 0.99):.3f} ms, mean {statistics.mean(warm):.3f} ms")

    with ThreadPoolExecutor(8) as executor:
        n = 4000
        started = time.perf_counter()
        list(executor.map(lambda _: pool.invoke(spec, request(spec)), range(n)))
        elapsed = time.perf_counter() - started
    print(f"8 threads, one function: {n / elapsed:.0f} invokes/s "
          f"({pool.stats()['functions'][f'bench:$LATEST:{spec.revision_id}']['environments']} environments)")

    sleeper = make_spec(code_root, SLEEP)
    with ThreadPoolExecutor(args.concurrency) as executor:
        started = time.perf_counter()
        results = list(executor.map(lambda _: pool.invoke(sleeper, request(sleeper)), range(args.concurrency)))
        elapsed = time.perf_counter() - started
    inits = [r.init_duration_ms or 0.0 for r in results]
    print(f"{args.concurrency} concurrent invocations sleeping 2 s: all done in {elapsed:.2f} s; "
          f"{sum(r.cold_start for r in results)} cold, {sum(r.status == 'succeeded' for r in results)} succeeded, "
          f"init p50 {statistics.median(inits):.0f} ms max {max(inits):.0f} ms")
    print(json.dumps({k: v for k, v in pool.stats().items() if k != "functions"}))
    pool.shutdown()


if __name__ == "__main__":
    main()
