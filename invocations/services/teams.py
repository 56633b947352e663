"""Teams as accounts: members and their roles, and access keys — each change in the activity log.

Members and other people's keys are a team admin's (``workbench:ManageMembers``,
``workbench:ManageAccessKeys``); any member creates and revokes keys of their own in the team they
act in, as an IAM user manages their own keys. A key acts for one user in one team; removing a
member deactivates their keys there. A team always keeps one admin (or only superusers could ever
administer it again).

``provision`` is the operator's door (``manage.py createuser``): it creates what is missing —
team, user, membership — and a key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from invocations import activity, policy
from invocations.access import Caller, check_account
from invocations.access_keys import NewAccessKey, create_access_key
from invocations.errors import InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException
from invocations.models import AccessKey, Membership, Team

ROLES = tuple(Membership.Role.values)


def new_account_id() -> str:
    """12 digits no team has (and not the platform's default account)."""
    from django.conf import settings

    while True:
        candidate = str(secrets.randbelow(9 * 10**11) + 10**11)
        if candidate != settings.LAMBDA_ACCOUNT_ID and not Team.objects.filter(account_id=candidate).exists():
            return candidate


def operator(team: Team) -> Caller:
    """Who changes things from ``manage.py``: the installation's operator, in the team's account."""
    principal = policy.Principal(kind="account", account_id=team.account_id, name="manage.py")
    return Caller(principal=principal, team_id=team.pk, via="system")


def _team(caller: Caller) -> Team:
    return Team.objects.get(pk=caller.team_id)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidParameterValueException(f"Role must be one of {', '.join(ROLES)}.")
    return role


def members(*, caller: Caller) -> QuerySet[Membership]:
    check_account(caller, "workbench:ManageMembers")
    return Membership.objects.filter(team_id=caller.team_id).select_related("user").order_by("user__username")


def add_member(*, caller: Caller, username: str, role: str) -> Membership:
    check_account(caller, "workbench:ManageMembers")
    _check_role(role)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ResourceNotFoundException(f"There is no user named {username}.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(team_id=caller.team_id, user=user, role=role)
            activity.record(caller=caller, action="workbench:AddMember", team=_team(caller),
                            changes={"user": username, "role": role})  # fmt: skip
    except IntegrityError:
        raise ResourceConflictException(f"{username} is already a member of this team.") from None
    return membership


def _membership(caller: Caller, user_id: int) -> Membership:
    found = Membership.objects.select_related("user").filter(team_id=caller.team_id, user_id=user_id).first()
    if found is None:
        raise ResourceNotFoundException("No such member.")
    return found


def _keep_an_admin(membership: Membership) -> None:
    admins = Membership.objects.filter(team_id=membership.team_id, role=Membership.Role.ADMIN)
    if membership.role == Membership.Role.ADMIN and admins.count() <= 1:
        raise InvalidParameterValueException("A team keeps at least one admin: make someone else admin first.")


def set_role(*, caller: Caller, user_id: int, role: str) -> Membership:
    check_account(caller, "workbench:ManageMembers")
    _check_role(role)
    with transaction.atomic():
        membership = _membership(caller, user_id)
        if role != Membership.Role.ADMIN:
            _keep_an_admin(membership)
        old, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        activity.record(caller=caller, action="workbench:SetRole", team=_team(caller),
                        changes={"user": membership.user.get_username(), "role": [old, role]})  # fmt: skip
    return membership


def remove_member(*, caller: Caller, user_id: int) -> None:
    check_account(caller, "workbench:ManageMembers")
    with transaction.atomic():
        membership = _membership(caller, user_id)
        _keep_an_admin(membership)
        membership.delete()
        revoked = AccessKey.objects.filter(team_id=caller.team_id, user_id=user_id, is_active=True).update(is_active=False)
        activity.record(caller=caller, action="workbench:RemoveMember", team=_team(caller),
                        changes={"user": membership.user.get_username(), "keys_deactivated": revoked})  # fmt: skip


# --- access keys ----------------------------------------------------------------------------------------


def keys(*, caller: Caller) -> QuerySet[AccessKey]:
    """The caller's own keys in their team; every key of the team for its admins."""
    rows = AccessKey.objects.filter(team_id=caller.team_id).select_related("user").order_by("-created_at")
    if policy.role_allows(caller.principal.role, "workbench:ManageAccessKeys") or caller.principal.superuser:
        return rows
    return rows.filter(user_id=caller.user_id)


def create_key(*, caller: Caller, description: str = "") -> NewAccessKey:
    """A key of the caller's own, in the team they act in (the secret is returned once)."""
    if caller.user_id is None or caller.team_id is None:
        raise InvalidParameterValueException("Keys belong to a user in a team: choose a team first.")
    user = get_user_model().objects.get(pk=caller.user_id)
    with transaction.atomic():
        created = create_access_key(user=user, team=_team(caller), description=description)
        activity.record(caller=caller, action="workbench:CreateAccessKey", team=_team(caller),
                        changes={"access_key_id": created.access_key_id, "user": user.get_username()})  # fmt: skip
    return created


def revoke_key(*, caller: Caller, access_key_id: str) -> bool:
    key = AccessKey.objects.select_related("user").filter(
        team_id=caller.team_id, access_key_id=access_key_id, is_active=True
    ).first()
    if key is None:
        return False
    if key.user_id != caller.user_id:
        check_account(caller, "workbench:ManageAccessKeys")
    with transaction.atomic():
        AccessKey.objects.filter(pk=key.pk).update(is_active=False)
        activity.record(caller=caller, action="workbench:RevokeAccessKey", team=_team(caller),
                        changes={"access_key_id": access_key_id, "user": key.user.get_username()})  # fmt: skip
    return True


# --- the operator's door ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provisioned:
    team: Team
    user: Any
    role: str
    created: tuple[str, ...]  # what was missing: "team", "user", "membership", "role"
    key: NewAccessKey | None


def provision(*, team_name: str, username: str, role: str | None, account_id: str | None = None,
              with_key: bool = True) -> Provisioned:  # fmt: skip
    """Create what is missing of team, user and membership (``role``, default developer; an existing
    member's role changes only when ``role`` is given); then a key of the user in the team."""
    if role is not None:
        _check_role(role)
    created: list[str] = []
    with transaction.atomic():
        team = Team.objects.filter(name=team_name).first()
        if team is None:
            if account_id and Team.objects.filter(account_id=account_id).exists():
                raise ResourceConflictException(f"Account {account_id} belongs to another team.")
            team = Team.objects.create(name=team_name, account_id=account_id or new_account_id())
            created.append("team")
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username)
            created.append("user")
        membership = Membership.objects.filter(team=team, user=user).first()
        if membership is None:
            membership = Membership.objects.create(team=team, user=user, role=role or Membership.Role.DEVELOPER)
            created.append("membership")
            activity.record(caller=operator(team), action="workbench:AddMember", team=team,
                            changes={"user": username, "role": membership.role})  # fmt: skip
        elif role is not None and role != membership.role:
            old, membership.role = membership.role, role
            membership.save(update_fields=["role"])
            created.append("role")
            activity.record(caller=operator(team), action="workbench:SetRole", team=team,
                            changes={"user": username, "role": [old, role]})  # fmt: skip
        key = None
        if with_key:
            key = create_access_key(user=user, team=team, description="created by manage.py")
            activity.record(caller=operator(team), action="workbench:CreateAccessKey", team=team,
                            changes={"access_key_id": key.access_key_id, "user": username})  # fmt: skip
    return Provisioned(team=team, user=user, role=membership.role, created=tuple(created), key=key)


def default_team() -> Team:
    """The team whose account id is ``LAMBDA_ACCOUNT_ID`` (made by the migration; again if deleted)."""
    from django.conf import settings

    team = Team.objects.filter(account_id=settings.LAMBDA_ACCOUNT_ID).first()
    if team is None:
        team = Team.objects.create(name="default", account_id=settings.LAMBDA_ACCOUNT_ID)
    return team
