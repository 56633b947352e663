"""The workbench API obeys the same policy as the AWS API: another team's key reads no history, no
record, no saved event, no trigger, replays nothing and changes nothing — until a statement says
so; and the activity log is readable by the team only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from console.models import TestEvent
from invocations.access_keys import NewAccessKey
from invocations.models import Function, Invocation, Trigger
from invocations.services import permissions, teams, triggers
from tests.cli.test_server_api import call
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

FN = "arn:aws:lambda:us-east-1:111111111111:function:billing"


@pytest.fixture
def billing(settings: Any, tmp_path: Path, team: Any, owner: Any) -> Function:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function("billing", code_dir=settings.LAMBDA_CODE_DIR, team=team)
    Invocation.objects.create(request_id="req-secret", function=function, function_name="billing", status="succeeded",
                              payload='{"card": "4111 1111 1111 1111"}', response='"ok"', invocation_type="Event")
    TestEvent.objects.create(function=function, name="shared", scope="shared", owner=owner, body='{"v": 1}')
    triggers.create_trigger(caller=teams.operator(team), function=function, name="hook", kind="webhook")
    return function


def status(response: Any) -> tuple[int, str | None]:
    return response.status_code, response.get("x-amzn-ErrorType")


ATTACKS = [
    ("GET", "functions/{fn}/invocations", None, (403, "AccessDeniedException")),
    ("GET", "functions/{fn}/invocations?since=0", None, (403, "AccessDeniedException")),
    ("GET", "invocations/req-secret", None, (404, "ResourceNotFoundException")),
    ("POST", "invocations/req-secret/replay", {}, (404, "ResourceNotFoundException")),
    ("GET", "functions/{fn}/events", None, (403, "AccessDeniedException")),
    ("GET", "functions/{fn}/events/shared", None, (403, "AccessDeniedException")),
    ("POST", "functions/{fn}/events", {"Events": [{"Name": "shared", "Scope": "shared", "Body": {"v": 666}}],
                                       "Overwrite": True}, (403, "AccessDeniedException")),
    ("GET", "functions/{fn}/triggers", None, (403, "AccessDeniedException")),
    ("GET", "functions/{fn}/triggers/hook", None, (403, "AccessDeniedException")),
    ("POST", "functions/{fn}/triggers/hook/disable", None, (403, "AccessDeniedException")),
    ("DELETE", "functions/{fn}/triggers/hook", None, (403, "AccessDeniedException")),
    ("POST", "functions/{fn}/triggers", {"Name": "mine", "Kind": "webhook"}, (403, "AccessDeniedException")),
    ("GET", "functions/{fn}/activity", None, (403, "AccessDeniedException")),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ATTACKS, ids=[f"{a[0]} {a[1]}" for a in ATTACKS])
def test_another_teams_key_gets_nothing_from_the_workbench_api(
    outsider_key: NewAccessKey, billing: Function, method: str, path: str, body: Any, expected: tuple[int, str]
) -> None:
    from urllib.parse import quote

    response = call(outsider_key, method, path.format(fn=quote(FN, safe="")), body)
    assert status(response) == expected
    assert b"4111" not in response.content and b"token" not in response.content.lower()
    assert Invocation.objects.count() == 1  # no replay ran
    assert TestEvent.objects.get(name="shared").body == '{"v": 1}'
    assert Trigger.objects.get(name="hook").enabled


def test_the_async_status_of_another_teams_event_is_denied(outsider_client: Any, billing: Function) -> None:
    from urllib.parse import quote

    response = call_aws_path(outsider_client, f"/2015-03-31/functions/{quote(FN, safe='')}/async-invocations/req-secret")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


def call_aws_path(client: Any, path: str) -> Any:
    """A signed GET of an API path through the boto3 client's credentials (no botocore operation for it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from django.test import Client

    credentials = client._request_signer._credentials
    request = AWSRequest(method="GET", url=f"http://lambda.test{path}", headers={"Host": "lambda.test"})
    SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
    headers = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in request.headers.items()}
    response = Client().get(path, **headers)
    return {"ResponseMetadata": {"HTTPStatusCode": response.status_code}, "Body": response.content}


def test_a_statement_for_the_records_lets_the_other_team_read_them_and_no_more(
    outsider_key: NewAccessKey, billing: Function, team: Any
) -> None:
    from urllib.parse import quote

    permissions.allow(caller=teams.operator(team), function=billing, qualifier="", sid="audit", principal="222222222222",
                      action="lambda:GetInvocation")  # fmt: skip
    record = call(outsider_key, "GET", "invocations/req-secret")
    assert record.status_code == 200 and json.loads(record.content)["Payload"] == '{"card": "4111 1111 1111 1111"}'
    assert call(outsider_key, "GET", f"functions/{quote(FN, safe='')}/invocations").status_code == 403
    assert call(outsider_key, "POST", "invocations/req-secret/replay", {}).status_code == 403  # InvokeFunction
    assert Invocation.objects.count() == 1


def test_the_team_reads_its_activity_log_and_nobody_edits_it(access_key: NewAccessKey, outsider_key: NewAccessKey,
                                                              billing: Function) -> None:  # fmt: skip
    mine = json.loads(call(access_key, "GET", "activity").content)["Activity"]
    assert [(a["Action"], a["FunctionName"], a["Actor"]) for a in mine] == [("lambda:CreateTrigger", "billing", "manage.py")]
    assert json.loads(call(outsider_key, "GET", "activity").content)["Activity"] == []
    for method in ("POST", "PUT", "DELETE"):
        assert call(access_key, method, "activity").status_code == 404  # no route changes the log
