"""The Monitor tab, the team dashboard and their JSON endpoints (rollups only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console import monitor
from invocations import rollups
from invocations.models import Function, Invocation, Membership, Team


def ran(function: Function, n: int, *, status: str = "succeeded", duration: float = 20.0, minutes_ago: int = 0) -> Invocation:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Invocation(request_id=f"{function.name}-{status}-{n}-{minutes_ago}", function=function, function_name=function.name,
                      account_id=function.team.account_id, status=status, duration_ms=duration, created_at=at,
                      started_at=at, finished_at=at + timedelta(milliseconds=duration))  # fmt: skip


@pytest.fixture
def history(hello: Function) -> Function:
    rows = [ran(hello, n) for n in range(4)] + [ran(hello, 9, status="failed"), ran(hello, 1, minutes_ago=3 * 60)]
    rollups.add(rollups.tally_records(rows))
    return hello


@pytest.mark.parametrize("minutes, step", [(60, 1), (300, 1), (301, 2), (1440, 5), (10080, 60), (90 * 1440, 720)])
def test_the_step_keeps_a_window_at_or_under_300_points(minutes: int, step: int) -> None:
    assert monitor.step_for(minutes) == step
    assert monitor.Window.of(0, minutes).points <= monitor.MAX_POINTS


def test_the_json_endpoint_answers_the_last_hour_from_the_rollups(client: Client, owner: Any, history: Function) -> None:
    client.force_login(owner)
    with CaptureQueriesContext(connection) as queries:
        data = client.get("/functions/hello/monitor/data/").json()
    read = [q["sql"] for q in queries.captured_queries]
    assert sum("invocations_metricminute" in sql for sql in read) == 1
    assert not any("invocations_invocation" in sql for sql in read)
    assert data["step"] == 60 and len(data["series"]["t"]) == 60
    assert sum(data["series"]["invocations"]) == 5 and sum(data["series"]["errors"]) == 1
    assert data["totals"]["invocations"] == 5 and data["totals"]["p99"] == pytest.approx(20.0)
    day = client.get("/functions/hello/monitor/data/?range=1d").json()
    assert day["step"] == 300 and day["totals"]["invocations"] == 6


def test_a_custom_range_is_validated_per_field_and_nothing_is_charted_from_bad_input(client: Client, owner: Any, history: Function) -> None:
    client.force_login(owner)
    response = client.get("/functions/hello/monitor/data/?range=custom&start=2026-05-02T10:00&end=2026-05-01T10:00")
    assert response.status_code == 400 and response.json() == {"errors": {"end": ["The end must be after the start."]}}
    response = client.get("/functions/hello/monitor/?range=custom&start=nonsense")
    body = response.content.decode()
    assert response.status_code == 400 and 'id="id_start-error"' in body and "Give an end time" in body
    response = client.get("/functions/hello/monitor/data/?range=forever")
    assert response.status_code == 400 and "range" in response.json()["errors"]
    now = timezone.now()
    start, end = (now - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"), (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    data = client.get(f"/functions/hello/monitor/data/?range=custom&start={start}&end={end}").json()
    assert data["totals"]["invocations"] == 6 and data["end"] - data["start"] == 4 * 3600 + 60


def test_the_monitor_tab_shows_totals_gauges_and_a_table_under_each_chart(client: Client, owner: Any, history: Function) -> None:
    Invocation.objects.create(request_id="q", function=history, function_name="hello", account_id=history.team.account_id,
                              invocation_type="Event", status="queued", created_at=timezone.now() - timedelta(seconds=90))  # fmt: skip
    client.force_login(owner)
    body = client.get("/functions/hello/monitor/").content.decode()
    assert '<dd id="total-invocations">5</dd>' in body and '<dd id="total-errors" class="bad">1</dd>' in body
    assert '<dd id="queue-depth">1</dd>' in body and "9" in body.split('id="queue-oldest">')[1][:3]
    assert body.count('<details class="chart-data"') == len(monitor.CHARTS) if hasattr(monitor, "CHARTS") else 7
    assert 'aria-current="page" class="active">Monitor</a>' in body and "uPlot.iife.min.js" in body


def test_the_dashboard_sums_the_teams_functions_and_lists_each(client: Client, owner: Any, history: Function, other_team: Team) -> None:
    other = Function.objects.create(name="theirs", team=other_team)
    rollups.add(rollups.tally_records([ran(other, 1)]))
    client.force_login(owner)
    body = client.get("/monitor/").content.decode()
    assert '<dd id="total-invocations">5</dd>' in body and 'href="/functions/hello/monitor/?"' in body and "theirs" not in body
    assert client.get("/monitor/data/").json()["totals"]["invocations"] == 5


def test_another_teams_function_is_not_found_and_a_viewer_may_look(client: Client, outsider: Any, teammate: Any, history: Function, team: Team) -> None:
    client.force_login(outsider)
    assert client.get("/functions/hello/monitor/").status_code == 404
    assert client.get("/functions/hello/monitor/data/").status_code == 404
    Membership.objects.filter(team=team, user=teammate).update(role=Membership.Role.VIEWER)
    client.force_login(teammate)
    assert client.get("/functions/hello/monitor/data/").json()["totals"]["invocations"] == 5
    assert client.post("/functions/hello/monitor/data/").status_code == 405


def test_a_user_in_no_team_is_told_so(client: Client, django_user_model: Any) -> None:
    client.force_login(django_user_model.objects.create_user("loner", password="password"))
    assert "You are in no team" in client.get("/monitor/").content.decode()
    assert client.get("/monitor/data/").status_code == 404
