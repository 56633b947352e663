"""Invocation history, the invocation page, Replay, Save as test event and Compare."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.http import QueryDict
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
    # session, user, teams, role, the function filter's names, page (visibility is a subquery)
    with django_assert_num_queries(6):
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


def test_the_next_page_keeps_each_filter_once_and_leaves_empty_ones_out(client: Client, owner: Any, hello: Function) -> None:
    rows(hello, 60, status="failed")
    client.force_login(owner)
    response = client.get("/history/?status=failed&source=&status=failed&function=hello&cursor=")
    query = QueryDict(response.context["next_query"])
    assert query.getlist("status") == ["failed"] and query.getlist("function") == ["hello"]
    assert "source" not in query and len(query.getlist("cursor")) == 1
    assert f'href="/history/?{response.context["next_query"]}"' in response.content.decode().replace("&amp;", "&")


def test_the_filter_form_asks_htmx_for_the_path_only_so_filters_replace_each_other(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    body = client.get("/history/?status=failed").content.decode()
    assert 'hx-get="/history/"' in body and 'action="/history/"' in body


def test_the_global_history_filters_by_a_function_chosen_from_the_teams(client: Client, owner: Any, hello: Function, team: Any) -> None:
    other = Function.objects.create(name="zeta", team=team)
    rows(hello, 3)
    Invocation.objects.create(request_id="z-1", function=other, function_name="zeta")
    client.force_login(owner)
    body = client.get("/history/").content.decode()
    assert '<select name="function"' in body
    assert '<option value="hello">hello</option>' in body and '<option value="zeta">zeta</option>' in body
    assert "other-fn" not in body  # the other team's function is not offered
    page = client.get("/history/?function=zeta").context["page"]
    assert [r.request_id for r in page.rows] == ["z-1"]
    # A deleted function's name (from a link) is kept as a choice rather than refused.
    response = client.get("/history/?function=gone")
    assert response.status_code == 200 and '<option value="gone" selected>gone (deleted)</option>' in response.content.decode()


def test_sources_read_as_names_and_times_say_their_zone(client: Client, owner: Any, hello: Function) -> None:
    for source in ("api", "cli", "url", "destination"):
        Invocation.objects.create(request_id=f"s-{source}", function=hello, function_name="hello", source=source)
    client.force_login(owner)
    body = client.get("/history/").content.decode()
    for label in (">API<", ">CLI<", ">URL<", ">Destination<"):
        assert label in body
    assert ">Api<" not in body and ">Url<" not in body
    created = Invocation.objects.get(request_id="s-api").created_at
    assert f'<time datetime="{created.isoformat()}">{created:%Y-%m-%d %H:%M:%S} UTC</time>' in body
    detail = client.get("/invocations/s-cli/").content.decode()
    assert "RequestResponse · CLI" in detail and f"{created:%Y-%m-%d}" in detail and " UTC</time>" in detail


def test_compare_reads_two_ticked_rows_without_javascript(client: Client, owner: Any, hello: Function) -> None:
    Invocation.objects.create(request_id="a", function=hello, function_name="hello")
    Invocation.objects.create(request_id="b", function=hello, function_name="hello")
    client.force_login(owner)
    response = client.get("/compare/?pick=a&pick=b&a=&b=")
    assert response.status_code == 200 and (response.context["a"].request_id, response.context["b"].request_id) == ("a", "b")
    refused = client.get("/compare/?pick=a&a=&b=")
    assert refused.status_code == 400 and "Pick exactly two invocations to compare (1 picked)." in refused.content.decode()


def test_compare_normalises_request_ids_timestamps_and_report_measurements(client: Client, owner: Any, hello: Function) -> None:
    def logs(rid: str, ms: str, at: str) -> str:
        return f"START RequestId: {rid} Version: $LATEST\n{at}\t{rid}\thi\nEND RequestId: {rid}\nREPORT RequestId: {rid}\tDuration: {ms} ms\t"

    Invocation.objects.create(request_id="aaaa-1", function=hello, function_name="hello", logs=logs("aaaa-1", "1.00", "2026-12-07T14:03:05.123Z"))
    Invocation.objects.create(request_id="bbbb-2", function=hello, function_name="hello", logs=logs("bbbb-2", "9.00", "2026-12-07T15:00:00.000Z"))
    client.force_login(owner)
    sections = dict(client.get("/compare/?a=aaaa-1&b=bbbb-2").context["sections"])
    assert {row.kind for row in sections["Logs"]} == {"same"}
    raw = client.get("/compare/?a=aaaa-1&b=bbbb-2&raw=on")
    assert {row.kind for row in dict(raw.context["sections"])["Logs"]} == {"changed"}
    assert "Normalise request ids" in raw.content.decode()


def test_an_invocation_page_offers_recent_invocations_of_the_same_function_to_compare(client: Client, owner: Any, hello: Function, team: Any) -> None:
    rows(hello, 3)
    other = Function.objects.create(name="zeta", team=team)
    Invocation.objects.create(request_id="z-1", function=other, function_name="zeta")
    client.force_login(owner)
    response = client.get("/invocations/req-0001/")
    assert [i.request_id for i in response.context["compare_with"]] == ["req-0002", "req-0000"]
    body = response.content.decode()
    assert '<select name="b" id="compare-with">' in body and 'value="z-1"' not in body


def test_a_waiting_retry_is_said_in_the_header_not_queued(client: Client, owner: Any, hello: Function) -> None:
    due = timezone.now() + timedelta(minutes=2)
    inv = Invocation.objects.create(request_id="retrying", function=hello, function_name="hello", invocation_type="Event",
                                    status="queued", attempt=1, next_attempt_at=due)  # fmt: skip
    InvocationAttempt.objects.create(invocation=inv, number=1, outcome="failed", error_type="ValueError",
                                     finished_at=timezone.now(), next_attempt_at=due, logs="START one\nboom\nEND one")  # fmt: skip
    client.force_login(owner)
    body = client.get("/invocations/retrying/").content.decode()
    assert f"Asynchronous invocation: attempt 1 failed (ValueError); attempt 2 of 3 scheduled at {due:%Y-%m-%d %H:%M:%S} UTC" in body
    assert "in progress" not in body
    assert '<pre class="code logs" id="attempt-1-logs">START one\nboom\nEND one</pre>' in body


def test_a_destination_invocation_is_linked_both_ways(client: Client, owner: Any, hello: Function) -> None:
    from invocations.models import DestinationDelivery

    source = Invocation.objects.create(request_id="src", function=hello, function_name="hello", invocation_type="Event",
                                       status="succeeded", condition="Success")  # fmt: skip
    caused = Invocation.objects.create(request_id="dst", function=hello, function_name="hello", invocation_type="Event", source="destination")
    DestinationDelivery.objects.create(invocation=source, kind="on-success", destination="arn:aws:lambda:us-east-1:1:function:hello",
                                       condition="Success", status="delivered", attempts=1, caused=caused)  # fmt: skip
    client.force_login(owner)
    body = client.get("/invocations/src/").content.decode()
    assert body.count('href="/invocations/dst/"') == 2  # the deliveries table and the timeline
    back = client.get("/invocations/dst/").content.decode()
    assert 'id="caused-by"' in back and 'href="/invocations/src/"' in back and "Event · Destination" in back
