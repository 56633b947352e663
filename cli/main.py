"""``workbench``: deploy, invoke, logs, history, saved test events, test suites and replay, over the server's API.

Credentials and region come from the same places as the AWS CLI's (environment, ~/.aws/credentials
and ~/.aws/config, ``--profile``); the server from ``--endpoint-url`` or ``WORKBENCH_ENDPOINT_URL``
(then ``AWS_ENDPOINT_URL_LAMBDA``/``AWS_ENDPOINT_URL``, default http://127.0.0.1:8000).
Exit status: 0 success, 1 failure (a function error included), 2 bad usage.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from cli import __version__, event_files, suites
from cli.bundle import zip_folder
from cli.client import CliError, Server, UsageError, bare_name as _bare, endpoint_url
from cli.output import paint, progress, table

DEFAULT_ROLE = "arn:aws:iam::000000000000:role/lambda-role"


# --- deploy ------------------------------------------------------------------------------------------


def detect_runtime(folder: Path) -> str:
    if (folder / "bootstrap").is_file():
        return "provided.al2023"
    if (folder / "package.json").is_file() or any(folder.glob("*.js")) or any(folder.glob("*.mjs")):
        return "nodejs20.x"
    return "python3.11"


def detect_handler(folder: Path, runtime: str) -> str:
    if runtime.startswith("nodejs"):
        for name in ("index", "app", "handler"):
            if (folder / f"{name}.js").exists() or (folder / f"{name}.mjs").exists():
                return f"{name}.handler"
        return "index.handler"
    if runtime.startswith("provided"):
        return "bootstrap"
    for module, function in (("lambda_function", "lambda_handler"), ("app", "handler"), ("handler", "handler"),
                             ("main", "handler")):
        if (folder / f"{module}.py").exists():
            return f"{module}.{function}"
    return "app.handler"


def cmd_deploy(server: Server, args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise CliError(f"{folder} is not a directory")
    name = args.name or folder.resolve().name
    runtime = args.runtime or detect_runtime(folder)
    handler = args.handler or detect_handler(folder, runtime)
    progress(f"Zipping {folder} …")
    data, count = zip_folder(folder)
    if count == 0:
        raise CliError(f"{folder} has no files to deploy")
    progress(f"  {count} files, {len(data) / 1024:.1f} KB zipped")
    aws = server.aws
    try:
        aws.get_function_configuration(FunctionName=name)
        exists = True
    except aws.exceptions.ResourceNotFoundException:
        exists = False
    if exists:
        progress(f"Updating the code of {name} …")
        config = aws.update_function_code(FunctionName=name, ZipFile=data)
        _wait(aws, "function_updated_v2", name)
        changes = {key: value for key, value in (("Runtime", args.runtime), ("Handler", args.handler),
                                                  ("MemorySize", args.memory), ("Timeout", args.timeout),
                                                  ("Role", args.role)) if value is not None}
        if changes:
            progress(f"Updating the configuration of {name} ({', '.join(changes)}) …")
            config = aws.update_function_configuration(FunctionName=name, **changes)
            _wait(aws, "function_updated_v2", name)
        verb = "Updated"
    else:
        progress(f"Creating {name} ({runtime}, handler {handler}) …")
        config = aws.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=args.role or DEFAULT_ROLE,
                                     MemorySize=args.memory or 128, Timeout=args.timeout or 3, Code={"ZipFile": data})
        _wait(aws, "function_active_v2", name)
        verb = "Created"
    print(f"{paint(verb, 'green')} {config['FunctionArn']}")
    print(f"CodeSha256 {config['CodeSha256']}  Runtime {config.get('Runtime', runtime)}  Handler {config['Handler']}")
    return 0


def _wait(aws: Any, waiter: str, name: str) -> None:
    progress("  waiting until it is ready …")
    aws.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


# --- invoke / replay ------------------------------------------------------------------------------------


def _payload(server: Server, args: argparse.Namespace) -> bytes:
    if args.event is not None:
        saved = server.call("GET", f"functions/{_bare(args.name)}/events/{args.event}")
        return json.dumps(saved["Body"]).encode()
    if args.file is not None:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    else:
        data = (args.payload or "{}").encode()
    try:
        json.loads(data)
    except ValueError as error:
        raise CliError(f"the payload is not JSON: {error}") from None
    return data


def _print_result(payload: bytes, function_error: str | None, log_result: str | None) -> int:
    try:
        text = json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        text = payload.decode("utf-8", "replace")
    print(paint(text, "red") if function_error else text)
    if log_result:
        print(paint("--- log tail ---", "dim", sys.stderr), file=sys.stderr)
        sys.stderr.write(base64.b64decode(log_result).decode("utf-8", "replace"))
        sys.stderr.flush()
    if function_error:
        print(paint(f"Function error: {function_error}", "red", sys.stderr), file=sys.stderr)
        return 1
    return 0


def cmd_invoke(server: Server, args: argparse.Namespace) -> int:
    payload = _payload(server, args)
    options: dict[str, Any] = {"FunctionName": args.name, "Payload": payload}
    if args.qualifier:
        options["Qualifier"] = args.qualifier
    if args.async_:
        response = server.aws.invoke(InvocationType="Event", **options)
        print(f"Queued {response['ResponseMetadata']['RequestId']} (StatusCode {response['StatusCode']})")
        return 0
    response = server.aws.invoke(LogType="Tail", **options)
    print(paint(f"RequestId {response['ResponseMetadata']['RequestId']}  Version {response.get('ExecutedVersion')}",
                "dim", sys.stderr), file=sys.stderr)
    return _print_result(response["Payload"].read(), response.get("FunctionError"), response.get("LogResult"))


def cmd_replay(server: Server, args: argparse.Namespace) -> int:
    answer = server.call("POST", f"invocations/{args.request_id}/replay",
                         body={"InvocationType": "Event" if args.async_ else "RequestResponse"})
    if args.async_:
        print(f"Queued {answer['RequestId']} (replay of {args.request_id})")
        return 0
    print(paint(f"RequestId {answer['RequestId']} (replay of {args.request_id})  Version {answer['ExecutedVersion']}",
                "dim", sys.stderr), file=sys.stderr)
    return _print_result(base64.b64decode(answer["Payload"]), answer.get("FunctionError"), answer.get("LogResult"))


# --- history / logs ------------------------------------------------------------------------------------


def _status(value: str) -> str:
    colour = {"succeeded": "green", "failed": "red", "timed-out": "red", "throttled": "yellow"}.get(value)
    return paint(value, colour) if colour else value


def cmd_history(server: Server, args: argparse.Namespace) -> int:
    answer = server.call("GET", f"functions/{_bare(args.name)}/invocations",
                         query={"limit": args.limit, "status": args.status, "source": args.source})
    rows = answer["Invocations"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"No invocations of {args.name} yet.")
        return 0
    body = [[r["CreatedAt"][:19].replace("T", " "), r["RequestId"], r["Source"], r["InvocationType"],
             r["ExecutedVersion"] or "-", r["Status"],
             f"{r['DurationMs']:.1f} ms" if r["DurationMs"] is not None else "-",
             "cold" if r["ColdStart"] else ""] for r in rows]
    text = table(["WHEN (UTC)", "REQUEST ID", "SOURCE", "TYPE", "VERSION", "STATUS", "DURATION", ""], body)
    for row in rows:  # colour after alignment: escape codes would skew the widths
        text = text.replace(f"  {row['Status']} ", f"  {_status(row['Status'])} ", 1)
    print(text)
    if answer.get("NextMarker"):
        print(paint(f"(more: --limit {args.limit * 2})", "dim"))
    return 0


SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str, now: float | None = None) -> int:
    """``--since``: a duration back from now (``30s``, ``10m``, ``2h``, ``1d``, ``1w``) or an ISO time
    (UTC unless it says otherwise), as epoch milliseconds."""
    now = time.time() if now is None else now
    text = value.strip()
    if text[:-1].isdigit() and text[-1:] in SINCE_UNITS:
        return int((now - int(text[:-1]) * SINCE_UNITS[text[-1]]) * 1000)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither a duration like 10m, 2h, 1d nor an ISO time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def _print_event(event: dict[str, Any]) -> None:
    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    print(f"{paint(stamp, 'dim')} {paint(event['logStreamName'] or '-', 'cyan')} {event['message']}")


def cmd_logs(server: Server, args: argparse.Namespace) -> int:
    """Like ``aws logs tail``: the lines since --since, then (--follow) new ones as invocations finish.
    The server's cursor (``since``) never gives a line twice."""
    name = _bare(args.name)
    query: dict[str, Any] = {"logStreamName": args.stream, "filterPattern": args.filter, "startTime": args.since}
    if args.follow:
        progress(f"Following the logs of {name} (Ctrl-C to stop) …")
    cursor = None
    try:
        while True:
            answer = server.call("GET", f"functions/{name}/logs", query={**query, "since": cursor})
            for event in answer["events"]:
                _print_event(event)
            sys.stdout.flush()
            cursor = answer["since"] or cursor
            if answer.get("nextToken"):
                continue
            if not args.follow:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


