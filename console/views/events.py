"""Saved test events: save, rename, duplicate, delete, versions and restore, import and export."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from console import expect_form
from console.access import allowed, console_caller, get_visible_function
from console.forms import EventForm, ImportForm, RenameForm
from console.models import TestEvent
from console.services import events as event_service
from console.services import sharing
from console.views.common import HtmxHttpRequest, login_required, render_page
from console.views.test_tab import TEMPLATE, editor_context
from invocations.errors import AccessDeniedException
from invocations.models import Function


def _editor(request: HtmxHttpRequest, function: Function, event: TestEvent | None, status: str = "") -> HttpResponse:
    """The editor after a change, with ``status`` saying what happened (a flash message without JS)."""
    if not request.htmx:
        if status:
            messages.success(request, status)
        url = reverse("console:test", args=[function.name])
        return redirect(f"{url}?event={event.pk}" if event else url)
    response = render_page(request, TEMPLATE, editor_context(request, function, event=event, status=status), partial="editor")
    return trigger_client_event(response, "eventsChanged")


def _invalid(
    request: HtmxHttpRequest, function: Function, event: TestEvent | None, errors: dict[str, list[str]],
    expect: expect_form.ExpectFields | None = None,
) -> HttpResponse:  # fmt: skip
    """The editor again with what was typed (expectations included) and each error by its field."""
    context = editor_context(
        request, function, event=event, body=request.POST.get("body", ""), form_errors=errors,
        name=request.POST.get("name", ""), scope=request.POST.get("scope", ""),
        expect=expect or expect_form.from_post(request.POST),
    )  # fmt: skip
    return render_page(request, TEMPLATE, context, partial="editor", status=422 if request.htmx else 200)


def _expect_of(request: HtmxHttpRequest, function: Function, fields: expect_form.ExpectFields) -> Any:
    """The expectations the editor sends; "Expect this response" (the result panel) replaces their
    outcome and response by the tested invocation's. EventError when the approval is refused."""
    expect = fields.to_expect()
    request_id = request.POST.get("approve_request_id", "").strip()
    if request_id and not fields.has_errors:
        expect = event_service.response_expectation(caller=console_caller(request), function=function,
                                                    request_id=request_id[:36], base=expect)  # fmt: skip
    return expect


