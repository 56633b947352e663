"""Who sees what: a function is visible to its team's members, its owner and superusers.

Everything the console shows is reached through these helpers, so an outsider gets a 404 — the
same answer as for a function that does not exist — and never the data.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from invocations.models import Function, Invocation, Team


def user_teams(user: Any) -> QuerySet[Team]:
    return Team.objects.filter(members=user).order_by("name")


def visible_functions(user: Any) -> QuerySet[Function]:
    if user.is_superuser:
        return Function.objects.all()
    teams = Team.objects.filter(members=user).values("id")
    return Function.objects.filter(Q(team__in=teams) | Q(owner=user))


def get_visible_function(user: Any, name: str) -> Function:
    function = visible_functions(user).select_related("team").filter(name=name).first()
    if function is None:
        raise Http404("No such function")
    return function


def visible_invocations(user: Any) -> QuerySet[Invocation]:
    if user.is_superuser:
        return Invocation.objects.all()
    return Invocation.objects.filter(function__in=visible_functions(user).values("id"))


def get_visible_invocation(user: Any, request_id: str) -> Invocation:
    invocation = visible_invocations(user).filter(request_id=request_id).first()
    if invocation is None:
        raise Http404("No such invocation")
    return invocation
