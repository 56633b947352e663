"""The console's cast (tests/conftest.py): alice (owner, admin) and bob (teammate, developer) in team
"core"; charlie (outsider) the admin of team "other"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console.services import functions as console_functions
from invocations.access import user_caller
from invocations.models import Function, Team, WorkerHeartbeat


@pytest.fixture(autouse=True)
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


@pytest.fixture(autouse=True)
def runtimes_reported(db: Any) -> None:
    WorkerHeartbeat.objects.create(name="test-node", kind="web", runtimes=["python3.11", "nodejs20.x"])


@pytest.fixture
def hello(owner: Any, team: Team, other_team: Team) -> Function:
    """A Python function of team "core" that echoes its event and prints a line."""
    source = "def lambda_handler(event, context):\n    print('hello from the handler')\n    return event\n"
    return console_functions.create_function(
        caller=user_caller(user=owner, team=team, via="console"), name="hello", runtime="python3.11",
        zip_data=None, source=source,
    )


# The function the suite tests run: prints, fails when asked, answers a status code and a body.
SUITE_SOURCE = """import json
def lambda_handler(event, context):
    print("processing", json.dumps(event))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"statusCode": 200, "body": "ok " + str(event.get("n", 0))}
"""
