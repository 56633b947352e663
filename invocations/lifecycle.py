"""An invocation's lifecycle: which status may follow which, in one place (STYLE.md habit 4).

::

    Event:            queued ──▶ running ──▶ succeeded | failed | timed-out | throttled
                        │  ▲        │
                        │  └────────┘  a retry, or the sweep taking back a dead worker's row
                        └──▶ failed    its task could not be published
    RequestResponse:  running ──▶ succeeded | failed | timed-out | throttled

A final status has no successor: nothing reopens a finished invocation.

Two forms, the same rules:

* ``transition`` changes an instance in memory (the caller saves it, e.g. the recorder or
  ``async_events._store_attempt``).
* ``advance`` is the conditional UPDATE (``WHERE status = from``): of two workers racing for one
  row, only one changes it, and the other learns so from the row count. The hot path's fixed
  statements (``async_events._claim_statement``) take their statuses from ``CLAIM`` here.

An Event attempt's own result is the attempt's (``InvocationAttempt.outcome``); the event's row
stays ``running`` until the retry policy has decided whether it goes back to the queue or ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.db.models import QuerySet

from invocations.errors import ServiceException
from invocations.models import Invocation

Status = Invocation.Status

FINAL: Final = frozenset({Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.THROTTLED})
TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED}),  # failed: its task could not be published
    Status.RUNNING: frozenset({Status.QUEUED, *FINAL}),  # queued: a retry, or a dead worker's row taken back
    **{status: frozenset() for status in FINAL},
}
# The statuses a record may be stored with first: an Event is accepted queued; a synchronous call
# is running while it runs, and the recorder stores it once final.
INITIAL: Final[Mapping[str, frozenset[str]]] = {
    Invocation.Type.EVENT: frozenset({Status.QUEUED}),
    Invocation.Type.REQUEST_RESPONSE: frozenset({Status.RUNNING, *FINAL}),
}


class InvalidTransition(ServiceException):
    """A status change the lifecycle does not allow: a bug, shown to a caller as a 500."""


@dataclass(frozen=True)
class Step:
    """One allowed change, for statements that spell their guard themselves."""

    from_: str
    to: str

    def __post_init__(self) -> None:
        check(self.from_, self.to)


def allowed(from_: str, to: str) -> bool:
    return to in TRANSITIONS.get(from_, frozenset())


def check(from_: str, to: str) -> None:
    if not allowed(from_, to):
        raise InvalidTransition(f"An invocation cannot go from '{from_}' to '{to}'.")


def initial_status(invocation_type: str) -> str:
    """The status a new invocation starts with: queued for an Event, running for a synchronous call."""
    return Status.QUEUED if invocation_type == Invocation.Type.EVENT else Status.RUNNING


def transition(invocation: Invocation, to: str, **fields: Any) -> None:
    """Move an in-memory ``invocation`` to ``to`` and set ``fields`` on it (unsaved);
    ``InvalidTransition`` when its current status may not be followed by ``to``."""
    check(invocation.status, to)
    invocation.status = to
    for name, value in fields.items():
        setattr(invocation, name, value)


def advance(target: QuerySet[Invocation] | int, from_: str, to: str, **fields: Any) -> int:
    """``UPDATE … SET status = to, fields WHERE status = from_`` on ``target`` (a queryset, or
    one row's id); the number of rows changed — 0 when none was still ``from_``."""
    check(from_, to)
    rows = Invocation.objects.filter(pk=target) if isinstance(target, int) else target
    return rows.filter(status=from_).update(status=to, **fields)


CLAIM: Final = Step(Status.QUEUED, Status.RUNNING)  # a worker takes a due event (async_events._claim_queued)
