"""Import and export of test events in three formats.

* AWS's shareable test events: the Lambda console keeps them in the EventBridge schema registry
  `lambda-testevent-schemas` as an OpenAPI 3 document named `_<function>-schema`, one entry per event
  in `components.examples` (`{"<name>": {"value": <event>}}`).
* SAM CLI's `events/*.json`: one event per file, named after the file.
* Plain JSON: an event object; or a list of `{"name": …, "event": …}`; or `{"<name>": <event>, …}`
  under a top-level `"events"` key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from console.models import TestEvent
from console.services import events as event_service
from invocations.access import Caller
from invocations.models import Function


class ImportProblem(ValueError):
    pass


@dataclass(frozen=True)
class Imported:
    created: list[str]
    skipped: list[str]  # names that already existed (left unchanged)


def schema_name(function: Function) -> str:
    return f"_{function.name}-schema"


def _type_of(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": _type_of(value[0]) if value else {}}
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: _type_of(v) for k, v in value.items()}}
    return {}


def export_openapi(*, function: Function, events: list[TestEvent]) -> dict[str, Any]:
    """The shareable-event schema document for `events` (as the Lambda console writes it)."""
    examples: dict[str, Any] = {}
    first: Any = {}
    for event in events:
        value = json.loads(event.body) if _is_json(event.body) else event.body
        examples[event.name] = {"value": value}
        first = first or value
    return {
        "openapi": "3.0.0",
        "info": {"version": "1.0.0", "title": "Event"},
        "paths": {},
        "components": {"schemas": {"Event": _type_of(first) or {"type": "object"}}, "examples": examples},
    }


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def parse(filename: str, text: str) -> list[tuple[str, str]]:
    """(name, body) pairs from any of the three formats."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ImportProblem(f"The file is not JSON: {error}") from None
    if isinstance(document, dict) and str(document.get("openapi", "")).startswith("3"):
        examples = (document.get("components") or {}).get("examples") or {}
        if not isinstance(examples, dict) or not examples:
            raise ImportProblem("The OpenAPI document has no components.examples.")
        pairs = []
        for name, example in examples.items():
            if not isinstance(example, dict) or "value" not in example:
                raise ImportProblem(f"Example “{name}” has no value.")
            pairs.append((str(name), json.dumps(example["value"], indent=2)))
        return pairs
    if isinstance(document, list) and all(isinstance(x, dict) and "name" in x and "event" in x for x in document):
        return [(str(x["name"]), json.dumps(x["event"], indent=2)) for x in document]
    if isinstance(document, dict) and isinstance(document.get("events"), dict) and len(document) == 1:
        return [(str(name), json.dumps(value, indent=2)) for name, value in document["events"].items()]
    name = PurePath(filename or "event.json").stem or "event"
    return [(name, json.dumps(document, indent=2))]


def import_events(*, caller: Caller, function: Function, filename: str, text: str, scope: str) -> Imported:
    created, skipped = [], []
    for name, body in parse(filename, text):
        try:
            event_service.create_event(caller=caller, function=function, name=name, scope=scope, body=body)
        except event_service.EventError as error:
            if error.field == "name" and "already exists" in error.message:
                skipped.append(name)
                continue
            raise ImportProblem(f"“{name}”: {error.message}") from None
        created.append(name)
    return Imported(created=created, skipped=skipped)
