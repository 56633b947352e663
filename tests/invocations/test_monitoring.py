"""/metrics (token rules, names and labels), /healthz, /readyz and the JSON log format.

Counters live in the node's multiprocess directory, which outlives a test run: every count is
checked as a difference between two scrapes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from config.log_format import JsonFormatter, bind
from invocations import health, metrics, recorder
from invocations.models import Invocation
from tests.conftest import CORE_ACCOUNT
from tests.invocations.services.test_invoke import code_dir, make_function  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token"


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


# --- the token ------------------------------------------------------------------------------------


def test_metrics_is_off_without_a_token(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"])
def test_metrics_refuses_a_missing_or_wrong_token(client: Client, token: str, header: str | None) -> None:
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"lambda_" not in response.content


@pytest.mark.django_db
def test_metrics_with_the_right_token_needs_no_login_and_sets_no_cookie(client: Client, token: str) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert not response.cookies
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


# --- names and labels after invocations ---------------------------------------------------------


@pytest.mark.django_db
def test_a_synchronous_invoke_is_counted_with_its_labels(
    client: Client, token: str, lambda_client: Any, code_dir: Path  # noqa: F811
) -> None:
    make_function("metered", code_dir=code_dir)
    before = scrape(client)
    for _ in range(2):
        assert lambda_client.invoke(FunctionName="metered", Payload=b"{}")["StatusCode"] == 200
    after = scrape(client)
    labels = {"function": "metered", "account": CORE_ACCOUNT}
    counted = {"source": "api", "status": "succeeded", **labels}
    assert value(after, "lambda_invocations_total", **counted) - value(before, "lambda_invocations_total", **counted) == 2
    assert value(after, "lambda_duration_seconds_count", **labels) - value(before, "lambda_duration_seconds_count", **labels) == 2
    assert value(after, "lambda_duration_seconds_bucket", le="900.0", **labels) >= 2
    cold = value(after, "lambda_cold_starts_total", **labels) - value(before, "lambda_cold_starts_total", **labels)
    assert cold >= 1  # the first one started an environment
    assert value(after, "lambda_errors_total", **labels) == value(before, "lambda_errors_total", **labels)
    # Nothing runs any more: the live gauge is back to zero.
    assert value(after, "lambda_concurrent_executions", **labels) == 0


@pytest.mark.django_db
def test_errors_throttles_and_event_attempts_are_counted(client: Client, token: str) -> None:
    labels = {"function": "counted", "account": "123456789012"}
    before = scrape(client)
    for status in ("failed", "timed-out", "throttled"):
        metrics.observe_invocation(Invocation(function_name="counted", account_id="123456789012", source="api", status=status))
    # An Event attempt's row is read without its account: the caller names it.
    metrics.observe_invocation(Invocation(function_name="counted", source="api", status="succeeded"), account="123456789012")
    metrics.observe_batch(function="counted", account="123456789012", source_kind="sqs", records=7, error="")
    after = scrape(client)

    def delta(name: str, **extra: str) -> float:
        return value(after, name, **labels, **extra) - value(before, name, **labels, **extra)

    assert delta("lambda_errors_total") == 2
    assert delta("lambda_throttles_total") == 1
    assert delta("lambda_invocations_total", source="api", status="succeeded") == 1
    assert delta("lambda_invocations_total", source="api", status="throttled") == 1
    assert delta("lambda_event_source_batches_total", source_kind="sqs", outcome="ok") == 1
    assert delta("lambda_event_source_records_total", source_kind="sqs") == 7


def test_nothing_is_counted_without_a_token(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    before = metrics.INVOCATIONS.labels(function="uncounted", account="1", source="api", status="succeeded")._value.get()
    metrics.observe_invocation(Invocation(function_name="uncounted", account_id="1", source="api", status="succeeded"))
    assert metrics.INVOCATIONS.labels(function="uncounted", account="1", source="api", status="succeeded")._value.get() == before


@pytest.mark.django_db
def test_the_async_queue_gauges_are_read_from_the_database(client: Client, token: str) -> None:
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(seconds=120)
    for n, created in enumerate((old, timezone.now())):
        Invocation.objects.create(
            request_id=f"q-{n}", function_name="queued-fn", account_id=CORE_ACCOUNT, invocation_type="Event",
            status=Invocation.Status.QUEUED, created_at=created,
        )  # fmt: skip
    Invocation.objects.create(request_id="done", function_name="queued-fn", account_id=CORE_ACCOUNT, status="succeeded")
    samples = scrape(client)
    labels = {"function": "queued-fn", "account": CORE_ACCOUNT}
    assert value(samples, "lambda_async_queue_depth", **labels) == 2
    assert 119 <= value(samples, "lambda_async_oldest_event_age_seconds", **labels) < 200


def test_the_recorder_hook_counts_what_it_records(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Invocation] = []
    monkeypatch.setattr(metrics, "observe_invocation", seen.append)
    monkeypatch.setattr(recorder, "get_recorder", lambda: type("R", (), {"record": lambda self, i: None})())
    row = Invocation(function_name="x", status="succeeded")
    recorder.record(row)
    assert seen == [row]


def test_live_gauges_of_dead_processes_are_dropped(settings: Any, tmp_path: Path) -> None:
    settings.METRICS_DIR = tmp_path
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
    (tmp_path / f"gauge_livesum_{os.getpid()}.db").write_bytes(b"")
    (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    metrics.forget_dead_processes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"gauge_livesum_{os.getpid()}.db", f"counter_{pid}.db"])


# --- health ---------------------------------------------------------------------------------------


def test_healthz_answers_without_database_or_session(client: Client) -> None:
    """No django_db mark: any query would raise."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert not response.cookies


