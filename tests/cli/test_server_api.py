"""The workbench JSON API the CLI uses (invocations/api/views/workbench.py), Django tier."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.test import Client
from django.utils import timezone

from invocations.access_keys import NewAccessKey
from invocations.models import Invocation
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db


def call(key: NewAccessKey, method: str, path: str, body: Any = None, *, sign: bool = True) -> Any:
    data = json.dumps(body).encode() if body is not None else b""
    url = f"http://lambda.test/_workbench/api/{path}"
    request = AWSRequest(method=method, url=url, data=data)
    if sign:
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "lambda", "us-east-1").add_auth(request)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items()
            if k.lower() not in ("content-length",)}
    meta["HTTP_HOST"] = "lambda.test"
    route, _, query = path.partition("?")
    return Client().generic(method, f"/_workbench/api/{route}", data=data, content_type="application/json",
                            QUERY_STRING=query, **meta)


@pytest.fixture
def records(settings: Any, tmp_path: Path, team: Any) -> list[Invocation]:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function("echo", code_dir=settings.LAMBDA_CODE_DIR)
    now = timezone.now()
    rows = []
    for n, (status, source) in enumerate([("succeeded", "api"), ("failed", "url"), ("succeeded", "cli")]):
        rows.append(Invocation.objects.create(
            request_id=f"req-{n}", function=function, function_name="echo", source=source, status=status,
            payload=json.dumps({"n": n}), response='{"ok":true}', logs=f"START {n}\nEND\n",
            finished_at=now + timezone.timedelta(seconds=n), executed_version="$LATEST"))
    return rows


def test_history_is_newest_first_with_filters_and_pages(access_key: NewAccessKey, records: list[Invocation]) -> None:
    answer = json.loads(call(access_key, "GET", "functions/echo/invocations").content)
    assert [r["RequestId"] for r in answer["Invocations"]] == ["req-2", "req-1", "req-0"]
    assert "Logs" not in answer["Invocations"][0] and "NextMarker" not in answer
    failed = json.loads(call(access_key, "GET", "functions/echo/invocations?status=failed").content)
    assert [r["Source"] for r in failed["Invocations"]] == ["url"]
    first = json.loads(call(access_key, "GET", "functions/echo/invocations?limit=2").content)
    rest = json.loads(call(access_key, "GET", f"functions/echo/invocations?limit=2&Marker={first['NextMarker']}").content)
    assert [r["RequestId"] for r in first["Invocations"] + rest["Invocations"]] == ["req-2", "req-1", "req-0"]


def test_since_returns_what_finished_after_the_cursor_with_logs(access_key: NewAccessKey,
                                                                records: list[Invocation]) -> None:
    everything = json.loads(call(access_key, "GET", "functions/echo/invocations?since=0").content)
    assert [r["RequestId"] for r in everything["Invocations"]] == ["req-0", "req-1", "req-2"]
    assert everything["Invocations"][0]["Logs"] == "START 0\nEND\n"
    cursor = everything["Invocations"][0]["Cursor"]
    later = json.loads(call(access_key, "GET", f"functions/echo/invocations?since={cursor}").content)
    assert [r["RequestId"] for r in later["Invocations"]] == ["req-1", "req-2"]
    none = json.loads(call(access_key, "GET", f"functions/echo/invocations?since={later['Cursor']}").content)
    assert none == {"Invocations": [], "Cursor": later["Cursor"]}


def test_one_record_and_replay(access_key: NewAccessKey, records: list[Invocation]) -> None:
    record = json.loads(call(access_key, "GET", "invocations/req-1").content)
    assert record["Payload"] == '{"n": 1}' and record["Response"] == '{"ok":true}' and record["Status"] == "failed"
    replayed = json.loads(call(access_key, "POST", "invocations/req-1/replay", {}).content)
    assert replayed["ReplayOf"] == "req-1" and replayed["StatusCode"] == 200
    assert json.loads(base64.b64decode(replayed["Payload"])) == {"n": 1}
    assert "END RequestId" in base64.b64decode(replayed["LogResult"]).decode()
    assert Invocation.objects.get(request_id=replayed["RequestId"]).source == "cli"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "functions/echo/invocations?limit=0", 400, "InvalidParameterValueException"),
     ("GET", "functions/echo/invocations?status=weird", 400, "InvalidParameterValueException"),
     ("GET", "functions/echo/invocations?since=yesterday", 400, "InvalidParameterValueException"),
     ("GET", "functions/ghost/invocations", 404, "ResourceNotFoundException"),
     ("GET", "invocations/nope", 404, "ResourceNotFoundException"),
     ("POST", "invocations/req-0/replay", 400, "InvalidParameterValueException")],
)
def test_bad_requests(access_key: NewAccessKey, records: list[Invocation], method: str, path: str, status: int,
                      code: str) -> None:
    body = {"InvocationType": "DryRun"} if method == "POST" else None
    response = call(access_key, method, path, body)
    assert (response.status_code, response["x-amzn-ErrorType"]) == (status, code)


def test_it_rejects_unsigned_requests(access_key: NewAccessKey, records: list[Invocation]) -> None:
    response = call(access_key, "GET", "functions/echo/invocations", sign=False)
    assert response.status_code == 403 and response["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_saved_events_round_trip(access_key: NewAccessKey, records: list[Invocation]) -> None:
    created = call(access_key, "POST", "functions/echo/events",
                   {"Events": [{"Name": "one", "Body": {"a": 1}}, {"Name": "team", "Body": {"b": 2}, "Scope": "shared"}]})
    assert created.status_code == 201, created.content
    listed = json.loads(call(access_key, "GET", "functions/echo/events").content)["Events"]
    assert [(e["Name"], e["Scope"], e["Body"]) for e in listed] == [("one", "private", {"a": 1}),
                                                                    ("team", "shared", {"b": 2})]
    again = call(access_key, "POST", "functions/echo/events", {"Events": [{"Name": "one", "Body": {}}]})
    assert again.status_code == 400
    call(access_key, "POST", "functions/echo/events", {"Events": [{"Name": "one", "Body": {"a": 2}}], "Overwrite": True})
    assert json.loads(call(access_key, "GET", "functions/echo/events/one").content)["Body"] == {"a": 2}
    assert call(access_key, "GET", "functions/echo/events/missing").status_code == 404
