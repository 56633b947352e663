"""Shared setup for the control-plane API tests: a code dir per test, runtimes on offer, a helper to create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from invocations.models import WorkerHeartbeat
from tests.conftest import ECHO_PY, zip_bytes

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:111111111111:function"


@pytest.fixture
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


@pytest.fixture
def runtimes_on_offer(db: Any) -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(
        name="worker-1", kind="worker", runtimes=["python3.11", "nodejs20.x", "provided.al2023"], seen_at=timezone.now()
    )


def create(client: Any, name: str = "hello", *, code: bytes | None = None, **extra: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": code if code is not None else zip_bytes({"app.py": ECHO_PY})},
    }
    arguments.update(extra)
    return client.create_function(**arguments)


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]