@pytest.fixture
def fresh_readiness() -> Any:
    health.reset_readiness_cache()
    yield
    health.reset_readiness_cache()


@pytest.mark.django_db
def test_readyz_names_each_check_when_ready(client: Client, monkeypatch: pytest.MonkeyPatch, fresh_readiness: Any) -> None:
    monkeypatch.setattr(health, "check_broker", lambda: None)
    monkeypatch.setitem(health.CHECKS, "broker", lambda: None)
    monkeypatch.setitem(health.CHECKS, "worker", lambda: None)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok", "worker": "ok"}}
    assert not response.cookies


@pytest.mark.django_db
def test_readyz_reuses_its_verdict_for_a_moment(client: Client, monkeypatch: pytest.MonkeyPatch, fresh_readiness: Any, settings: Any) -> None:
    calls: list[str] = []
    monkeypatch.setitem(health.CHECKS, "broker", lambda: calls.append("broker"))
    monkeypatch.setitem(health.CHECKS, "worker", lambda: calls.append("worker"))
    settings.READYZ_CACHE_SECONDS = 60
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert calls == ["broker", "worker"]


@pytest.mark.django_db
def test_readyz_without_a_worker_is_503(client: Client, monkeypatch: pytest.MonkeyPatch, fresh_readiness: Any) -> None:
    """The embedded broker: readiness follows the workers' heartbeat rows (none here)."""
    monkeypatch.setitem(health.CHECKS, "broker", lambda: None)
    monkeypatch.setattr(health, "_carries_broadcasts", lambda: False)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["worker"]
    assert body["checks"]["database"] == "ok"
    assert "heartbeat" in body["checks"]["worker"]


@pytest.mark.django_db
def test_readyz_with_a_worker_heartbeat_is_ready(client: Client, monkeypatch: pytest.MonkeyPatch, fresh_readiness: Any) -> None:
    from invocations.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(name="worker:here:1", kind="worker")
    monkeypatch.setitem(health.CHECKS, "broker", lambda: None)
    monkeypatch.setattr(health, "_carries_broadcasts", lambda: False)
    assert client.get("/readyz").status_code == 200


READYZ_WITH_BROKER = textwrap.dedent(
    """
    import django, json
    django.setup()
    from django.test import Client
    from django.test.utils import setup_test_environment
    setup_test_environment()
    response = Client().get("/readyz")
    print(json.dumps({"status": response.status_code, "body": json.loads(response.content)}))
    """
)


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:{port}/0", "amqp://guest:guest@127.0.0.1:{port}//"])
def test_readyz_with_an_unreachable_broker_is_503(tmp_path: Path, broker: str) -> None:
    """A real process whose broker is a closed port: 503 naming the broker, within the timeout."""
    from scripts.stack import free_port

    env = {
        **os.environ, "DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": broker.format(port=free_port()),
        "DJANGO_SETTINGS_MODULE": "config.settings", "READYZ_TIMEOUT_SECONDS": "0.5",
    }  # fmt: skip
    env.pop("DATABASE_URL", None)  # the database: a fresh SQLite file (migrations not needed for SELECT 1)
    result = subprocess.run(
        [sys.executable, "-c", READYZ_WITH_BROKER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["failed"] == ["broker", "worker"]
    assert outcome["body"]["checks"]["database"] == "ok"
    assert "not checked" in outcome["body"]["checks"]["worker"]


# --- JSON logs ------------------------------------------------------------------------------------


def test_a_json_log_line_parses_with_its_fields() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("invocations.x", logging.WARNING, __file__, 1, "ran %s", ("fn",), None)
    with bind(request_id="req-1", function="fn"):
        line = formatter.format(record)
    parsed = json.loads(line)
    assert parsed["level"] == "WARNING" and parsed["logger"] == "invocations.x" and parsed["message"] == "ran fn"
    assert parsed["request_id"] == "req-1" and parsed["function"] == "fn"
    assert parsed["time"].endswith("Z")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    parsed = json.loads(formatter.format(record))
    assert "request_id" not in parsed
    assert "ValueError: boom" in parsed["exception"]
    assert "\n" not in formatter.format(record)


LOG_SOMETHING = textwrap.dedent(
    """
    import django, logging
    django.setup()
    logging.getLogger("invocations.test").warning("hello %s", "world", extra={"function": "fn"})
    """
)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_setting_switches_the_platform_logs(tmp_path: Path, fmt: str) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path), "LAMBDA_LOG_FORMAT": fmt, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run([sys.executable, "-c", LOG_SOMETHING], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    if fmt == "json":
        parsed = json.loads(line)
        assert parsed["message"] == "hello world" and parsed["logger"] == "invocations.test" and parsed["function"] == "fn"
    else:
        assert line == "hello world"
