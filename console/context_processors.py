"""What every console page shows of the team: the switcher's teams, the current team, the role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console.access import console_caller, current_team, switcher_teams


def team(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "console_teams": switcher_teams(request),
        "console_team": current_team(request),
        "console_role": console_caller(request).principal.role,
    }
