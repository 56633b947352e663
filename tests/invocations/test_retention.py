"""Retention (services/cleanup.prune_history): by age and by count per function, in small batches,
never an event still queued or running, never a record a destination still has to send; list
queries never read the bodies (payload, response, logs, client context)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.views.history import retention_note
from invocations.models import DestinationDelivery, Function, Invocation, InvocationAttempt, InvocationBody, Team
from invocations.services import cleanup

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _rows(function: Function | None, count: int, *, prefix: str, age_days: float = 0.0, status: str = "succeeded",
          name: str = "") -> list[Invocation]:  # fmt: skip
    rows = [
        Invocation(request_id=f"{prefix}-{n}", function=function, function_name=name or (function.name if function else "gone"),
                   account_id=function.team.account_id if function else "", status=status, payload="p" * 100,
                   logs="l" * 100, created_at=NOW - timedelta(days=age_days, seconds=count - n))  # fmt: skip
        for n in range(count)
    ]
    return Invocation.objects.bulk_create(rows)


@pytest.fixture
def fn(team: Team) -> Function:
    return Function.objects.create(name="busy", team=team)


@pytest.fixture
def other(team: Team) -> Function:
    return Function.objects.create(name="quiet", team=team)


def _left() -> set[str]:
    return set(Invocation.objects.values_list("request_id", flat=True))


def test_by_age_removes_only_finished_records_past_the_retention(fn: Function) -> None:
    _rows(fn, 3, prefix="old", age_days=40)
    _rows(fn, 2, prefix="new", age_days=1)
    _rows(fn, 1, prefix="queued", age_days=40, status="queued")
    _rows(fn, 1, prefix="running", age_days=40, status="running")
    assert cleanup.prune_history(now=NOW, days=30, max_per_function=0, pause_s=0) == 3
    assert _left() == {"new-0", "new-1", "queued-0", "running-0"}


def test_zero_turns_each_rule_off(fn: Function) -> None:
    _rows(fn, 5, prefix="old", age_days=400)
    assert cleanup.prune_history(now=NOW, days=0, max_per_function=0, pause_s=0) == 0
    assert len(_left()) == 5


def test_by_count_keeps_each_functions_newest(fn: Function, other: Function) -> None:
    _rows(fn, 12, prefix="busy")
    _rows(other, 3, prefix="quiet")
    report = cleanup.PruneReport()
    assert cleanup.prune_history(now=NOW, days=0, max_per_function=5, pause_s=0, report=report) == 7
    assert report.by_count == 7 and report.by_age == 0
    # The newest five of "busy" (the highest numbers were created last), all of "quiet".
    assert _left() == {f"busy-{n}" for n in range(7, 12)} | {f"quiet-{n}" for n in range(3)}


def test_by_count_never_removes_open_events_and_counts_them(fn: Function) -> None:
    _rows(fn, 2, prefix="queued", status="queued", age_days=1)
    _rows(fn, 4, prefix="done")
    cleanup.prune_history(now=NOW, days=0, max_per_function=3, pause_s=0)
    # The three newest are done-1..3; done-0 goes; the older queued events stay.
    assert _left() == {"queued-0", "queued-1", "done-1", "done-2", "done-3"}


def test_deleted_functions_records_go_by_age_only(fn: Function) -> None:
    _rows(None, 6, prefix="gone", name="gone")
    _rows(None, 2, prefix="gone-old", name="gone", age_days=31)
    cleanup.prune_history(now=NOW, days=30, max_per_function=2, pause_s=0)
    assert _left() == {f"gone-{n}" for n in range(6)}


def test_deletes_in_batches_each_its_own_statement(fn: Function) -> None:
    _rows(fn, 23, prefix="old", age_days=40)
    report = cleanup.PruneReport()
    with CaptureQueriesContext(connection) as queries:
        assert cleanup.prune_history(now=NOW, days=30, max_per_function=0, batch=5, pause_s=0, report=report) == 23
    assert report.batches == 5  # 5 + 5 + 5 + 5 + 3
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE FROM \"invocations_invocation\"")]
    assert len(deletes) == 5
    # Never a body column read to delete a row.
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not any('"payload"' in sql or '"logs"' in sql for sql in selects), selects


def test_integrity_attempts_cascade_pending_deliveries_keep_their_record(fn: Function) -> None:
    old = _rows(fn, 3, prefix="old", age_days=40)
    InvocationAttempt.objects.create(invocation=old[0], number=1, outcome="succeeded")
    DestinationDelivery.objects.create(invocation=old[1], kind="on-success", destination="arn:x", status="pending")
    DestinationDelivery.objects.create(invocation=old[2], kind="on-success", destination="arn:x", status="delivered")
    # A recent record caused by a delivery of an old one: the delivery goes with the old record,
    # the caused record stays (its link is SET_NULL).
    recent = _rows(fn, 1, prefix="recent")[0]
    DestinationDelivery.objects.filter(invocation=old[2]).update(caused=recent)
    assert cleanup.prune_history(now=NOW, days=30, max_per_function=0, pause_s=0) == 2
    assert _left() == {"old-1", "recent-0"}
    assert not InvocationAttempt.objects.exists()
    assert list(DestinationDelivery.objects.values_list("invocation__request_id", flat=True)) == ["old-1"]
    assert set(InvocationBody.objects.values_list("invocation_id", flat=True)) == _left()  # bodies went with them


def test_defaults_are_thirty_days_and_ten_thousand(settings: Any) -> None:
    from config import settings as config

    assert config.LAMBDA_HISTORY_RETENTION_DAYS == 30 and config.LAMBDA_HISTORY_MAX_PER_FUNCTION == 10_000
    settings.LAMBDA_HISTORY_RETENTION_DAYS, settings.LAMBDA_HISTORY_MAX_PER_FUNCTION = 30.0, 10_000
    assert retention_note() == "History is kept 30 days and at most 10,000 invocations per function."
    settings.LAMBDA_HISTORY_RETENTION_DAYS, settings.LAMBDA_HISTORY_MAX_PER_FUNCTION = 0, 0
    assert retention_note() == "History is kept for ever, with no limit per function."


def test_the_history_pages_show_the_retention(client: Client, owner: Any, fn: Function, settings: Any) -> None:
    settings.LAMBDA_HISTORY_RETENTION_DAYS, settings.LAMBDA_HISTORY_MAX_PER_FUNCTION = 7, 500
    client.force_login(owner)
    for url in ("/history/", f"/functions/{fn.name}/history/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "History is kept 7 days and at most 500 invocations per function." in page.content.decode(), url


@pytest.mark.parametrize("url", ["/history/", "/functions/busy/history/"])
def test_history_list_reads_no_body_column(client: Client, owner: Any, fn: Function, url: str) -> None:
    _rows(fn, 3, prefix="r")
    client.force_login(owner)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    assert page.status_code == 200 and "r-2" in page.content.decode()
    listing = [q["sql"] for q in queries.captured_queries if '"invocations_invocation"' in q["sql"]]
    assert listing
    assert not any("invocations_invocationbody" in q["sql"] for q in queries.captured_queries)  # no text read


def test_api_list_invocations_reads_no_body_column(access_key: Any, fn: Function) -> None:
    from tests.cli.test_server_api import call

    _rows(fn, 3, prefix="api")
    with CaptureQueriesContext(connection) as queries:
        listed = call(access_key, "GET", "functions/busy/invocations")
    assert listed.status_code == 200 and len(listed.json()["Invocations"]) == 3
    listing = [q["sql"] for q in queries.captured_queries if 'FROM "invocations_invocation"' in q["sql"]]
    assert listing
    assert not any("invocations_invocationbody" in q["sql"] for q in queries.captured_queries)  # no text read


def test_api_pages_newest_first_across_equal_times_and_a_removed_marker(access_key: Any, fn: Function) -> None:
    from tests.cli.test_server_api import call

    rows = _rows(fn, 5, prefix="m")
    Invocation.objects.filter(request_id__in=["m-1", "m-2", "m-3"]).update(created_at=rows[2].created_at)
    seen, marker = [], ""
    while True:
        answer = call(access_key, "GET", f"functions/busy/invocations?limit=2{marker}").json()
        seen += [row["RequestId"] for row in answer["Invocations"]]
        if "NextMarker" not in answer:
            break
        marker = f"&Marker={answer['NextMarker']}"
    assert seen == ["m-4", "m-3", "m-2", "m-1", "m-0"]
    # The marker's row removed by retention meanwhile: the next page goes on by id.
    first = call(access_key, "GET", "functions/busy/invocations?limit=2").json()
    Invocation.objects.filter(pk=first["NextMarker"]).delete()
    rest = call(access_key, "GET", f"functions/busy/invocations?Marker={first['NextMarker']}").json()
    assert [row["RequestId"] for row in rest["Invocations"]] == ["m-2", "m-1", "m-0"]
