"""Expectations of a saved test event, and their verdict on one invocation. Pure: no Django.

An event's ``Expect`` (the workbench API's name; stored as JSON on the event and its versions)::

    {
      "Outcome": "Succeeded" | "Failed",          # Failed: a function error or a platform failure
      "ErrorType": "ValueError",                  # with Failed: the errorType it must report
      "Response": {"Equals": <JSON>} | {"Contains": <JSON subset>},
      "JsonPath": [{"Path": "$.body", "Equals": <JSON> | "Contains": <JSON or text> |
                    "Matches": "<regex>" | "Exists": true|false}, ...],
      "Logs": {"Contains": ["<regex>", ...], "NotContains": ["<regex>", ...]},
      "MaxDurationMs": 1000,
      "MaxMemoryMb": 128
    }

Every key is optional; an empty ``Expect`` holds for any outcome. ``Contains`` on JSON is a subset
test: an object contains another when it has each of its keys with a value that contains that
key's value; a list contains another when each of the other's items is contained in one of its own;
a string contains a string as a substring; anything else must be equal. ``Matches`` is a Python
regular expression searched (``re.search``) in the value's text (a string as is, anything else as
JSON). A ``JsonPath`` assertion whose path finds nothing fails (unless ``"Exists": false``); with
several matches, it holds when it holds for one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath

OUTCOMES: Final = ("Succeeded", "Failed")
KEYS: Final = ("Outcome", "ErrorType", "Response", "JsonPath", "Logs", "MaxDurationMs", "MaxMemoryMb")
PATH_TESTS: Final = ("Equals", "Contains", "Matches", "Exists")
MAX_ASSERTIONS: Final = 50
MAX_TEXT: Final = 2000  # of one expected/actual value shown in a failure


class ExpectError(ValueError):
    """``Expect`` is malformed: ``where`` names the part (``JsonPath[1].Matches``)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Observed:
    """What one invocation did, as the record keeps it."""

    succeeded: bool  # no function error and no platform failure
    error_type: str = ""
    response: str = ""  # the response body's text
    logs: str = ""
    duration_ms: float | None = None
    max_memory_used_mb: int | None = None


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold."""

    where: str  # Outcome, Response, JsonPath[0], Logs.Contains[1], MaxDurationMs …
    message: str
    expected: str = ""
    actual: str = ""

    def to_json(self) -> dict[str, str]:
        return {"Where": self.where, "Message": self.message, "Expected": self.expected, "Actual": self.actual}


@dataclass(frozen=True)
class Verdict:
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


# --- validation ---------------------------------------------------------------------------------


def _regex(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ExpectError(where, "must be a non-empty regular expression")
    try:
        re.compile(value)
    except re.error as error:
        raise ExpectError(where, f"is not a valid regular expression ({error})") from None
    return value


def _limit(where: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10**7:
        raise ExpectError(where, "must be a positive number")
    return value


def parse(data: Any) -> dict[str, Any]:
    """``data`` checked and normalised (the stored form), or ExpectError. ``None`` is ``{}``."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ExpectError("Expect", "must be an object")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ExpectError("Expect", f"unknown key {unknown[0]!r} (expected one of {', '.join(KEYS)})")
    out: dict[str, Any] = {}
    outcome = data.get("Outcome")
    if outcome is not None:
        if outcome not in OUTCOMES:
            raise ExpectError("Outcome", "must be Succeeded or Failed")
        out["Outcome"] = outcome
    error_type = data.get("ErrorType")
    if error_type is not None:
        if not isinstance(error_type, str) or not error_type:
            raise ExpectError("ErrorType", "must be a non-empty string")
        if out.get("Outcome", "Failed") != "Failed":
            raise ExpectError("ErrorType", "goes with Outcome Failed")
        out["Outcome"], out["ErrorType"] = "Failed", error_type
    response = data.get("Response")
    if response is not None:
        if not isinstance(response, Mapping) or len(response) != 1 or next(iter(response)) not in ("Equals", "Contains"):
            raise ExpectError("Response", 'must be {"Equals": <JSON>} or {"Contains": <JSON>}')
        out["Response"] = dict(response)
    paths = data.get("JsonPath")
    if paths is not None:
        if not isinstance(paths, list) or len(paths) > MAX_ASSERTIONS:
            raise ExpectError("JsonPath", f"must be a list of at most {MAX_ASSERTIONS} assertions")
        out["JsonPath"] = [_path_assertion(f"JsonPath[{n}]", item) for n, item in enumerate(paths)]
    logs = data.get("Logs")
    if logs is not None:
        if not isinstance(logs, Mapping) or set(logs) - {"Contains", "NotContains"}:
            raise ExpectError("Logs", 'must be {"Contains": [regex …], "NotContains": [regex …]}')
        checked: dict[str, list[str]] = {}
        for key in ("Contains", "NotContains"):
            items = logs.get(key)
            if items is None:
                continue
            if not isinstance(items, list) or len(items) > MAX_ASSERTIONS:
                raise ExpectError(f"Logs.{key}", f"must be a list of at most {MAX_ASSERTIONS} regular expressions")
            checked[key] = [_regex(f"Logs.{key}[{n}]", item) for n, item in enumerate(items)]
        out["Logs"] = checked
    for key in ("MaxDurationMs", "MaxMemoryMb"):
        if data.get(key) is not None:
            out[key] = _limit(key, data[key])
    return out


