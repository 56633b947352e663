"""The invocation's lifecycle (invocations/lifecycle.py): the transition table, in memory and in the database."""

from __future__ import annotations

import uuid

import pytest

from invocations import lifecycle
from invocations.errors import ServiceException
from invocations.models import Invocation

Status = Invocation.Status
ALLOWED = [(from_, to) for from_, targets in lifecycle.TRANSITIONS.items() for to in sorted(targets)]
FORBIDDEN = [
    (Status.QUEUED, Status.SUCCEEDED),
    (Status.QUEUED, Status.THROTTLED),
    (Status.QUEUED, Status.QUEUED),
    (Status.RUNNING, Status.RUNNING),
    (Status.SUCCEEDED, Status.QUEUED),
    (Status.FAILED, Status.QUEUED),
    (Status.FAILED, Status.RUNNING),
    (Status.TIMED_OUT, Status.SUCCEEDED),
    (Status.THROTTLED, Status.THROTTLED),
]


def test_every_status_has_a_row_and_final_ones_have_no_successor() -> None:
    assert set(lifecycle.TRANSITIONS) == set(Status.values)
    assert all(lifecycle.TRANSITIONS[status] == frozenset() for status in lifecycle.FINAL)
    assert lifecycle.TRANSITIONS[Status.RUNNING] >= {Status.QUEUED, *lifecycle.FINAL}


@pytest.mark.parametrize(("from_", "to"), ALLOWED)
def test_every_allowed_transition_passes(from_: str, to: str) -> None:
    invocation = Invocation(status=from_)
    lifecycle.transition(invocation, to, error_type="X")
    assert (invocation.status, invocation.error_type) == (to, "X")


@pytest.mark.parametrize(("from_", "to"), FORBIDDEN)
def test_a_forbidden_transition_raises_and_changes_nothing(from_: str, to: str) -> None:
    invocation = Invocation(status=from_)
    with pytest.raises(lifecycle.InvalidTransition, match=f"'{from_}' to '{to}'"):
        lifecycle.transition(invocation, to, error_type="X")
    assert (invocation.status, invocation.error_type) == (from_, "")


def test_an_invalid_transition_is_a_platform_error() -> None:
    assert issubclass(lifecycle.InvalidTransition, ServiceException)


def test_new_invocations_start_in_an_initial_status() -> None:
    assert lifecycle.initial_status(Invocation.Type.EVENT) == Status.QUEUED
    assert lifecycle.initial_status(Invocation.Type.REQUEST_RESPONSE) == Status.RUNNING
    for invocation_type, statuses in lifecycle.INITIAL.items():
        assert lifecycle.initial_status(invocation_type) in statuses


def test_the_claim_step_is_queued_to_running() -> None:
    assert (lifecycle.CLAIM.from_, lifecycle.CLAIM.to) == (Status.QUEUED, Status.RUNNING)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.Step(Status.SUCCEEDED, Status.RUNNING)


def stored(status: str) -> Invocation:
    return Invocation.objects.create(
        request_id=str(uuid.uuid4()), function_name="f", invocation_type=Invocation.Type.EVENT, status=status
    )


@pytest.mark.django_db
def test_advance_changes_the_rows_still_in_the_from_status() -> None:
    row = stored(Status.RUNNING)
    assert lifecycle.advance(row.pk, Status.RUNNING, Status.QUEUED, worker="") == 1
    row.refresh_from_db()
    assert (row.status, row.worker) == (Status.QUEUED, "")


@pytest.mark.django_db
def test_advance_changes_no_row_when_the_guard_does_not_match() -> None:
    row = stored(Status.QUEUED)
    assert lifecycle.advance(row.pk, Status.RUNNING, Status.QUEUED, worker="w") == 0
    assert lifecycle.advance(Invocation.objects.filter(pk=row.pk), Status.RUNNING, Status.FAILED) == 0
    row.refresh_from_db()
    assert (row.status, row.worker) == (Status.QUEUED, "")


@pytest.mark.django_db
def test_of_two_workers_advancing_one_row_only_the_first_changes_it() -> None:
    row = stored(Status.QUEUED)
    assert lifecycle.advance(row.pk, Status.QUEUED, Status.RUNNING, worker="a") == 1
    assert lifecycle.advance(row.pk, Status.QUEUED, Status.RUNNING, worker="b") == 0
    row.refresh_from_db()
    assert row.worker == "a"


@pytest.mark.django_db
def test_advance_refuses_a_forbidden_transition_without_a_query(django_assert_num_queries: object) -> None:
    row = stored(Status.SUCCEEDED)
    with django_assert_num_queries(0), pytest.raises(lifecycle.InvalidTransition):  # type: ignore[operator]
        lifecycle.advance(row.pk, Status.SUCCEEDED, Status.QUEUED)
