"""Mixed load on a real stack, and the count afterwards.

``Load`` runs threads of synchronous invokes and of ``Event`` invokes (boto3, no retries: each call
is one attempt) and remembers every request id the platform answered for: a 200 for a synchronous
call, a 202 for an event. ``Count`` then reads the invocation records (through ``manage.py shell``,
so on SQLite and PostgreSQL alike) and says which answered calls have no record and which accepted
events never ran.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from scripts.stack import Stack

REGION = "us-east-1"

# The records of the given request ids, as JSON lines on stdin → one JSON object on stdout.
_RECORDS = """
import json, sys
from invocations.models import Invocation
ids = json.loads(sys.stdin.read())
rows = {}
for start in range(0, len(ids), 500):
    for rid, status, name, attempt in Invocation.objects.filter(request_id__in=ids[start:start + 500]).values_list(
            "request_id", "status", "function_name", "attempt"):
        rows[rid] = [status, name, attempt]
print(json.dumps(rows))
"""


@dataclass
class Answered:
    """What the platform answered during a load: request ids by function."""

    sync: dict[str, list[str]] = field(default_factory=dict)  # a 200 (a function error included)
    events: dict[str, list[str]] = field(default_factory=dict)  # a 202
    sync_failed: int = 0  # no answer (connection refused or reset), or an error status
    events_refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: dict[str, list[str]], function: str, request_id: str) -> None:
        with self.lock:
            kind.setdefault(function, []).append(request_id)

    def failed(self, event: bool) -> None:
        with self.lock:
            if event:
                self.events_refused += 1
            else:
                self.sync_failed += 1

    def total(self, kind: dict[str, list[str]], functions: Iterable[str] | None = None) -> int:
        return sum(len(ids) for name, ids in kind.items() if functions is None or name in functions)


def client(stack: Stack, key_id: str, secret: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=stack.endpoint, region_name=REGION,
        aws_access_key_id=key_id, aws_secret_access_key=secret,
        # One attempt per call: a retried Event would be two events; connect fast while a process is down.
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=60),
    )  # fmt: skip


class Load:
    """Threads invoking until stopped: ``sync`` as {function: threads}, ``events`` likewise."""

    def __init__(self, stack: Stack, key_id: str, secret: str, *, sync: dict[str, int], events: dict[str, int],
                 pause: float = 0.02, event_pause: float = 0.05) -> None:  # fmt: skip
        self.stack, self.key_id, self.secret = stack, key_id, secret
        self.plan = [(name, False) for name, n in sync.items() for _ in range(n)]
        self.plan += [(name, True) for name, n in events.items() for _ in range(n)]
        self.pause, self.event_pause = pause, event_pause
        self.answered = Answered()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, function: str, event: bool) -> None:
        lam = client(self.stack, self.key_id, self.secret)
        kind = self.answered.events if event else self.answered.sync
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                response = lam.invoke(
                    FunctionName=function, InvocationType="Event" if event else "RequestResponse",
                    Payload=json.dumps({"n": n}).encode(),
                )  # fmt: skip
            except Exception:
                self.answered.failed(event)
                self._stop.wait(0.2)  # a process is down: do not spin
                continue
            response["Payload"].read()
            if response["StatusCode"] == (202 if event else 200):
                self.answered.add(kind, function, response["ResponseMetadata"]["RequestId"])
            else:
                self.answered.failed(event)
            self._stop.wait((self.event_pause if event else self.pause) * random.uniform(0.5, 1.5))

    def start(self) -> Load:
        for function, event in self.plan:
            thread = threading.Thread(target=self._run, args=(function, event), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> Answered:
        self._stop.set()
        for thread in self._threads:
            thread.join(90)
            assert not thread.is_alive(), "a load thread hangs"
        return self.answered


@contextmanager
def load(stack: Stack, key_id: str, secret: str, **plan: Any) -> Iterator[Load]:
    running = Load(stack, key_id, secret, **plan).start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Count:
    answered: Answered
    records: dict[str, list[Any]]  # request id → [status, function name, attempt]
    settled_after: float

    def unrecorded(self, functions: Iterable[str] | None = None) -> list[str]:
        return [rid for name, ids in self.answered.sync.items() if functions is None or name in functions
                for rid in ids if rid not in self.records]  # fmt: skip

    def not_run(self, functions: Iterable[str] | None = None) -> list[str]:
        return [rid for name, ids in self.answered.events.items() if functions is None or name in functions
                for rid in ids if self.records.get(rid, [None])[0] != "succeeded"]  # fmt: skip

    def ran_again(self) -> int:
        return sum(1 for ids in self.answered.events.values() for rid in ids
                   if rid in self.records and self.records[rid][2] > 1)  # fmt: skip

    def line(self, fault: str, unrelated: Iterable[str], extra: str = "") -> str:
        unrelated = set(unrelated)
        a = self.answered
        return (
            f"{fault}: sync answered {a.total(a.sync)}, recorded {a.total(a.sync) - len(self.unrecorded())}; "
            f"events accepted {a.total(a.events)}, ran {a.total(a.events) - len(self.not_run())} "
            f"({self.ran_again()} more than once); unrelated records missing "
            f"{len(self.unrecorded(unrelated)) + len(self.not_run(unrelated))}; "
            f"no answer: {a.sync_failed} sync, {a.events_refused} events; settled in {self.settled_after:.1f} s"
            + (f"; {extra}" if extra else "")
        )


def records(stack: Stack, request_ids: list[str]) -> dict[str, list[Any]]:
    output = stack.manage("shell", "-c", _RECORDS, input=json.dumps(request_ids))
    found: dict[str, list[Any]] = json.loads(output.strip().splitlines()[-1])  # after Django's own lines
    return found


def count(stack: Stack, answered: Answered, *, event_functions: Iterable[str] | None = None,
          timeout: float = 30.0) -> Count:  # fmt: skip
    """Wait (at most ``timeout``) until every answered call is recorded and every accepted event of
    ``event_functions`` (default: all) has run; return the count as it then stands."""
    ids = [rid for kind in (answered.sync, answered.events) for group in kind.values() for rid in group]
    started = time.monotonic()
    while True:
        result = Count(answered, records(stack, ids), time.monotonic() - started)
        if not result.unrecorded() and not result.not_run(event_functions):
            return result
        if time.monotonic() - started > timeout:
            return result
        time.sleep(1.0)
