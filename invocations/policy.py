"""Who may do what: the one authorization decision every path asks (ARCHITECTURE.md, "Trust
boundaries"). Pure: no Django, no database — the callers load the facts, this module judges them.

AWS's model, mapped onto teams:

* A team is an account. A user is an IAM user in each team they belong to, with one **role** there;
  the role is their identity-based policy (``MINIMUM_ROLE``: the least role that may do an action).
* A function's **resource-based policy** (AddPermission statements) is the only way in from another
  account, for a service principal (``sns.amazonaws.com`` …) or for anyone (``*``, a public URL).
* Within its own account a user is allowed what the role allows, or what a statement grants to
  everyone (``*``); a statement naming the account itself delegates to the roles, as AWS's
  ``arn:aws:iam::<own account>:root`` does. The platform acting for an account (retries, pollers,
  destinations) may do anything in that account. Superusers administer the whole installation.

Statements are evaluated as AWS evaluates them, for the parts AddPermission can write: ``Effect``
Allow, ``Action`` (an action, ``lambda:*`` or ``*``), ``Principal`` (``*``, ``{"AWS": account id,
arn:aws:iam::<id>:root or an IAM user ARN}``, ``{"Service": name}``) and conditions
``ArnLike``/``StringEquals``/``Bool`` on ``AWS:SourceArn``, ``AWS:SourceAccount``,
``lambda:FunctionUrlAuthType``, ``lambda:InvokedViaFunctionUrl``. Anything else fails closed: a
condition this module cannot evaluate never grants.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

ADMIN: Final = "admin"
DEVELOPER: Final = "developer"
TESTER: Final = "tester"
VIEWER: Final = "viewer"
ROLES: Final = (ADMIN, DEVELOPER, TESTER, VIEWER)
_RANK: Final = {VIEWER: 0, TESTER: 1, DEVELOPER: 2, ADMIN: 3}

# Read everything (viewer and up). The lambda: actions past AWS's own (history, records, saved test
# events, triggers, activity) carry its prefix so that AddPermission can grant them like any other.
READ: Final = (
    "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:ListFunctions",
    "lambda:ListVersionsByFunction", "lambda:GetAlias", "lambda:ListAliases", "lambda:GetFunctionConcurrency",
    "lambda:GetFunctionEventInvokeConfig", "lambda:ListFunctionEventInvokeConfigs", "lambda:GetFunctionUrlConfig",
    "lambda:ListFunctionUrlConfigs", "lambda:GetPolicy", "lambda:GetEventSourceMapping",
    "lambda:ListEventSourceMappings", "lambda:GetAccountSettings",
    "lambda:ListInvocations", "lambda:GetInvocation", "lambda:GetTestEvent", "lambda:GetTrigger",
    "lambda:ListActivity", "lambda:ListTags",
)  # fmt: skip
# Invoke and test (tester and up): a private saved event is the tester's own.
INVOKE: Final = ("lambda:InvokeFunction", "lambda:InvokeFunctionUrl", "lambda:PutPrivateTestEvent")
# Create, deploy, configure (developer and up).
DEVELOP: Final = (
    "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion", "lambda:CreateAlias", "lambda:UpdateAlias",
    "lambda:DeleteAlias", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
    "lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig",
    "lambda:DeleteFunctionEventInvokeConfig", "lambda:CreateFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig",
    "lambda:DeleteFunctionUrlConfig", "lambda:AddPermission", "lambda:RemovePermission",
    "lambda:CreateEventSourceMapping", "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping",
    "lambda:CreateTrigger", "lambda:UpdateTrigger", "lambda:DeleteTrigger", "lambda:PutSharedTestEvent",
    "lambda:TagResource", "lambda:UntagResource",
)  # fmt: skip
# The team itself (admin): not lambda: actions, so no resource policy can hand them to anyone.
# MoveFunction: a function changes team (account); the caller must be an admin of both.
ADMINISTER: Final = ("workbench:ManageMembers", "workbench:ManageAccessKeys", "workbench:MoveFunction")

MINIMUM_ROLE: Final[Mapping[str, str]] = {
    **{action: VIEWER for action in READ},
    **{action: TESTER for action in INVOKE},
    **{action: DEVELOPER for action in DEVELOP},
    **{action: ADMIN for action in ADMINISTER},
}
# What a statement's Action may name (AddPermission refuses anything else).
GRANTABLE: Final = frozenset(a for a in MINIMUM_ROLE if a.startswith("lambda:"))

PrincipalKind = Literal["user", "account", "service", "anonymous"]


@dataclass(frozen=True)
class Principal:
    """Who asks. ``user``: an IAM user (a member with ``role`` in ``account_id``); ``account``: the
    platform acting for an account; ``service``: an AWS service principal; ``anonymous``: an
    unsigned request (a ``NONE`` function URL)."""

    kind: PrincipalKind
    account_id: str = ""
    name: str = ""
    role: str | None = None
    superuser: bool = False
    service: str = ""

    @property
    def arn(self) -> str:
        if self.kind == "user":
            return f"arn:aws:iam::{self.account_id}:user/{self.name}"
        if self.kind == "account":
            return f"arn:aws:iam::{self.account_id}:root"
        if self.kind == "service":
            return self.service
        return "anonymous"


@dataclass(frozen=True)
class Context:
    """The request facts conditions test (AWS's condition keys)."""

    source_arn: str | None = None  # AWS:SourceArn
    source_account: str | None = None  # AWS:SourceAccount
    function_url_auth_type: str | None = None  # lambda:FunctionUrlAuthType
    invoked_via_function_url: bool = False  # lambda:InvokedViaFunctionUrl


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # superuser | account | role | policy — or, when denied, which policy was missing:
    # "identity" (the own account: no role allows it) or "resource" (no statement allows it).
    basis: str

    def message(self, principal: Principal, action: str, resource: str) -> str:
        """AWS's AccessDeniedException text."""
        kind = "identity-based" if self.basis == "identity" else "resource-based"
        return (
            f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} "
            f"because no {kind} policy allows the {action} action"
        )


