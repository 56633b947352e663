"""The CLI's test-suite commands without a server: a scripted fake answers the workbench API, so
these check the JUnit XML (read back with junitparser, as CI does), the progress and the table, the
exit codes, the event file format and push/pull's reports, and watch mode's debounce and deploy."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from cli import event_files, suites
from cli.bundle import code_sha256, zip_folder
from cli.client import CliError
from cli.junit import junit_xml
from cli.main import build_parser, main

FAILURE = {"Where": "Response.Equals", "Message": "the response does not equal the expected value",
           "Expected": '{"body": "ok 3"}', "Actual": '{"body": "ok 2"}'}


def result(name: str, status: str, failures: list[dict[str, str]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"EventName": name, "Scope": "shared", "Status": status, "RequestId": None if status == "pending" else f"req-{name}",
            "DurationMs": None if status == "pending" else 12.5, "Failures": failures or [], **extra}  # fmt: skip


def run(status: str, results: list[dict[str, Any]], run_id: int = 7) -> dict[str, Any]:
    return {"Id": run_id, "FunctionName": "shop", "Qualifier": "$LATEST", "ExecutedVersion": "$LATEST",
            "CodeSha256": "abcdefabcdefabcdef=", "Trigger": "api", "Status": status, "Total": len(results),
            "Passed": sum(r["Status"] == "passed" for r in results),
            "Failed": sum(r["Status"] in ("failed", "error") for r in results), "StartedBy": "alice",
            "CreatedAt": "2026-12-07T12:00:00Z", "FinishedAt": None if status == "running" else "2026-12-07T12:00:01.5Z",
            "Results": results}  # fmt: skip


class FakeServer:
    """Answers ``call`` from ``routes``: (METHOD, path) → a value, or a list of values in turn, or a
    function of the body and query."""

    def __init__(self, routes: dict[tuple[str, str], Any], aws: Any = None) -> None:
        self.routes = routes
        self.calls: list[tuple[str, str, Any, Any]] = []
        self.aws = aws

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        self.calls.append((method, path, query, body))
        answer = self.routes.get((method, path))
        if answer is None:
            raise CliError(f"ResourceNotFoundException: no route {method} {path}")
        if isinstance(answer, list):
            return copy.deepcopy(answer.pop(0) if len(answer) > 1 else answer[0])
        if callable(answer):
            return answer(body, query)
        return copy.deepcopy(answer)


def args_for(*argv: str) -> Any:
    return build_parser().parse_args(list(argv))


FINISHED = run("failed", [result("ok", "passed"), result("wrong", "failed", [FAILURE]),
                          result("gone", "error", [{"Where": "Invoke", "Message": "ResourceNotFoundException: …",
                                                    "Expected": "", "Actual": ""}])])  # fmt: skip


# --- JUnit -------------------------------------------------------------------------------------------


def test_the_junit_xml_is_what_a_junit_reader_expects(tmp_path: Path) -> None:
    partly = copy.deepcopy(FINISHED)
    partly["Results"].append(result("late", "pending"))
    (tmp_path / "out.xml").write_bytes(junit_xml(partly))
    xml = JUnitXml.fromfile(str(tmp_path / "out.xml"))
    (suite,) = list(xml)
    assert suite.name == "shop:$LATEST" and (suite.tests, suite.failures, suite.errors, suite.skipped) == (4, 1, 1, 1)
    assert suite.time == 1.5
    assert {p.name: p.value for p in suite.properties()}["suite-run"] == "7"
    cases = {case.name: case for case in suite}
    assert {case.classname for case in cases.values()} == {"shop"} and cases["ok"].time == 0.0125
    assert cases["ok"].is_passed and cases["ok"].system_out == "RequestId: req-ok\n"
    (failure,) = cases["wrong"].result
    assert isinstance(failure, Failure) and failure.type == "Response.Equals"
    assert failure.message == "Response.Equals: the response does not equal the expected value"
    assert failure.text.splitlines() == ["Response.Equals: the response does not equal the expected value",
                                         '  expected: {"body": "ok 3"}', '  actual:   {"body": "ok 2"}']
    assert isinstance(cases["gone"].result[0], Error) and "ResourceNotFoundException" in cases["gone"].result[0].message
    assert isinstance(cases["late"].result[0], Skipped)


# --- workbench test ------------------------------------------------------------------------------------


def test_test_polls_until_the_run_ends_prints_progress_and_a_table_and_exits_1_on_a_failure(
    tmp_path: Path, capsys: Any
) -> None:
    started = run("running", [result("gone", "pending"), result("ok", "pending"), result("wrong", "pending")])
    halfway = run("running", [FINISHED["Results"][2], result("ok", "passed"), result("wrong", "pending")])
    server = FakeServer({("POST", "functions/shop/suites"): started,
                         ("GET", "functions/shop/suites/7"): [halfway, FINISHED]})
    args = args_for("test", "shop", "--event", "ok", "wrong", "--event", "gone", "--interval", "0",
                    "--junit", str(tmp_path / "out.xml"))
    assert suites.cmd_test(server, args) == 1  # type: ignore[arg-type]
    assert server.calls[0] == ("POST", "functions/shop/suites", None,
                               {"Qualifier": "$LATEST", "Events": ["ok", "wrong", "gone"]})
    out, err = capsys.readouterr()
    assert "Suite run 7 of shop:$LATEST" in err
    progress = [line.split() for line in err.splitlines() if line.startswith("  [")]
    assert progress == [["[1/3]", "error", "gone", "(12.5", "ms)"], ["[2/3]", "passed", "ok", "(12.5", "ms)"],
                        ["[3/3]", "failed", "wrong", "(12.5", "ms)"]]
    lines = out.splitlines()
    assert lines[0].split() == ["EVENT", "SCOPE", "STATUS", "DURATION", "REQUEST", "ID"]
    assert lines[2].split() == ["wrong", "shared", "failed", "12.5", "ms", "req-wrong"]
    assert "✗ wrong (failed)" in out and '    expected: {"body": "ok 3"}' in out and '    actual:   {"body": "ok 2"}' in out
    assert lines[-1].startswith("2 failed, 1 passed of 3 — suite run 7, shop:$LATEST")
    assert "\x1b[" not in out + err  # no colour off a terminal
    assert len(list(JUnitXml.fromfile(str(tmp_path / "out.xml")))[0]) == 3


def test_test_exits_0_when_every_expectation_held_and_1_when_the_run_does_not_end(capsys: Any) -> None:
    passed = run("passed", [result("ok", "passed")])
    server = FakeServer({("POST", "functions/shop/suites"): passed})
    assert suites.cmd_test(server, args_for("test", "arn:aws:lambda:us-east-1:1:function:shop:prod", "--qualifier", "3")) == 0  # type: ignore[arg-type]
    assert server.calls[0][3] == {"Qualifier": "3"} and "1 passed of 1" in capsys.readouterr().out
    stuck = FakeServer({("POST", "functions/shop/suites"): run("running", [result("ok", "pending")]),
                        ("GET", "functions/shop/suites/7"): run("running", [result("ok", "pending")])})
    with pytest.raises(CliError, match="had not finished after 0.05 s"):
        suites.cmd_test(stuck, args_for("test", "shop", "--interval", "0.01", "--timeout", "0.05"))  # type: ignore[arg-type]


def test_usage_errors_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert main(["test", "shop", "--watch", str(tmp_path), "--qualifier", "3"]) == 2
    assert main(["test", "shop", "--watch", str(tmp_path / "missing")]) == 2
    assert main(["events", "push", "shop", str(tmp_path)]) == 2  # no event files
    assert main(["suites", "compare", "shop", "1", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["test"])
    assert exit_.value.code == 2
    assert "cannot be combined with --qualifier" in capsys.readouterr().err


# --- workbench suites -----------------------------------------------------------------------------------


def compared(a_status: str, b_status: str) -> dict[str, Any]:
    return {"A": run("passed", [], 1), "B": run("failed", [], 2), "Changed": ["wrong"] if a_status != b_status else [],
            "Events": [{"EventName": "wrong", "A": {"Status": a_status}, "B": {"Status": b_status},
                        "OutcomeChanged": a_status != b_status, "ResponseChanged": True,
                        "ResponseDiff": '--- suite 1\n+++ suite 2\n-  "body": "ok 2"\n+  "body": "ok 3"'}]}  # fmt: skip


@pytest.mark.parametrize(("a", "b", "code"), [("passed", "failed", 1), ("failed", "passed", 0), ("passed", "passed", 0)])
def test_compare_shows_what_changed_and_exits_1_on_a_regression(a: str, b: str, code: int, capsys: Any) -> None:
    server = FakeServer({("GET", "functions/shop/suites/compare"): compared(a, b)})
    assert suites.cmd_suites(server, args_for("suites", "compare", "shop", "1", "2")) == code  # type: ignore[arg-type]
    assert server.calls[0][2] == {"a": 1, "b": 2}
    out = capsys.readouterr().out
    assert out.startswith("A: suite run 1 ($LATEST") and "Response of wrong:" in out and '+  "body": "ok 3"' in out
    assert ("Changed outcome: wrong" in out) == (a != b)


def test_run_on_deploy_shows_and_sets_the_switch(capsys: Any) -> None:
    server = FakeServer({("GET", "functions/shop/suite-settings"): {"RunOnDeploy": False},
                         ("PUT", "functions/shop/suite-settings"): lambda body, query: body})
    assert suites.cmd_suites(server, args_for("suites", "run-on-deploy", "shop")) == 0  # type: ignore[arg-type]
    assert suites.cmd_suites(server, args_for("suites", "run-on-deploy", "shop", "on")) == 0  # type: ignore[arg-type]
    assert server.calls[-1][3] == {"RunOnDeploy": True}
    assert capsys.readouterr().out.splitlines() == ["Run on deploy: off", "Run on deploy: on"]


# --- events as files ------------------------------------------------------------------------------------


def event(name: str, scope: str = "shared", body: Any = None, expect: Any = None) -> dict[str, Any]:
    return {"Name": name, "Scope": scope, "Body": body if body is not None else {"n": 1}, "Expect": expect, "Owner": "alice"}


@pytest.mark.parametrize(("name", "stem"), [("ok", "ok"), ("order placed", "order-placed"), ("a/b\\c", "a-b-c"),
                                            ("../etc", "etc"), ("日本", "event"), ("v1.2_x-y", "v1.2_x-y")])
def test_file_names_come_from_event_names(name: str, stem: str) -> None:
    assert event_files.file_stem(name) == stem


def test_the_file_format_is_stable() -> None:
    text = event_files.file_text(event("ok", body={"z": 1, "a": [1, 2]}, expect={"Outcome": "Succeeded"}))
    assert text == ('{\n  "Body": {\n    "a": [\n      1,\n      2\n    ],\n    "z": 1\n  },\n'
                    '  "Expect": {\n    "Outcome": "Succeeded"\n  },\n  "Name": "ok",\n  "Scope": "shared"\n}\n')
    assert json.loads(event_files.file_text(event("x", body="{{uuid}}")))["Body"] == "{{uuid}}"


def test_pull_writes_one_file_per_event_keeps_files_in_place_and_leaves_others_alone(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "renamed.json").write_text(event_files.file_text(event("ok", body={"old": True})))
    (tmp_path / "package.json").write_text('{"name": "not an event"}\n')
    (tmp_path / "gone.json").write_text(event_files.file_text(event("gone")))
    listed = [event("ok", expect={"Outcome": "Succeeded"}), event("order placed"), event("order placed", "private"),
              event("package")]  # fmt: skip
    server = FakeServer({("GET", "functions/shop/events"): {"Events": listed}})
    done = event_files.pull(server, "shop", tmp_path)  # type: ignore[arg-type]
    assert done == {"created": ["order-placed.json", "order-placed-2.json", "package-2.json"], "updated": ["renamed.json"],
                    "unchanged": [], "deleted": [], "left alone": ["gone.json"]}  # fmt: skip
    assert json.loads((tmp_path / "renamed.json").read_text())["Expect"] == {"Outcome": "Succeeded"}
    assert json.loads((tmp_path / "order-placed-2.json").read_text())["Scope"] == "private"
    assert (tmp_path / "package.json").read_text() == '{"name": "not an event"}\n'
    again = event_files.pull(server, "shop", tmp_path, delete=True)  # type: ignore[arg-type]
    assert again["unchanged"] == ["renamed.json", "order-placed.json", "order-placed-2.json", "package-2.json"]
    assert again["deleted"] == ["gone.json"] and not (tmp_path / "gone.json").exists()
    shared = event_files.pull(server, "shop", tmp_path / "team", shared_only=True)  # type: ignore[arg-type]
    assert "order-placed-2.json" not in shared["created"] and len(shared["created"]) == 3


def test_push_creates_updates_and_leaves_alone_and_deletes_only_when_asked(tmp_path: Path) -> None:
    for name, scope, expect in (("ok", "shared", {"Outcome": "Succeeded"}), ("new", "private", None)):
        (tmp_path / f"{name}.json").write_text(event_files.file_text(event(name, scope, expect=expect)))
    results = {"ok": "updated", "new": "created"}
    server = FakeServer({
        ("PUT", "functions/shop/events/ok"): lambda body, query: {"Result": results["ok"]},
        ("PUT", "functions/shop/events/new"): lambda body, query: {"Result": results["new"]},
        ("GET", "functions/shop/events"): {"Events": [event("ok"), event("new", "private"), event("stale")]},
        ("DELETE", "functions/shop/events/stale"): lambda body, query: None,
    })  # fmt: skip
    done, errors = event_files.push(server, "shop", tmp_path)  # type: ignore[arg-type]
    assert errors == [] and done["created"] == ["new (private) ← new.json"] and done["updated"] == ["ok (shared) ← ok.json"]
    assert done["left alone"] == ["stale (shared): no file"]
    puts = {call[1]: call[3] for call in server.calls if call[0] == "PUT"}
    assert puts["functions/shop/events/ok"] == {"Body": {"n": 1}, "Scope": "shared", "Expect": {"Outcome": "Succeeded"}}
    assert puts["functions/shop/events/new"]["Expect"] is None  # the file is the truth: null clears
    results.update(ok="unchanged", new="unchanged")
    done, _ = event_files.push(server, "shop", tmp_path, delete=True)  # type: ignore[arg-type]
    assert len(done["unchanged"]) == 2 and done["deleted"] == ["stale (shared)"]
    assert server.calls[-1] == ("DELETE", "functions/shop/events/stale", {"Scope": "shared"}, None)


@pytest.mark.parametrize(("files", "message"), [
    ({"a.json": "{nope"}, "a.json: not JSON"),
    ({"a.json": "[]"}, "a.json: must be an object"),
    ({"a.json": '{"Name": "a"}'}, "a.json: Body is missing"),
    ({"a.json": '{"Name": "a", "Body": {}, "Scope": "team"}'}, "a.json: Scope must be shared or private"),
    ({"a.json": '{"Name": "a", "Body": {}, "Expects": {}}'}, "a.json: unknown key 'Expects'"),
    ({"a.json": '{"Name": "a", "Body": {}}', "b.json": '{"Name": "a", "Body": {}, "Scope": "shared"}'},
     "b.json and .*a.json both hold the shared event 'a'"),
])  # fmt: skip
def test_push_refuses_a_folder_with_a_bad_file_before_any_request(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    server = FakeServer({})
    with pytest.raises(CliError, match=message):
        event_files.push(server, "shop", tmp_path)  # type: ignore[arg-type]
    assert server.calls == []


# --- watch --------------------------------------------------------------------------------------------


class FakeAws:
    def __init__(self, sha: str) -> None:
        self.sha, self.deployed = sha, list[bytes]()

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return {"CodeSha256": self.sha}

    def update_function_code(self, FunctionName: str, ZipFile: bytes) -> dict[str, Any]:
        self.deployed.append(ZipFile)
        return {"CodeSha256": code_sha256(ZipFile)}

    def get_waiter(self, name: str) -> Any:
        return type("Waiter", (), {"wait": lambda self, **kw: None})()


def test_watch_deploys_a_changed_folder_once_it_settles_and_prints_what_changed_outcome(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "app.py").write_text("v = 1\n")
    aws = FakeAws(code_sha256(zip_folder(tmp_path)[0]))  # what is deployed is the folder as it is
    before = run("failed", [result("ok", "passed"), result("wrong", "failed", [FAILURE])], 1)
    after = run("passed", [result("ok", "passed"), result("wrong", "passed")], 2)
    server = FakeServer({("POST", "functions/shop/suites"): [before, after]}, aws=aws)
    edits: list[Callable[[], object]] = [
        lambda: None,  # first poll: nothing changed
        lambda: (tmp_path / "app.py").write_text("v = 2\n"),  # a save …
        lambda: (tmp_path / "app.py").write_text("v = 22\n"),  # … still being written during the debounce
        lambda: None, lambda: None, lambda: None,
    ]  # fmt: skip
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        edits.pop(0)() if edits else None

    args = args_for("test", "shop", "--watch", str(tmp_path), "--interval", "0.2", "--debounce", "0.3")
    assert suites.watch(server, args, "shop", rounds=1, sleep=sleep) == 0  # type: ignore[arg-type]
    assert len(aws.deployed) == 1 and aws.deployed[0] == zip_folder(tmp_path)[0]  # v = 22, once
    assert sleeps[:4] == [0.2, 0.2, 0.3, 0.3]
    out, err = capsys.readouterr()
    assert "Changed: app.py — deploying 1 files" in err
    changed = out.split("Changed outcome since the last run:\n")[1].splitlines()
    assert changed[:2] == ["EVENT  BEFORE  NOW", "wrong  failed  passed"]


@pytest.mark.parametrize("command", [["test"], ["suites"], ["suites", "list"], ["suites", "show"], ["suites", "compare"],
                                     ["suites", "run-on-deploy"], ["events", "push"], ["events", "pull"]])
def test_every_new_command_has_help(command: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--help"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: workbench")
