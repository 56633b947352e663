"""``workbench events push`` / ``pull``: a function's saved events and their expectations as files in
a repository, one per event, so that a team reviews them like code.

The file format (stable: sorted keys, two-space indent, UTF-8, a trailing newline, so that a pull
of unchanged events rewrites nothing and a diff shows only what changed)::

    {
      "Body": {...},            # the event (a string when it is not JSON, e.g. with placeholders)
      "Expect": {...} | null,   # its expectations; null: not part of the suite
      "Name": "order placed",   # the event's name: files are matched by Name and Scope, not file name
      "Scope": "shared"         # or "private" (the pushing user's own); default "shared"
    }

File names come from event names: ``order placed`` → ``order-placed.json`` (characters other than
letters, digits, ``.``, ``_`` and ``-`` become ``-``; a second event with the same file name gets
``-2``…). A pull writes an event back into the file that already holds it, whatever its name.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from cli.client import CliError, Server, UsageError, bare_name
from cli.output import paint, progress

KEYS = ("Body", "Expect", "Name", "Scope")
SCOPES = ("shared", "private")
Key = tuple[str, str]  # (Name, Scope)


def file_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80]
    return stem or "event"


def file_text(event: dict[str, Any]) -> str:
    data = {"Body": event["Body"], "Expect": event.get("Expect"), "Name": event["Name"], "Scope": event["Scope"]}
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _parse(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: must be an object with Name, Scope, Body and Expect")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise CliError(f"{path}: unknown key {unknown[0]!r} (expected {', '.join(KEYS)})")
    if not isinstance(data.get("Name"), str) or not data["Name"].strip():
        raise CliError(f"{path}: Name must be a non-empty string")
    if "Body" not in data:
        raise CliError(f"{path}: Body is missing")
    scope = data.get("Scope") or "shared"
    if scope not in SCOPES:
        raise CliError(f"{path}: Scope must be shared or private")
    return {"Name": data["Name"], "Scope": scope, "Body": data["Body"], "Expect": data.get("Expect")}


def read_folder(folder: Path, *, strict: bool = True) -> dict[Key, tuple[Path, dict[str, Any]]]:
    """The events in ``folder``'s ``*.json`` files by (Name, Scope). ``strict``: a file that is not an
    event, or a second file of the same event, is an error (push); otherwise it is skipped (pull)."""
    found: dict[Key, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            event = _parse(path)
        except CliError:
            if strict:
                raise
            continue
        key = (event["Name"], event["Scope"])
        if key in found:
            if strict:
                raise CliError(f"{path} and {found[key][0]} both hold the {key[1]} event {key[0]!r}")
            continue
        found[key] = (path, event)
    return found


def file_names(events: list[dict[str, Any]], existing: dict[Key, Path], folder: Path) -> dict[Key, Path]:
    """Where each event goes: the file that holds it already, else a new name from its own."""
    taken = {path.name for path in existing.values()} | {path.name for path in folder.glob("*.json")}
    placed: dict[Key, Path] = {}
    for event in sorted(events, key=lambda e: (e["Scope"] != "shared", e["Name"])):
        key = (event["Name"], event["Scope"])
        if key in existing:
            placed[key] = existing[key]
            continue
        stem, n = file_stem(event["Name"]), 1
        name = f"{stem}.json"
        while name in taken:
            n += 1
            name = f"{stem}-{n}.json"
        taken.add(name)
        placed[key] = folder / name
    return placed


def pull(server: Server, name: str, folder: Path, *, shared_only: bool = False, delete: bool = False) -> dict[str, list[str]]:
    """Write the function's shared events (and the caller's private ones) into ``folder``."""
    events = [e for e in server.call("GET", f"functions/{name}/events")["Events"]
              if e["Scope"] == "shared" or not shared_only]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    local = {key: found for key, found in read_folder(folder, strict=False).items()
             if key[1] == "shared" or not shared_only}  # fmt: skip
    targets = file_names(events, {key: path for key, (path, _) in local.items()}, folder)
    done: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": [], "left alone": []}
    for event in events:
        path = targets[(event["Name"], event["Scope"])]
        text = file_text(event)
        before = path.read_text(encoding="utf-8") if path.exists() else None
        if before != text:
            path.write_text(text, encoding="utf-8")
        done["unchanged" if before == text else "created" if before is None else "updated"].append(path.name)
    for key, (path, _) in sorted(local.items()):
        if key not in targets:
            if delete:
                path.unlink()
            done["deleted" if delete else "left alone"].append(path.name)
    return done


def push(server: Server, name: str, folder: Path, *, delete: bool = False) -> tuple[dict[str, list[str]], list[str]]:
    """Create or update the events of ``folder``'s files on the server; with ``delete``, delete the
    events (visible to the caller) that no file holds. Returns what was done and what failed."""
    files = read_folder(folder, strict=True)
    if not files:
        raise UsageError(f"{folder} holds no event files (*.json)")
    done: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": [], "left alone": []}
    errors: list[str] = []
    for (event_name, scope), (path, event) in sorted(files.items()):
        try:
            answer = server.call("PUT", f"functions/{name}/events/{event_name}",
                                 body={"Body": event["Body"], "Scope": scope, "Expect": event["Expect"]})  # fmt: skip
        except CliError as error:
            errors.append(f"{path.name}: {error}")
            continue
        done[answer["Result"]].append(f"{event_name} ({scope}) ← {path.name}")
    for event in server.call("GET", f"functions/{name}/events")["Events"]:
        key = (event["Name"], event["Scope"])
        if key in files:
            continue
        if not delete:
            done["left alone"].append(f"{key[0]} ({key[1]}): no file")
            continue
        try:
            server.call("DELETE", f"functions/{name}/events/{key[0]}", query={"Scope": key[1]})
            done["deleted"].append(f"{key[0]} ({key[1]})")
        except CliError as error:
            errors.append(f"{key[0]} ({key[1]}): {error}")
    return done, errors


def _print(done: dict[str, list[str]]) -> None:
    for what, items in done.items():
        for item in items:
            print(f"{what:10}  {item}")
    summary = ", ".join(f"{len(items)} {what}" for what, items in done.items() if items or what != "deleted")
    progress(summary)


def cmd_push(server: Server, args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a directory")
    done, errors = push(server, bare_name(args.name), folder, delete=args.delete)
    _print(done)
    for error in errors:
        print(paint(f"error: {error}", "red", sys.stderr), file=sys.stderr)
    return 1 if errors else 0


def cmd_pull(server: Server, args: argparse.Namespace) -> int:
    done = pull(server, bare_name(args.name), Path(args.dir), shared_only=args.shared_only, delete=args.delete)
    _print(done)
    return 0


def add_parsers(actions: Any, common: argparse.ArgumentParser) -> None:
    pushing = actions.add_parser(
        "push", parents=[common], help="create or update a function's events from a folder of files",
        description="Save each DIR/*.json event file (Name, Scope, Body, Expect) as NAME's saved event: created, "
                    "updated, or left alone when unchanged. Events without a file are kept unless --delete.")  # fmt: skip
    pushing.add_argument("name", metavar="NAME")
    pushing.add_argument("dir", metavar="DIR")
    pushing.add_argument("--delete", action="store_true", help="delete the events (yours and shared) that no file holds")
    pushing.set_defaults(handler_function=cmd_push)
    pulling = actions.add_parser(
        "pull", parents=[common], help="write a function's events into a folder, one file each",
        description="Write NAME's shared events and your private ones into DIR, one stable-formatted JSON file per "
                    "event. Files of events that are gone are kept unless --delete.")  # fmt: skip
    pulling.add_argument("name", metavar="NAME")
    pulling.add_argument("dir", metavar="DIR")
    pulling.add_argument("--shared-only", action="store_true", help="leave out your private events")
    pulling.add_argument("--delete", action="store_true", help="remove files of events that are no longer there")
    pulling.set_defaults(handler_function=cmd_pull)
