"""The console (minimal for now): the functions and the latest invocations."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from invocations.models import LATEST, FunctionVersion, Invocation

RECENT_INVOCATIONS = 50


@login_required
def home(request: HttpRequest) -> HttpResponse:
    functions = (
        FunctionVersion.objects.filter(version=LATEST)
        .select_related("function")
        .only("runtime", "last_modified", "function__name")
        .order_by("function__name")
    )
    # Payloads and logs can be megabytes each: leave them out of the list.
    invocations = Invocation.objects.only(
        "request_id",
        "function_name",
        "executed_version",
        "invocation_type",
        "source",
        "status",
        "function_error",
        "duration_ms",
        "cold_start",
        "created_at",
    ).order_by("-created_at")[:RECENT_INVOCATIONS]
    return render(request, "console/home.html", {"functions": functions, "invocations": invocations})
