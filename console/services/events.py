"""Saved test events: create, edit (shared edits keep versions), restore, rename, duplicate, delete.

Visibility: a private event is its creator's only; a shared event belongs to everyone who sees the
function. Names are unique per function and scope (one shared namespace; one private per user).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from console.models import TestEvent, TestEventVersion
from console.placeholders import JsonProblem, check_json
from invocations.models import Function

MAX_NAME = 100


class EventError(ValueError):
    """A refusal to show next to a field: `field` is "name" or "body"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def visible_events(*, function: Function, user: Any) -> QuerySet[TestEvent]:
    return TestEvent.objects.filter(function=function).filter(Q(scope=TestEvent.Scope.SHARED) | Q(owner=user))


def get_event(*, function: Function, user: Any, event_id: int) -> TestEvent:
    event = visible_events(function=function, user=user).filter(pk=event_id).first()
    if event is None:
        raise Http404("No such test event")
    return event


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise EventError("name", "Enter a name for the event.")
    if len(name) > MAX_NAME:
        raise EventError("name", f"The name can be at most {MAX_NAME} characters.")
    return name


def _check_body(body: str) -> str:
    try:
        check_json(body)
    except JsonProblem as problem:
        raise EventError("body", f"The event is not valid JSON: {problem.message} at line {problem.line}, column {problem.column}.") from None
    return body


def _name_taken(function: Function, scope: str, owner: Any, name: str, exclude: int | None = None) -> bool:
    rows = TestEvent.objects.filter(function=function, scope=scope, name=name)
    if scope == TestEvent.Scope.PRIVATE:
        rows = rows.filter(owner=owner)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


def _taken_error(scope: str, name: str) -> EventError:
    where = "shared events of this function" if scope == TestEvent.Scope.SHARED else "your private events of this function"
    return EventError("name", f"An event named “{name}” already exists among the {where}.")


def _snapshot(event: TestEvent, user: Any) -> None:
    """Keep the event's current content as a new version (shared events only)."""
    if event.scope != TestEvent.Scope.SHARED:
        return
    number = (event.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    TestEventVersion.objects.create(event=event, number=number, name=event.name, body=event.body, saved_by=user)


def create_event(*, function: Function, user: Any, name: str, scope: str, body: str) -> TestEvent:
    name, body = _check_name(name), _check_body(body)
    if scope not in TestEvent.Scope.values:
        raise EventError("scope", "Choose private or shared.")
    if _name_taken(function, scope, user, name):
        raise _taken_error(scope, name)
    try:
        with transaction.atomic():
            event = TestEvent.objects.create(
                function=function, name=name, scope=scope, owner=user, body=body, updated_by=user
            )
            _snapshot(event, user)
    except IntegrityError:
        raise _taken_error(scope, name) from None
    return event


def update_event(*, event: TestEvent, user: Any, name: str | None = None, body: str | None = None) -> TestEvent:
    """Save new content and/or a new name; a shared event gets a version for each change."""
    new_name = _check_name(name) if name is not None else event.name
    new_body = _check_body(body) if body is not None else event.body
    if new_name == event.name and new_body == event.body:
        return event
    if new_name != event.name and _name_taken(event.function, event.scope, event.owner, new_name, exclude=event.pk):
        raise _taken_error(event.scope, new_name)
    try:
        with transaction.atomic():
            event.name, event.body = new_name, new_body
            event.updated_at, event.updated_by = timezone.now(), user
            event.save(update_fields=["name", "body", "updated_at", "updated_by"])
            _snapshot(event, user)
    except IntegrityError:
        raise _taken_error(event.scope, new_name) from None
    return event


def restore_version(*, event: TestEvent, user: Any, number: int) -> TestEvent:
    version = event.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version")
    return update_event(event=event, user=user, name=version.name, body=version.body)


def duplicate_event(*, event: TestEvent, user: Any, scope: str | None = None) -> TestEvent:
    """A copy named “<name> (copy)”, “<name> (copy 2)”… in `scope` (default: the original's)."""
    scope = scope or event.scope
    base = f"{event.name} (copy)"[:MAX_NAME]
    name, n = base, 1
    while _name_taken(event.function, scope, user, name):
        n += 1
        name = f"{event.name} (copy {n})"[:MAX_NAME]
    return create_event(function=event.function, user=user, name=name, scope=scope, body=event.body)


def delete_event(*, event: TestEvent, user: Any) -> None:
    event.delete()
