"""Saved test events: create, edit (shared edits keep versions), restore, rename, duplicate, delete.

Visibility: a private event is its creator's only; a shared event belongs to everyone who sees the
function. Names are unique per function and scope (one shared namespace; one private per user).

Permissions (``invocations/policy.py``): reading needs ``lambda:GetTestEvent``, a private event
``lambda:PutPrivateTestEvent`` (testers and up), a shared one ``lambda:PutSharedTestEvent``
(developers and up). Every change of a shared event goes into the activity log.

Changing an event's scope (private to shared and back) is its owner's alone and needs
``lambda:PutSharedTestEvent`` both ways: sharing publishes to the team, and unsharing takes an event
away from a team that may rely on it (anyone else keeps it by saving a copy: Save as new).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from console import expectations
from console.models import TestEvent, TestEventVersion
from console.placeholders import JsonProblem, check_json
from invocations import activity
from invocations.access import Caller, check_function
from invocations.errors import AccessDeniedException, ResourceNotFoundException
from invocations.models import Function, Invocation
from invocations.selectors import invocation_for

MAX_NAME = 100
UNSET: Any = object()  # update_event: leave the expectations as they are


class EventError(ValueError):
    """A refusal to show next to a field: `field` is "name", "body", "scope" or "expect"; for
    "expect", `where` names the part of the expectations (``JsonPath[1].Matches``) when known."""

    def __init__(self, field: str, message: str, where: str = "") -> None:
        super().__init__(message)
        self.field, self.message, self.where = field, message, where


def visible_events(*, caller: Caller, function: Function) -> QuerySet[TestEvent]:
    check_function(caller, "lambda:GetTestEvent", function)
    return TestEvent.objects.filter(function=function).filter(Q(scope=TestEvent.Scope.SHARED) | Q(owner_id=caller.user_id))


def get_event(*, caller: Caller, function: Function, event_id: int) -> TestEvent:
    event = visible_events(caller=caller, function=function).filter(pk=event_id).first()
    if event is None:
        raise Http404("No such test event")
    return event


def _may_write(caller: Caller, function: Function, scope: str) -> None:
    action = "lambda:PutSharedTestEvent" if scope == TestEvent.Scope.SHARED else "lambda:PutPrivateTestEvent"
    check_function(caller, action, function)


def _log(caller: Caller, event: TestEvent, what: str, changes: dict[str, Any]) -> None:
    if event.scope == TestEvent.Scope.SHARED:
        activity.record(caller=caller, action="lambda:PutSharedTestEvent", function=event.function,
                        changes={"event": event.name, "change": what, **changes})  # fmt: skip


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


def check_expect(expect: Any) -> dict[str, Any] | None:
    """Expectations as stored (None: the event is not part of the suite), or EventError."""
    if expect is None:
        return None
    try:
        return expectations.parse(expect)
    except expectations.ExpectError as error:
        raise EventError("expect", f"Expectations: {error}", where=error.where) from None


def _name_taken(function: Function, scope: str, owner_id: Any, name: str, exclude: int | None = None) -> bool:
    rows = TestEvent.objects.filter(function=function, scope=scope, name=name)
    if scope == TestEvent.Scope.PRIVATE:
        rows = rows.filter(owner_id=owner_id)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


def _taken_error(scope: str, name: str) -> EventError:
    where = "shared events of this function" if scope == TestEvent.Scope.SHARED else "your private events of this function"
    return EventError("name", f"An event named “{name}” already exists among the {where}.")


def _snapshot(event: TestEvent, user_id: Any) -> None:
    """Keep the event's current content as a new version (shared events only)."""
    if event.scope != TestEvent.Scope.SHARED:
        return
    number = (event.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    TestEventVersion.objects.create(event=event, number=number, name=event.name, body=event.body,
                                    expect=event.expect, saved_by_id=user_id)  # fmt: skip


def create_event(
    *, caller: Caller, function: Function, name: str, scope: str, body: str, expect: Any = None
) -> TestEvent:
    name, body, expect = _check_name(name), _check_body(body), check_expect(expect)
    if scope not in TestEvent.Scope.values:
        raise EventError("scope", "Choose private or shared.")
    _may_write(caller, function, scope)
    user = caller.user_id
    if _name_taken(function, scope, user, name):
        raise _taken_error(scope, name)
    try:
        with transaction.atomic():
            event = TestEvent.objects.create(
                function=function, name=name, scope=scope, owner_id=user, body=body, expect=expect,
                updated_by_id=user,
            )
            _snapshot(event, user)
            _log(caller, event, "created", {"version": 1})
    except IntegrityError:
        raise _taken_error(scope, name) from None
    return event


def _check_scope_change(caller: Caller, event: TestEvent, scope: str) -> None:
    """EventError("scope") unless ``caller`` may move ``event`` to ``scope`` (see the module's docstring)."""
    if scope not in TestEvent.Scope.values:
        raise EventError("scope", "Choose private or shared.")
    if event.owner_id != caller.user_id:
        owner = event.owner.get_username()
        raise EventError("scope", f"Only its owner ({owner}) can change who sees this event. Save as new makes a copy with the sharing you choose.")
    try:
        check_function(caller, "lambda:PutSharedTestEvent", event.function)
    except AccessDeniedException:
        raise EventError("scope", "Your role may not share or unshare events (developers and admins may).") from None


def may_change_scope(*, caller: Caller, event: TestEvent) -> bool:
    """Whether the editor should offer to change ``event``'s scope (the service checks again on save)."""
    try:
        _check_scope_change(caller, event, TestEvent.Scope.SHARED)
    except EventError:
        return False
    return True


def update_event(
    *, caller: Caller, event: TestEvent, name: str | None = None, body: str | None = None, expect: Any = UNSET,
    scope: str | None = None,
) -> TestEvent:  # fmt: skip
    """Save new content, expectations, a new name and/or a new scope; a shared event gets a version for
    each change (an event that becomes shared starts with one, its earlier versions kept)."""
    _may_write(caller, event.function, event.scope)
    user = caller.user_id
    new_name = _check_name(name) if name is not None else event.name
    new_body = _check_body(body) if body is not None else event.body
    new_expect = event.expect if expect is UNSET else check_expect(expect)
    new_scope = scope or event.scope
    if new_scope != event.scope:
        _check_scope_change(caller, event, new_scope)
    if new_name == event.name and new_body == event.body and new_expect == event.expect and new_scope == event.scope:
        return event
    if (new_name != event.name or new_scope != event.scope) and _name_taken(
        event.function, new_scope, event.owner_id, new_name, exclude=event.pk
    ):
        raise _taken_error(new_scope, new_name)
    old_name, old_scope = event.name, event.scope
    try:
        with transaction.atomic():
            changes: dict[str, Any] = {"name": [old_name, new_name]} if old_name != new_name else {}
            if new_expect != event.expect:
                changes["expect"] = [event.expect, new_expect]
            if new_scope != old_scope:
                changes["scope"] = [old_scope, new_scope]
                # Unsharing: the team's log says so while the event is still shared (it is private after).
                _log(caller, event, "unshared", changes)
            event.name, event.body, event.expect, event.scope = new_name, new_body, new_expect, new_scope
            event.updated_at, event.updated_by_id = timezone.now(), user
            event.save(update_fields=["name", "body", "expect", "scope", "updated_at", "updated_by"])
            _snapshot(event, user)
            _log(caller, event, "shared" if new_scope != old_scope else "updated", changes)
    except IntegrityError:
        raise _taken_error(new_scope, new_name) from None
    return event


def restore_version(*, caller: Caller, event: TestEvent, number: int) -> TestEvent:
    version = event.versions.filter(number=number).first()
    if version is None:
        raise Http404("No such version")
    return update_event(caller=caller, event=event, name=version.name, body=version.body, expect=version.expect)


def duplicate_event(*, caller: Caller, event: TestEvent, scope: str | None = None) -> TestEvent:
    """A copy named “<name> (copy)”, “<name> (copy 2)”… in `scope` (default: the original's)."""
    scope = scope or event.scope
    base = f"{event.name} (copy)"[:MAX_NAME]
    name, n = base, 1
    while _name_taken(event.function, scope, caller.user_id, name):
        n += 1
        name = f"{event.name} (copy {n})"[:MAX_NAME]
    return create_event(caller=caller, function=event.function, name=name, scope=scope, body=event.body,
                        expect=event.expect)  # fmt: skip


def delete_event(*, caller: Caller, event: TestEvent) -> None:
    _may_write(caller, event.function, event.scope)
    with transaction.atomic():
        _log(caller, event, "deleted", {})
        event.delete()


def response_expectation(*, caller: Caller, function: Function, request_id: str, base: Any = None) -> dict[str, Any]:
    """Approve a result (snapshot testing): ``base`` with the outcome and response of the
    successful invocation ``request_id`` of ``function`` as what must come back."""
    try:
        invocation = invocation_for(caller=caller, request_id=request_id)
    except ResourceNotFoundException:
        raise EventError("expect", "No such invocation to take the response from.") from None
    if invocation.function_id != function.pk:
        raise EventError("expect", "That invocation is of another function.")
    if invocation.status != Invocation.Status.SUCCEEDED or invocation.function_error:
        raise EventError("expect", "Only a successful invocation's response can become the expectation.")
    return expectations.approved(base, invocation.response)


def approve_response(*, caller: Caller, event: TestEvent, request_id: str) -> TestEvent:
    """The event's expectations, its other checks kept, now expect the response of ``request_id``."""
    _may_write(caller, event.function, event.scope)
    expect = response_expectation(caller=caller, function=event.function, request_id=request_id, base=event.expect)
    return update_event(caller=caller, event=event, expect=expect)
