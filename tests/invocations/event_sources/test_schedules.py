"""Schedule expressions: parsing and next fire times, as tables (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from invocations.event_sources.schedules import Rate, ScheduleError, describe, next_fire, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
        (" rate( 2 minutes ) ", 120),
    ],
)
def test_it_parses_rates(expression: str, seconds: int) -> None:
    assert parse(expression) == Rate(seconds=seconds)


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "plural"),
        ("rate(2 hour)", "plural"),
        ("rate(1 days)", "singular"),
        ("rate(0 minutes)", "positive"),
        ("rate(-1 minutes)", "positive integer"),
        ("rate(5 seconds)", "unit"),
        ("rate(5 weeks)", "unit"),
        ("rate(five minutes)", "positive integer"),
        ("rate(5minutes)", "positive integer"),
        ("every 5 minutes", "rate(value unit)"),
        ("cron(0 12 * * ? *", "must end with"),
        ("cron(0 12 * * *)", "six fields"),
        ("cron(0 12 * * ? * *)", "six fields"),
        ("cron(0 12 * * * *)", "Exactly one"),
        ("cron(0 12 ? * ? *)", "Exactly one"),
        ("cron(60 12 * * ? *)", "Minutes: 60 is outside 0–59"),
        ("cron(0 24 * * ? *)", "Hours: 24"),
        ("cron(0 12 32 * ? *)", "Day-of-month: 32"),
        ("cron(0 12 0 * ? *)", "Day-of-month: 0"),
        ("cron(0 12 * 13 ? *)", "Month: 13"),
        ("cron(0 12 * FOO ? *)", "Month: 'FOO'"),
        ("cron(0 12 ? * 8 *)", "Day-of-week: 8"),
        ("cron(0 12 ? * MON#6 *)", "1–5"),
        ("cron(0 12 * * ? 1969)", "Year: 1969"),
        ("cron(0 12 * * ? 2200)", "Year: 2200"),
        ("cron(0/0 12 * * ? *)", "step"),
        ("cron(? 12 * * ? *)", "only allowed"),
        ("cron(0 12 1,L * ? *)", "stand alone"),
        ("cron(0 12 ? * 2#1,3 *)", "stand alone"),
        ("cron(0 12 5W-7 * ? *)", "stand alone"),
        ("cron(*-5 12 * * ? *)", "not valid"),
    ],
)
def test_it_rejects_invalid_expressions(expression: str, complaint: str) -> None:
    with pytest.raises(ScheduleError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        parse(expression)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Plain times, lists, ranges, steps.
        ("cron(0 12 * * ? *)", "2024-05-01 11:59:59", "2024-05-01 12:00"),
        ("cron(0 12 * * ? *)", "2024-05-01 12:00:00", "2024-05-02 12:00"),
        ("cron(15,45 * * * ? *)", "2024-05-01 10:20", "2024-05-01 10:45"),
        ("cron(*/15 * * * ? *)", "2024-05-01 10:46", "2024-05-01 11:00"),
        ("cron(5/20 * * * ? *)", "2024-05-01 10:26", "2024-05-01 10:45"),
        ("cron(0 8-10/2 * * ? *)", "2024-05-01 08:00", "2024-05-01 10:00"),
        ("cron(0 22-2 * * ? *)", "2024-05-01 23:30", "2024-05-02 00:00"),
        ("cron(* * * * ? *)", "2024-05-01 10:00:30", "2024-05-01 10:01"),
        # Months by name and number; years.
        ("cron(0 0 1 JAN,JUL ? *)", "2024-02-10 00:00", "2024-07-01 00:00"),
        ("cron(0 0 1 jan ? *)", "2024-02-10 00:00", "2025-01-01 00:00"),
        ("cron(0 0 29 2 ? *)", "2023-03-01 00:00", "2024-02-29 00:00"),
        ("cron(0 0 1 1 ? 2030-2032)", "2024-01-01 00:00", "2030-01-01 00:00"),
        ("cron(0 0 1 1 ? 2020)", "2024-01-01 00:00", None),
        ("cron(0 0 30 2 ? *)", "2024-01-01 00:00", None),
        # Day-of-week: 1 = SUN, names, wrapping ranges.
        ("cron(0 9 ? * MON-FRI *)", "2024-05-03 09:00", "2024-05-06 09:00"),  # Friday → Monday
        ("cron(0 9 ? * 2-6 *)", "2024-05-04 12:00", "2024-05-06 09:00"),
        ("cron(0 9 ? * 1 *)", "2024-05-01 00:00", "2024-05-05 09:00"),  # Sunday
        ("cron(0 9 ? * FRI-MON *)", "2024-05-06 10:00", "2024-05-10 09:00"),  # Monday → Friday
        ("cron(0 9 ? * SAT,SUN *)", "2024-05-01 00:00", "2024-05-04 09:00"),
        # L, W and #.
        ("cron(0 18 L * ? *)", "2024-02-01 00:00", "2024-02-29 18:00"),
        ("cron(0 18 L * ? *)", "2023-02-28 18:00", "2023-03-31 18:00"),
        ("cron(0 0 L-2 * ? *)", "2024-04-01 00:00", "2024-04-28 00:00"),
        ("cron(0 0 LW * ? *)", "2024-08-01 00:00", "2024-08-30 00:00"),  # 31st is a Saturday
        ("cron(0 0 15W * ? *)", "2024-06-01 00:00", "2024-06-14 00:00"),  # 15th is a Saturday → Friday
        ("cron(0 0 16W * ? *)", "2024-06-01 00:00", "2024-06-17 00:00"),  # 16th is a Sunday → Monday
        ("cron(0 0 1W * ? *)", "2024-06-03 00:01", "2024-07-01 00:00"),
        ("cron(0 0 1W * ? *)", "2024-05-31 00:00", "2024-06-03 00:00"),  # 1st is a Saturday → Monday 3rd
        ("cron(0 0 31W * ? *)", "2024-03-01 00:00", "2024-03-29 00:00"),  # 31st is a Sunday → Friday
        ("cron(0 0 31W * ? *)", "2024-04-01 00:00", "2024-05-31 00:00"),  # April has no 31st
        ("cron(0 0 ? * L *)", "2024-05-01 00:00", "2024-05-04 00:00"),  # Saturday
        ("cron(0 0 ? * 6L *)", "2024-05-01 00:00", "2024-05-31 00:00"),  # last Friday
        ("cron(0 0 ? * FRIL *)", "2024-06-01 00:00", "2024-06-28 00:00"),
        ("cron(0 0 ? * 3#2 *)", "2024-05-01 00:00", "2024-05-14 00:00"),  # second Tuesday
        ("cron(0 0 ? * MON#1 *)", "2024-05-07 00:00", "2024-06-03 00:00"),
        ("cron(0 0 ? * 4#5 *)", "2024-01-01 00:00", "2024-01-31 00:00"),  # a fifth Wednesday
        ("cron(0 0 ? * THU#5 *)", "2024-01-01 00:00", "2024-02-29 00:00"),  # January has four
        ("cron(0 0 ? * 5#5 *)", "2024-03-01 00:00", "2024-05-30 00:00"),
    ],
)
def test_cron_next_fire_times(expression: str, after: str, expected: str | None) -> None:
    assert next_fire(parse(expression), at(after)) == (at(expected) if expected else None)


@pytest.mark.parametrize(
    ("expression", "anchor", "after", "expected"),
    [
        ("rate(5 minutes)", "2024-05-01 10:00:00", "2024-05-01 10:00:00", "2024-05-01 10:05:00"),
        ("rate(5 minutes)", "2024-05-01 10:00:00", "2024-05-01 10:04:59", "2024-05-01 10:05:00"),
        ("rate(5 minutes)", "2024-05-01 10:00:00", "2024-05-01 10:05:00", "2024-05-01 10:10:00"),
        # After a long outage: the next interval boundary, not every missed one.
        ("rate(5 minutes)", "2024-05-01 10:00:00", "2024-05-03 07:31:00", "2024-05-03 07:35:00"),
        ("rate(1 hour)", "2024-05-01 10:20:30", "2024-05-01 12:00:00", "2024-05-01 12:20:30"),
        ("rate(1 day)", "2024-05-01 10:00:00", "2024-05-01 09:00:00", "2024-05-01 10:00:00"),
    ],
)
def test_rate_next_fire_times(expression: str, anchor: str, after: str, expected: str) -> None:
    assert next_fire(parse(expression), at(after), anchor=at(anchor)) == at(expected)


def test_a_rate_without_anchor_fires_one_interval_later() -> None:
    assert next_fire(parse("rate(2 hours)"), at("2024-05-01 10:00")) == at("2024-05-01 12:00")


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("rate(1 minute)", "every minute"),
        ("rate(5 minutes)", "every 5 minutes"),
        ("rate(2 days)", "every 2 days"),
        ("cron(0 12 * * ? *)", "cron(0 12 * * ? *) (UTC)"),
    ],
)
def test_it_describes_expressions(expression: str, text: str) -> None:
    assert describe(expression) == text
