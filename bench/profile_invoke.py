"""Where a warm synchronous invoke spends the web process's CPU: py-spy under bench/invoke.py's load.

    .venv/bin/pip install -e '.[bench]'              # once: py-spy
    .venv/bin/python bench/profile_invoke.py         # 8 boto3 threads, 15 s, prints the breakdown
    .venv/bin/python bench/profile_invoke.py --svg   # also var/artifacts/profile-invoke.svg (flame graph)

Starts our stack as bench/invoke.py does (scripts/stack.py, SQLite, bwrap sandbox), warms one
environment per client thread, then drives the echo function with ``--threads`` boto3 clients for
``--seconds`` while ``py-spy record --gil --subprocesses --format raw`` samples the web server
(granian and its WSGI worker process) at ``--rate`` Hz: only the thread holding the GIL is sampled
(py-spy takes granian's 256 threads blocked in Rust for busy ones otherwise), so samples / rate is
the time the one interpreter spent on each part. Beside it, the CPU time the kernel counted
(``/proc/PID/stat``) for the web processes and for the execution environments (their children).

Each sample is put in the first bucket (``BUCKETS``, checked from the innermost frame outwards)
whose pattern one of its frames matches, so a SigV4 check that reads the database counts as SigV4.
Figures, never assertions. Needs root (ptrace) or a kernel that lets us attach to our children.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import invoke as bench  # noqa: E402  (bench/invoke.py: the stack, the clients, the load)

ROOT = BENCH_DIR.parent
ARTIFACTS = ROOT / "var" / "artifacts"

# (label, pattern on a frame "function (file:line)"), innermost match wins; order breaks ties.
BUCKETS: tuple[tuple[str, str], ...] = (
    ("SigV4 verification", r"invocations/api/sigv4|botocore/auth|botocore/awsrequest|hmac|hashlib"),
    ("authorization policy", r"invocations/(access|policy)\.py"),
    ("function lookup (ORM)", r"invocations/services/invoke\.py.*(resolve|version)|invocations/selectors"),
    ("environment pool + Runtime API", r"invocations/engine/"),
    ("concurrency leases", r"invocations/concurrency\.py"),
    ("recording (recorder, rollups, metrics)", r"invocations/(recorder|rollups|metrics|journal)\.py"),
    ("database driver / ORM", r"django/db/|sqlite3|psycopg"),
    ("Django request cycle (handlers, middleware, URLs)", r"django/"),
    ("JSON / payload handling", r"json/|invocations/json_input"),
    ("WSGI server + sockets (granian)", r"granian|socket|selectors|ssl"),
    ("logging", r"logging/"),
    ("other invocations/ code", r"invocations/"),
)


def frames_of(line: str) -> tuple[str, list[str], int]:
    """(the innermost process's command line, that process's frames, the sample count) of one
    collapsed stack of ``py-spy record --subprocesses --format raw``."""
    stack, _, count = line.rpartition(" ")
    frames = stack.split(";")
    starts = [i for i, frame in enumerate(frames) if frame.startswith("process ")]
    process = frames[starts[-1]] if starts else ""
    return process, frames[starts[-1] + 1 :] if starts else frames, int(count)


def bucket_of(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for label, pattern in BUCKETS:
            if re.search(pattern, frame):
                return label
    return "other (interpreter, threads)"


def web_pid(stack: object) -> int:
    web = getattr(stack, "web", None)
    if web is None:
        raise SystemExit("the stack has no web process")
    return int(web.pid)


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        found.append(parent)
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = Path(f"{task}/children")
            if children.exists():
                todo += [int(child) for child in children.read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each live pid, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def is_web(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"granian" in command or b"config.wsgi" in command


def load(system: bench.Workbench, threads: int, seconds: float) -> tuple[int, float]:
    clients = bench.warm_clients(system, threads)
    bench.measure_throughput(system, clients, 0.5, bench.Results())  # one warm environment per thread
    results = bench.Results()
    bench.measure_throughput(system, clients, seconds, results)
    return results.tp_calls, results.tp_seconds


def record(pid: int, seconds: float, rate: int, out: Path, fmt: str) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install -e '.[bench]'")
    command = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--rate", str(rate), "--duration",
               str(int(seconds)), "--format", fmt, "--output", str(out), "--nonblocking", "--gil"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass
class Run:
    calls: int
    seconds: float
    web_cpu_s: float  # the web processes (granian and its WSGI worker), kernel-counted
    environments_cpu_s: float  # their children: sandboxes and runtimes
    client_cpu_s: float  # this process: the boto3 clients (signing, HTTP, parsing)


def profile(system: bench.Workbench, *, threads: int, seconds: float, rate: int, out: Path, fmt: str) -> Run:
    pid = web_pid(system.stack)
    spy = record(pid, seconds, rate, out, fmt)
    time.sleep(0.5)  # attached before the load starts
    before = cpu_seconds(descendants(pid))
    client_before = resource.getrusage(resource.RUSAGE_SELF)
    answered: list[tuple[int, float]] = []
    driver = threading.Thread(target=lambda: answered.append(load(system, threads, seconds - 1.5)))
    driver.start()
    driver.join()
    after = cpu_seconds(descendants(pid))
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    client = sum(getattr(client_after, f) - getattr(client_before, f) for f in ("ru_utime", "ru_stime"))
    _, error = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0:
        raise SystemExit(f"py-spy failed: {error.decode(errors='replace')[-800:]}")
    used = {p: after[p] - before.get(p, 0.0) for p in after}
    web = sum(v for p, v in used.items() if is_web(p))
    calls, elapsed = answered[0]
    return Run(calls, elapsed, web, sum(used.values()) - web, client)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=250, help="samples per second (default 250)")
    parser.add_argument("--svg", action="store_true", help="also write a flame graph (a second, separate run)")
    parser.add_argument("--sandbox", default="bwrap")
    args = parser.parse_args()

    work_dir = Path(tempfile.mkdtemp(prefix="wb-profile-"))
    runtimes = str(ROOT / "var" / "runtimes")
    system = bench.Workbench(work_dir, label="workbench", key="workbench",
                             env={"LAMBDA_RUNTIMES_DIR": runtimes, "LAMBDA_SANDBOX": args.sandbox})  # fmt: skip
    try:
        system.start()
        client = system.client()
        for _ in range(50):
            bench.invoke_ok(client, system.echo_name)
        raw = Path(os.environ.get("PROFILE_RAW", work_dir / "profile.txt"))
        run = profile(system, threads=args.threads, seconds=args.seconds, rate=args.rate, out=raw, fmt="raw")
        counts: collections.Counter[str] = collections.Counter()
        for line in raw.read_text().splitlines():
            if line.strip():
                process, frames, count = frames_of(line)
                if "granian" in process:  # not the environments' runtimes (children of the web process)
                    counts[bucket_of(frames)] += count
        total = sum(counts.values())
        calls = max(run.calls, 1)
        gil_s = total / args.rate
        print(f"\n{run.calls} invokes in {run.seconds:.1f} s ({run.calls / run.seconds:.0f}/s, {args.threads} boto3 threads)")
        print(f"CPU per invoke: web processes {run.web_cpu_s / calls * 1000:.2f} ms, environments "
              f"{run.environments_cpu_s / calls * 1000:.2f} ms, boto3 clients {run.client_cpu_s / calls * 1000:.2f} ms; "
              f"the web process's GIL held "
              f"{gil_s / calls * 1000:.2f} ms ({gil_s / run.seconds:.0%} of the wall time)\n")
        print("| where the GIL is held | share | ms per invoke |\n|---|--:|--:|")
        for label, count in counts.most_common():
            print(f"| {label} | {count / total:.0%} | {count / args.rate / calls * 1000:.2f} |")
        if args.svg:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            svg = ARTIFACTS / "profile-invoke.svg"
            profile(system, threads=args.threads, seconds=args.seconds, rate=args.rate, out=svg, fmt="flamegraph")
            print(f"\nflame graph: {svg}")
    finally:
        system.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