# --- saved test events ----------------------------------------------------------------------------------


def cmd_events(server: Server, args: argparse.Namespace) -> int:
    base = f"functions/{_bare(args.name)}/events"
    if args.events_command == "list":
        events = server.call("GET", base)["Events"]
        if not events:
            print(f"No saved test events for {args.name}.")
            return 0
        print(table(["NAME", "SCOPE", "OWNER"], [[e["Name"], e["Scope"], e["Owner"] or "-"] for e in events]))
    elif args.events_command == "show":
        print(json.dumps(server.call("GET", f"{base}/{args.event}")["Body"], indent=2))
    elif args.events_command == "export":
        events = server.call("GET", base)["Events"]
        text = json.dumps({"Function": args.name, "Events": [
            {"Name": e["Name"], "Scope": e["Scope"], "Body": e["Body"]} for e in events]}, indent=2)
        if args.output and args.output != "-":
            Path(args.output).write_text(text + "\n")
            progress(f"Exported {len(events)} events to {args.output}")
        else:
            print(text)
    elif args.events_command == "import":
        data = json.loads(sys.stdin.read() if args.file == "-" else Path(args.file).read_text())
        events = data.get("Events") if isinstance(data, dict) else data
        if not isinstance(events, list):
            raise CliError("the file must hold a list of events or {\"Events\": [...]}")
        for event in events:
            if args.shared:
                event["Scope"] = "shared"
        saved = server.call("POST", base, body={"Events": events, "Overwrite": args.overwrite})["Events"]
        print(f"Imported {len(saved)} events: {', '.join(e['Name'] for e in saved)}")
    return 0


