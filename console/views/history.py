"""Invocation history (per function and global), the invocation page, Replay, Save as test event, Compare."""

from __future__ import annotations

from typing import Any

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console import selectors
from console.diffs import normalise_logs, side_by_side
from console.access import get_visible_function, get_visible_invocation, console_caller
from console.forms import CompareForm, HistoryForm, ReplayForm, SaveAsEventForm
from console.placeholders import pretty
from console.services import events as event_service
from console.services import runs
from console.timeline_view import async_headline, invocation_context, timeline
from console.views.common import HtmxHttpRequest, login_required, render_page
from console.views.triggers import batch_records
from invocations.models import Function, Invocation


def _history(request: HtmxHttpRequest, function: Function | None) -> HttpResponse:
    form = HistoryForm(request.GET or None)
    if function is None:
        names = selectors.function_names(console_caller(request))
        chosen = request.GET.get("function", "")
        extra = [(chosen, f"{chosen} (deleted)")] if chosen and chosen not in names else []
        form.fields["function"].widget.choices = [("", "any function"), *((n, n) for n in names), *extra]
    page = None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        cursor = selectors.decode_cursor(data["cursor"]) if data.get("cursor") else None
        if data.get("cursor") and cursor is None:
            form.add_error("cursor", "This page link is not valid; start again from the first page.")
        else:
            filters = selectors.HistoryFilters(
                status=data.get("status", ""), source=data.get("source", ""), invocation_type=data.get("type", ""),
                version=data.get("version", ""), since=data.get("since"), until=data.get("until"),
                request_id=(data.get("request_id") or "").strip(),
                function_name=(data.get("function") or "").strip(), state=data.get("state", ""),
            )  # fmt: skip
            page = selectors.history(caller=console_caller(request), function=function, filters=filters, cursor=cursor)
    next_query = None
    if page is not None and page.next_cursor:
        next_query = _page_query(request.GET, page.next_cursor)
    if function is not None:  # one function's page: the filters across functions do not apply
        del form.fields["function"], form.fields["state"]
    context = {"function": function, "tab": "history", "form": form, "page": page, "next_query": next_query,
               "retention": retention_note()}  # fmt: skip
    return render_page(request, "console/history.html", context, partial="rows", status=200 if page is not None else 400)


def retention_note() -> str:
    """What the history page says of retention (services/cleanup.prune_history's settings)."""
    days, count = settings.LAMBDA_HISTORY_RETENTION_DAYS, settings.LAMBDA_HISTORY_MAX_PER_FUNCTION
    kept = f"{days:g} day{'s' if days != 1 else ''}" if days > 0 else "for ever"
    if count > 0:
        return f"History is kept {kept} and at most {count:,} invocations per function."
    return f"History is kept {kept}, with no limit per function."


def _page_query(query: QueryDict, cursor: str) -> str:
    """The next page's query: each filter once (the last value given), empty ones left out, the new cursor."""
    kept = {name: value for name, value in query.items() if value and name != "cursor"}
    return urlencode({**kept, "cursor": cursor})


@login_required
@require_GET
def function_history(request: HtmxHttpRequest, name: str) -> HttpResponse:
    return _history(request, get_visible_function(request, name))


@login_required
@require_GET
def global_history(request: HtmxHttpRequest) -> HttpResponse:
    return _history(request, None)


