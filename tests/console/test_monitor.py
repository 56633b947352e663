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


@pytest.mark.parametrize("minutes, step", [(60, 1), (300, 1), (301, 5), (1440, 5), (1500, 5), (1501, 60), (10080, 60), (90 * 1440, 1440)])
def test_the_step_is_the_finest_level_keeping_a_window_at_or_under_300_points(minutes: int, step: int) -> None:
    assert monitor.step_for(minutes) == step
    assert monitor.Window.of(0, minutes).points <= monitor.MAX_POINTS
    unaligned = monitor.Window.of(7, 7 + minutes)  # widened to whole buckets, still ≤ 300 points
    assert unaligned.points <= monitor.MAX_POINTS and unaligned.start % unaligned.step == 0 and unaligned.end % unaligned.step == 0
    assert unaligned.start <= 7 and unaligned.end >= 7 + minutes


def test_cover_is_the_fewest_whole_buckets_of_a_window() -> None:
    day = 1440
    assert monitor.cover(3 * day, 4 * day) == [(1440, 3 * day, 4 * day)]
    parts = monitor.cover(3 * day + 7, 4 * day + 7)  # a day not on a day boundary: 39 rows, not 1,440
    assert sorted(parts, key=lambda p: p[1]) == [(1, 3 * day + 7, 3 * day + 10), (5, 3 * day + 10, 3 * day + 60),
                                                 (60, 3 * day + 60, 4 * day), (5, 4 * day, 4 * day + 5), (1, 4 * day + 5, 4 * day + 7)]  # fmt: skip
    assert sum((last - first) // level for level, first, last in parts) == 3 + 10 + 23 + 1 + 2


def test_the_json_endpoint_answers_the_last_hour_from_the_rollups(client: Client, owner: Any, history: Function) -> None:
    client.force_login(owner)
    with CaptureQueriesContext(connection) as queries:
        data = client.get("/functions/hello/monitor/data/").json()
    read = [q["sql"] for q in queries.captured_queries]
    assert sum("invocations_metricminute" in sql for sql in read) == 1
    assert not any("invocations_invocation" in sql for sql in read)
    chart = next(sql for sql in read if "invocations_metricminute" in sql)
    assert "GROUP BY" not in chart and '"level" = 1 ' in chart and "'hello'" in chart  # one minute row a point
    assert data["step"] == 60 and len(data["series"]["t"]) == 60
    assert sum(data["series"]["invocations"]) == 5 and sum(data["series"]["errors"]) == 1
    assert data["totals"]["invocations"] == 5 and data["totals"]["p99"] == pytest.approx(20.0)
    day = client.get("/functions/hello/monitor/data/?range=1d").json()
    assert day["step"] == 300 and len(day["series"]["t"]) == 288 and day["totals"]["invocations"] == 6
    with CaptureQueriesContext(connection) as queries:
        week = client.get("/functions/hello/monitor/data/?range=1w").json()
    chart = next(q["sql"] for q in queries.captured_queries if "invocations_metricminute" in q["sql"])
    assert '"level" = 60 ' in chart and week["step"] == 3600 and len(week["series"]["t"]) == 168
    assert week["totals"]["invocations"] == 6 and week["totals"]["p99"] == pytest.approx(20.0)


@pytest.mark.parametrize("minutes, level", [(60, 1), (1440, 5), (10080, 60), (90 * 1440, 1440)])
def test_a_chart_reads_one_row_a_point_of_its_level(hello: Function, minutes: int, level: int) -> None:
    """Counted by the rows the query returns: at most one per point, whatever is stored finer."""
    now = timezone.now()
    batch = [ran(hello, n, minutes_ago=m) for n, m in enumerate(range(0, minutes - level, max(1, minutes // 500)))]  # inside the window
    rollups.add(rollups.tally_records(batch))
    window = monitor.Window.ending(rollups.minute_of(now) + 1, minutes)
    assert window.step == level
    with connection.cursor() as cursor:
        cursor.execute(monitor._series_sql(), [hello.team.account_id, "hello", window.step, window.start, window.end])
        read = cursor.fetchall()
    assert 0 < len(read) <= window.points <= monitor.MAX_POINTS
    data = monitor.series(account_id=hello.team.account_id, window=window, function_name="hello")
    assert data["totals"]["invocations"] == len(batch)  # the coarse rows hold every run
    team = monitor.series(account_id=hello.team.account_id, window=window)  # the account's own rows
    assert team["totals"]["invocations"] == len(batch)


def test_the_query_plans_are_range_scans_of_an_index(hello: Function) -> None:
    window = monitor.Window.ending(1000, 10080)
    plans = {
        "series": (monitor._series_sql(), [hello.team.account_id, "hello", 60, window.start, window.end]),
        "by_function": (monitor._by_function_sql(2), [hello.team.account_id, "", 1440, 0, 1440, hello.team.account_id, "", 60, 1440, 1500]),
        "totals": (monitor._totals_sql(2), [hello.team.account_id, "hello", 60, 0, 60, hello.team.account_id, "hello", 1, 60, 70]),
    }
    for name, (sql, params) in plans.items():
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plan = " ".join(str(row[-1]) for row in cursor.fetchall())
                assert "USING INDEX" in plan and "SCAN invocations_metricminute" not in plan, (name, plan)
                assert "(account_id=?)" not in plan, (name, plan)  # never the account's whole prefix
                expected = "account_id=? AND level=? AND minute>?" if name == "by_function" else "account_id=? AND function_name=? AND level=? AND minute>?"
                assert expected in plan, (name, plan)
            else:
                cursor.execute("SET enable_seqscan = off")  # an empty table is cheaper to scan whole
                cursor.execute(f"EXPLAIN {sql}", params)
                plan = " ".join(row[0] for row in cursor.fetchall())
                cursor.execute("SET enable_seqscan = on")
                assert "Index" in plan and "Seq Scan" not in plan, (name, plan)


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
    assert body.count('<details class="chart-data"') == 7 and "<tbody>" not in body  # tables are built when opened
    assert 'href="?numbers=invocations#chart-invocations-data"' in body
    body = client.get("/functions/hello/monitor/?range=1d&numbers=invocations").content.decode()
    assert body.count("<tbody>") == 1 and '<details class="chart-data" id="chart-invocations-data" open>' in body
    assert body.count("<tr><td>") == 2  # the two 5-minute points with data (now, 3 hours ago)
    assert "numbers=" not in body.split('id="monitor-picker"')[1].split("</form>")[0]
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
