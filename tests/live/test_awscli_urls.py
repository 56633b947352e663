"""AWS CLI v1 (the venv's ``aws``) against the live stack over IPv4 and IPv6: the commands the
issue lists, with a temporary HOME and credentials from the environment only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import REGION, ROLE, Live, ipv6_endpoint
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

AWS = Path(sys.executable).parent / "aws"


def aws(live: Live, tmp_path: Path, *args: str, endpoint: str | None = None) -> Any:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=live.access_key_id, AWS_SECRET_ACCESS_KEY=live.secret_access_key,
               AWS_DEFAULT_REGION=REGION, AWS_MAX_ATTEMPTS="1")
    result = subprocess.run([str(AWS), "lambda", *args, "--endpoint-url", endpoint or live.endpoint], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture(params=["ipv4", "ipv6"])
def endpoint(request: pytest.FixtureRequest, live: Live) -> str:
    if request.param == "ipv6":
        return ipv6_endpoint(live)
    return live.endpoint


def test_the_issue_commands_in_order(live: Live, tmp_path: Path, endpoint: str) -> None:
    name = "awscli-" + ("v6" if "[" in endpoint else "v4")
    (tmp_path / "v1.zip").write_bytes(make_zip({"app.py": ECHO_HANDLER}))
    (tmp_path / "v2.zip").write_bytes(make_zip({"app.py": "def handler(event, context):\n    return 'v2'\n"}))
    created = aws(live, tmp_path, "create-function", "--function-name", name, "--runtime", "python3.11",
                  "--role", ROLE, "--handler", "app.handler", "--zip-file", "fileb://v1.zip", endpoint=endpoint)
    assert created["State"] in ("Active", "Pending")
    assert name in [f["FunctionName"] for f in aws(live, tmp_path, "list-functions", endpoint=endpoint)["Functions"]]
    out = aws(live, tmp_path, "invoke", "--function-name", name, "--payload", '{"k": "v"}', "out.json",
              endpoint=endpoint)
    assert out["StatusCode"] == 200 and json.loads((tmp_path / "out.json").read_text()) == {"k": "v"}
    updated = aws(live, tmp_path, "update-function-code", "--function-name", name, "--zip-file", "fileb://v2.zip",
                  endpoint=endpoint)
    assert updated["CodeSha256"] != created["CodeSha256"]
    aws(live, tmp_path, "wait", "function-updated-v2", "--function-name", name, endpoint=endpoint)
    aws(live, tmp_path, "invoke", "--function-name", name, "out2.json", endpoint=endpoint)
    assert json.loads((tmp_path / "out2.json").read_text()) == "v2"
    url = aws(live, tmp_path, "create-function-url-config", "--function-name", name, "--auth-type", "NONE",
              endpoint=endpoint)
    # A public URL needs the two statements AWS's console adds (since October 2025): with the CLI, by hand.
    aws(live, tmp_path, "add-permission", "--function-name", name, "--statement-id", "FunctionURLAllowPublicAccess",
        "--principal", "*", "--action", "lambda:InvokeFunctionUrl", "--function-url-auth-type", "NONE", endpoint=endpoint)
    aws(live, tmp_path, "add-permission", "--function-name", name, "--statement-id", "FunctionURLAllowInvokeAction",
        "--principal", "*", "--action", "lambda:InvokeFunction", "--invoked-via-function-url", endpoint=endpoint)
    path = url["FunctionUrl"].split(".lambda-url.")[0].removeprefix("http://")
    with urllib.request.urlopen(f"{endpoint}/lambda-url/{path}/") as response:
        assert response.read() == b"v2"


def test_put_function_event_invoke_config(live: Live, tmp_path: Path, hello_function: str) -> None:
    config = aws(live, tmp_path, "put-function-event-invoke-config", "--function-name", hello_function,
                 "--maximum-retry-attempts", "1", "--maximum-event-age-in-seconds", "120")
    assert config["MaximumRetryAttempts"] == 1 and config["MaximumEventAgeInSeconds"] == 120
    assert config["FunctionArn"].endswith(f":function:{hello_function}:$LATEST")
