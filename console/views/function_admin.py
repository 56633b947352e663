"""Deleting a function and moving it to another team (the Configuration tab's danger zone)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from console.access import console_caller, get_visible_function, switch_team
from console.forms import MoveFunctionForm
from console.services import functions as function_service
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.models import Function


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """GET: the confirmation (without JavaScript; with it, the danger zone's dialog posts here)."""
    function = get_visible_function(request, name)
    if request.method == "POST":
        function_service.delete_function(caller=console_caller(request), function=function)
        messages.success(request, f"Function {function.name} deleted.")
        return redirect("console:home")
    return render_page(request, "console/function_delete.html", {"function": function, "tab": "configuration"})


@login_required
@require_http_methods(["GET", "POST"])
def move(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    teams = function_service.move_targets(request.user, function)
    form = MoveFunctionForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        target = next(t for t in teams if t.pk == form.cleaned_data["team"])
        try:
            function_service.move_function(caller=console_caller(request), function=function, team=target)
        except function_service.FieldErrors as errors:
            for problems in errors.errors.values():
                form.add_error("team", problems)
        else:
            switch_team(request, target.pk)
            messages.success(request, f"Function {function.name} moved to team {target.name}.")
            return redirect("console:configuration", name=function.name)
    context: dict[str, Any] = {"function": function, "tab": "configuration", "form": form, "teams": teams}
    return render_page(request, "console/function_move.html", context, status=422 if form.errors else 200)


def danger_zone_context(request: HtmxHttpRequest, function: Function) -> dict[str, Any]:
    from console.access import allowed

    caller = console_caller(request)
    teams = function_service.move_targets(request.user, function)
    return {
        "function": function,
        "may_delete": allowed(caller, "lambda:DeleteFunction", function),
        "may_move": bool(teams) and (request.user.is_superuser or caller.principal.role == "admin"),
        "move_form": MoveFunctionForm(teams=teams),
    }
