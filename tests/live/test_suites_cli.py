"""Test suites through the real ``workbench`` console script against the live stack (a real worker
runs the suites): events with expectations pushed from files, ``workbench test`` with its exit code
and JUnit XML read by junitparser, pull back into another folder (the same bytes), run on deploy
after a boto3 UpdateFunctionCode, compare, and watch mode deploying a changed folder."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from junitparser import Failure, JUnitXml

from tests.live.conftest import Live
from tests.live.functions import make_zip
from tests.live.test_cli import env_for, home, run, workbench_command  # noqa: F401  (home: the fixture)

pytestmark = pytest.mark.live

NAME = "suite-fn"
APP = """import json
def handler(event, context):
    print("processing", json.dumps(event))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"statusCode": 200, "body": "ok " + str(event.get("n", 0) + OFFSET)}
OFFSET = 0
"""
EVENTS: list[dict[str, Any]] = [
    {"Name": "ok", "Scope": "shared", "Body": {"n": 1},
     "Expect": {"Outcome": "Succeeded", "Response": {"Contains": {"statusCode": 200}},
                "JsonPath": [{"Path": "$.body", "Matches": "^ok"}],
                "Logs": {"Contains": ["processing"], "NotContains": ["Traceback"]},
                "MaxDurationMs": 5000, "MaxMemoryMb": 1024}},
    {"Name": "fails as it should", "Scope": "shared", "Body": {"fail": True},
     "Expect": {"ErrorType": "ValueError", "Outcome": "Failed"}},
    {"Name": "wrong", "Scope": "shared", "Body": {"n": 2},
     "Expect": {"Response": {"Equals": {"body": "ok 3", "statusCode": 200}}}},
    {"Name": "plain", "Scope": "shared", "Body": {"n": 0}, "Expect": None},
    {"Name": "mine", "Scope": "private", "Body": {"n": 5}, "Expect": {"Outcome": "Succeeded"}},
]  # fmt: skip
FILES = {"ok.json": 0, "fails-as-it-should.json": 1, "wrong.json": 2, "plain.json": 3, "mine.json": 4}


def stable(event: dict[str, Any]) -> str:
    """The documented file format, written here independently of the CLI's code."""
    return json.dumps(event, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def wait_for_run(home: Path, live: Live, predicate: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = run(home, live, "suites", "list", NAME, "--json")
        assert listed.returncode == 0, listed.stderr
        found = [r for r in json.loads(listed.stdout) if predicate(r)]
        if found:
            return dict(found[0])
        time.sleep(0.5)
    raise AssertionError(f"no such suite run within {timeout} s: {listed.stdout}")


@pytest.fixture(scope="module")
def code(home: Path, live: Live) -> Path:  # noqa: F811
    folder = home / "suite-code"
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    deployed = run(home, live, "deploy", str(folder), "--name", NAME, "--timeout", "10", "--memory", "256")
    assert deployed.returncode == 0, deployed.stderr
    return folder


@pytest.fixture(scope="module")
def pushed(home: Path, live: Live, code: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:  # noqa: F811
    """The events written as files and pushed, twice: (the folder, the first push, the second)."""
    events = tmp_path_factory.mktemp("events")
    for file, n in FILES.items():
        (events / file).write_text(stable(EVENTS[n]))
    return events, run(home, live, "events", "push", NAME, str(events)), run(home, live, "events", "push", NAME, str(events))


def test_push_test_junit_pull_run_on_deploy_and_compare(home: Path, live: Live, pushed: tuple[Path, Any, Any],  # noqa: F811
                                                        tmp_path: Path) -> None:  # fmt: skip
    events, first, again = pushed
    assert first.returncode == 0, first.stderr
    assert sorted(line.split()[0] for line in first.stdout.splitlines()) == ["created"] * 5
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["unchanged"] * 5, again.stdout
    assert "5 unchanged" in again.stderr

    chosen = run(home, live, "test", NAME, "--event", "ok", "--event", "plain")
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert "2 passed of 2" in chosen.stdout

    junit = tmp_path / "out.xml"
    tested = run(home, live, "test", NAME, "--junit", str(junit), "--interval", "0.2")
    assert tested.returncode == 1, tested.stdout + tested.stderr
    assert "[4/4]" in tested.stderr and "1 failed, 3 passed of 4" in tested.stdout
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    assert suite.name == f"{NAME}:$LATEST" and (suite.tests, suite.failures, suite.errors) == (4, 1, 0)
    cases = {case.name: case for case in suite}
    assert set(cases) == {"ok", "fails as it should", "wrong", "mine"}
    assert all(case.classname == NAME and case.time > 0 for case in cases.values()), junit.read_text()
    assert all(cases[name].is_passed for name in ("ok", "fails as it should", "mine"))
    (failure,) = cases["wrong"].result
    assert isinstance(failure, Failure) and failure.message.startswith("Response.Equals:")
    assert '  expected: {"body": "ok 3", "statusCode": 200}' in failure.text
    assert '  actual:   {"body": "ok 2", "statusCode": 200}' in failure.text
    assert cases["wrong"].system_out.startswith("RequestId: ")
    full_run = wait_for_run(home, live, lambda r: r["Status"] == "failed" and r["Total"] == 4)

    pulled = tmp_path / "pulled"
    result = run(home, live, "events", "pull", NAME, str(pulled))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in pulled.iterdir()) == sorted(FILES)
    for file in FILES:
        assert (pulled / file).read_bytes() == (events / file).read_bytes(), file
    assert "5 unchanged" in run(home, live, "events", "pull", NAME, str(pulled)).stderr

    switched = run(home, live, "suites", "run-on-deploy", NAME, "on")
    assert (switched.returncode, switched.stdout) == (0, "Run on deploy: on\n"), switched.stderr
    lam = live.client()
    lam.update_function_code(FunctionName=NAME, ZipFile=make_zip({"app.py": APP.replace("OFFSET = 0", "OFFSET = 1")}))
    deploy_run = wait_for_run(home, live, lambda r: r["Trigger"] == "deploy" and r["Status"] != "running")
    assert deploy_run["Status"] == "passed" and deploy_run["Total"] == 4
    assert deploy_run["CodeSha256"] == lam.get_function_configuration(FunctionName=NAME)["CodeSha256"]
    assert run(home, live, "suites", "run-on-deploy", NAME, "off").stdout == "Run on deploy: off\n"

    compared = run(home, live, "suites", "compare", NAME, str(full_run["Id"]), str(deploy_run["Id"]))
    assert compared.returncode == 0, compared.stdout + compared.stderr  # nothing that passed fails now
    assert "Changed outcome: wrong" in compared.stdout
    assert '-  "body": "ok 2",' in compared.stdout and '+  "body": "ok 3",' in compared.stdout
    backwards = run(home, live, "suites", "compare", NAME, str(deploy_run["Id"]), str(full_run["Id"]))
    assert backwards.returncode == 1  # "wrong" passed in A and fails in B: a regression


def test_watch_deploys_the_changed_folder_and_shows_what_changed_outcome(
    home: Path, live: Live, code: Path, pushed: tuple[Path, Any, Any]  # noqa: F811
) -> None:
    (code / "app.py").write_text(APP.replace("OFFSET = 0", "OFFSET = 1"))  # every event passes with this
    assert run(home, live, "deploy", str(code), "--name", NAME).returncode == 0
    command = [*workbench_command(), "test", NAME, "--watch", str(code), "--interval", "0.2", "--debounce", "0.3",
               "--profile", "lab"]  # fmt: skip
    watcher = subprocess.Popen(command, env=env_for(home, live), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=home)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in watcher.stdout:  # type: ignore[union-attr]
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []

    def read_until(text: str, timeout: float) -> None:
        """Lines until one holds ``text``: bounded even when the watcher goes quiet."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(lines.get(timeout=left))
            except queue.Empty:
                break
            if text in seen[-1]:
                return
        raise AssertionError(f"no {text!r} within {timeout} s:\n{''.join(seen)}")

    try:
        read_until("Watching ", 60)  # the first run is done
        (code / "app.py").write_text(APP.replace('"ok "', '"ko "'))
        read_until("Changed outcome since the last run:", 60)
        start = len(seen)
        read_until("wrong ", 5)  # the table's last row
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    rest = seen[start:]
    output = "".join(seen)
    assert "Changed: app.py — deploying 1 files" in output
    table = [line.split() for line in rest]
    assert table[0] == ["EVENT", "BEFORE", "NOW"]
    assert ["ok", "passed", "failed"] in table and ["wrong", "passed", "failed"] in table