def role_allows(role: str | None, action: str) -> bool:
    needed = MINIMUM_ROLE.get(action)
    return role in _RANK and needed is not None and _RANK[role] >= _RANK[needed]


def decide(
    *,
    principal: Principal,
    action: str,
    resource_account: str,
    statements: Iterable[Mapping[str, Any]] = (),
    context: Context = Context(),
) -> Decision:
    """May ``principal`` do ``action`` on a resource of ``resource_account`` whose resource-based
    policy is ``statements``?"""
    if principal.superuser:
        return Decision(True, "superuser")
    own = principal.kind in ("user", "account") and principal.account_id == resource_account
    if own and principal.kind == "account":
        return Decision(True, "account")
    if own and role_allows(principal.role, action):
        return Decision(True, "role")
    if any(_grants(statement, principal, action, context, own=own) for statement in statements):
        return Decision(True, "policy")
    return Decision(False, "identity" if own else "resource")


# --- statements ------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _action_matches(value: Any, action: str) -> bool:
    return any(a in ("*", "lambda:*") or a == action for a in _as_list(value) if isinstance(a, str))


def _principal_matches(value: Any, principal: Principal, *, own: bool) -> bool:
    if value == "*" or (isinstance(value, Mapping) and value.get("AWS") == "*"):
        return True
    if not isinstance(value, Mapping):
        return False
    if principal.kind == "service":
        return principal.service in _as_list(value.get("Service", []))
    if principal.kind not in ("user", "account") or own:
        # In its own account a user gets no more than its role from a statement naming the account.
        return False
    names = {principal.account_id, f"arn:aws:iam::{principal.account_id}:root"}
    if principal.kind == "user":
        names.add(principal.arn)
    return any(entry in names for entry in _as_list(value.get("AWS", [])))


def _context_value(key: str, context: Context) -> str | None:
    values = {
        "aws:sourcearn": context.source_arn,
        "aws:sourceaccount": context.source_account,
        "lambda:functionurlauthtype": context.function_url_auth_type,
        "lambda:invokedviafunctionurl": "true" if context.invoked_via_function_url else None,
    }
    return values.get(key.lower())


def _condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    actual = _context_value(key, context)
    if actual is None:
        return False  # a key the request does not have never satisfies a condition (IAM)
    wanted = [str(v) for v in _as_list(expected)]
    if operator == "StringEquals":
        return actual in wanted
    if operator == "ArnLike":
        return any(fnmatch.fnmatchcase(actual, pattern) for pattern in wanted)
    if operator == "Bool":
        return actual in [w.lower() for w in wanted]
    return False


def _conditions_hold(conditions: Any, context: Context) -> bool:
    if conditions in (None, {}):
        return True
    if not isinstance(conditions, Mapping):
        return False
    for operator, block in conditions.items():
        if not isinstance(block, Mapping) or not block:
            return False
        if not all(_condition_holds(operator, key, expected, context) for key, expected in block.items()):
            return False
    return True


def _grants(statement: Mapping[str, Any], principal: Principal, action: str, context: Context, *, own: bool) -> bool:
    return (
        statement.get("Effect") == "Allow"
        and _action_matches(statement.get("Action"), action)
        and _principal_matches(statement.get("Principal"), principal, own=own)
        and _conditions_hold(statement.get("Condition"), context)
    )
