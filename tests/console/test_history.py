"""Invocation history, the invocation page, Replay, Save as test event and Compare."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from console.models import TestEvent, TestRun
from invocations.models import Function, Invocation, InvocationAttempt

pytestmark = pytest.mark.django_db


def rows(hello: Function, n: int, **fields: Any) -> list[Invocation]:
    start = timezone.now() - timedelta(minutes=n)
    return Invocation.objects.bulk_create(
        Invocation(request_id=f"req-{i:04d}", function=hello, function_name="hello", created_at=start + timedelta(seconds=i), **fields)
        for i in range(n)
    )


def test_history_pages_by_keyset_newest_first_without_gaps(client: Client, owner: Any, hello: Function) -> None:
    rows(hello, 120)
    client.force_login(owner)
    seen: list[str] = []
    url = "/functions/hello/history/"
    for _ in range(3):
        response = client.get(url)
        page = response.context["page"]
        seen += [r.request_id for r in page.rows]
        if not page.next_cursor:
            break
        url = f"/functions/hello/history/?{response.context['next_query']}"
    assert seen == [f"req-{i:04d}" for i in range(119, -1, -1)]


def test_history_filters_by_status_source_type_version_time_and_request_id(client: Client, owner: Any, hello: Function) -> None:
    now = timezone.now()
    Invocation.objects.create(request_id="ok-api", function=hello, function_name="hello", status="succeeded", source="api", executed_version="$LATEST")
    Invocation.objects.create(request_id="bad-cli", function=hello, function_name="hello", status="failed", source="cli", executed_version="1")
    Invocation.objects.create(request_id="old-url", function=hello, function_name="hello", source="url", invocation_type="Event", created_at=now - timedelta(days=3))
    client.force_login(owner)

    def ids(query: str) -> set[str]:
        return {r.request_id for r in client.get(f"/history/?{query}").context["page"].rows}

    assert ids("status=failed") == {"bad-cli"}
    assert ids("source=api") == {"ok-api"}
    assert ids("type=Event") == {"old-url"}
    assert ids("version=1") == {"bad-cli"}
    assert ids("request_id=ok-api") == {"ok-api"}
    since = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert ids(f"since={since}") == {"ok-api", "bad-cli"}
    assert client.get("/history/?status=bogus").status_code == 400
    assert client.get("/history/?cursor=%%%").status_code == 400


def test_history_query_count_is_fixed(client: Client, owner: Any, hello: Function, django_assert_num_queries: Any) -> None:
    rows(hello, 80)
    client.force_login(owner)
    client.get("/")  # the first page of a session stores the current team in it
    with django_assert_num_queries(7):  # session, user, the switcher's teams, the role, function, the header's summary, page
        client.get("/functions/hello/history/")
    cursor = client.get("/history/").context["page"].next_cursor
    with django_assert_num_queries(5):  # session, user, teams, role, page (visibility is a subquery)
        client.get("/history/?cursor=" + cursor)


def test_invocation_page_shows_payload_response_logs_timings_and_attempts_escaped(client: Client, owner: Any, hello: Function) -> None:
    inv = Invocation.objects.create(
        request_id="r-html", function=hello, function_name="hello", status="succeeded", payload='{"x": "<script>p()</script>"}',
        response='"<b>resp</b>"', logs="START\n<img src=x onerror=alert(1)>\nEND", duration_ms=12.5, billed_duration_ms=13,
        memory_size_mb=128, max_memory_used_mb=40, invocation_type="Event",
    )  # fmt: skip
    InvocationAttempt.objects.create(invocation=inv, number=1, outcome="succeeded", duration_ms=12.5)
    client.force_login(owner)
    body = client.get("/invocations/r-html/").content.decode()
    assert "<script>p()" not in body and "<img src=x" not in body and "<b>resp</b>" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "12.50 ms" in body and "40 MB" in body and "Attempts" in body and 'id="timeline"' in body


def test_a_queued_event_not_yet_run_says_so_instead_of_attempt_zero(client: Client, owner: Any, hello: Function) -> None:
    Invocation.objects.create(request_id="r-q", function=hello, function_name="hello", invocation_type="Event", attempt=0)
    client.force_login(owner)
    body = client.get("/invocations/r-q/").content.decode()
    assert "<dt>Attempt</dt><dd>– (queued, not yet run)</dd>" in body


def test_replay_runs_the_payload_edited_on_another_qualifier(client: Client, owner: Any, hello: Function) -> None:
    Invocation.objects.create(request_id="orig", function=hello, function_name="hello", payload='{"a": 1}')
    client.force_login(owner)
    response = client.post("/invocations/orig/replay/", {"payload": '{"a": 2}', "qualifier": "$LATEST"})
    run = TestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/functions/hello/test/runs/{run.pk}/"
    assert run.payload == '{"a": 2}'
    assert client.post("/invocations/orig/replay/", {"payload": '{"a": 2}', "qualifier": "prod"}).status_code == 400


def test_save_as_test_event_opens_it_in_the_test_tab(client: Client, owner: Any, hello: Function) -> None:
    Invocation.objects.create(request_id="orig", function=hello, function_name="hello", payload='{"a": 1}')
    client.force_login(owner)
    response = client.post("/invocations/orig/save/", {"name": "from history", "scope": "shared"})
    event = TestEvent.objects.get()
    assert (event.name, event.scope) == ("from history", "shared")
    assert response["Location"] == f"/functions/hello/test/?event={event.pk}"


def test_compare_highlights_differences(client: Client, owner: Any, hello: Function) -> None:
    Invocation.objects.create(request_id="a", function=hello, function_name="hello", payload='{"k": 1, "same": true}', duration_ms=1.0, logs="START\nx\nEND")
    Invocation.objects.create(request_id="b", function=hello, function_name="hello", payload='{"k": 2, "same": true}', duration_ms=9.0, logs="START\ny\nEND")
    client.force_login(owner)
    body = client.get("/compare/?a=a&b=b").content.decode()
    assert body.count('class="diff-changed"') >= 3  # duration row, the payload line, the log line
    assert '<tr class="diff-same"><td><pre>  &quot;same&quot;: true</pre>' in body


def test_compare_needs_both_invocations_visible(client: Client, owner: Any, outsider: Any, hello: Function) -> None:
    Invocation.objects.create(request_id="a", function=hello, function_name="hello")
    Invocation.objects.create(request_id="b", function=hello, function_name="hello")
    client.force_login(outsider)
    assert client.get("/compare/?a=a&b=b").status_code == 404
