"""What the cluster-wide concurrency counter (invocations/concurrency.py) costs per invoke.

    .venv/bin/python bench/concurrency.py            # SQLite in a temporary DATA_DIR + a redis-server here
    DATABASE_URL=postgres://… .venv/bin/python bench/concurrency.py   # the database column on PostgreSQL

For each backend (the database, Redis) it prints, per invocation, in microseconds:

* hot path — ``admit`` + ``release`` of a function whose process already holds a spare lease (every
  warm invoke under steady load: no round trip);
* cold path — a lease granted by the shared counter and given back (one round trip each way; what an
  invocation pays when its node's concurrency grows, and what the keeper spends per returned spare).

The invoke benchmark (bench/invoke.py) measures the whole warm invoke with the counter in place.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _timed(n: int, body) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        body()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def _row(name: str, samples: list[float]) -> str:
    samples.sort()
    return f"| {name:<50} | {statistics.median(samples):9.1f} | {samples[int(len(samples) * 0.99) - 1]:9.1f} |"


def main() -> None:
    data = tempfile.mkdtemp(prefix="lw-bench-concurrency-")
    os.environ.setdefault("DATA_DIR", data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    call_command("migrate", verbosity=0)
    from invocations import concurrency
    from invocations.concurrency import DatabaseBackend, Limiter, RedisBackend
    from scripts.stack import free_port

    redis_process = None
    backends = [("database (" + settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1] + ")", DatabaseBackend())]
    if shutil.which("redis-server"):
        port = free_port()
        redis_process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", data], stdout=subprocess.DEVNULL)
        import redis

        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(100):
            try:
                redis.Redis.from_url(url).ping()
                break
            except Exception:
                time.sleep(0.05)
        backends.append(("redis", RedisBackend(url, "bench")))
    print(f"| {'per invocation (µs)':<50} |    median |       p99 |")
    print(f"|{'-' * 52}|----------:|----------:|")
    try:
        for name, backend in backends:
            limiter = Limiter(backend, linger=10, keeper=False, max_reuse=3600)  # the hot path alone
            lease = limiter.acquire("acct:1", 1000, reason="R", team_id=1, function_id=None)
            limiter.release(lease)

            concurrency._limiter, concurrency._limiter_pid = limiter, os.getpid()  # what admit() uses

            def hot() -> None:  # an unreserved function: the account's counter, its limit read (cached)
                concurrency.release(concurrency.admit(function_id=1, team_id=1, reserved=None))

            for _ in range(200):
                hot()
            print(_row(f"{name}: hot path (spare reused)", _timed(5000, hot)))
            counter = iter(range(10**9))

            def cold() -> None:
                token = f"bench:{next(counter)}"
                backend.acquire("fn:1", 1000, [token], holder="bench", ttl=30, team_id=1, function_id=1)
                backend.release("fn:1", [token])

            for _ in range(50):
                cold()
            print(_row(f"{name}: cold path (acquire + release)", _timed(500, cold)))
            limiter.stop()
            concurrency._limiter = None
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nCommand: .venv/bin/python bench/concurrency.py\nMachine: {os.cpu_count()} cores; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; backend chosen by default here: {concurrency.make_backend().name}")


if __name__ == "__main__":
    main()
