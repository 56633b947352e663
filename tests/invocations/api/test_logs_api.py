"""``GET _workbench/api/functions/{name}/logs`` (invocations/api/views/logs.py): events, filters,
tokens, bad input, and another team's key."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone

from invocations.access_keys import NewAccessKey
from invocations.models import Function
from tests.cli.test_server_api import call
from tests.invocations.services.test_invoke import make_function
from tests.invocations.test_log_events import A, B, add

pytestmark = pytest.mark.django_db


@pytest.fixture
def echo(settings: Any, tmp_path: Path, team: Any) -> Function:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function("echo", code_dir=settings.LAMBDA_CODE_DIR, team=team)
    base = timezone.now() - timedelta(minutes=10)
    add(function, 0, A, "card 4111", at=base)
    add(function, 1, B, "Second call", at=base + timedelta(minutes=1))
    return function


def get(key: NewAccessKey, query: str = "", name: str = "echo") -> Any:
    response = call(key, "GET", f"functions/{name}/logs{query}")
    return response.status_code, json.loads(response.content)


def test_it_returns_every_line_with_its_stream_and_time_in_ms(access_key: NewAccessKey, echo: Function) -> None:
    code, body = get(access_key)
    assert code == 200 and "nextToken" not in body
    lines = [(e["logStreamName"], e["message"]) for e in body["events"] if not e["message"].startswith(("START", "END", "REPORT"))]
    assert lines == [(A, "card 4111"), (B, "Second call")]
    first = body["events"][0]
    assert first["requestId"] == "req-0" and isinstance(first["timestamp"], int)
    assert first["timestamp"] == int(echo.invocations.get(request_id="req-0").started_at.timestamp() * 1000)


def test_filters_and_a_stream(access_key: NewAccessKey, echo: Function) -> None:
    assert [e["message"] for e in get(access_key, "?filterPattern=second")[1]["events"]] == ["Second call"]
    assert [e["message"] for e in get(access_key, "?regex=%5Ecard%20%5Cd%2B%24")[1]["events"]] == ["card 4111"]
    only_b = get(access_key, f"?logStreamName={quote(B)}")[1]["events"]
    assert {e["logStreamName"] for e in only_b} == {B} and len(only_b) == 4
    late = get(access_key, f"?startTime={int((timezone.now() - timedelta(minutes=9, seconds=30)).timestamp() * 1000)}")
    assert {e["requestId"] for e in late[1]["events"]} == {"req-1"}


def test_the_token_pages_and_since_follows(access_key: NewAccessKey, echo: Function) -> None:
    first = get(access_key, "?limit=1")[1]
    assert {e["requestId"] for e in first["events"]} == {"req-0"} and first["nextToken"] == first["since"]
    rest = get(access_key, f"?nextToken={first['nextToken']}")[1]
    assert {e["requestId"] for e in rest["events"]} == {"req-1"} and "nextToken" not in rest
    assert get(access_key, f"?since={rest['since']}")[1]["events"] == []
    add(echo, 2, A, "third", at=timezone.now() - timedelta(minutes=1))
    assert "third" in [e["message"] for e in get(access_key, f"?since={rest['since']}")[1]["events"]]


@pytest.mark.parametrize("query", ["?nextToken=abc", "?since=1.5:2", "?limit=0", "?limit=10001", "?startTime=x",
                                   "?regex=(", "?startTime=2000&endTime=1000", "?endTime=-1"])
def test_bad_input_is_a_400_that_names_the_field(access_key: NewAccessKey, echo: Function, query: str) -> None:
    response = call(access_key, "GET", f"functions/echo/logs{query}")
    assert response.status_code == 400 and response["x-amzn-ErrorType"] == "InvalidParameterValueException"
    field = query[1:].split("=")[0] if "endTime=1000" not in query else "endTime"
    assert field in json.loads(response.content)["message"]


def test_an_unknown_function_is_a_404(access_key: NewAccessKey, echo: Function) -> None:
    assert call(access_key, "GET", "functions/ghost/logs").status_code == 404


def test_another_teams_key_reads_no_line(outsider_key: NewAccessKey, echo: Function) -> None:
    arn = quote(f"arn:aws:lambda:us-east-1:{echo.team.account_id}:function:echo", safe="")
    response = call(outsider_key, "GET", f"functions/{arn}/logs")
    assert (response.status_code, response["x-amzn-ErrorType"]) == (403, "AccessDeniedException")
    assert b"4111" not in response.content
    assert call(outsider_key, "GET", "functions/echo/logs").status_code == 404  # its own account has no echo


def test_unsigned_requests_are_refused(access_key: NewAccessKey, echo: Function) -> None:
    response = call(access_key, "GET", "functions/echo/logs", sign=False)
    assert response.status_code == 403 and b"4111" not in response.content
