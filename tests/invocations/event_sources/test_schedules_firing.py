"""The scheduler (Django tier): due schedules fire once per fire time, in EventBridge's shape, and a
long outage gives one catch-up, not a burst. Queued events are captured at the broker boundary."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from typing import Any

import pytest

from invocations import dispatch
from invocations.event_sources import scheduler
from invocations.models import Function, Invocation, Trigger
from invocations.services import permissions, triggers
from tests.invocations.services.test_invoke import make_function
from invocations.services.teams import operator

pytestmark = pytest.mark.django_db(transaction=True)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=dt_timezone.utc)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[object, ...]]]:
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: sent.append((name, args)))
    return sent


@pytest.fixture
def echo(settings: Any, tmp_path: Path) -> Function:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return make_function("echo", code_dir=settings.LAMBDA_CODE_DIR)


def schedule(function: Function, expression: str, *, created: str, next_run: str, **fields: Any) -> Trigger:
    """A schedule due at ``next_run``, with the statement that lets EventBridge invoke the function
    (``triggers.create_trigger`` adds the same one)."""
    trigger = Trigger.objects.create(
        function=function, name=fields.pop("name", "tick"), kind="schedule", schedule_expression=expression,
        created_at=at(created), next_run_at=at(next_run), **fields,
    )  # fmt: skip
    permissions.allow(caller=operator(function.team), function=function, qualifier=trigger.qualifier,
                      sid=triggers.statement_id(trigger), principal="events.amazonaws.com",
                      action="lambda:InvokeFunction", source_arn=triggers.rule_arn(trigger))  # fmt: skip
    return trigger


def events() -> list[dict[str, Any]]:
    return [json.loads(i.payload) for i in Invocation.objects.order_by("id")]


def test_a_due_schedule_fires_once_with_the_scheduled_event_shape(echo: Function, published: list[Any]) -> None:
    trigger = schedule(echo, "rate(5 minutes)", created="2024-05-01 10:00", next_run="2024-05-01 10:05")
    assert scheduler.fire_due(now=at("2024-05-01 10:04:59")) == 0
    assert scheduler.fire_due(now=at("2024-05-01 10:05:01")) == 1
    assert scheduler.fire_due(now=at("2024-05-01 10:05:02")) == 0
    (event,) = events()
    assert event == {
        "version": "0", "id": event["id"], "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": "2024-05-01T10:05:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/tick"], "detail": {},
    }  # fmt: skip
    invocation = Invocation.objects.get()
    assert (invocation.source, invocation.invocation_type, invocation.status) == ("trigger", "Event", "queued")
    assert published == [(dispatch.RUN_QUEUED_INVOCATION, (invocation.pk,))]
    trigger.refresh_from_db()
    assert trigger.next_run_at == at("2024-05-01 10:10")
    assert (trigger.invocation_count, trigger.last_request_id, trigger.last_result) == (1, invocation.request_id, "Invoked")


def test_missed_runs_give_one_catch_up_then_the_next_future_time(echo: Function, published: list[Any]) -> None:
    trigger = schedule(echo, "rate(5 minutes)", created="2024-05-01 10:00", next_run="2024-05-01 10:05")
    # The platform was down for two days: one catch-up, not 576 invocations.
    for second in range(3):
        scheduler.fire_due(now=at("2024-05-03 07:31:00") + timedelta(seconds=second))
    assert len(events()) == 1
    assert events()[0]["time"] == "2024-05-01T10:05:00Z"
    trigger.refresh_from_db()
    assert trigger.next_run_at == at("2024-05-03 07:35")
    scheduler.fire_due(now=at("2024-05-03 07:35:00"))
    assert [e["time"] for e in events()] == ["2024-05-01T10:05:00Z", "2024-05-03T07:35:00Z"]


def test_a_cron_schedule_fires_at_its_times_with_a_fixed_payload(echo: Function, published: list[Any]) -> None:
    trigger = schedule(
        echo, "cron(0 9 ? * MON-FRI *)", created="2024-05-01 00:00", next_run="2024-05-03 09:00", payload='{"job": "report"}'
    )
    scheduler.fire_due(now=at("2024-05-03 09:00:00"))
    assert events() == [{"job": "report"}]
    trigger.refresh_from_db()
    assert trigger.next_run_at == at("2024-05-06 09:00")  # Friday → Monday


def test_a_fire_time_claimed_by_another_worker_is_not_fired_again(echo: Function, published: list[Any]) -> None:
    trigger = schedule(echo, "rate(1 minute)", created="2024-05-01 10:00", next_run="2024-05-01 10:01")
    stale = Trigger.objects.select_related("function").get(pk=trigger.pk)  # what a second worker read
    assert scheduler.fire(trigger, now=at("2024-05-01 10:01:00")) is True
    assert scheduler.fire(stale, now=at("2024-05-01 10:01:00")) is False
    assert len(events()) == 1


def test_disabled_schedules_do_not_fire_and_re_enabling_starts_from_now(echo: Function, published: list[Any]) -> None:
    triggers.create_trigger(caller=operator(echo.team), function=echo, name="tick", kind="schedule", schedule_expression="rate(1 minute)")
    disabled = triggers.set_enabled(caller=operator(echo.team), function=echo, name="tick", enabled=False)
    assert disabled.next_run_at is None
    Trigger.objects.filter(pk=disabled.pk).update(next_run_at=at("2020-01-01 00:00"))
    assert scheduler.fire_due() == 0
    enabled = triggers.set_enabled(caller=operator(echo.team), function=echo, name="tick", enabled=True)
    assert enabled.next_run_at is not None and enabled.next_run_at > datetime.now(dt_timezone.utc)


def test_a_schedule_whose_alias_is_gone_spends_the_fire_and_says_why(echo: Function, published: list[Any]) -> None:
    trigger = schedule(echo, "rate(1 minute)", created="2024-05-01 10:00", next_run="2024-05-01 10:01", qualifier="gone")
    assert scheduler.fire_due(now=at("2024-05-01 10:01:00")) == 1
    trigger.refresh_from_db()
    assert Invocation.objects.count() == 0
    assert trigger.next_run_at == at("2024-05-01 10:02")
    assert trigger.last_result == "Refused: ResourceNotFoundException" and "gone" in trigger.last_error


def test_a_broker_failure_rolls_the_claim_back_for_the_next_tick(echo: Function, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str, *args: object) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "_send", refuse)
    trigger = schedule(echo, "rate(1 minute)", created="2024-05-01 10:00", next_run="2024-05-01 10:01")
    assert scheduler.fire_due(now=at("2024-05-01 10:01:00")) == 0
    trigger.refresh_from_db()
    assert trigger.next_run_at == at("2024-05-01 10:01") and trigger.last_result == "Queueing failed"


def test_a_schedule_whose_statement_was_removed_is_refused_and_says_why(echo: Function, published: list[Any]) -> None:
    trigger = schedule(echo, "rate(5 minutes)", created="2024-05-01 10:00", next_run="2024-05-01 10:05")
    permissions.revoke(caller=operator(echo.team), function=echo, qualifier="", sid=triggers.statement_id(trigger))
    assert scheduler.fire_due(now=at("2024-05-01 10:05:01")) == 1  # the fire time is spent …
    assert events() == []  # … but nothing ran
    trigger.refresh_from_db()
    assert trigger.last_result == "Refused: AccessDeniedException"
    assert "events.amazonaws.com is not authorized to perform: lambda:InvokeFunction" in trigger.last_error
