"""``/metrics``, ``/healthz`` and ``/readyz`` (config/urls.py): for Prometheus and load balancers.

None of them uses a session, a login or CSRF (GET only; nothing stored).

* ``/healthz`` — the process answers: 200 ``ok``, no database, no broker.
* ``/readyz`` — the node can do its work: the database answers ``SELECT 1``, the broker accepts a
  connection, and at least one Celery worker consuming this node's queue is reachable. 200 with a
  JSON body naming each check, or 503 naming what failed. The verdict is reused for
  ``READYZ_CACHE_SECONDS`` (2) so a load balancer's probes do not ping the broker each time; each
  check waits at most ``READYZ_TIMEOUT_SECONDS`` (1).

  A worker is "reachable" when it answers a control broadcast (``inspect().active_queues()``, a
  ping that also says which queues it consumes: stacks sharing one Redis each use their own queue)
  — on brokers that carry broadcasts (Redis, RabbitMQ). The embedded SQLAlchemy broker carries no
  broadcasts; there a worker is reachable when its heartbeat row (invocations/node.py, refreshed
  every minute, withdrawn at a clean exit) is fresher than ``LAMBDA_ASYNC_WORKER_LOST_SECONDS``.
* ``/metrics`` — 404 unless ``METRICS_TOKEN`` is set; then ``Authorization: Bearer <token>`` is
  required (401 with ``WWW-Authenticate: Bearer`` otherwise) and the answer is the Prometheus text
  exposition of the node (invocations/metrics.py).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe


def _authorized(request: HttpRequest) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())


@csrf_exempt
@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        return HttpResponseNotFound("Not found.\n", content_type="text/plain")
    if not _authorized(request):
        response = HttpResponse("Unauthorized: send Authorization: Bearer <METRICS_TOKEN>.\n", status=401,
                                content_type="text/plain")  # fmt: skip
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    from invocations import metrics

    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


@csrf_exempt
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


# --- readiness ------------------------------------------------------------------------------------


def check_database() -> str | None:
    """None when the database answers, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        connection.close()  # a broken connection is replaced on the next request
        return f"{type(error).__name__}: {error}"
    return None


def _broker_connection() -> Any:
    from config.celery import app

    return app.connection_for_write(connect_timeout=settings.READYZ_TIMEOUT_SECONDS)


def check_broker() -> str | None:
    try:
        with _broker_connection() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=settings.READYZ_TIMEOUT_SECONDS)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _carries_broadcasts() -> bool:
    with _broker_connection() as conn:
        return "fanout" in conn.transport.implements.exchange_type


def check_worker() -> str | None:
    """None when at least one worker that consumes this node's queue is reachable."""
    try:
        if _carries_broadcasts():
            return _ping_workers()
        return _worker_heartbeat()
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def _ping_workers() -> str | None:
    from config.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    replies = app.control.inspect(timeout=settings.READYZ_TIMEOUT_SECONDS).active_queues() or {}
    if any(q.get("name") == queue for queues in replies.values() for q in queues or ()):
        return None
    return f"no worker consuming queue {queue!r} answered within {settings.READYZ_TIMEOUT_SECONDS:g} s"


def _worker_heartbeat() -> str | None:
    from invocations.models import WorkerHeartbeat

    cutoff = timezone.now() - timedelta(seconds=settings.LAMBDA_ASYNC_WORKER_LOST_SECONDS)
    if WorkerHeartbeat.objects.filter(kind="worker", seen_at__gte=cutoff).exists():
        return None
    return "no worker heartbeat (no worker is running)"


CHECKS = {"database": check_database, "broker": check_broker, "worker": check_worker}

_cache_lock = threading.Lock()
_cached: tuple[float, dict[str, str]] | None = None


def readiness() -> dict[str, str]:
    """Each check's verdict ("ok" or why not), reused for READYZ_CACHE_SECONDS."""
    global _cached
    with _cache_lock:  # one probe at a time runs the checks; the others wait and reuse its verdict
        now = time.monotonic()
        if _cached is not None and now - _cached[0] < settings.READYZ_CACHE_SECONDS:
            return _cached[1]
        results: dict[str, str] = {}
        for name, check in CHECKS.items():
            if name == "worker" and results.get("broker", "ok") != "ok":
                results[name] = "not checked: the broker is unreachable"
                continue
            problem = check()
            results[name] = "ok" if problem is None else problem
        _cached = (time.monotonic(), results)
        return results


def reset_readiness_cache() -> None:
    global _cached
    with _cache_lock:
        _cached = None


@csrf_exempt
@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    checks = readiness()
    failed = [name for name, verdict in checks.items() if verdict != "ok"]
    body: dict[str, object] = {"status": "ready" if not failed else "not ready", "checks": checks}
    if failed:
        body["failed"] = failed
    return HttpResponse(json.dumps(body) + "\n", status=503 if failed else 200, content_type="application/json")
