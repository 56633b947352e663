"""Authorization, the Django side: who a caller is, which function a name designates for them, and
the one place every service asks ``policy.decide``.

Every path builds a ``Caller`` — the AWS API and the workbench API from the access key (SigV4), the
console from the session and its current team, function URLs from the signer or nobody, pollers,
schedules and destinations from the account or service they act for — and hands it to the
services, which call ``check`` / ``find_function`` before they read or change anything. Views only
translate.

Name resolution is AWS's: a bare name is looked up in the caller's own team (404 when it has none
by that name); an ARN names an account. Another account's function is never confirmed to exist
to someone no statement lets in: that is a 403 whether it exists or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from invocations import policy
from invocations.arns import LATEST, FunctionRef, function_arn
from invocations.errors import AccessDeniedException, function_not_found
from invocations.models import Function, Membership, PolicyStatement, Team


@dataclass(frozen=True)
class Caller:
    """A principal plus what the platform needs to act for it: its team, its user, how it came."""

    principal: policy.Principal
    team_id: int | None = None  # the caller's own team (user and account callers)
    user_id: int | None = None
    access_key_id: str = ""
    via: str = "api"  # api | cli | console | url | system — for the activity log

    @property
    def account_id(self) -> str:
        return self.principal.account_id

    @property
    def name(self) -> str:
        return self.principal.name or self.principal.arn

    def through(self, via: str) -> Caller:
        return replace(self, via=via)


def user_caller(*, user: Any, team: Team, via: str, access_key_id: str = "", role: str | None = None) -> Caller:
    """``user`` acting in ``team`` with their role there (``role`` when the caller already knows it)."""
    if role is None:
        role = Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()
    principal = policy.Principal(
        kind="user", account_id=team.account_id, name=user.get_username(), role=role, superuser=user.is_superuser
    )
    return Caller(principal=principal, team_id=team.pk, user_id=user.pk, access_key_id=access_key_id, via=via)


def account_caller(team: Team, *, via: str = "system") -> Caller:
    """The platform acting for ``team``'s own configuration (pollers, destinations, webhooks)."""
    return Caller(principal=policy.Principal(kind="account", account_id=team.account_id), team_id=team.pk, via=via)


def service_caller(service: str) -> Caller:
    return Caller(principal=policy.Principal(kind="service", service=service), via="system")


ANONYMOUS = Caller(principal=policy.Principal(kind="anonymous"), via="url")


def team_of_account(account_id: str) -> Team | None:
    return Team.objects.filter(account_id=account_id).first()


def policy_qualifier(qualifier: str | None) -> str:
    """Which policy a qualifier's calls are judged by: "" is the function's own ($LATEST included)."""
    return "" if qualifier in (None, "", LATEST) else str(qualifier)


def statements(function_id: int, qualifier: str | None) -> list[dict[str, Any]]:
    rows = PolicyStatement.objects.filter(function_id=function_id, qualifier=policy_qualifier(qualifier))
    return [row.statement for row in rows.order_by("id")]


def check(
    caller: Caller,
    action: str,
    *,
    resource_account: str,
    resource: str,
    statements: Iterable[dict[str, Any]] = (),
    context: policy.Context = policy.Context(),
) -> None:
    """Raise AWS's AccessDeniedException unless ``caller`` may do ``action`` on ``resource``."""
    decision = policy.decide(
        principal=caller.principal, action=action, resource_account=resource_account,
        statements=statements, context=context,
    )  # fmt: skip
    if not decision.allowed:
        raise AccessDeniedException(decision.message(caller.principal, action, resource))


def check_account(caller: Caller, action: str, *, resource: str = "*") -> None:
    """An action on the caller's own account (ListFunctions, CreateFunction, members, keys …)."""
    check(caller, action, resource_account=caller.account_id, resource=resource)


def check_function(
    caller: Caller, action: str, function: Function, qualifier: str | None = None,
    *, context: policy.Context = policy.Context(),
) -> None:  # fmt: skip
    """``action`` on a function the caller already holds (its team loaded), judged by the policy of
    exactly the qualifier named. The statements are read only when the caller's role is not enough."""
    account = function.team.account_id
    resource = function_arn(function.name, qualifier or None, account=account)
    decision = policy.decide(principal=caller.principal, action=action, resource_account=account, context=context)
    if decision.allowed:
        return
    check(caller, action, resource_account=account, resource=resource,
          statements=statements(function.pk, qualifier), context=context)  # fmt: skip


def find_function(
    caller: Caller, ref: FunctionRef, action: str, *, context: policy.Context = policy.Context(),
    qualified: bool = True,
) -> Function:  # fmt: skip
    """The function ``ref`` designates for ``caller``, once ``caller`` may do ``action`` on it.

    ``qualified``: judge by the policy of ``ref.qualifier`` (False for actions on the function as a
    whole). A 404 names the qualified ARN when a qualifier was given, as AWS's message does.
    """
    qualifier = ref.qualifier if qualified else None
    own = ref.account is None or ref.account == caller.account_id
    account = caller.account_id if own else str(ref.account)
    resource = function_arn(ref.name, qualifier or None, account=account)
    if own and caller.team_id is not None:
        team_id: int | None = caller.team_id
    else:
        team = team_of_account(account)
        team_id = team.pk if team else None
    function = (
        Function.objects.select_related("team").filter(team_id=team_id, name=ref.name).first()
        if team_id is not None else None
    )  # fmt: skip
    decision = policy.decide(principal=caller.principal, action=action, resource_account=account, context=context)
    if not decision.allowed:
        found = statements(function.pk, qualifier) if function is not None else []
        check(caller, action, resource_account=account, resource=resource, statements=found, context=context)
    if function is None:
        raise function_not_found(function_arn(ref.name, ref.qualifier, account=account))
    return function