def _detail_context(request: HtmxHttpRequest, invocation: Invocation, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {**invocation_context(invocation), "tab": "history"}
    context["function"] = invocation.function
    context["attempts"] = list(invocation.attempts.all())
    context["deliveries"] = list(invocation.deliveries.select_related("caused").order_by("id"))
    context["caused_by"] = invocation.caused_by.select_related("invocation").first()
    context["records"] = batch_records(invocation)
    if invocation.invocation_type == Invocation.Type.EVENT:
        context["timeline"], context["final"] = timeline(invocation)
        context["headline"] = async_headline(invocation, context["timeline"], context["final"])
    qualifiers = selectors.qualifiers(invocation.function) if invocation.function else []
    context["qualifiers"] = qualifiers
    if invocation.function:
        context["compare_with"] = selectors.recent_invocations(function=invocation.function, exclude=invocation)
    context["replay_form"] = extra.pop("replay_form", None) or ReplayForm(initial={"payload": pretty(invocation.payload), "qualifier": invocation.qualifier or "$LATEST"})
    context["save_form"] = extra.pop("save_form", None) or SaveAsEventForm()
    context.update(extra)
    return context


@login_required
@require_GET
def invocation_detail(request: HtmxHttpRequest, request_id: str) -> HttpResponse:
    invocation = get_visible_invocation(request, request_id)
    return render_page(request, "console/invocation.html", _detail_context(request, invocation))


@login_required
@require_POST
def replay(request: HtmxHttpRequest, request_id: str) -> HttpResponse:
    """Run the invocation's payload again (edited or not, on another qualifier or not) as a console test."""
    invocation = get_visible_invocation(request, request_id)
    if invocation.function is None:
        return render_page(request, "console/invocation.html", _detail_context(request, invocation, note="The function no longer exists."), status=400)
    function = get_visible_function(request, invocation.function.name)
    form = ReplayForm(request.POST)
    if form.is_valid() and (form.cleaned_data["qualifier"] or "$LATEST") not in selectors.qualifiers(function):
        form.add_error("qualifier", "Unknown qualifier.")
    if not form.is_valid():
        return render_page(request, "console/invocation.html", _detail_context(request, invocation, replay_form=form), status=400)
    asynchronous = request.POST.get("asynchronous") == "on"
    started = runs.start_test(function=function, caller=console_caller(request), body=form.cleaned_data["payload"],
                              qualifier=form.cleaned_data["qualifier"] or "$LATEST", asynchronous=asynchronous)
    return redirect(reverse("console:test_run", args=[function.name, started.run.pk]))


@login_required
@require_POST
def save_as_event(request: HtmxHttpRequest, request_id: str) -> HttpResponse:
    invocation = get_visible_invocation(request, request_id)
    form = SaveAsEventForm(request.POST)
    if invocation.function is None or not form.is_valid():
        return render_page(request, "console/invocation.html", _detail_context(request, invocation, save_form=form), status=400)
    caller = console_caller(request)
    try:
        expect = None
        if form.cleaned_data["expect_response"]:
            expect = event_service.response_expectation(caller=caller, function=invocation.function, request_id=invocation.request_id)
        event = event_service.create_event(function=invocation.function, caller=caller, name=form.cleaned_data["name"],
                                           scope=form.cleaned_data["scope"], body=pretty(invocation.payload), expect=expect)
    except event_service.EventError as error:
        field = "expect_response" if error.field == "expect" else error.field
        form.add_error(field if field in form.fields else None, error.message)
        return render_page(request, "console/invocation.html", _detail_context(request, invocation, save_form=form), status=400)
    return redirect(f"{reverse('console:test', args=[invocation.function.name])}?event={event.pk}")


def _compare_query(query: QueryDict) -> tuple[QueryDict, str | None]:
    """The history's plain form (no JavaScript) sends the ticked rows as ``pick``: two of them are A and B."""
    picks = [p for p in query.getlist("pick") if p]
    if not picks or query.get("a") or query.get("b"):
        return query, None
    if len(picks) != 2:
        return query, f"Pick exactly two invocations to compare ({len(picks)} picked)."
    data = query.copy()
    data["a"], data["b"] = picks
    return data, None


@login_required
@require_GET
def compare(request: HtmxHttpRequest) -> HttpResponse:
    query, pick_error = _compare_query(request.GET)
    form = CompareForm(query or None)
    if pick_error:
        return render_page(request, "console/compare.html", {"form": CompareForm(), "pick_error": pick_error, "tab": "history"}, status=400)
    if not form.is_valid():
        return render_page(request, "console/compare.html", {"form": form, "tab": "history"}, status=400 if request.GET else 200)
    a = get_visible_invocation(request, form.cleaned_data["a"].strip())
    b = get_visible_invocation(request, form.cleaned_data["b"].strip())
    def value(invocation: Invocation, attr: str) -> Any:
        found = getattr(invocation, attr)
        return found() if callable(found) else found

    metrics = [
        (label, value(a, attr), value(b, attr), value(a, attr) != value(b, attr))
        for label, attr in (
            ("Function", "function_name"), ("Version", "executed_version"), ("Status", "status"), ("Source", "get_source_display"),
            ("Type", "invocation_type"), ("Duration (ms)", "duration_ms"), ("Billed duration (ms)", "billed_duration_ms"),
            ("Init duration (ms)", "init_duration_ms"), ("Memory (MB)", "memory_size_mb"), ("Max memory used (MB)", "max_memory_used_mb"),
            ("Code SHA-256", "code_sha256"),
        )
    ]  # fmt: skip
    raw = form.cleaned_data["raw"]
    ids = (a.request_id, b.request_id)
    logs_a, logs_b = (a.logs, b.logs) if raw else (normalise_logs(a.logs, ids), normalise_logs(b.logs, ids))
    sections = [
        ("Payload", side_by_side(pretty(a.payload), pretty(b.payload))),
        ("Response", side_by_side(pretty(a.response), pretty(b.response))),
        ("Logs", side_by_side(logs_a, logs_b)),
    ]
    toggle = query.copy()
    if raw:
        toggle.pop("raw", None)
    else:
        toggle["raw"] = "on"
    context = {"form": form, "a": a, "b": b, "metrics": metrics, "sections": sections, "tab": "history",
               "raw": raw, "toggle_query": toggle.urlencode()}  # fmt: skip
    return render_page(request, "console/compare.html", context)
