"""Prometheus metrics of the platform, served on ``/metrics`` (invocations/health.py).

Where the counting happens, and why it adds up across processes
----------------------------------------------------------------
A node is a web process (granian's worker process) plus Celery worker process(es) over one
``DATA_DIR``. Synchronous invokes run in the web process, Event invocations and pollers in the
worker, so a counter kept in one process's memory would miss the other's work. This module uses
prometheus_client's **multiprocess mode**: every process writes its samples to memory-mapped files
in ``settings.METRICS_DIR`` (exported as ``PROMETHEUS_MULTIPROC_DIR`` by config/settings.py before
prometheus_client is imported), and the web node's ``/metrics`` adds up the files of all of the
node's processes, dead ones included, so counters never go backwards while the node runs. The
directory is emptied when the node starts (scripts/stack.py), never while a process uses it.

Counting where records are committed (the recorder's writer thread) would not be enough alone: it
too runs in whichever process recorded, and Event invocations do not go through the recorder.
So the counting happens where an execution ends, in the process that ran it:

* ``observe_invocation`` — called by ``invocations.recorder.record`` (every synchronous invoke,
  streamed or not, and every throttled or failed start) and by ``async_events`` after each attempt of
  an Event invocation (retries count again, as AWS counts them).
* ``running`` — around the engine call, the ``concurrent_executions`` gauge (``livesum``: only
  live processes count; files of dead processes are dropped at scrape time).
* ``observe_batch`` — each event source batch (invocations/event_sources/stats.py).
* The async queue's depth and oldest event's age are read from the database at scrape time (two
  indexed aggregate queries over queued rows): they are the cluster's, so every node reports the
  same value — aggregate them with ``max``, not ``sum``.

A process counts only while ``METRICS_TOKEN`` is set (no files, no cost otherwise). A worker on
another machine (another ``DATA_DIR``) is not seen by a web node's ``/metrics``: run a web node
next to each worker, or scrape each node.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings

from config.log_format import bind

os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(settings.METRICS_DIR)  # before prometheus_client's import
settings.METRICS_DIR.mkdir(parents=True, exist_ok=True)

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

from invocations.models import Invocation  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Lambda-ish: from a 1 ms echo to the 900 s maximum timeout.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900)
LABELS = ("function", "account")

INVOCATIONS = Counter(
    "lambda_invocations", "Invocations ended (each Event attempt counts), by source and status.",
    (*LABELS, "source", "status"), registry=None,
)  # fmt: skip
ERRORS = Counter("lambda_errors", "Invocations that failed or timed out.", LABELS, registry=None)
THROTTLES = Counter("lambda_throttles", "Invocations refused for concurrency (TooManyRequests).", LABELS, registry=None)
COLD_STARTS = Counter("lambda_cold_starts", "Invocations that started a new execution environment.", LABELS, registry=None)
DURATION = Histogram(
    "lambda_duration_seconds", "Function run time (the REPORT line's Duration).", LABELS,
    buckets=DURATION_BUCKETS, registry=None,
)  # fmt: skip
CONCURRENT = Gauge(
    "lambda_concurrent_executions", "Executions running now on this node.", LABELS,
    multiprocess_mode="livesum", registry=None,
)  # fmt: skip
BATCHES = Counter(
    "lambda_event_source_batches", "Event source batches handed to a function.", (*LABELS, "source_kind", "outcome"),
    registry=None,
)  # fmt: skip
RECORDS = Counter("lambda_event_source_records", "Records in those batches.", (*LABELS, "source_kind"), registry=None)

_FAILED = {Invocation.Status.FAILED, Invocation.Status.TIMED_OUT}


def enabled() -> bool:
    return bool(settings.METRICS_TOKEN)


def _labels(function: str, account: str) -> dict[str, str]:
    return {"function": function or "", "account": account or settings.LAMBDA_ACCOUNT_ID}


def observe_invocation(invocation: Invocation, *, account: str = "", status: str = "") -> None:
    """Count one ended invocation (or Event attempt) in this process. Never raises.

    ``account``: when the row was read without its account (an Event attempt's partial row).
    ``status``: an Event attempt's end, while its row is still running."""
    if not enabled():
        return
    try:
        fields = invocation.__dict__  # deferred fields (an Event row read in part) are not loaded here
        labels = _labels(fields.get("function_name", ""), account or fields.get("account_id", ""))
        status = status or fields.get("status") or ""
        INVOCATIONS.labels(**labels, source=fields.get("source") or "", status=status).inc()
        if status in _FAILED:
            ERRORS.labels(**labels).inc()
        elif status == Invocation.Status.THROTTLED:
            THROTTLES.labels(**labels).inc()
        if fields.get("cold_start"):
            COLD_STARTS.labels(**labels).inc()
        duration_ms = fields.get("duration_ms")
        if duration_ms is not None:
            DURATION.labels(**labels).observe(duration_ms / 1000.0)
    except Exception:  # metrics must never fail an invocation
        import logging

        logging.getLogger(__name__).warning("counting invocation failed", exc_info=True)


@contextlib.contextmanager
def running(invocation: Invocation, *, account: str = "") -> Iterator[None]:
    """Around an execution: the concurrency gauge, and the log lines' request_id and function."""
    fields = invocation.__dict__
    with bind(request_id=fields.get("request_id", ""), function=fields.get("function_name", "")):
        if not enabled():
            yield
            return
        gauge = CONCURRENT.labels(**_labels(fields.get("function_name", ""), account or fields.get("account_id", "")))
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()


def observe_batch(*, function: str, account: str, source_kind: str, records: int, error: str) -> None:
    """Count one event source batch and its records."""
    if not enabled():
        return
    labels = _labels(function, account)
    outcome = "ok" if not error else "throttled" if error.startswith("Throttled") else "failed"
    BATCHES.labels(**labels, source_kind=source_kind, outcome=outcome).inc()
    RECORDS.labels(**labels, source_kind=source_kind).inc(records)


class AsyncQueueCollector(Collector):
    """Queued Event invocations per function, and the age of the oldest, read at scrape time."""

    def collect(self) -> Iterable[Any]:
        from django.db.models import Count, Min
        from django.utils import timezone

        depth = GaugeMetricFamily("lambda_async_queue_depth", "Event invocations waiting (queued or due for a retry).", labels=LABELS)
        oldest = GaugeMetricFamily("lambda_async_oldest_event_age_seconds", "Age of the oldest waiting Event invocation.", labels=LABELS)
        now = timezone.now()
        waiting = (
            Invocation.objects.filter(status=Invocation.Status.QUEUED)  # index inv_status_recent
            .order_by()
            .values_list("function_name", "account_id")
            .annotate(n=Count("id"), first=Min("created_at"))
        )
        for function, account, n, first in waiting:
            labels = list(_labels(function, account).values())
            depth.add_metric(labels, n)
            oldest.add_metric(labels, max(0.0, (now - first).total_seconds()))
        yield depth
        yield oldest


_PID = re.compile(r"_(\d+)\.db$")


def forget_dead_processes() -> None:
    """Drop the live gauges of this node's processes that have exited (a restarted worker)."""
    for path in glob.glob(os.path.join(settings.METRICS_DIR, "gauge_live*_*.db")):
        match = _PID.search(path)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, str(settings.METRICS_DIR))
        except PermissionError:
            pass


def exposition() -> bytes:
    """The text exposition of this node: every process's samples added up, plus the queue gauges."""
    forget_dead_processes()
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(settings.METRICS_DIR))
    registry.register(AsyncQueueCollector())
    return generate_latest(registry)
