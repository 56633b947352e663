"""The one reader of log text (invocations/log_events.py): streams, text, time, cursor, limits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from invocations import log_events
from invocations.models import Function, Invocation
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

A = "2026/01/05/[$LATEST]" + "a" * 32
B = "2026/01/05/[$LATEST]" + "b" * 32


def logs_of(request_id: str, *lines: str) -> str:
    body = "".join(f"{line}\n" for line in lines)
    return (f"START RequestId: {request_id} Version: $LATEST\n{body}END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: 1.00 ms\t\n")


def add(function: Function, n: int, stream: str, *lines: str, at: datetime) -> Invocation:
    return Invocation.objects.create(
        request_id=f"req-{n}", function=function, function_name=function.name, status="succeeded",
        logs=logs_of(f"req-{n}", *lines), log_stream=stream, started_at=at, finished_at=at + timedelta(seconds=1))


@pytest.fixture
def function(settings: Any, tmp_path: Path, team: Any) -> Function:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return make_function("echo", code_dir=settings.LAMBDA_CODE_DIR)


@pytest.fixture
def base() -> datetime:
    return timezone.now() - timedelta(minutes=10)


@pytest.fixture
def rows(function: Function, base: datetime) -> list[Invocation]:
    return [add(function, 0, A, "hello World", at=base), add(function, 1, B, "nothing here", at=base + timedelta(minutes=1)),
            add(function, 2, A, "HELLO again", "second line", at=base + timedelta(minutes=2))]


def messages(page: log_events.LogPage) -> list[str]:
    return [e.message for e in page.events]


def test_lines_come_in_the_order_invocations_finished_with_start_and_end_stamps(function: Function,
                                                                               rows: list[Invocation]) -> None:
    page = log_events.log_events(function)
    assert [e.request_id for e in page.events if e.message.startswith("START")] == ["req-0", "req-1", "req-2"]
    first = [e for e in page.events if e.request_id == "req-0"]
    assert [e.message.split()[0] for e in first] == ["START", "hello", "END", "REPORT"]
    assert first[0].timestamp == first[1].timestamp == rows[0].started_at
    assert first[2].timestamp == first[3].timestamp == rows[0].finished_at
    assert len({e.event_id for e in page.events}) == len(page.events) and page.more is False


def test_one_stream_is_read_alone(function: Function, rows: list[Invocation]) -> None:
    page = log_events.log_events(function, stream=A)
    assert {e.stream for e in page.events} == {A} and {e.request_id for e in page.events} == {"req-0", "req-2"}


def test_text_is_a_case_insensitive_substring_across_streams(function: Function, rows: list[Invocation]) -> None:
    assert messages(log_events.log_events(function, text="hello")) == ["hello World", "HELLO again"]
    assert messages(log_events.log_events(function, text="nothing", stream=A)) == []


def test_a_pattern_filters_lines(function: Function, rows: list[Invocation]) -> None:
    page = log_events.log_events(function, pattern=re.compile(r"^(hello|second) \w+$", re.IGNORECASE))
    assert messages(page) == ["hello World", "HELLO again", "second line"]


def test_a_time_range_keeps_the_lines_stamped_inside_it(function: Function, rows: list[Invocation],
                                                        base: datetime) -> None:
    page = log_events.log_events(function, start=base + timedelta(seconds=30), end=base + timedelta(minutes=1, seconds=30))
    assert {e.request_id for e in page.events} == {"req-1"}


def test_the_cursor_pages_and_follows_without_repeating_a_line(function: Function, rows: list[Invocation],
                                                              base: datetime) -> None:
    first = log_events.log_events(function, limit=3)
    assert first.more and {e.request_id for e in first.events} == {"req-0"}  # an invocation is never split
    rest = log_events.log_events(function, after=first.cursor)
    assert {e.request_id for e in rest.events} == {"req-1", "req-2"} and not rest.more
    assert log_events.log_events(function, after=rest.cursor).events == []
    add(function, 3, B, "later", at=base + timedelta(minutes=5))
    followed = log_events.log_events(function, after=rest.cursor)
    assert messages(followed)[1:2] == ["later"] and followed.cursor != rest.cursor


def test_an_invocation_that_just_finished_waits_until_it_has_settled(function: Function) -> None:
    add(function, 9, A, "just now", at=timezone.now() - timedelta(seconds=1))
    assert log_events.log_events(function).events == []


def test_other_functions_and_unfinished_invocations_are_not_read(function: Function, settings: Any,
                                                                 base: datetime) -> None:
    other = make_function("other", code_dir=settings.LAMBDA_CODE_DIR)
    add(other, 5, A, "not mine", at=base)
    Invocation.objects.create(request_id="running", function=function, function_name="echo", status="running",
                              logs="partial\n", started_at=base)
    assert log_events.log_events(function).events == []


def test_streams_are_listed_newest_event_first_with_counts(function: Function, rows: list[Invocation]) -> None:
    streams = log_events.log_streams(function)
    assert [(s.name, s.invocations) for s in streams] == [(A, 2), (B, 1)]
    assert streams[0].last_event == rows[2].finished_at and streams[0].first_event == rows[0].started_at


def test_cursors_are_checked() -> None:
    assert log_events.parse_cursor("1767225600.000000:12") is not None
    for bad in ("", "x", "1:2", "1.000000:", "9" * 13 + ".000000:1", "1.000000:" + "9" * 20, f"1.000000:{2**63}"):
        assert log_events.parse_cursor(bad) is None
