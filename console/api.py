"""Saved test events over the workbench API (``/_workbench/api/functions/{name}/events``), for the
``workbench`` CLI: SigV4-signed like the AWS API (same keys, same frame, same error shapes).

Saved events are the console's data, so their API lives here: ``console`` depends on
``invocations`` (and its API frame), never the other way round. Creating and overwriting go through
``console/services/events.py``, so names are checked and shared events keep their versions.

* ``GET  functions/{name}/events`` — the events visible to the caller (own private + shared)
* ``GET  functions/{name}/events/{event}`` — one of them (the caller's private event wins)
* ``POST functions/{name}/events`` — import ``{"Events": [{"Name", "Body", "Scope"}], "Overwrite": bool}``
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from console.models import TestEvent
from console.services import events as services
from invocations import json_input
from invocations.access import Caller, find_function
from invocations.api.base import aws_operation, caller, json_body, json_response
from invocations.errors import InvalidParameterValueException, ResourceNotFoundException
from invocations.models import Function
from invocations.selectors import parse_control_function_name


def _event_json(event: TestEvent) -> dict[str, Any]:
    try:
        body = json_input.loads(event.body)
    except ValueError:
        body = event.body  # kept as written (the console accepts placeholders)
    return {"Name": event.name, "Scope": event.scope, "Body": body, "Owner": getattr(event.owner, "username", None)}


def _visible(request: HttpRequest, function_name: str) -> tuple[Function, Caller, QuerySet[TestEvent]]:
    who = caller(request)
    function = find_function(who, parse_control_function_name(function_name), "lambda:GetTestEvent", qualified=False)
    return function, who, services.visible_events(caller=who, function=function).select_related("owner", "function")


def _indented(body: Any) -> str:
    """A body given as JSON, saved indented as the console shows it. Encoding recurses as parsing
    does, so a body nested about as deep as the request parser takes may fail to re-encode here."""
    try:
        return json.dumps(body, indent=2)
    except RecursionError:
        raise InvalidParameterValueException("Body is nested too deep to save as a test event.") from None


@aws_operation
def list_events(request: HttpRequest, function_name: str) -> HttpResponse:
    _, _, events = _visible(request, function_name)
    return json_response({"Events": [_event_json(e) for e in events.order_by("name", "scope")]})


@aws_operation
def get_event(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    _, _, events = _visible(request, function_name)
    # The caller's private event wins over a shared one of the same name.
    found = sorted(events.filter(name=name), key=lambda e: e.scope != "private")
    if not found:
        raise ResourceNotFoundException(f"Test event not found: {name}")
    return json_response(_event_json(found[0]))


@aws_operation
def create_events(request: HttpRequest, function_name: str) -> HttpResponse:
    """Import: ``{"Events": [{"Name", "Body", "Scope"?}], "Overwrite": bool}`` (all or nothing)."""
    function, who, events = _visible(request, function_name)
    body = json_body(request)
    items = body.get("Events")
    if not isinstance(items, list) or not items:
        raise InvalidParameterValueException("Events must be a non-empty list.")
    saved = []
    try:
        with transaction.atomic():
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("Name"), str) or "Body" not in item:
                    raise InvalidParameterValueException("Each event needs a Name and a Body.")
                scope = item.get("Scope") or "private"
                text = item["Body"] if isinstance(item["Body"], str) else _indented(item["Body"])
                existing = events.filter(name=item["Name"], scope=scope)
                existing = existing.filter(owner_id=who.user_id) if scope == "private" else existing
                current = existing.first()
                if current is not None and body.get("Overwrite"):
                    saved.append(services.update_event(caller=who, event=current, body=text))
                else:
                    saved.append(services.create_event(caller=who, function=function, name=item["Name"],
                                                       scope=scope, body=text))
    except services.EventError as error:
        raise InvalidParameterValueException(f"{error.field}: {error.message}") from None
    return json_response({"Events": [_event_json(e) for e in saved]}, status=201)