def _path_assertion(where: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping) or "Path" not in item:
        raise ExpectError(where, 'must be {"Path": "$…", and one of Equals, Contains, Matches, Exists}')
    tests = [key for key in item if key != "Path"]
    if len(tests) != 1 or tests[0] not in PATH_TESTS:
        raise ExpectError(where, f"needs exactly one of {', '.join(PATH_TESTS)}")
    path = item["Path"]
    if not isinstance(path, str) or not path.startswith("$"):
        raise ExpectError(f"{where}.Path", "must be a JSONPath starting with $")
    try:
        parse_jsonpath(path)
    except (JsonPathParserError, Exception) as error:  # the parser raises bare Exceptions too
        raise ExpectError(f"{where}.Path", f"is not a valid JSONPath ({error})") from None
    test = tests[0]
    if test == "Matches":
        _regex(f"{where}.Matches", item["Matches"])
    if test == "Exists" and not isinstance(item["Exists"], bool):
        raise ExpectError(f"{where}.Exists", "must be true or false")
    return {"Path": path, test: item[test]}


# --- evaluation ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def contains(actual: Any, expected: Any) -> bool:
    """The subset test of ``Contains`` (module docstring)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and contains(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(any(contains(a, e) for a in actual) for e in expected)
    if isinstance(expected, str) and isinstance(actual, str):
        return expected in actual
    return _same(actual, expected)


def _same(actual: Any, expected: Any) -> bool:
    # JSON equality: 1 == 1.0, but true is not 1.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


def equals(actual: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and set(actual) == set(expected) and all(
            equals(actual[key], expected[key]) for key in expected
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            equals(a, e) for a, e in zip(actual, expected)
        )
    return _same(actual, expected)


def response_value(text: str) -> Any:
    """The response as JSON when it is JSON, else its text."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def evaluate(expect: Mapping[str, Any], observed: Observed) -> Verdict:
    """Every expectation of ``expect`` (as ``parse`` returns it) against ``observed``."""
    failures: list[Failure] = []
    outcome = expect.get("Outcome")
    actual_outcome = "Succeeded" if observed.succeeded else "Failed"
    if outcome and outcome != actual_outcome:
        detail = f" ({observed.error_type})" if observed.error_type else ""
        failures.append(Failure("Outcome", f"expected {outcome}, got {actual_outcome}{detail}", outcome,
                                actual_outcome + detail))  # fmt: skip
    error_type = expect.get("ErrorType")
    if error_type and not observed.succeeded and observed.error_type != error_type:
        failures.append(Failure("ErrorType", f"expected errorType {error_type}, got {observed.error_type or 'none'}",
                                error_type, observed.error_type))  # fmt: skip
    value = response_value(observed.response)
    response = expect.get("Response")
    if response:
        (test, expected), = response.items()
        held = equals(value, expected) if test == "Equals" else contains(value, expected)
        if not held:
            failures.append(Failure(f"Response.{test}", f"the response does not {'equal' if test == 'Equals' else 'contain'} the expected value",
                                    _text(expected), _text(value)))  # fmt: skip
    for n, assertion in enumerate(expect.get("JsonPath", [])):
        failure = _check_path(f"JsonPath[{n}]", assertion, value)
        if failure is not None:
            failures.append(failure)
    logs = expect.get("Logs", {})
    for n, pattern in enumerate(logs.get("Contains", [])):
        if not re.search(pattern, observed.logs, re.MULTILINE):
            failures.append(Failure(f"Logs.Contains[{n}]", f"no log line matches /{pattern}/", pattern, _tail(observed.logs)))
    for n, pattern in enumerate(logs.get("NotContains", [])):
        found = re.search(pattern, observed.logs, re.MULTILINE)
        if found:
            failures.append(Failure(f"Logs.NotContains[{n}]", f"a log line matches /{pattern}/", f"no match of /{pattern}/",
                                    _line_of(observed.logs, found.start())))  # fmt: skip
    limit = expect.get("MaxDurationMs")
    if limit is not None and (observed.duration_ms is None or observed.duration_ms > limit):
        failures.append(Failure("MaxDurationMs", f"took {_ms(observed.duration_ms)}, more than {limit} ms", f"≤ {limit} ms",
                                _ms(observed.duration_ms)))  # fmt: skip
    limit = expect.get("MaxMemoryMb")
    if limit is not None and (observed.max_memory_used_mb is None or observed.max_memory_used_mb > limit):
        used = "unknown" if observed.max_memory_used_mb is None else f"{observed.max_memory_used_mb} MB"
        failures.append(Failure("MaxMemoryMb", f"used {used}, more than {limit} MB", f"≤ {limit} MB", used))
    return Verdict(failures)


