"""Who the console acts for: the logged-in user in their current team (the team switcher), with
their role there — the same ``Caller`` the AWS API builds from an access key, so the console obeys
the same decision (``invocations/policy.py``) as every other path.

Functions are looked up by name in the current team; another team's function, like one that does
not exist, is a 404. What a role does not allow is a 403 (``console/middleware.py``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from invocations import policy
from invocations.access import Caller, check_function, user_caller
from invocations.errors import AccessDeniedException, ResourceNotFoundException
from invocations.models import Function, Invocation, Team
from invocations.selectors import invocation_for

SESSION_TEAM = "team_id"


def user_teams(user: Any) -> QuerySet[Team]:
    """The teams the switcher offers: the user's own; every team for a superuser."""
    teams = Team.objects.all() if user.is_superuser else Team.objects.filter(memberships__user=user)
    return teams.order_by("name")


def switcher_teams(request: HttpRequest) -> list[Team]:
    """``user_teams``, read once per request (the switcher shows them, ``current_team`` picks one)."""
    if "_console_teams" not in request.__dict__:
        request.__dict__["_console_teams"] = list(user_teams(request.user))
    teams: list[Team] = request.__dict__["_console_teams"]
    return teams


def current_team(request: HttpRequest) -> Team | None:
    """The team chosen in the switcher (the user's first one until they choose)."""
    teams = switcher_teams(request)
    chosen = request.session.get(SESSION_TEAM)
    team = next((t for t in teams if t.pk == chosen), teams[0] if teams else None)
    if team is not None and team.pk != chosen:
        request.session[SESSION_TEAM] = team.pk
    return team


def switch_team(request: HttpRequest, team_id: int) -> Team | None:
    team = user_teams(request.user).filter(pk=team_id).first()
    if team is not None:
        request.session[SESSION_TEAM] = team.pk
        request.__dict__.pop("_console_caller", None)
    return team


def console_caller(request: HttpRequest) -> Caller:
    """The request's caller (computed once per request)."""
    cached: Caller | None = request.__dict__.get("_console_caller")
    if cached is not None:
        return cached
    team = current_team(request)
    if team is None:
        # In no team: an IAM user of no account, allowed nothing but what superusers are.
        principal = policy.Principal(kind="user", name=request.user.get_username(), superuser=request.user.is_superuser)
        caller = Caller(principal=principal, user_id=request.user.pk, via="console")
    else:
        caller = user_caller(user=request.user, team=team, via="console")
    request.__dict__["_console_caller"] = caller
    return caller




def visible_functions(caller: Caller) -> QuerySet[Function]:
    return Function.objects.filter(team_id=caller.team_id)


def get_visible_function(request: HttpRequest, name: str) -> Function:
    caller = console_caller(request)
    function = visible_functions(caller).select_related("team").filter(name=name).first()
    if function is None:
        raise Http404("No such function")
    check_function(caller, "lambda:GetFunction", function)
    return function


def allowed(caller: Caller, action: str, function: Function) -> bool:
    """Whether a page should offer ``action`` (a hint only: the service checks again when asked)."""
    try:
        check_function(caller, action, function)
    except AccessDeniedException:
        return False
    return True


def get_visible_invocation(request: HttpRequest, request_id: str) -> Invocation:
    try:
        return invocation_for(caller=console_caller(request), request_id=request_id)
    except ResourceNotFoundException:
        raise Http404("No such invocation") from None

