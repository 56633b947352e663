"""The functions list, creating a function, and the Code tab (Configuration: ``function_settings``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from console import selectors
from console.access import console_caller, get_visible_function
from console.forms import CodeForm, FunctionCreateForm, ZipUploadForm
from console.services import functions as function_service
from console.services import suites
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.models import Function
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


def _code_context(request: HtmxHttpRequest, function: Function, filename: str | None = None, form: Any = None) -> dict[str, Any]:
    latest = get_latest(function)
    caller = console_caller(request)
    files = function_service.package_files(latest)
    current = filename if filename in files else function_service.handler_file(latest, files)
    source = function_service.read_file(latest, current) if current else None
    return {
        "function": function, "tab": "code", "latest": latest, "files": files, "current": current,
        "source": source, "form": form, "upload_form": ZipUploadForm(),
        "last_suite": suites.suite_runs(caller=caller, function=function).first(),
        "run_on_deploy": suites.run_on_deploy_enabled(caller=caller, function=function),
    }  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def code(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    if request.method == "GET":
        return render_page(request, "console/function_code.html", _code_context(request, function, request.GET.get("file")), partial="editor")
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
            form = None
    context = {**_code_context(request, function, request.POST.get("filename"), form), "deploy_suite": deploy_suite}
    if form is not None and form.errors:
        context["source"] = request.POST.get("source", "")
    return render_page(request, "console/function_code.html", context, partial="editor")


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
