"""The team switcher, the Members page (team admins) and the team's activity log."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.access import console_caller, get_visible_function, switch_team
from console.forms import MemberForm, RoleForm, TeamSwitchForm
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations import activity
from invocations.errors import AwsError
from invocations.services import teams

ACTIVITY_PAGE = 100


@login_required
@require_POST
def switch(request: HtmxHttpRequest) -> HttpResponse:
    form = TeamSwitchForm(request.POST)
    if not form.is_valid() or switch_team(request, form.cleaned_data["team"]) is None:
        messages.error(request, "No such team.")
    return redirect("console:home")


@login_required
@require_http_methods(["GET", "POST"])
def members(request: HtmxHttpRequest) -> HttpResponse:
    caller = console_caller(request)
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            teams.add_member(caller=caller, username=form.cleaned_data["username"], role=form.cleaned_data["role"])
        except AwsError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"{form.cleaned_data['username']} added.")
            return redirect("console:members")
    context = {"rows": list(teams.members(caller=caller)), "form": form, "roles": teams.ROLES, "tab": "members"}
    return render_page(request, "console/members.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def member(request: HtmxHttpRequest, user_id: int) -> HttpResponse:
    caller = console_caller(request)
    try:
        if request.POST.get("action") == "remove":
            teams.remove_member(caller=caller, user_id=user_id)
            messages.success(request, "Member removed; their keys in this team are deactivated.")
        else:
            form = RoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose a role.")
            else:
                teams.set_role(caller=caller, user_id=user_id, role=form.cleaned_data["role"])
                messages.success(request, "Role changed.")
    except AwsError as error:
        if error.status == 403:
            raise
        messages.error(request, error.message or error.code)
    return redirect("console:members")


@login_required
@require_GET
def team_activity(request: HtmxHttpRequest) -> HttpResponse:
    rows = list(activity.for_team(caller=console_caller(request))[:ACTIVITY_PAGE])
    return render_page(request, "console/activity.html", {"rows": rows, "function": None})


@login_required
@require_GET
def function_activity(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    rows = list(activity.of_function(function)[:ACTIVITY_PAGE])
    return render_page(request, "console/activity.html", {"rows": rows, "function": function, "tab": "activity"})
