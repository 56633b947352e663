"""The AWS CLI (v1, from the venv) against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import REGION, ROLE, Live
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live


def aws(live: Live, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    # Only these credentials: no profile, config file or other AWS_* variable from the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID=live.access_key_id,
        AWS_SECRET_ACCESS_KEY=live.secret_access_key,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_MAX_ATTEMPTS="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "awscli", "lambda", *args, "--endpoint-url", live.endpoint],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_invoke_writes_the_payload_and_prints_the_status(live: Live, hello_function: str, tmp_path: Path) -> None:
    out = ok(aws(live, tmp_path, "invoke", "--function-name", hello_function, "--payload", '{"k": "v"}', "out.json"))
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert json.loads((tmp_path / "out.json").read_text()) == {"k": "v"}


def test_invoke_without_a_payload(live: Live, hello_function: str, tmp_path: Path) -> None:
    out = ok(aws(live, tmp_path, "invoke", "--function-name", hello_function, "out.json"))
    assert out["StatusCode"] == 200
    assert (tmp_path / "out.json").exists()


def test_create_function_from_a_zip_file_and_list_it(live: Live, tmp_path: Path) -> None:
    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(make_zip({"app.py": ECHO_HANDLER}))
    created = ok(
        aws(
            live, tmp_path, "create-function",
            "--function-name", "from-the-cli",
            "--runtime", "python3.11",
            "--role", ROLE,
            "--handler", "app.handler",
            "--zip-file", f"fileb://{zip_path}",
        )
    )  # fmt: skip
    assert created["FunctionName"] == "from-the-cli"
    assert created["Runtime"] == "python3.11"
    listed = ok(aws(live, tmp_path, "list-functions"))
    assert "from-the-cli" in [f["FunctionName"] for f in listed["Functions"]]


def test_an_unknown_function_is_reported(live: Live, tmp_path: Path) -> None:
    result = aws(live, tmp_path, "invoke", "--function-name", "nope", "out.json")
    assert result.returncode != 0
    assert "ResourceNotFoundException" in result.stderr
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" in result.stderr


def test_event_invoke_prints_202(live: Live, hello_function: str, tmp_path: Path) -> None:
    out = ok(aws(live, tmp_path, "invoke", "--function-name", hello_function, "--invocation-type", "Event", "out.json"))
    assert out["StatusCode"] == 202
