from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from invocations.access_keys import decrypt_secret
from invocations.models import AccessKey

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def parse(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines())


def test_createaccesskey_prints_two_shell_evaluable_lines() -> None:
    user = User.objects.create_user(username="alice")
    output = run("createaccesskey", "alice")
    lines = output.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"AWS_ACCESS_KEY_ID=AKIA[A-Z2-7]{16}", lines[0])
    assert re.fullmatch(r"AWS_SECRET_ACCESS_KEY=[A-Za-z0-9_-]{40}", lines[1])
    values = parse(output)
    key = AccessKey.objects.get(access_key_id=values["AWS_ACCESS_KEY_ID"])
    assert key.user == user
    assert decrypt_secret(key.secret_encrypted) == values["AWS_SECRET_ACCESS_KEY"]


def test_createaccesskey_creates_a_new_key_each_time() -> None:
    User.objects.create_user(username="alice")
    first = parse(run("createaccesskey", "alice"))
    second = parse(run("createaccesskey", "alice"))
    assert first["AWS_ACCESS_KEY_ID"] != second["AWS_ACCESS_KEY_ID"]
    assert AccessKey.objects.filter(user__username="alice").count() == 2


def test_createaccesskey_rejects_an_unknown_user() -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("createaccesskey", "nobody")
    assert AccessKey.objects.count() == 0


def test_bootstrapadmin_creates_a_superuser_and_a_key_once() -> None:
    values = parse(run("bootstrapadmin"))
    assert set(values) == {"USERNAME", "PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(values["PASSWORD"])
    key = AccessKey.objects.get(access_key_id=values["AWS_ACCESS_KEY_ID"])
    assert decrypt_secret(key.secret_encrypted) == values["AWS_SECRET_ACCESS_KEY"]


def test_bootstrapadmin_is_idempotent() -> None:
    run("bootstrapadmin")
    assert run("bootstrapadmin") == ""
    assert User.objects.filter(username="admin").count() == 1
    assert AccessKey.objects.count() == 1


def test_bootstrapadmin_takes_another_username() -> None:
    values = parse(run("bootstrapadmin", "--username", "ops"))
    assert values["USERNAME"] == "ops"
    assert User.objects.get(username="ops").is_superuser
