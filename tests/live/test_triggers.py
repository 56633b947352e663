"""Schedules and webhook triggers against the real stack: a due ``rate(…)`` schedule is fired by the
real Celery worker's scheduler thread, and a signed webhook event is run by the real worker.

Triggers are created through the SigV4 JSON API (``/_workbench/api/functions/{name}/triggers``);
the stack's database is read (and, to make a schedule due without waiting a minute, written)
through ``manage.py shell`` in the stack's own environment. Loopback (IPv4) only; every wait is a
bounded poll.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.live.conftest import REGION, ROLE, Live
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

POLL_SECONDS = 30.0
FINISHED = ("succeeded", "failed", "timed-out", "throttled")


# --- helpers -----------------------------------------------------------------------------------------


def create_function(live: Live, name: str) -> None:
    client = live.client()
    client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": ECHO_HANDLER})}, Timeout=10, MemorySize=128)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, parsed JSON body or None); 4xx/5xx answers are returned, not raised."""
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, (json.loads(raw) if raw else None)


def api(live: Live, method: str, path: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
    """A SigV4-signed ("lambda", us-east-1) call to the workbench JSON API."""
    url = live.endpoint + path
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = {"Content-Type": "application/json"} if body else {}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(live.access_key_id, live.secret_access_key), "lambda", REGION).add_auth(request)
    return http(method, url, body, dict(request.headers.items()))


def triggers_path(function: str, trigger: str | None = None) -> str:
    path = f"/_workbench/api/functions/{quote(function)}/triggers"
    return f"{path}/{quote(trigger)}" if trigger else path


def shell(live: Live, code: str) -> Any:
    """Run ``code`` in the stack's Django shell; it prints one JSON line, returned parsed."""
    output = live.stack.manage("shell", "--no-imports", "-c", code).strip()
    return json.loads(output.splitlines()[-1])


def trigger_invocations(live: Live, function: str) -> list[dict[str, Any]]:
    """Every trigger-sourced Invocation of ``function`` in the stack's database, oldest first."""
    code = (
        "import json; from django.db.models import F; from invocations.models import Invocation; "
        f"print(json.dumps(list(Invocation.objects.filter(function_name={function!r}, source='trigger')"
        ".order_by('id').values('request_id', 'status', 'invocation_type', payload=F('body__payload'), "
        "response=F('body__response')))))"
    )
    return shell(live, code)


