"""The console's cast: alice (owner) and bob (teammate) in team "core"; charlie (outsider) in none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console.services import functions as console_functions
from invocations.models import Function, Team, WorkerHeartbeat


@pytest.fixture(autouse=True)
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


@pytest.fixture(autouse=True)
def runtimes_reported(db: Any) -> None:
    WorkerHeartbeat.objects.create(name="test-node", kind="web", runtimes=["python3.11", "nodejs20.x"])


@pytest.fixture
def team(owner: Any, teammate: Any) -> Team:
    team: Team = Team.objects.create(name="core")
    team.members.add(owner, teammate)
    return team


@pytest.fixture
def hello(owner: Any, team: Team) -> Function:
    """A Python function of team "core" that echoes its event and prints a line."""
    source = "def lambda_handler(event, context):\n    print('hello from the handler')\n    return event\n"
    return console_functions.create_function(
        user=owner, name="hello", runtime="python3.11", team=team, zip_data=None, source=source
    )
