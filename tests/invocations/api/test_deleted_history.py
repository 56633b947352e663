"""History outlives functions: a deleted function's records stay its team's — listed by name
(``FunctionDeleted``), readable one by one, shown as deleted and filterable in the console — and
stay another team's secret; retention removes them, and nothing else does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from invocations.access_keys import NewAccessKey
from invocations.models import Function, Invocation, Team
from invocations.services import cleanup
from tests.cli.test_server_api import call
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db


@pytest.fixture
def deleted(settings: Any, tmp_path: Path, team: Team, lambda_client: Any) -> str:
    """A function of ``team`` with two records, then deleted through the AWS API."""
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function("gone", code_dir=settings.LAMBDA_CODE_DIR, team=team)
    for n in range(2):
        Invocation.objects.create(request_id=f"gone-{n}", function=function, function_name="gone",
                                  account_id=team.account_id, status="succeeded", payload=f'{{"n": {n}}}')  # fmt: skip
    lambda_client.delete_function(FunctionName="gone")
    assert not Function.objects.filter(name="gone").exists()
    return "gone"


def test_a_deleted_functions_records_stay_readable_by_its_team(access_key: NewAccessKey, deleted: str) -> None:
    listed = call(access_key, "GET", "functions/gone/invocations")
    assert listed.status_code == 200, listed.content
    rows = listed.json()["Invocations"]
    assert {row["RequestId"] for row in rows} == {"gone-0", "gone-1"}
    assert all(row["FunctionDeleted"] for row in rows)
    one = call(access_key, "GET", "invocations/gone-1")
    assert one.status_code == 200 and one.json()["Payload"] == '{"n": 1}'
    replay = call(access_key, "POST", "invocations/gone-1/replay", {})
    assert replay.status_code == 404 and replay["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_another_team_reads_none_of_them(outsider_key: NewAccessKey, team: Team, deleted: str) -> None:
    by_arn = f"arn:aws:lambda:us-east-1:{team.account_id}:function:gone"
    assert call(outsider_key, "GET", f"functions/{by_arn}/invocations").status_code == 403
    # Its own account has no function "gone" and no records of one: 404, as for any unknown name.
    assert call(outsider_key, "GET", "functions/gone/invocations").status_code == 404
    response = call(outsider_key, "GET", "invocations/gone-0")
    assert response.status_code == 404 and b'"n"' not in response.content


def test_a_new_function_of_the_same_name_has_its_own_history(
    settings: Any, access_key: NewAccessKey, team: Team, deleted: str
) -> None:
    function = make_function("gone", code_dir=settings.LAMBDA_CODE_DIR, team=team)
    Invocation.objects.create(request_id="new-0", function=function, function_name="gone", account_id=team.account_id)
    rows = call(access_key, "GET", "functions/gone/invocations").json()["Invocations"]
    assert [row["RequestId"] for row in rows] == ["new-0"]


def test_the_console_shows_them_as_deleted_and_filters_by_state(client: Client, owner: Any, deleted: str) -> None:
    client.force_login(owner)
    page = client.get("/history/", {"state": "deleted"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "gone-0" in html and "gone-1" in html and "status-deleted" in html
    assert "gone-0" not in client.get("/history/", {"state": "live"}).content.decode()
    assert "gone-0" in client.get("/history/", {"function": "gone"}).content.decode()
    assert "gone-0" not in client.get("/history/", {"function": "other"}).content.decode()
    assert client.get("/invocations/gone-0/").status_code == 200


def test_another_teams_console_does_not_list_them(client: Client, outsider: Any, other_team: Team, deleted: str) -> None:
    client.force_login(outsider)
    assert "gone-0" not in client.get("/history/", {"state": "deleted"}).content.decode()
    assert client.get("/invocations/gone-0/").status_code == 404


def test_retention_removes_old_finished_records_only(settings: Any, deleted: str) -> None:
    old = timezone.now() - timedelta(days=40)
    Invocation.objects.filter(request_id="gone-0").update(created_at=old)
    Invocation.objects.create(request_id="queued-old", function_name="x", status="queued", created_at=old)
    assert cleanup.prune_history(days=0) == 0  # 0: kept for ever
    assert cleanup.prune_history(days=30) == 1
    assert set(Invocation.objects.values_list("request_id", flat=True)) == {"gone-1", "queued-old"}