def wait_for(check: Any, what: str, timeout: float = POLL_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(0.5)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- schedules ---------------------------------------------------------------------------------------


def test_a_due_schedule_is_fired_once_by_the_real_worker(live: Live) -> None:
    function, name = "trigger-schedule", "every-minute"
    create_function(live, function)
    status, created = api(live, "POST", triggers_path(function),
                          {"Name": name, "Kind": "schedule", "ScheduleExpression": "rate(1 minute)"})
    assert status == 201, created
    assert created["Kind"] == "schedule" and created["Enabled"] is True
    assert created["ScheduleExpression"] == "rate(1 minute)" and created["EndpointUrl"] is None
    assert "Secret" not in created
    first_run = parse_time(created["NextRunAt"])
    assert first_run > datetime.now(timezone.utc)
    try:
        # Make it due now (five minutes ago, whole seconds): only if the scheduler has not moved it.
        due = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
        moved = shell(live, (
            "import json; from datetime import datetime; from invocations.models import Trigger; "
            f"print(json.dumps(Trigger.objects.filter(function__name={function!r}, name={name!r}, "
            f"next_run_at=datetime.fromisoformat({first_run.isoformat()!r}))"
            f".update(next_run_at=datetime.fromisoformat({due.isoformat()!r}))))"
        ))
        assert moved == 1

        def finished() -> list[dict[str, Any]]:
            rows = trigger_invocations(live, function)
            return rows if rows and all(row["status"] in FINISHED for row in rows) else []

        rows = wait_for(finished, "the schedule's invocation to finish")
        due_text = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        fired = [row for row in rows if json.loads(row["payload"])["time"] == due_text]
        assert len(fired) == 1, rows
        invocation = fired[0]
        assert invocation["status"] == "succeeded", invocation
        assert invocation["invocation_type"] == "Event"
        event = json.loads(invocation["payload"])
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["version"] == "0" and event["detail"] == {} and event["region"] == REGION
        assert event["resources"] == [f"arn:aws:events:{REGION}:{event['account']}:rule/{name}"]
        assert json.loads(invocation["response"]) == event  # the echo function returned it
        # No fire time is fired twice (a later minute may legitimately fire on a slow machine).
        times = [json.loads(row["payload"])["time"] for row in rows]
        assert len(times) == len(set(times)), times

        status, described = api(live, "GET", triggers_path(function, name))
        assert status == 200, described
        next_run = parse_time(described["NextRunAt"])
        assert next_run > due and next_run > parse_time(described["LastRunAt"]) - timedelta(seconds=1)
        assert next_run >= first_run  # moved to the next minute after the fire, not back to the past
        assert described["InvocationCount"] == len(rows)
        if len(rows) == 1:
            assert described["LastRequestId"] == invocation["request_id"]
            assert described["LastResult"] == "Invoked"
    finally:
        api(live, "DELETE", triggers_path(function, name))


# --- webhooks ----------------------------------------------------------------------------------------


def test_a_signed_webhook_event_is_run_by_the_real_worker(live: Live) -> None:
    function, name = "trigger-webhook", "hook"
    create_function(live, function)
    status, created = api(live, "POST", triggers_path(function), {"Name": name, "Kind": "webhook"})
    assert status == 201, created
    secret, url = created["Secret"], created["EndpointUrl"]
    assert created["Kind"] == "webhook" and created["NextRunAt"] is None
    assert len(secret) == 64
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == live.endpoint  # IPv4 loopback, the API's port
    assert parts.hostname == "127.0.0.1"
    assert parts.path.startswith("/_workbench/hooks/")
    # The secret is shown once: not when the trigger is read back.
    status, described = api(live, "GET", triggers_path(function, name))
    assert status == 200 and "Secret" not in described and described["EndpointUrl"] == url

    event = {"action": "opened", "number": 7, "nested": {"ok": True, "items": [1, "two", None]}}
    body = json.dumps(event).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    json_type = {"Content-Type": "application/json"}
    try:
        # Refused: a wrong signature (signed with another key, or over another body), and none.
        wrong_key = "sha256=" + hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
        other_body = "sha256=" + hmac.new(secret.encode(), body + b" ", hashlib.sha256).hexdigest()
        for headers in ({"X-Workbench-Signature": wrong_key}, {"X-Workbench-Signature": other_body}, {}):
            status, answer = http("POST", url, body, {**json_type, **headers})
            assert 400 <= status < 500, (status, answer)
            assert "RequestId" not in (answer or {})
        status, answer = http("POST", live.endpoint + "/_workbench/hooks/" + "x" * 43, body,
                              {**json_type, "X-Workbench-Signature": signature})
        assert status == 404, answer
        assert trigger_invocations(live, function) == []

        status, answer = http("POST", url, body, {**json_type, "X-Workbench-Signature": signature})
        assert status == 202, answer
        request_id = answer["RequestId"]
        assert request_id

        def finished() -> dict[str, Any] | None:
            rows = [row for row in trigger_invocations(live, function) if row["request_id"] == request_id]
            return rows[0] if rows and rows[0]["status"] in FINISHED else None

        invocation = wait_for(finished, "the webhook's invocation to finish")
        assert invocation["status"] == "succeeded", invocation
        assert invocation["invocation_type"] == "Event"
        assert json.loads(invocation["payload"]) == event
        assert json.loads(invocation["response"]) == event
        # Only the signed POST made an invocation.
        assert [row["request_id"] for row in trigger_invocations(live, function)] == [request_id]
        status, described = api(live, "GET", triggers_path(function, name))
        assert described["InvocationCount"] == 1 and described["LastRequestId"] == request_id
    finally:
        api(live, "DELETE", triggers_path(function, name))
