"""The functions list, creating a function, and the Code tab (Configuration: ``function_settings``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from console import selectors
from console.access import allowed, console_caller, get_visible_function
from console.forms import CodeForm, CodeTestChoiceForm, FunctionCreateForm, PackageFileFormSet, ZipUploadForm
from console.models import TestRun
from console.services import events as event_service
from console.services import functions as function_service
from console.services import package_tree, suites
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.models import Function, FunctionVersion
from invocations.selectors import get_latest
from invocations.services import runtimes


class FunctionSearchForm(forms.Form):
    """The functions list's query string: ``q`` (part of a name) and ``page``; bad values are ignored."""

    q = forms.CharField(required=False, max_length=140, strip=True)
    page = forms.IntegerField(required=False, min_value=1)


@login_required
def function_list(request: HtmxHttpRequest) -> HttpResponse:
    search = FunctionSearchForm(request.GET)
    data = search.cleaned_data if search.is_valid() else {}
    query, number = data.get("q") or "", data.get("page") or 1
    found = selectors.function_page(caller=console_caller(request), search=query, page=number)
    statuses = suites.last_status(row.function for row in found.rows)
    rows = [replace(row, suite_status=statuses.get(row.function.pk, "")) for row in found.rows]

    def page_url(n: int) -> str:
        params = request.GET.copy()
        params["page"] = str(n)
        if not query:
            params.pop("q", None)
        return f"?{params.urlencode()}"

    # The first, the last and two either side of the current page; a gap shows as "…".
    shown = sorted({1, found.pages, *range(max(1, found.number - 2), min(found.pages, found.number + 2) + 1)})
    pages = [{"number": n, "url": page_url(n), "gap_before": i > 0 and n - shown[i - 1] > 1} for i, n in enumerate(shown)]
    return render_page(request, "console/functions.html", {
        "rows": rows, "q": query, "page": found, "pages": pages if found.pages > 1 else [],
        "previous_url": page_url(found.number - 1) if found.number > 1 else "",
        "next_url": page_url(found.number + 1) if found.number < found.pages else "",
        "kept_params": [(k, v) for k, values in request.GET.lists() if k not in ("q", "page") for v in values],
    })  # fmt: skip


def _runtimes() -> list[str]:
    return sorted(runtimes.available_runtimes()) or ["python3.11"]


@login_required
@require_http_methods(["GET", "POST"])
def function_create(request: HtmxHttpRequest) -> HttpResponse:
    form = FunctionCreateForm(request.POST or None, request.FILES or None, runtimes=_runtimes())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            function = function_service.create_function(
                caller=console_caller(request), name=data["name"], runtime=data["runtime"],
                zip_data=data["package"], source=data["source"] or None,
            )  # fmt: skip
        except function_service.FieldErrors as errors:
            for field, problems in errors.errors.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"Function {function.name} created.")
            return redirect("console:code", name=function.name)
    blanks = {r: (function_service.blank_for(r).source if function_service.blank_for(r) else "") for r in _runtimes()}  # type: ignore[union-attr]
    return render_page(request, "console/function_create.html", {"form": form, "blanks": blanks})


def _tree_formset(latest: FunctionVersion, listing: package_tree.Listing, data: Any = None) -> Any:
    """The tree form: one row per file shown, then one blank row for a new file (a custom runtime
    without a bootstrap gets the bootstrap template there)."""
    initial = [{"original": f.path, "path": f.path, "content": f.text or ""} for f in listing.files]
    formset = PackageFileFormSet(data, initial=initial, prefix="file")
    if data is None and latest.runtime.startswith("provided") and not any(f.path == "bootstrap" for f in listing.files):
        blank = function_service.blank_for(latest.runtime)
        formset.extra_forms[0].initial = {"path": blank.filename, "content": blank.source} if blank else {}
    return formset


def _test_events(request: HtmxHttpRequest, function: Function) -> list[dict[str, Any]]:
    """What the Code tab's Test button can run: the caller's last test event, then the saved ones."""
    caller = console_caller(request)
    choices: list[dict[str, Any]] = []
    last = TestRun.objects.filter(function=function, user_id=caller.user_id).order_by("-created_at").values_list("payload", flat=True).first()
    if last is not None:
        choices.append({"value": "last", "label": "Last test event", "body": last})
    for event in event_service.visible_events(function=function, caller=caller).order_by("name"):
        choices.append({"value": str(event.pk), "label": f"{event.name} ({event.get_scope_display().lower()})", "body": event.body})
    if not choices:
        choices.append({"value": "empty", "label": "Empty event {}", "body": "{}"})
    return choices


