"""The live tier: the real stack (granian + a Celery worker) on a free loopback port.

One stack per test session, on a temporary DATA_DIR. When DATABASE_URL names a PostgreSQL server
the stack gets a fresh database on it (dropped afterwards); CELERY_BROKER_URL passes through, so
CI's second run exercises PostgreSQL and Redis.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
from botocore.config import Config

from scripts.stack import ROOT, Stack, free_port, ipv6_available
from tests.live.functions import ECHO_HANDLER, make_zip

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
READ_TIMEOUT = 60


@dataclass(frozen=True)
class Live:
    stack: Stack
    endpoint: str
    endpoint_v6: str | None
    username: str
    password: str
    access_key_id: str
    secret_access_key: str

    def client(
        self,
        *,
        endpoint: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=endpoint or self.endpoint,
            region_name=REGION,
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            config=Config(retries={"max_attempts": 1}, read_timeout=READ_TIMEOUT, connect_timeout=5),
        )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str | None]:
    """A new PostgreSQL database (dropped afterwards) when DATABASE_URL points at PostgreSQL;
    otherwise DATABASE_URL itself (None: the SQLite default in the stack's DATA_DIR)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield url or None
        return
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin_url = _with_database(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def live_database_url() -> Iterator[str | None]:
    with fresh_database("lw_live") as url:
        yield url


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, live_database_url: str | None) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("live-data")
    env = {
        "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
        # Its own queue: the browser tier starts a second session stack, and on a shared Redis one
        # stack's worker would otherwise take the other's tasks (and find no row in its database).
        "CELERY_TASK_DEFAULT_QUEUE": f"live-{uuid.uuid4().hex[:12]}",
    }
    if live_database_url:
        env["DATABASE_URL"] = live_database_url
    stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
    stack.start(timeout=90)
    try:
        created = dict(
            line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "live").splitlines()
        )
        yield Live(
            stack=stack,
            endpoint=stack.endpoint,
            endpoint_v6=stack.endpoint_v6,
            username=created["USERNAME"],
            password=created["PASSWORD"],
            access_key_id=created["AWS_ACCESS_KEY_ID"],
            secret_access_key=created["AWS_SECRET_ACCESS_KEY"],
        )
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def live_lambda(live: Live) -> Any:
    return live.client()


@pytest.fixture(scope="session")
def hello_function(live_lambda: Any) -> str:
    """An echo function named ``hello`` (it prints a line and returns its event)."""
    live_lambda.create_function(
        FunctionName="hello",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": ECHO_HANDLER})},
        Timeout=3,
        MemorySize=128,
    )
    live_lambda.get_waiter("function_active_v2").wait(
        FunctionName="hello", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return "hello"



def make_public(client: Any, name: str, qualifier: str | None = None) -> None:
    """The two statements a public (``NONE``) function URL needs, as AWS's console adds them."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    client.add_permission(FunctionName=name, StatementId="FunctionURLAllowPublicAccess", Principal="*",
                          Action="lambda:InvokeFunctionUrl", FunctionUrlAuthType="NONE", **extra)
    client.add_permission(FunctionName=name, StatementId="FunctionURLAllowInvokeAction", Principal="*",
                          Action="lambda:InvokeFunction", InvokedViaFunctionUrl=True, **extra)


def ipv6_endpoint(live: Live) -> str:
    """The stack's IPv6 endpoint. Skipped only on a host that has no IPv6 at all (``::1`` cannot be
    bound: nothing to test there); a host with IPv6 where the stack does not answer on it fails."""
    if not ipv6_available():
        pytest.skip("this host has no IPv6 (::1 cannot be bound)")
    assert live.endpoint_v6 is not None, "the host has IPv6 but the stack does not listen on it"
    return live.endpoint_v6
