"""The activity (audit) log: every change, who made it, when, through what, and what changed.

Services call ``record`` in the transaction of the change they make. Rows are never updated or
deleted (``models.Activity``); ``for_team`` / ``for_function`` read them, newest first.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from invocations.access import Caller, check_account, find_function
from invocations.arns import FunctionRef, arn_of
from invocations.models import Activity, Function, Team

# Environment variables often hold secrets: the log says which changed, never their values.
HIDDEN = "(changed)"


def record(
    *,
    caller: Caller,
    action: str,
    team: Team | None = None,
    function: Function | None = None,
    qualifier: str | None = None,
    resource: str = "",
    changes: dict[str, Any] | None = None,
) -> Activity:
    team = team if team is not None else (function.team if function is not None else None)
    return Activity.objects.create(
        team=team,
        account_id=team.account_id if team is not None else caller.account_id,
        function=function,
        function_name=function.name if function is not None else "",
        actor_id=caller.user_id,
        actor_name=caller.name,
        access_key_id=caller.access_key_id,
        via=caller.via,
        action=action,
        resource=resource or (arn_of(function, qualifier) if function is not None else ""),
        changes=changes or {},
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for what changed; environment variables by name only."""
    changes: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key == "environment":
            old_vars, new_vars = dict(old or {}), dict(new or {})
            changes[key] = {
                name: ("(added)" if name not in old_vars else "(removed)" if name not in new_vars else HIDDEN)
                for name in sorted(set(old_vars) | set(new_vars))
                if old_vars.get(name) != new_vars.get(name)
            }
        else:
            changes[key] = [old, new]
    return changes


def for_team(*, caller: Caller) -> QuerySet[Activity]:
    """The caller's own team's log (``lambda:ListActivity`` on the account), newest first."""
    check_account(caller, "lambda:ListActivity")
    return Activity.objects.filter(team_id=caller.team_id).order_by("-id")


def for_function(*, caller: Caller, ref: FunctionRef) -> QuerySet[Activity]:
    function = find_function(caller, ref, "lambda:ListActivity", qualified=False)
    return of_function(function)


def of_function(function: Function) -> QuerySet[Activity]:
    return Activity.objects.filter(function=function).order_by("-id")


def to_json(entry: Activity) -> dict[str, Any]:
    return {
        "Id": entry.pk,
        "Time": entry.created_at.isoformat().replace("+00:00", "Z"),
        "AccountId": entry.account_id,
        "Actor": entry.actor_name,
        "AccessKeyId": entry.access_key_id or None,
        "Via": entry.via,
        "Action": entry.action,
        "Resource": entry.resource or None,
        "FunctionName": entry.function_name or None,
        "Changes": entry.changes,
    }
