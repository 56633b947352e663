"""The Logs tab (console/views/logs.py): streams, a stream's lines, search, bad input, live tail,
and who may read it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import quote, unquote

import pytest
from django.test import Client
from django.utils import timezone

from invocations.models import Function, Invocation
from tests.invocations.test_log_events import A, B, add

pytestmark = pytest.mark.django_db
URL = "/functions/hello/logs/"


@pytest.fixture
def lines(hello: Function) -> list[Invocation]:
    base = timezone.now() - timedelta(minutes=20)
    return [add(hello, 0, A, "first <b>line</b>", at=base), add(hello, 1, B, "Needle here", at=base + timedelta(minutes=1)),
            add(hello, 2, A, "third", at=base + timedelta(minutes=2))]


def test_streams_are_listed_newest_first_with_counts(client: Client, owner: Any, lines: list[Invocation]) -> None:
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 200
    assert [(s.name, s.invocations) for s in response.context["streams"]] == [(A, 2), (B, 1)]
    html = response.content.decode()
    assert html.index(A) < html.index(B) and "/aws/lambda/hello" in html
    assert '<a href="/functions/hello/logs/" aria-current="page" class="active">Logs</a>' in html


def test_a_stream_shows_its_lines_in_order_escaped(client: Client, owner: Any, lines: list[Invocation]) -> None:
    client.force_login(owner)
    response = client.get(f"{URL}?stream={quote(A)}")
    messages = [e.message for e in response.context["page"].events]
    assert messages[1] == "first <b>line</b>" and "third" in messages and "Needle here" not in messages
    assert messages.index("first <b>line</b>") < messages.index("third")
    assert "first &lt;b&gt;line&lt;/b&gt;" in response.content.decode()


def test_search_by_text_and_time_across_streams(client: Client, owner: Any, lines: list[Invocation]) -> None:
    client.force_login(owner)
    found = client.get(f"{URL}?q=needle").context["page"].events
    assert [e.message for e in found] == ["Needle here"] and found[0].stream == B
    start = (lines[2].started_at - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S")
    late = client.get(f"{URL}?start={start}").context["page"].events
    assert {e.request_id for e in late} == {"req-2"}
    regex = client.get(f"{URL}?q=%5E(first|third)&regex=on").context["page"].events
    assert [e.message for e in regex] == ["first <b>line</b>", "third"]


def test_without_a_start_all_streams_show_the_last_hour(client: Client, owner: Any, hello: Function,
                                                        lines: list[Invocation]) -> None:
    add(hello, 9, B, "yesterday", at=timezone.now() - timedelta(days=1))
    client.force_login(owner)
    assert "yesterday" not in [e.message for e in client.get(URL).context["page"].events]
    assert "yesterday" in [e.message for e in client.get(f"{URL}?stream={quote(B)}").context["page"].events]


@pytest.mark.parametrize(("query", "field"), [("q=(&regex=on", "q"), ("start=yesterday", "start"),
                                              ("start=2026-01-02T00:00&end=2026-01-01T00:00", "end"),
                                              ("after=nonsense", "after")])
def test_bad_input_is_a_400_with_a_message_for_the_field(client: Client, owner: Any, lines: list[Invocation],
                                                         query: str, field: str) -> None:
    client.force_login(owner)
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400 and f'id="error-{field}"' in response.content.decode()


def next_cursor(response: Any) -> str:
    """The cursor the poller carries (hx-get of #tail-poller)."""
    found = re.search(r'id="tail-poller" hidden hx-get="[^"]*after=([^"&]*)"', response.content.decode())
    assert found, response.content.decode()
    return unquote(found.group(1))


def test_the_tail_gives_each_new_line_once_and_stops(client: Client, owner: Any, hello: Function,
                                                      lines: list[Invocation]) -> None:
    client.force_login(owner)
    cursor = client.get(URL).context["cursor"]
    tail = f"{URL}tail/"
    started = client.get(f"{tail}?tail=1&after={quote(cursor)}", HTTP_HX_REQUEST="true")
    assert 'id="tail-poller"' in started.content.decode() and "Stop live tail" in started.content.decode()
    add(hello, 3, A, "brand new", at=timezone.now() - timedelta(seconds=5))
    polled = client.get(f"{tail}?poll=1&after={quote(next_cursor(started))}", HTTP_HX_REQUEST="true")
    html = polled.content.decode()
    assert html.count("brand new") == 1 and 'hx-swap-oob="beforeend:#log-lines"' in html
    again = client.get(f"{tail}?poll=1&after={quote(next_cursor(polled))}", HTTP_HX_REQUEST="true")
    assert "brand new" not in again.content.decode() and 'id="tail-poller"' in again.content.decode()
    stopped = client.get(f"{tail}?tail=0&after={quote(next_cursor(polled))}", HTTP_HX_REQUEST="true")
    assert "tail-poller" not in stopped.content.decode() and "Start live tail" in stopped.content.decode()


def test_the_tail_keeps_the_search(client: Client, owner: Any, hello: Function, lines: list[Invocation]) -> None:
    client.force_login(owner)
    cursor = client.get(f"{URL}?q=wanted").context["cursor"]
    add(hello, 4, A, "wanted line", "other line", at=timezone.now() - timedelta(seconds=5))
    polled = client.get(f"{URL}tail/?poll=1&q=wanted&after={quote(cursor)}", HTTP_HX_REQUEST="true")
    assert "wanted line" in polled.content.decode() and "other line" not in polled.content.decode()


def test_a_teammate_reads_it_and_another_team_does_not(client: Client, teammate: Any, outsider: Any,
                                                       lines: list[Invocation]) -> None:
    client.force_login(teammate)
    assert client.get(URL).status_code == 200
    client.force_login(outsider)
    for url in (URL, f"{URL}?stream={quote(A)}", f"{URL}tail/?poll=1"):
        response = client.get(url)
        assert response.status_code == 404 and b"first" not in response.content


def test_a_viewer_reads_it(client: Client, django_user_model: Any, hello: Function, lines: list[Invocation]) -> None:
    from invocations.models import Membership
    viewer = django_user_model.objects.create_user("vera", password="password")
    Membership.objects.create(team=hello.team, user=viewer, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    assert "third" in client.get(f"{URL}?stream={quote(A)}").content.decode()


def test_it_is_read_only(client: Client, owner: Any, lines: list[Invocation]) -> None:
    client.force_login(owner)
    assert client.post(URL).status_code == 405 and client.post(f"{URL}tail/").status_code == 405
