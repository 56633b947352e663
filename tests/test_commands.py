from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from invocations.access_keys import decrypt_secret
from invocations.models import AccessKey, Activity, Membership, Team

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def parse(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines())


def member(username: str, team: str = "core", role: str = "developer") -> User:
    user = User.objects.filter(username=username).first() or User.objects.create_user(username=username)
    found = Team.objects.filter(name=team).first() or Team.objects.create(name=team, account_id=str(111111111111 + Team.objects.count()))
    Membership.objects.create(team=found, user=user, role=role)
    return user


def test_createaccesskey_prints_two_shell_evaluable_lines() -> None:
    user = member("alice")
    output = run("createaccesskey", "alice")
    lines = output.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"AWS_ACCESS_KEY_ID=AKIA[A-Z2-7]{16}", lines[0])
    assert re.fullmatch(r"AWS_SECRET_ACCESS_KEY=[A-Za-z0-9_-]{40}", lines[1])
    values = parse(output)
    key = AccessKey.objects.get(access_key_id=values["AWS_ACCESS_KEY_ID"])
    assert key.user == user and key.team.name == "core"
    assert decrypt_secret(key.secret_encrypted) == values["AWS_SECRET_ACCESS_KEY"]


def test_createaccesskey_creates_a_new_key_each_time() -> None:
    member("alice")
    first = parse(run("createaccesskey", "alice"))
    second = parse(run("createaccesskey", "alice"))
    assert first["AWS_ACCESS_KEY_ID"] != second["AWS_ACCESS_KEY_ID"]
    assert AccessKey.objects.filter(user__username="alice").count() == 2


def test_createaccesskey_rejects_an_unknown_user() -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("createaccesskey", "nobody")
    assert AccessKey.objects.count() == 0


def test_createaccesskey_asks_which_team_of_several_and_refuses_a_team_the_user_is_not_in() -> None:
    member("alice", "core")
    member("alice", "payments")
    with pytest.raises(CommandError, match="several teams"):
        run("createaccesskey", "alice")
    key = AccessKey.objects.get(access_key_id=parse(run("createaccesskey", "alice", "--team", "payments"))["AWS_ACCESS_KEY_ID"])
    assert key.team.name == "payments"
    member("bob", "core")
    with pytest.raises(CommandError, match="not a member of payments"):
        run("createaccesskey", "bob", "--team", "payments")


def test_createuser_creates_team_user_and_membership_and_prints_a_key() -> None:
    output = run("createuser", "dana", "--team", "payments", "--role", "tester", "--account-id", "444455556666")
    values = parse(output)
    assert set(values) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    key = AccessKey.objects.get(access_key_id=values["AWS_ACCESS_KEY_ID"])
    assert (key.user.username, key.team.name, key.team.account_id) == ("dana", "payments", "444455556666")
    assert Membership.objects.get(user=key.user, team=key.team).role == "tester"
    assert not key.user.has_usable_password()
    assert Activity.objects.filter(account_id="444455556666", action="workbench:AddMember").count() == 1


def test_createuser_keeps_what_exists_and_changes_a_role_only_when_asked() -> None:
    run("createuser", "dana", "--team", "payments", "--role", "tester")
    run("createuser", "dana", "--team", "payments")
    membership = Membership.objects.get(user__username="dana")
    assert membership.role == "tester" and Team.objects.filter(name="payments").count() == 1
    run("createuser", "dana", "--team", "payments", "--role", "viewer")
    membership.refresh_from_db()
    assert membership.role == "viewer"
    assert AccessKey.objects.filter(user__username="dana").count() == 3
    account = Team.objects.get(name="payments").account_id
    assert len(account) == 12 and account.isdigit()


def test_bootstrapadmin_creates_a_superuser_and_a_key_once() -> None:
    values = parse(run("bootstrapadmin"))
    assert set(values) == {"USERNAME", "PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(values["PASSWORD"])
    key = AccessKey.objects.get(access_key_id=values["AWS_ACCESS_KEY_ID"])
    assert decrypt_secret(key.secret_encrypted) == values["AWS_SECRET_ACCESS_KEY"]
    # The admin of the default team, whose account is LAMBDA_ACCOUNT_ID; the key acts there.
    assert key.team.account_id == "000000000000"
    assert Membership.objects.get(user=admin, team=key.team).role == "admin"


def test_bootstrapadmin_is_idempotent() -> None:
    run("bootstrapadmin")
    assert run("bootstrapadmin") == ""
    assert User.objects.filter(username="admin").count() == 1
    assert AccessKey.objects.count() == 1


def test_bootstrapadmin_takes_another_username() -> None:
    values = parse(run("bootstrapadmin", "--username", "ops"))
    assert values["USERNAME"] == "ops"
    assert User.objects.get(username="ops").is_superuser
