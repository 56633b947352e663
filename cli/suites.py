"""``workbench test`` and ``workbench suites``: a function's saved events with expectations, run as
a test suite on the server (the workbench API's ``functions/{name}/suites``).

``workbench test NAME`` starts a run, polls it until it ends (progress on stderr, one line per
event as it finishes), prints a table and each failure with its expected and actual values, can
write JUnit XML, and exits 0 only when every expectation held (1 otherwise, 2 for a usage error).
``--watch DIR`` deploys DIR's code on every change (polled, then debounced) and runs the suite
again, printing which events changed outcome.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from cli.bundle import changed_files, code_sha256, snapshot, zip_folder
from cli.client import CliError, Server, UsageError, bare_name
from cli.junit import failure_text, junit_xml
from cli.output import paint, progress, table

COLOURS = {"passed": "green", "failed": "red", "error": "red", "pending": "yellow", "running": "yellow"}


def _status(value: str, stream: Any = None) -> str:
    colour = COLOURS.get(value)
    return paint(value, colour, stream or sys.stdout) if colour else value


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _key(result: dict[str, Any]) -> tuple[str, str]:
    return result["EventName"], result["Scope"]


# --- one run -----------------------------------------------------------------------------------------


def start(server: Server, name: str, qualifier: str | None, events: list[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"Qualifier": qualifier or "$LATEST"}
    if events:
        body["Events"] = events
    run: dict[str, Any] = server.call("POST", f"functions/{name}/suites", body=body)
    sha = (run["CodeSha256"] or "")[:12]
    progress(f"Suite run {run['Id']} of {name}:{run['Qualifier']} (version {run['ExecutedVersion']}, code {sha}…): "
             f"{run['Total']} events")  # fmt: skip
    return run


def wait(server: Server, name: str, run: dict[str, Any], *, interval: float, timeout: float) -> dict[str, Any]:
    """Poll the run until it ends, printing each event's outcome (stderr) as it comes in."""
    seen: set[tuple[str, str]] = set()
    deadline = time.monotonic() + timeout
    while True:
        for result in run["Results"]:
            if result["Status"] != "pending" and _key(result) not in seen:
                seen.add(_key(result))
                print(f"  [{len(seen)}/{run['Total']}] {_status(result['Status'], sys.stderr):6}  "
                      f"{result['EventName']}  ({_ms(result['DurationMs'])})", file=sys.stderr, flush=True)
        if run["Status"] != "running":
            return run
        if time.monotonic() > deadline:
            raise CliError(f"suite run {run['Id']} had not finished after {timeout:g} s "
                           f"(workbench suites show {name} {run['Id']})")  # fmt: skip
        time.sleep(interval)
        run = server.call("GET", f"functions/{name}/suites/{run['Id']}")


def report(run: dict[str, Any]) -> str:
    """The results table, each failure with expected and actual, and a summary line."""
    rows = [[r["EventName"], r["Scope"], r["Status"], _ms(r["DurationMs"]), r["RequestId"] or "-"] for r in run["Results"]]
    text = table(["EVENT", "SCOPE", "STATUS", "DURATION", "REQUEST ID"], rows)
    lines = text.splitlines()
    for n, result in enumerate(run["Results"], start=1):  # colour after alignment: codes would skew widths
        lines[n] = lines[n].replace(f"  {result['Status']} ", f"  {_status(result['Status'])} ", 1)
    for result in run["Results"]:
        if result["Failures"]:
            lines.append("")
            lines.append(paint(f"✗ {result['EventName']} ({result['Status']})", "red"))
            lines.extend("  " + line for line in failure_text(result["Failures"]).splitlines())
    failed = sum(r["Status"] in ("failed", "error") for r in run["Results"])
    passed = sum(r["Status"] == "passed" for r in run["Results"])
    summary = f"{failed} failed, {passed} passed of {run['Total']}" if failed else f"{passed} passed of {run['Total']}"
    lines.append("")
    lines.append(f"{paint(summary, 'red' if failed or run['Status'] != 'passed' else 'green')} — suite run {run['Id']}, "
                 f"{run['FunctionName']}:{run['Qualifier']}, code {(run['CodeSha256'] or '')[:12]}")  # fmt: skip
    return "\n".join(lines)


def write_junit(run: dict[str, Any], path: str) -> None:
    Path(path).write_bytes(junit_xml(run))
    progress(f"JUnit XML written to {path}")


