"""The Test tab's expectations editor: its fields to and from an ``Expect`` (console/expectations.py).

A structured form rather than a JSON box: outcome and errorType, the response check (mode + JSON),
JSONPath rows (path, test, value), log regexes one per line, two limits. This module only
translates; the service (``events.check_expect``) judges what it produces, and its ``where``
(``JsonPath[1].Path``) puts a refusal next to the field it is about.

The event is in the suite (its expectations are not None) when "Check the result" is ticked or any
field is filled; with JavaScript an unticked box disables the fields, so nothing of them is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from console.expectations import PATH_TESTS
from invocations import json_input

POST_PREFIX = "expect_"
_ROW = re.compile(r"^JsonPath\[(\d+)\]")


class _PostData(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def getlist(self, key: str) -> list[str]: ...


@dataclass
class PathRow:
    path: str = ""
    test: str = "Equals"
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not self.path.strip() and not self.value.strip()


@dataclass
class ExpectFields:
    on: bool = False
    outcome: str = ""  # "", Succeeded, Failed
    error_type: str = ""
    response_mode: str = ""  # "", Equals, Contains
    response: str = ""
    paths: list[PathRow] = field(default_factory=list)
    logs_contains: str = ""
    logs_not_contains: str = ""
    max_duration_ms: str = ""
    max_memory_mb: str = ""
    # outcome, error_type, response, paths, logs_contains, logs_not_contains, max_duration_ms,
    # max_memory_mb, or "expect" for what belongs to no one field
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows(self) -> list[PathRow]:
        """The rows to show: the filled ones and one blank to fill in (without JavaScript, the way to add one)."""
        return [*self.paths, PathRow()]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.errors for row in self.paths)

    @property
    def filled(self) -> bool:
        texts = (self.outcome, self.error_type, self.response_mode, self.response, self.logs_contains,
                 self.logs_not_contains, self.max_duration_ms, self.max_memory_mb)  # fmt: skip
        return any(text.strip() for text in texts) or bool(self.paths)

    def add_error(self, where: str, message: str) -> None:
        """A refusal of the service, put next to the field ``where`` names."""
        row = _ROW.match(where)
        if row and int(row.group(1)) < len(self.paths):
            self.paths[int(row.group(1))].errors.append(message)
            return
        key = next((key for prefix, key in _PLACES if where.startswith(prefix)), "expect")
        self.errors.setdefault(key, []).append(message)

    def to_expect(self) -> dict[str, Any] | None:
        """The ``Expect`` these fields say (None: not in the suite); problems go to ``errors``."""
        if not (self.on or self.filled):
            return None
        expect: dict[str, Any] = {}
        if self.outcome:
            expect["Outcome"] = self.outcome
        if self.error_type.strip():
            expect["ErrorType"] = self.error_type.strip()
        response = self._response()
        if response is not None:
            expect["Response"] = response
        assertions = [self._assertion(row) for row in self.paths]
        if assertions:
            expect["JsonPath"] = assertions
        logs = {key: _lines(text) for key, text in (("Contains", self.logs_contains), ("NotContains", self.logs_not_contains))}
        logs = {key: lines for key, lines in logs.items() if lines}
        if logs:
            expect["Logs"] = logs
        for key, name, unit in (("MaxDurationMs", "max_duration_ms", "milliseconds"), ("MaxMemoryMb", "max_memory_mb", "MB")):
            text = getattr(self, name).strip()
            if text:
                number = _number(text)
                if number is None:
                    self.errors.setdefault(name, []).append(f"Enter a number of {unit}.")
                expect[key] = number
        return expect

    def _response(self) -> dict[str, Any] | None:
        text = self.response.strip()
        if not self.response_mode and not text:
            return None
        if not self.response_mode:
            self.errors.setdefault("response", []).append("Choose how the response is compared: equals or contains.")
            return None
        if not text:
            self.errors.setdefault("response", []).append("Enter the expected response as JSON.")
            return None
        try:
            return {self.response_mode: json_input.loads(text)}
        except json.JSONDecodeError as error:
            self.errors.setdefault("response", []).append(
                f"The expected response is not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
                ' (write text in double quotes: "ok").'
            )  # fmt: skip
        except json_input.NestingTooDeep as error:
            self.errors.setdefault("response", []).append(f"The expected response is not usable: {error}.")
        return None

    def _assertion(self, row: PathRow) -> dict[str, Any]:
        path, text = row.path.strip(), row.value.strip()
        if not path:
            row.errors.append("Enter a JSONPath, starting with $.")
        if row.test == "Matches":
            return {"Path": path, "Matches": row.value}
        if row.test == "Exists":
            if text.lower() not in ("", "true", "false"):
                row.errors.append("Exists takes true or false (empty: true).")
            return {"Path": path, "Exists": text.lower() != "false"}
        try:
            value = json_input.loads(text)
        except ValueError:  # not JSON, or nested too deep
            if row.test == "Equals" or not text:
                row.errors.append('The value must be JSON: 200, true, {"a": 1}, or text in double quotes: "ok".')
            value = row.value  # Contains: plain text is a substring
        return {"Path": path, row.test: value}


_PLACES = (
    ("JsonPath", "paths"), ("Logs.NotContains", "logs_not_contains"), ("Logs", "logs_contains"),
    ("Response", "response"), ("Outcome", "outcome"), ("ErrorType", "error_type"),
    ("MaxDurationMs", "max_duration_ms"), ("MaxMemoryMb", "max_memory_mb"),
)  # fmt: skip


def _lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _json_text(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False)


def from_expect(expect: Mapping[str, Any] | None) -> ExpectFields:
    """The fields showing a stored ``Expect``."""
    if expect is None:
        return ExpectFields()
    fields = ExpectFields(on=True, outcome=expect.get("Outcome", ""), error_type=expect.get("ErrorType", ""))
    response = expect.get("Response")
    if response:
        ((fields.response_mode, value),) = response.items()
        fields.response = _json_text(value, indent=2)
    for assertion in expect.get("JsonPath", []):
        ((test, value),) = ((k, v) for k, v in assertion.items() if k != "Path")
        shown = value if test == "Matches" else ("true" if value else "false") if test == "Exists" else _json_text(value)
        fields.paths.append(PathRow(path=assertion["Path"], test=test, value=shown))
    logs = expect.get("Logs", {})
    fields.logs_contains = "\n".join(logs.get("Contains", []))
    fields.logs_not_contains = "\n".join(logs.get("NotContains", []))
    for key, name in (("MaxDurationMs", "max_duration_ms"), ("MaxMemoryMb", "max_memory_mb")):
        if expect.get(key) is not None:
            setattr(fields, name, str(expect[key]))
    return fields


def from_post(data: _PostData) -> ExpectFields:
    """The fields as the form sent them (``expect_*``); blank JSONPath rows are dropped."""

    def text(name: str) -> str:
        return str(data.get(POST_PREFIX + name, "") or "")

    outcome = text("outcome") if text("outcome") in ("Succeeded", "Failed") else ""
    mode = text("response_mode") if text("response_mode") in ("Equals", "Contains") else ""
    paths, tests, values = (data.getlist(POST_PREFIX + name) for name in ("path", "path_test", "path_value"))
    rows = []
    for n, path in enumerate(paths):
        test = tests[n] if n < len(tests) and tests[n] in PATH_TESTS else "Equals"
        row = PathRow(path=path, test=test, value=values[n] if n < len(values) else "")
        if not row.blank:
            rows.append(row)
    return ExpectFields(
        on=bool(data.get(POST_PREFIX + "on")), outcome=outcome, error_type=text("error_type"), response_mode=mode,
        response=text("response"), paths=rows, logs_contains=text("logs_contains"),
        logs_not_contains=text("logs_not_contains"), max_duration_ms=text("max_duration_ms"),
        max_memory_mb=text("max_memory_mb"),
    )  # fmt: skip
