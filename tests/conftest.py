"""Shared fixtures: a fixed cast of users, access keys, and a real boto3 client wired to Django.

The cast: alice (``owner``) is the admin and bob (``teammate``) a developer of team "core"
(account 111111111111); charlie (``outsider``) is the admin of another team, "other" (account
222222222222) — a stranger to core's functions but for what a resource policy grants.

The ``lambda_client`` fixture is boto3 itself — real serialisation, real SigV4 signing, real response
parsing and error classes — whose HTTP send is replaced by a call into Django's test client, so the
Django tier exercises the wire protocol without a server.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from invocations.access import Caller, user_caller
from invocations.access_keys import NewAccessKey, create_access_key
from invocations.models import Membership, Team

CORE_ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"


def pytest_configure(config: Any) -> None:
    """Users in this process hash passwords with MD5: PBKDF2's 0.4 s per user was most of many
    tests' time. Servers the tests start (live, browser, fault tiers) keep the real hashers."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class _Raw:
    """The file-like `raw` botocore reads a response body from."""

    def __init__(self, content: bytes) -> None:
        self._buffer = io.BytesIO(content)

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        return self._buffer.read() if amt is None else self._buffer.read(amt)

    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self._buffer.read(amt):
            yield chunk

    def close(self) -> None:
        pass


def _send_to_django(request: Any, **_: Any) -> AWSResponse:
    from django.test import Client

    url = urlsplit(request.url)
    meta: dict[str, str] = {}
    content_type = None
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            content_type = value
        elif key != "CONTENT_LENGTH":
            meta["HTTP_" + key] = value
    meta["HTTP_HOST"] = url.netloc  # a real HTTP client sends the Host it signed
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    body = body or b""
    if isinstance(body, str):
        body = body.encode()
    path = url.path + (f"?{url.query}" if url.query else "")
    response = Client().generic(
        request.method, path, data=body, content_type=content_type or "application/octet-stream", **meta
    )
    content = b"".join(response.streaming_content) if response.streaming else response.content
    headers = {name: value for name, value in response.items()}
    return AWSResponse(request.url, response.status_code, headers, _Raw(content))


def make_lambda_client(key: NewAccessKey, **config: Any) -> Any:
    client = boto3.client(
        "lambda",
        endpoint_url="http://lambda.test",
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}, **config),
    )
    client.meta.events.register("before-send.lambda", _send_to_django)
    return client


@pytest.fixture
def owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="password")


@pytest.fixture
def teammate(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="password")


@pytest.fixture
def outsider(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("charlie", password="password")


@pytest.fixture
def team(owner: Any, teammate: Any) -> Team:
    team: Team = Team.objects.create(name="core", account_id=CORE_ACCOUNT)
    Membership.objects.create(team=team, user=owner, role=Membership.Role.ADMIN)
    Membership.objects.create(team=team, user=teammate, role=Membership.Role.DEVELOPER)
    return team


@pytest.fixture
def other_team(outsider: Any) -> Team:
    team: Team = Team.objects.create(name="other", account_id=OTHER_ACCOUNT)
    Membership.objects.create(team=team, user=outsider, role=Membership.Role.ADMIN)
    return team


@pytest.fixture
def owner_caller(owner: Any, team: Team) -> Caller:
    return user_caller(user=owner, team=team, via="api")


@pytest.fixture
def access_key(owner: Any, team: Team) -> NewAccessKey:
    return create_access_key(user=owner, team=team)


@pytest.fixture
def lambda_client(access_key: NewAccessKey) -> Any:
    return make_lambda_client(access_key)


@pytest.fixture
def outsider_key(outsider: Any, other_team: Team) -> NewAccessKey:
    return create_access_key(user=outsider, team=other_team)


@pytest.fixture
def outsider_client(outsider_key: NewAccessKey) -> Any:
    """boto3 with the key of another team's admin."""
    return make_lambda_client(outsider_key)


def zip_bytes(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    """A code zip from {name: source}; `modes` sets unix permissions (e.g. an executable bootstrap)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


ECHO_PY = "def handler(event, context):\n    return event\n"