def outcome_changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(event, status before, status after) for each event whose outcome changed between two runs."""
    old = {_key(r): r["Status"] for r in before["Results"]}
    new = {_key(r): r["Status"] for r in after["Results"]}
    return [(name, old.get((name, scope), "absent"), new.get((name, scope), "absent"))
            for name, scope in sorted(set(old) | set(new)) if old.get((name, scope)) != new.get((name, scope))]  # fmt: skip


def cmd_test(server: Server, args: argparse.Namespace) -> int:
    name = bare_name(args.name)
    if args.watch:
        return watch(server, args, name)
    run = wait(server, name, start(server, name, args.qualifier, args.event), interval=args.interval,
               timeout=args.timeout)  # fmt: skip
    print(json.dumps(run, indent=2) if args.json else report(run))
    if args.junit:
        write_junit(run, args.junit)
    return 0 if run["Status"] == "passed" else 1


# --- watch -------------------------------------------------------------------------------------------


def watch(server: Server, args: argparse.Namespace, name: str, *, rounds: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> int:  # fmt: skip
    """Run, then deploy-and-run on every change of the folder until Ctrl-C (``rounds``: for tests)."""
    if args.qualifier not in (None, "", "$LATEST"):
        raise UsageError("--watch deploys $LATEST: it cannot be combined with --qualifier")
    folder = Path(args.watch)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a directory")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # a pipe sees each line as it is printed
    aws = server.aws
    deployed = aws.get_function_configuration(FunctionName=name)["CodeSha256"]
    last = _safe_run(server, args, name, None)
    state = snapshot(folder)
    progress(f"Watching {folder} (every {args.interval:g} s; Ctrl-C to stop) …")
    try:
        while rounds is None or rounds > 0:
            sleep(args.interval)
            current = snapshot(folder)
            if current == state:
                continue
            while True:  # debounce: an editor's save, a git checkout, are several writes
                sleep(args.debounce)
                settled = snapshot(folder)
                if settled == current:
                    break
                current = settled
            changed, state = changed_files(state, current), current
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            data, count = zip_folder(folder)
            if code_sha256(data) == deployed:
                progress(f"Changed: {shown} — the code is what is deployed already")
                continue
            progress(f"Changed: {shown} — deploying {count} files …")
            try:
                deployed = aws.update_function_code(FunctionName=name, ZipFile=data)["CodeSha256"]
                aws.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            except Exception as error:  # botocore's errors: say so and keep watching
                print(paint(f"error: the deploy failed: {error}", "red", sys.stderr), file=sys.stderr, flush=True)
                continue
            last = _safe_run(server, args, name, last)
            if rounds is not None:
                rounds -= 1
    except KeyboardInterrupt:
        pass
    return 0 if last is not None and last["Status"] == "passed" else 1


def _safe_run(server: Server, args: argparse.Namespace, name: str, before: dict[str, Any] | None) -> dict[str, Any] | None:
    """One run and its report, and what changed outcome since ``before``; a failure to run is
    reported and the watch goes on."""
    try:
        run = wait(server, name, start(server, name, None, args.event), interval=args.interval, timeout=args.timeout)
    except CliError as error:
        print(paint(f"error: {error}", "red", sys.stderr), file=sys.stderr, flush=True)
        return before
    print(report(run))
    if args.junit:
        write_junit(run, args.junit)
    if before is not None:
        changes = outcome_changes(before, run)
        if changes:
            print("Changed outcome since the last run:")
            print(table(["EVENT", "BEFORE", "NOW"], [list(change) for change in changes]))
        else:
            print("No event changed outcome since the last run.")
    print()
    return run


# --- workbench suites ----------------------------------------------------------------------------------


def cmd_suites(server: Server, args: argparse.Namespace) -> int:
    name = bare_name(args.name)
    handler = {"list": _list, "show": _show, "compare": _compare, "run-on-deploy": _run_on_deploy}[args.suites_command]
    return handler(server, args, name)


def _list(server: Server, args: argparse.Namespace, name: str) -> int:
    runs = server.call("GET", f"functions/{name}/suites", query={"limit": args.limit})["SuiteRuns"]
    if args.json:
        print(json.dumps(runs, indent=2))
        return 0
    if not runs:
        print(f"No suite runs of {name} yet.")
        return 0
    rows = [[str(r["Id"]), r["CreatedAt"][:19].replace("T", " "), r["Trigger"], r["Qualifier"], r["ExecutedVersion"] or "-",
             r["Status"], f"{r['Passed']}/{r['Total']}", (r["CodeSha256"] or "")[:12], r["StartedBy"] or "-"] for r in runs]  # fmt: skip
    print(table(["ID", "WHEN (UTC)", "TRIGGER", "QUALIFIER", "VERSION", "STATUS", "PASSED", "CODE", "BY"], rows))
    return 0


def _show(server: Server, args: argparse.Namespace, name: str) -> int:
    run = server.call("GET", f"functions/{name}/suites/{args.id}")
    print(json.dumps(run, indent=2) if args.json else report(run))
    if args.junit:
        write_junit(run, args.junit)
    return 0


def _side(run: dict[str, Any]) -> str:
    return (f"suite run {run['Id']} ({run['Qualifier']}, version {run['ExecutedVersion']}, code "
            f"{(run['CodeSha256'] or '')[:12]}, {run['Status']}, {run['Passed']}/{run['Total']} passed)")  # fmt: skip


def _compare(server: Server, args: argparse.Namespace, name: str) -> int:
    if (args.a is None) != (args.b is None):
        raise UsageError("give two suite run ids, or none for the two newest finished runs")
    answer = server.call("GET", f"functions/{name}/suites/compare", query={"a": args.a, "b": args.b})
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"A: {_side(answer['A'])}\nB: {_side(answer['B'])}\n")
        rows = [[e["EventName"], (e["A"] or {}).get("Status", "absent"), (e["B"] or {}).get("Status", "absent"),
                 "changed" if e["ResponseChanged"] else "same"] for e in answer["Events"]]  # fmt: skip
        print(table(["EVENT", "A", "B", "RESPONSE"], rows))
        print()
        print(f"Changed outcome: {', '.join(answer['Changed'])}" if answer["Changed"] else "No event changed outcome.")
        for event in answer["Events"]:
            if event["ResponseDiff"]:
                print(f"\nResponse of {event['EventName']}:")
                print(event["ResponseDiff"])
    regressed = [e for e in answer["Events"] if (e["A"] or {}).get("Status") == "passed"
                 and (e["B"] or {}).get("Status") != "passed"]  # fmt: skip
    return 1 if regressed else 0


def _run_on_deploy(server: Server, args: argparse.Namespace, name: str) -> int:
    if args.switch is None:
        answer = server.call("GET", f"functions/{name}/suite-settings")
    else:
        answer = server.call("PUT", f"functions/{name}/suite-settings", body={"RunOnDeploy": args.switch == "on"})
    print(f"Run on deploy: {'on' if answer['RunOnDeploy'] else 'off'}")
    return 0


# --- the parsers -------------------------------------------------------------------------------------


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    test = commands.add_parser(
        "test", parents=[common], help="run a function's saved events with expectations as a test suite",
        description="Run NAME's events with expectations (or --event ones) on the server; exit 0 only when every "
                    "expectation held, 1 otherwise.")  # fmt: skip
    test.add_argument("name", metavar="NAME")
    test.add_argument("--qualifier", metavar="Q", help="a version or alias (default $LATEST)")
    test.add_argument("--event", metavar="NAME", action="extend", nargs="+",
                      help="run only these saved events (with or without expectations)")
    test.add_argument("--junit", metavar="FILE", help="write the results as JUnit XML")
    test.add_argument("--json", action="store_true", help="print the run as JSON instead of the table")
    test.add_argument("--watch", metavar="DIR", help="deploy DIR on every change and run again, until Ctrl-C")
    test.add_argument("--interval", type=float, default=0.5, help="seconds between polls (default 0.5)")
    test.add_argument("--debounce", type=float, default=0.5,
                      help="--watch: seconds without further change before deploying (default 0.5)")
    test.add_argument("--timeout", type=float, default=600, help="seconds to wait for a run (default 600)")
    test.set_defaults(handler_function=cmd_test)

    suites = commands.add_parser("suites", help="test suite runs: list, show, compare, run on deploy",
                                 description="Suite runs of a function.")
    sub = suites.add_subparsers(dest="suites_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", parents=[common], help="a function's suite runs, newest first")
    listing.add_argument("name", metavar="NAME")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true")
    show = sub.add_parser("show", parents=[common], help="one suite run with its results")
    show.add_argument("name", metavar="NAME")
    show.add_argument("id", metavar="ID", type=int)
    show.add_argument("--json", action="store_true")
    show.add_argument("--junit", metavar="FILE", help="write it as JUnit XML")
    compare = sub.add_parser("compare", parents=[common], help="two suite runs event by event (exit 1 on a regression)",
                             description="Which events changed outcome between run A and run B and how their responses "
                                         "differ. Without ids: the two newest finished runs. Exit 1 when an event that "
                                         "passed in A does not pass in B.")  # fmt: skip
    compare.add_argument("name", metavar="NAME")
    compare.add_argument("a", metavar="A", type=int, nargs="?")
    compare.add_argument("b", metavar="B", type=int, nargs="?")
    compare.add_argument("--json", action="store_true")
    deploy = sub.add_parser("run-on-deploy", parents=[common], help="show or set whether a deploy runs the suite")
    deploy.add_argument("name", metavar="NAME")
    deploy.add_argument("switch", metavar="on|off", choices=["on", "off"], nargs="?")
    for action in (listing, show, compare, deploy):
        action.set_defaults(handler_function=cmd_suites)
