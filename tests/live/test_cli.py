"""The ``workbench`` console script (the real entry point) against the live stack: every command,
credentials from a temporary ~/.aws like the AWS CLI's."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live.conftest import Live, ipv6_endpoint

pytestmark = pytest.mark.live

VENV_SCRIPT = Path(sys.executable).parent / "workbench"
APP_PY = 'def handler(event, context):\n    print("cli saw", event)\n    if event.get("fail"):\n' \
         '        raise ValueError("asked to fail")\n    return {"echo": event}\n'


def workbench_command() -> list[str]:
    if VENV_SCRIPT.exists():
        return [str(VENV_SCRIPT)]
    found = shutil.which("workbench")
    return [found] if found else [sys.executable, "-m", "cli.main"]


@pytest.fixture(scope="module")
def home(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME with only a ~/.aws profile named "lab": nothing from the caller's environment."""
    home = tmp_path_factory.mktemp("cli-home")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(
        f"[lab]\naws_access_key_id = {live.access_key_id}\naws_secret_access_key = {live.secret_access_key}\n")
    (home / ".aws" / "config").write_text("[profile lab]\nregion = us-east-1\n")
    return home


def env_for(home: Path, live: Live, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WORKBENCH_"))}
    env.update(HOME=str(home), WORKBENCH_ENDPOINT_URL=live.endpoint, **extra)
    return env


def run(home: Path, live: Live, *args: str, profile: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
    command = [*workbench_command(), *args, *(["--profile", "lab"] if profile else [])]
    return subprocess.run(command, env=env_for(home, live, **extra), capture_output=True, text=True, timeout=120,
                          cwd=home)


@pytest.fixture(scope="module")
def deployed(home: Path, live: Live) -> str:
    folder = home / "cli-fn"
    folder.mkdir()
    (folder / "app.py").write_text(APP_PY)
    result = run(home, live, "deploy", str(folder))
    assert result.returncode == 0, result.stderr
    return "cli-fn"


@pytest.mark.parametrize("command", [[], ["deploy"], ["invoke"], ["logs"], ["history"], ["events"], ["events", "list"],
                                     ["events", "show"], ["events", "export"], ["events", "import"], ["replay"],
                                     ["activity"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run([*workbench_command(), *command, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("usage: workbench"), result.stderr


def test_deploy_creates_then_updates_with_progress_on_stderr(home: Path, live: Live, deployed: str) -> None:
    folder = home / "cli-fn"
    (folder / "app.py").write_text(APP_PY.replace('{"echo": event}', '{"echo": event, "v": 2}'))
    result = run(home, live, "deploy", str(folder), "--memory", "256")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Updated arn:aws:lambda:us-east-1:000000000000:function:cli-fn")
    assert "Zipping" in result.stderr and "\x1b[" not in result.stdout + result.stderr  # no colour off a TTY
    config = live.client().get_function_configuration(FunctionName="cli-fn")
    assert config["MemorySize"] == 256 and config["Handler"] == "app.handler"


def test_invoke_prints_the_response_and_the_log_tail(home: Path, live: Live, deployed: str) -> None:
    result = run(home, live, "invoke", deployed, "--payload", '{"k": "v"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["echo"] == {"k": "v"}
    assert "cli saw {'k': 'v'}" in result.stderr and "REPORT RequestId:" in result.stderr


def test_invoke_from_a_file_over_ipv6_with_env_credentials(home: Path, live: Live, deployed: str) -> None:
    endpoint_v6 = ipv6_endpoint(live)
    (home / "event.json").write_text('{"from": "file"}')
    result = run(home, live, "invoke", deployed, "--file", "event.json", "--endpoint-url", endpoint_v6,
                 profile=False, AWS_ACCESS_KEY_ID=live.access_key_id, AWS_SECRET_ACCESS_KEY=live.secret_access_key)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["echo"] == {"from": "file"}


def test_a_function_error_exits_non_zero(home: Path, live: Live, deployed: str) -> None:
    result = run(home, live, "invoke", deployed, "--payload", '{"fail": true}')
    assert result.returncode == 1 and json.loads(result.stdout)["errorMessage"] == "asked to fail"
    assert "Function error: Unhandled" in result.stderr


def test_failures_exit_non_zero(home: Path, live: Live) -> None:
    missing = run(home, live, "invoke", "no-such-function")
    assert missing.returncode == 1 and "ResourceNotFoundException" in missing.stderr
    bad_payload = run(home, live, "invoke", "no-such-function", "--payload", "{not json")
    assert bad_payload.returncode == 1 and "not JSON" in bad_payload.stderr
    no_keys = run(home, live, "history", "x", profile=False)
    assert no_keys.returncode == 1 and "credentials" in no_keys.stderr
    unreachable = run(home, live, "history", "x", "--endpoint-url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
    assert run(home, live, "invoke").returncode == 2  # usage


def test_async_invoke_then_history(home: Path, live: Live, deployed: str) -> None:
    queued = run(home, live, "invoke", deployed, "--async", "--payload", '{"queued": 1}')
    assert queued.returncode == 0 and queued.stdout.startswith("Queued "), queued.stderr
    request_id = queued.stdout.split()[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        history = run(home, live, "history", deployed, "--json")
        rows = {r["RequestId"]: r for r in json.loads(history.stdout)}
        if rows.get(request_id, {}).get("Status") == "succeeded":
            break
        time.sleep(0.5)
    assert rows[request_id]["InvocationType"] == "Event" and rows[request_id]["Source"] == "cli"
    for _ in range(4 - len(rows)):  # the table below needs more rows than its limit (run alone, too)
        assert run(home, live, "invoke", deployed).returncode == 0
    table = run(home, live, "history", deployed, "--limit", "3")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["WHEN", "(UTC)", "REQUEST", "ID"] and len(lines) == 5
    assert lines[-1] == "(more: --limit 6)"


def test_replay_invokes_the_same_payload_again(home: Path, live: Live, deployed: str) -> None:
    first = run(home, live, "invoke", deployed, "--payload", '{"again": true}')
    request_id = first.stderr.split("RequestId ")[1].split()[0]
    replayed = run(home, live, "replay", request_id)
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["echo"] == {"again": True} and f"replay of {request_id}" in replayed.stderr
    missing = run(home, live, "replay", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1 and "Invocation not found" in missing.stderr


def test_logs_prints_recent_lines_and_follows_new_ones_once(home: Path, live: Live, deployed: str) -> None:
    run(home, live, "invoke", deployed, "--payload", '{"n": "before"}')
    deadline = time.monotonic() + 10
    latest = run(home, live, "logs", deployed, "--since", "5m")
    while "cli saw {'n': 'before'}" not in latest.stdout and time.monotonic() < deadline:
        time.sleep(0.3)  # the record is written a moment after the answer
        latest = run(home, live, "logs", deployed, "--since", "5m")
    assert latest.returncode == 0 and "cli saw {'n': 'before'}" in latest.stdout
    stream = next(line.split()[1] for line in latest.stdout.splitlines() if "cli saw" in line)
    assert re.match(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$", stream)
    filtered = run(home, live, "logs", deployed, "--filter", "CLI SAW", "--stream", stream)
    assert filtered.stdout.strip() and all("cli saw" in line for line in filtered.stdout.splitlines())
    time.sleep(1.5)  # "before" is now older than the follower's --since 1s
    command = [*workbench_command(), "logs", deployed, "--follow", "--since", "1s", "--interval", "0.2", "--profile", "lab"]
    follower = subprocess.Popen(command, env=env_for(home, live), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=home)
    try:
        time.sleep(2.0)  # it is polling
        for n in range(3):
            run(home, live, "invoke", deployed, "--payload", f'{{"n": "after-{n}"}}')
        deadline = time.monotonic() + 20
        seen = ""
        while time.monotonic() < deadline and "cli saw {'n': 'after-2'}" not in seen:
            seen += follower.stdout.readline()  # type: ignore[union-attr]
        time.sleep(1.5)  # a few more polls: nothing may come twice
    finally:
        follower.send_signal(signal.SIGINT)
        rest, _ = follower.communicate(timeout=10)
    seen += rest
    assert [seen.count(f"cli saw {{'n': 'after-{n}'}}") for n in range(3)] == [1, 1, 1], seen
    assert "before" not in seen
    assert follower.returncode == 0


def test_events_import_list_show_export_and_invoke_by_name(home: Path, live: Live, deployed: str) -> None:
    (home / "events.json").write_text(json.dumps({"Events": [{"Name": "greeting", "Body": {"hi": 1}}]}))
    imported = run(home, live, "events", "import", deployed, "events.json")
    assert imported.returncode == 0, imported.stderr
    listed = run(home, live, "events", "list", deployed)
    assert "greeting" in listed.stdout and "private" in listed.stdout
    assert json.loads(run(home, live, "events", "show", deployed, "greeting").stdout) == {"hi": 1}
    exported = run(home, live, "events", "export", deployed, "--output", "out.json")
    assert exported.returncode == 0 and json.loads((home / "out.json").read_text())["Events"][0]["Name"] == "greeting"
    invoked = run(home, live, "invoke", deployed, "--event", "greeting")
    assert json.loads(invoked.stdout)["echo"] == {"hi": 1}


def test_activity_shows_who_deployed_what(home: Path, live: Live, deployed: str) -> None:
    result = run(home, live, "activity", deployed)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["WHEN", "(UTC)", "WHO", "VIA"]
    assert any("lambda:CreateFunction" in line and f" {live.username} " in line and " cli " in line for line in lines)
    entries = json.loads(run(home, live, "activity", "--json").stdout)
    assert {"Time", "Actor", "Via", "Action", "FunctionName", "Changes"} <= set(entries[0])