@login_required
@require_POST
def save_event(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """Save the editor's content: a new event, or (with event_id) a new state of an existing one."""
    function = get_visible_function(request, name)
    event = None
    if request.POST.get("event_id", "").isdigit():
        event = event_service.get_event(function=function, caller=console_caller(request), event_id=int(request.POST["event_id"]))
    form = EventForm(request.POST)
    fields = expect_form.from_post(request.POST)
    expect = None
    try:
        expect = _expect_of(request, function, fields)
    except event_service.EventError as error:
        fields.add_error(error.where, error.message)
    if not form.is_valid() or fields.has_errors:
        return _invalid(request, function, event, form.errors, fields)
    data = form.cleaned_data
    scope = data["scope"] or None
    try:
        if event is not None and request.POST.get("save_as_new") != "1":
            before = event.scope
            event = event_service.update_event(event=event, caller=console_caller(request), name=data["name"], body=data["body"],
                                               expect=expect, scope=scope)  # fmt: skip
            status = f"Saved “{event.name}”."
            if event.scope != before:
                status += " It is now shared with the team." if event.scope == TestEvent.Scope.SHARED else " It is now private: only you see it."
        else:
            event = event_service.create_event(
                function=function, caller=console_caller(request), name=data["name"], scope=scope or TestEvent.Scope.PRIVATE,
                body=data["body"], expect=expect,
            )  # fmt: skip
            status = f"Saved {'as a new' if request.POST.get('save_as_new') == '1' else 'the new'} {event.scope} event “{event.name}”."
    except event_service.EventError as error:
        if error.field == "expect":
            fields.add_error(error.where, error.message)
            return _invalid(request, function, event, {}, fields)
        return _invalid(request, function, event, {error.field: [error.message]}, fields)
    except AccessDeniedException:
        if scope != TestEvent.Scope.SHARED or not allowed(console_caller(request), "lambda:PutPrivateTestEvent", function):
            raise
        # A tester choosing "Shared": said next to the radios, not a bare 403 the editor never shows.
        return _invalid(request, function, event, {"scope": ["Your role may not share events (developers and admins may): choose Private."]}, fields)
    return _editor(request, function, event, status)


@login_required
@require_POST
def approve_event(request: HtmxHttpRequest, name: str, event_id: int) -> HttpResponse:
    """Approve this response: the event now expects the response of the invocation just tested."""
    function = get_visible_function(request, name)
    event = event_service.get_event(function=function, caller=console_caller(request), event_id=event_id)
    try:
        event = event_service.approve_response(event=event, caller=console_caller(request),
                                               request_id=request.POST.get("request_id", "").strip()[:36])  # fmt: skip
    except event_service.EventError as error:
        fields = expect_form.from_expect(event.expect)
        fields.add_error(error.where, error.message)
        context = editor_context(request, function, event=event, expect=fields)
        return render_page(request, TEMPLATE, context, partial="editor", status=422 if request.htmx else 200)
    if not request.htmx:
        messages.success(request, f"“{event.name}” now expects this response.")
        return redirect(f"{reverse('console:test', args=[function.name])}?event={event.pk}")
    response = render_page(request, TEMPLATE, editor_context(request, function, event=event, note="Approved: the event now expects this response."), partial="editor")
    return trigger_client_event(response, "eventsChanged")


@login_required
@require_POST
def rename_event(request: HtmxHttpRequest, name: str, event_id: int) -> HttpResponse:
    function = get_visible_function(request, name)
    event = event_service.get_event(function=function, caller=console_caller(request), event_id=event_id)
    form = RenameForm(request.POST)
    if not form.is_valid():
        return _invalid(request, function, event, form.errors)
    try:
        event = event_service.update_event(event=event, caller=console_caller(request), name=form.cleaned_data["name"])
    except event_service.EventError as error:
        return _invalid(request, function, event, {error.field: [error.message]})
    return _editor(request, function, event, f"Renamed to “{event.name}”.")


@login_required
@require_POST
def duplicate_event(request: HtmxHttpRequest, name: str, event_id: int) -> HttpResponse:
    function = get_visible_function(request, name)
    event = event_service.get_event(function=function, caller=console_caller(request), event_id=event_id)
    scope = request.POST.get("scope") if request.POST.get("scope") in TestEvent.Scope.values else None
    try:
        copy = event_service.duplicate_event(event=event, caller=console_caller(request), scope=scope)
    except event_service.EventError as error:
        return _invalid(request, function, event, {error.field: [error.message]})
    return _editor(request, function, copy, f"Duplicated as “{copy.name}”.")


@login_required
@require_POST
def delete_event(request: HtmxHttpRequest, name: str, event_id: int) -> HttpResponse:
    function = get_visible_function(request, name)
    event = event_service.get_event(function=function, caller=console_caller(request), event_id=event_id)
    event_service.delete_event(event=event, caller=console_caller(request))
    return _editor(request, function, None, f"Deleted “{event.name}”.")


@login_required
@require_GET
def event_versions(request: HtmxHttpRequest, name: str, event_id: int) -> HttpResponse:
    function = get_visible_function(request, name)
    event = event_service.get_event(function=function, caller=console_caller(request), event_id=event_id)
    versions = list(event.versions.select_related("saved_by"))
    shown = None
    if request.GET.get("v", "").isdigit():
        shown = next((v for v in versions if v.number == int(request.GET["v"])), None)
    shown_expect = json.dumps(shown.expect, indent=2, ensure_ascii=False) if shown and shown.expect is not None else ""
    context = {"function": function, "tab": "test", "event": event, "versions": versions, "shown": shown, "shown_expect": shown_expect}
    return render_page(request, "console/event_versions.html", context, partial="versions")


@login_required
@require_POST
def restore_version(request: HtmxHttpRequest, name: str, event_id: int, number: int) -> HttpResponse:
    function = get_visible_function(request, name)
    event = event_service.get_event(function=function, caller=console_caller(request), event_id=event_id)
    try:
        event = event_service.restore_version(event=event, caller=console_caller(request), number=number)
    except event_service.EventError as error:
        return _invalid(request, function, event, {error.field: [error.message]})
    return _editor(request, function, event, f"Restored version {number} of “{event.name}” (saved as a new version).")


@login_required
@require_POST
def import_events(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = ImportForm(request.POST, request.FILES)
    target = reverse("console:test", args=[function.name])
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect(target)
    filename, text = form.cleaned_data["file"]
    try:
        result = sharing.import_events(
            function=function, caller=console_caller(request), filename=filename, text=text, scope=form.cleaned_data["scope"]
        )
    except (sharing.ImportProblem, event_service.EventError) as error:
        messages.error(request, f"Nothing imported: {error}")
        return redirect(target)
    note = f"Imported {len(result.created)} event(s)"
    if result.skipped:
        note += f"; skipped existing: {', '.join(result.skipped)}"
    messages.success(request, note + ".")
    return redirect(target)


@login_required
@require_GET
def export_events(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The shareable-event schema of the events this user sees (?scope=shared for the team's only)."""
    function = get_visible_function(request, name)
    events = event_service.visible_events(function=function, caller=console_caller(request))
    if request.GET.get("scope") in TestEvent.Scope.values:
        events = events.filter(scope=request.GET["scope"])
    document = sharing.export_openapi(function=function, events=list(events))
    response = JsonResponse(document, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{sharing.schema_name(function)}.json"'
    return response


@login_required
@require_GET
def export_event(request: HtmxHttpRequest, name: str, event_id: int) -> HttpResponse:
    """One event as a plain JSON file (the SAM `events/<name>.json` shape)."""
    function = get_visible_function(request, name)
    event = event_service.get_event(function=function, caller=console_caller(request), event_id=event_id)
    response = HttpResponse(event.body, content_type="application/json")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in event.name) or "event"
    response["Content-Disposition"] = f'attachment; filename="{safe}.json"'
    return response