def _check_path(where: str, assertion: Mapping[str, Any], value: Any) -> Failure | None:
    path = assertion["Path"]
    (test, expected), = ((k, v) for k, v in assertion.items() if k != "Path")
    found = [match.value for match in parse_jsonpath(path).find(value)]
    if test == "Exists":
        if bool(found) != expected:
            return Failure(where, f"{path} {'does not exist' if expected else 'exists'}",
                           "present" if expected else "absent", _text(found[0]) if found else "absent")  # fmt: skip
        return None
    if not found:
        return Failure(where, f"{path} finds nothing in the response", _describe(test, expected), "nothing")
    checks = {
        "Equals": lambda actual: equals(actual, expected),
        "Contains": lambda actual: contains(actual, expected),
        "Matches": lambda actual: re.search(expected, actual if isinstance(actual, str) else json.dumps(actual)) is not None,
    }
    if any(checks[test](actual) for actual in found):
        return None
    shown = found[0] if len(found) == 1 else found
    return Failure(where, f"{path} {_verb(test)} {_describe(test, expected)}", _describe(test, expected), _text(shown))


def _verb(test: str) -> str:
    return {"Equals": "does not equal", "Contains": "does not contain", "Matches": "does not match"}[test]


def _describe(test: str, expected: Any) -> str:
    return f"/{expected}/" if test == "Matches" else _text(expected)


def _ms(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f} ms"


def _tail(logs: str, lines: int = 20) -> str:
    return _text("\n".join(logs.splitlines()[-lines:]))


def _line_of(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return _text(text[start : end if end >= 0 else len(text)])


def approved(expect: Mapping[str, Any] | None, response: str) -> dict[str, Any]:
    """``expect`` (its JSONPath, log and limit checks kept) now wanting success with exactly
    ``response`` (its JSON, or its text when it is not JSON): a snapshot of one good result."""
    kept = {key: value for key, value in (expect or {}).items() if key not in ("Outcome", "ErrorType", "Response")}
    return {"Outcome": "Succeeded", "Response": {"Equals": response_value(response)}, **kept}