def _code_context(request: HtmxHttpRequest, function: Function, formset: Any = None, tree_errors: list[str] | None = None) -> dict[str, Any]:
    latest = get_latest(function)
    caller = console_caller(request)
    listing = package_tree.listing(latest)
    if formset is None:
        formset = _tree_formset(latest, listing)
    by_path = {f.path: f for f in listing.files}
    rows = []
    for index, form in enumerate(formset.forms):
        shown = by_path.get(form["original"].value() or "")
        rows.append({"form": form, "index": index, "file": shown, "new": shown is None})
    selected = request.GET.get("file", "") or request.POST.get("selected", "")
    # After a refused deploy, the first row with an error is shown (its field says why).
    selected_index = next((r["index"] for r in rows if r["form"].is_bound and r["form"].errors), None)
    if selected_index is None:
        selected_index = next((r["index"] for r in rows if r["file"] and r["file"].path == selected), None)
    if selected_index is None:
        handler = function_service.handler_file(latest, [f.path for f in listing.files if f.editable])
        selected_index = next((r["index"] for r in rows if r["file"] and r["file"].path == handler), 0)
    may_run = allowed(caller, "lambda:InvokeFunction", function)
    return {
        "function": function, "tab": "code", "latest": latest, "listing": listing, "formset": formset, "rows": rows,
        "selected_index": selected_index, "tree_errors": tree_errors or [],
        "empty_row": {"form": formset.empty_form, "index": "__prefix__", "file": None, "new": True},
        "custom_runtime": latest.runtime.startswith("provided"),
        "has_bootstrap": any(f.path == "bootstrap" for f in listing.files),
        "may_deploy": allowed(caller, "lambda:UpdateFunctionCode", function), "may_run": may_run,
        "test_events": _test_events(request, function) if may_run else [], "upload_form": ZipUploadForm(),
        "last_suite": suites.suite_runs(caller=caller, function=function).first(),
        "run_on_deploy": suites.run_on_deploy_enabled(caller=caller, function=function),
        "autotest": CodeTestChoiceForm({"then_test": request.GET.get("test", "")}).is_valid() and request.GET.get("test", ""),
    }  # fmt: skip


def _entries(formset: Any) -> list[package_tree.Entry]:
    entries = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data.get("original") and not data.get("path") and not data.get("content"):
            continue  # the blank new-file row, left blank
        entries.append(package_tree.Entry(original=data.get("original") or "", path=data.get("path") or "",
                                          text=data.get("content") or "", delete=bool(data.get("delete"))))  # fmt: skip
    return entries


def _deploy_tree(request: HtmxHttpRequest, function: Function) -> HttpResponse:
    latest = get_latest(function)
    formset = PackageFileFormSet(request.POST, prefix="file")
    then = CodeTestChoiceForm(request.POST)
    if not formset.is_valid() or not then.is_valid():
        errors = [*formset.non_form_errors(), *(m for ms in then.errors.values() for m in ms)]
        return render_page(request, "console/function_code.html", _code_context(request, function, formset, errors), status=422)
    entries = _entries(formset)
    since = timezone.now()
    try:
        deployed = function_service.deploy_tree(
            caller=console_caller(request), version=latest, entries=entries, revision_id=request.POST.get("revision_id", "")
        )
    except package_tree.TreeErrors as errors:
        rows = [form for form in formset.forms if form.cleaned_data.get("original") or form.cleaned_data.get("path") or form.cleaned_data.get("content")]
        for index, problems in errors.rows.items():
            for field, messages_ in problems.items():
                for message in messages_:
                    rows[index].add_error(field, message)
        return render_page(request, "console/function_code.html", _code_context(request, function, formset, errors.tree), status=422)
    deploy_suite = suites.deploy_run(caller=console_caller(request), function=function, since=since)
    started = f" Test suite run #{deploy_suite.pk} started." if deploy_suite else ""
    messages.success(request, f"Deployed. Code SHA-256 {deployed.code_sha256}.{started}")
    query = {"file": request.POST.get("selected", "")}
    if then.cleaned_data["then_test"]:
        query["test"] = then.cleaned_data["then_test"]
    return redirect(f"{reverse('console:code', args=[function.name])}?{urlencode({k: v for k, v in query.items() if v})}")


@login_required
@require_http_methods(["GET", "POST"])
def code(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    if request.method == "GET":
        return render_page(request, "console/function_code.html", _code_context(request, function))
    if "file-TOTAL_FORMS" in request.POST:
        return _deploy_tree(request, function)
    # One file replaced (the form before the tree, kept for scripts and htmx callers).
    form = CodeForm(request.POST)
    deploy_suite = None
    if form.is_valid():
        since = timezone.now()
        try:
            latest = function_service.deploy_file(
                caller=console_caller(request), version=get_latest(function), filename=form.cleaned_data["filename"], source=form.cleaned_data["source"]
            )
        except function_service.FieldErrors as errors:
            form.add_error(None, [m for ms in errors.errors.values() for m in ms])
        else:
            # Run on deploy: the update's commit started the suite (console.apps), or did not.
            deploy_suite = suites.deploy_run(caller=console_caller(request), function=function, since=since)
            started = f" Test suite run #{deploy_suite.pk} started." if deploy_suite else ""
            messages.success(request, f"Deployed. Code SHA-256 {latest.code_sha256}.{started}")
            if not request.htmx:
                return redirect(f"{reverse('console:code', args=[name])}?file={form.cleaned_data['filename']}")
    problems = [m for ms in form.errors.values() for m in ms]
    context = {**_code_context(request, function, tree_errors=problems), "deploy_suite": deploy_suite, "deployed": not problems}
    return render_page(request, "console/function_code.html", context, partial="editor", status=422 if problems and request.htmx else 200)


@login_required
@require_POST
def code_upload(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = ZipUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            latest = function_service.deploy_zip(
                caller=console_caller(request), version=get_latest(function), zip_data=form.cleaned_data["package"]
            )
        except function_service.FieldErrors as errors:
            messages.error(request, "; ".join(m for ms in errors.errors.values() for m in ms))
        else:
            messages.success(request, f"Package deployed. Code SHA-256 {latest.code_sha256}")
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    return redirect("console:code", name=name)