# --- the parser -----------------------------------------------------------------------------------------


# --- the activity log -------------------------------------------------------------------------------------


def cmd_activity(server: Server, args: argparse.Namespace) -> int:
    """The audit log of the caller's team, or of one function: who changed what, newest first."""
    path = f"functions/{_bare(args.name)}/activity" if args.name else "activity"
    entries = server.call("GET", path, query={"limit": args.limit})["Activity"]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    rows = [[e["Time"][:19].replace("T", " "), e["Actor"], e["Via"], e["Action"], e["FunctionName"] or "-",
             json.dumps(e["Changes"], separators=(",", ":"))[:80]] for e in entries]  # fmt: skip
    print(table(["WHEN (UTC)", "WHO", "VIA", "ACTION", "FUNCTION", "WHAT CHANGED"], rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.split("\n\n")[0].replace("``", ""),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint-url", help="the server (default $WORKBENCH_ENDPOINT_URL or http://127.0.0.1:8000)")
    common.add_argument("--profile", help="an AWS CLI profile (~/.aws/credentials, ~/.aws/config)")
    common.add_argument("--region", help="region to sign for (default: the profile's, else us-east-1)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    deploy = commands.add_parser("deploy", parents=[common], help="zip a folder and create or update a function",
                                 description="Zip DIR and create the function, or update its code if it exists.")
    deploy.add_argument("dir", metavar="DIR")
    deploy.add_argument("--name", help="function name (default: the folder's name)")
    deploy.add_argument("--runtime", help="default: detected (bootstrap → provided.al2023, *.js → nodejs20.x, "
                                          "else python3.11)")
    deploy.add_argument("--handler", help="default: detected (lambda_function.lambda_handler, app.handler, "
                                          "index.handler …)")
    deploy.add_argument("--memory", type=int, help="MB (default 128 on create)")
    deploy.add_argument("--timeout", type=int, help="seconds (default 3 on create)")
    deploy.add_argument("--role", help=f"execution role ARN (default {DEFAULT_ROLE})")
    deploy.set_defaults(handler_function=cmd_deploy)

    invoke = commands.add_parser("invoke", parents=[common], help="invoke a function; print its response and logs",
                                 description="Invoke NAME and print the response (stdout) and the log tail (stderr).")
    invoke.add_argument("name", metavar="NAME")
    source = invoke.add_mutually_exclusive_group()
    source.add_argument("--event", metavar="SAVED_EVENT_NAME", help="a saved test event of the function")
    source.add_argument("--payload", metavar="JSON", help="the event as JSON text (default {})")
    source.add_argument("--file", metavar="F", help="read the event from a file (- for stdin)")
    invoke.add_argument("--async", dest="async_", action="store_true", help="queue it (InvocationType Event)")
    invoke.add_argument("--qualifier", metavar="Q", help="a version or alias")
    invoke.set_defaults(handler_function=cmd_invoke)

    logs = commands.add_parser("logs", parents=[common], help="print (and follow) a function's logs",
                               description="Print NAME's log lines (all its log streams, or one) since --since; "
                                           "--follow keeps printing new ones as invocations finish.")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--stream", metavar="S", help="one log stream (YYYY/MM/DD/[version]id)")
    logs.add_argument("--filter", metavar="TEXT", help="only lines containing TEXT (case-insensitive)")
    logs.add_argument("--since", metavar="WHEN", type=parse_since, default="10m",
                      help="how far back: 30s, 10m, 2h, 1d, or an ISO time (default 10m)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (Ctrl-C to stop)")
    logs.add_argument("--interval", type=float, default=1.0, help="seconds between polls with --follow")
    logs.set_defaults(handler_function=cmd_logs)

    history = commands.add_parser("history", parents=[common], help="a table of a function's invocations",
                                  description="NAME's invocations, newest first.")
    history.add_argument("name", metavar="NAME")
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "timed-out", "throttled"])
    history.add_argument("--source", choices=["console", "api", "cli", "url", "trigger", "async-retry", "suite", "destination"])
    history.add_argument("--json", action="store_true", help="print the records as JSON")
    history.set_defaults(handler_function=cmd_history)

    events = commands.add_parser("events", help="saved test events", description="Saved test events of a function.")
    sub = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", parents=[common], help="list a function's saved events")
    listing.add_argument("name", metavar="NAME")
    show = sub.add_parser("show", parents=[common], help="print one saved event")
    show.add_argument("name", metavar="NAME")
    show.add_argument("event", metavar="EVENT")
    export = sub.add_parser("export", parents=[common], help="write a function's saved events as JSON")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--output", "-o", metavar="FILE", help="default: stdout")
    imported = sub.add_parser("import", parents=[common], help="save events from a JSON file")
    imported.add_argument("name", metavar="NAME")
    imported.add_argument("file", metavar="FILE", help="an export (or a list of {Name, Body}); - for stdin")
    imported.add_argument("--shared", action="store_true", help="share them with the function's team")
    imported.add_argument("--overwrite", action="store_true", help="replace events of the same name")
    for action in (listing, show, export, imported):
        action.set_defaults(handler_function=cmd_events)
    event_files.add_parsers(sub, common)
    suites.add_parsers(commands, common)

    replay = commands.add_parser("replay", parents=[common], help="invoke again what an earlier invocation sent",
                                 description="Invoke the function of REQUEST_ID again with the same payload.")
    replay.add_argument("request_id", metavar="REQUEST_ID")
    replay.add_argument("--async", dest="async_", action="store_true", help="queue it (InvocationType Event)")
    replay.set_defaults(handler_function=cmd_replay)

    activity = commands.add_parser("activity", parents=[common], help="the audit log of your team or of a function",
                                   description="Every change (code, configuration, URL, policy, triggers, shared "
                                               "events, keys, members), newest first.")
    activity.add_argument("name", metavar="NAME", nargs="?", help="one function (default: the whole team)")
    activity.add_argument("--limit", type=int, default=50)
    activity.add_argument("--json", action="store_true", help="print the entries as JSON")
    activity.set_defaults(handler_function=cmd_activity)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[Server, argparse.Namespace], int] = args.handler_function
    try:
        server = Server(endpoint_url(args.endpoint_url), args.profile, args.region)
        return handler(server, args)
    except UsageError as error:
        print(paint(f"error: {error}", "red", sys.stderr), file=sys.stderr)
        return 2
    except CliError as error:
        print(paint(f"error: {error}", "red", sys.stderr), file=sys.stderr)
        return 1
    except Exception as error:  # botocore's errors: ClientError, connection and waiter failures
        name = type(error).__name__
        if name in ("ClientError", "EndpointConnectionError", "WaiterError", "ParamValidationError",
                    "ReadTimeoutError", "ConnectTimeoutError", "ProfileNotFound", "NoRegionError") \
                or type(error).__module__.startswith("botocore"):
            print(paint(f"error: {error}", "red", sys.stderr), file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
