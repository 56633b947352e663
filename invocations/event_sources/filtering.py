"""Event filtering: EventBridge patterns in an event source mapping's FilterCriteria (spec §8.5).

Pure: ``parse_criteria`` validates a mapping's ``{"Filters": [{"Pattern": "<json>"}]}`` (an invalid
one is AWS's 400 "Invalid filter pattern definition."), ``matches`` decides whether one record passes.

Semantics copied from EventBridge, as Lambda documents them:

* A pattern is a JSON object; every key it names must match (AND); nested objects match nested
  keys; a leaf is a list of rules of which one must match (OR). ``"$or": [p1, p2]`` ORs sub-patterns.
* Filters of one mapping are OR-ed; no filters means every record passes.
* When the record's value is a list, the rule matches if it matches any element.
* A missing key matches only ``{"exists": false}``; ``null`` matches only a JSON null and ``""``
  only the empty string.
* Rules: literal string/number/bool/null (numbers compare as numbers), ``prefix``, ``suffix``
  (each also ``{"equals-ignore-case": …}`` inside), ``equals-ignore-case``, ``anything-but`` (a
  value, a list, or ``prefix``/``suffix``/``equals-ignore-case``), ``numeric`` (one or two
  comparisons), ``exists``, ``wildcard`` (``*`` only).

The data key per source (``body`` for SQS, ``data`` for Kinesis and MQ) is decoded by the source
before matching: ``filter_view`` parses a JSON object body so patterns can reach into it; a body that
is not a JSON object stays a string, so an object pattern on it does not match (AWS drops such a
record) while a string rule (e.g. ``{"body": [{"prefix": "ab"}]}``) matches it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from invocations import json_input

MAX_FILTERS: Final = 10  # AWS: 5 by default, quota up to 10
MAX_PATTERN_LENGTH: Final = 4096
INVALID_PATTERN: Final = "Invalid filter pattern definition."

_MISSING: Final = object()
_NUMERIC_OPERATORS: Final = ("<", "<=", "=", ">=", ">")
_STRING_OPERATORS: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")


class FilterError(ValueError):
    """The criteria are not a valid filter definition."""


@dataclass(frozen=True)
class Criteria:
    patterns: tuple[dict[str, Any], ...]

    def matches(self, record: Mapping[str, Any]) -> bool:
        return not self.patterns or any(_match_object(pattern, record) for pattern in self.patterns)


# --- parsing ---------------------------------------------------------------------------------------


def parse_criteria(criteria: Any) -> Criteria:
    """Validate FilterCriteria as the API receives it; raises FilterError."""
    if criteria is None or criteria == {}:
        return Criteria(patterns=())
    if not isinstance(criteria, dict) or set(criteria) - {"Filters"}:
        raise FilterError(INVALID_PATTERN)
    filters = criteria.get("Filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise FilterError(INVALID_PATTERN)
    patterns = []
    for item in filters:
        if not isinstance(item, dict) or not isinstance(item.get("Pattern"), str):
            raise FilterError(INVALID_PATTERN)
        patterns.append(parse_pattern(item["Pattern"]))
    return Criteria(patterns=tuple(patterns))


def parse_pattern(text: str) -> dict[str, Any]:
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterError(INVALID_PATTERN)
    try:
        pattern = json_input.loads(text)
    except ValueError:
        raise FilterError(INVALID_PATTERN) from None
    if not isinstance(pattern, dict) or not pattern:
        raise FilterError(INVALID_PATTERN)
    _check_object(pattern)
    return pattern


def _check_object(pattern: dict[str, Any]) -> None:
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterError(INVALID_PATTERN)
            for branch in value:
                if not isinstance(branch, dict) or not branch:
                    raise FilterError(INVALID_PATTERN)
                _check_object(branch)
        elif isinstance(value, dict):
            if not value:
                raise FilterError(INVALID_PATTERN)
            _check_object(value)
        elif isinstance(value, list):
            if not value:
                raise FilterError(INVALID_PATTERN)
            for rule in value:
                _check_rule(rule)
        else:
            raise FilterError(INVALID_PATTERN)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_string_operand(operator: str, operand: Any) -> None:
    if isinstance(operand, str):
        return
    if operator in ("prefix", "suffix") and isinstance(operand, dict) and set(operand) == {"equals-ignore-case"}:
        if isinstance(operand["equals-ignore-case"], str):
            return
    raise FilterError(INVALID_PATTERN)


def _check_rule(rule: Any) -> None:
    if rule is None or isinstance(rule, (str, bool)) or _is_number(rule):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise FilterError(INVALID_PATTERN)
    [(operator, operand)] = rule.items()
    if operator in _STRING_OPERATORS:
        _check_string_operand(operator, operand)
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise FilterError(INVALID_PATTERN)
    elif operator == "numeric":
        _check_numeric(operand)
    elif operator == "anything-but":
        if isinstance(operand, list):
            if not operand or not all(isinstance(v, str) or _is_number(v) for v in operand):
                raise FilterError(INVALID_PATTERN)
        elif isinstance(operand, dict):
            if len(operand) != 1:
                raise FilterError(INVALID_PATTERN)
            [(inner, inner_operand)] = operand.items()
            if inner not in ("prefix", "suffix", "equals-ignore-case"):
                raise FilterError(INVALID_PATTERN)
            if not isinstance(inner_operand, (str, list)):
                raise FilterError(INVALID_PATTERN)
        elif not (isinstance(operand, str) or _is_number(operand)):
            raise FilterError(INVALID_PATTERN)
    else:
        raise FilterError(INVALID_PATTERN)


def _check_numeric(operand: Any) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise FilterError(INVALID_PATTERN)
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    for operator, number in pairs:
        if operator not in _NUMERIC_OPERATORS or not _is_number(number):
            raise FilterError(INVALID_PATTERN)
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        # A range is a lower bound then an upper bound (EventBridge refuses anything else).
        if low_op not in (">", ">=") or high_op not in ("<", "<=") or low > high:
            raise FilterError(INVALID_PATTERN)


# --- matching --------------------------------------------------------------------------------------


def _match_object(pattern: Mapping[str, Any], data: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_match_object(branch, data) for branch in expected):
                return False
            continue
        value = data.get(key, _MISSING) if isinstance(data, Mapping) else _MISSING
        if isinstance(expected, dict):
            if isinstance(value, list):
                if not any(isinstance(v, Mapping) and _match_object(expected, v) for v in value):
                    return False
            elif not isinstance(value, Mapping) or not _match_object(expected, value):
                return False
        elif not _match_leaf(expected, value):
            return False
    return True


def _match_leaf(rules: Sequence[Any], value: Any) -> bool:
    for rule in rules:
        if isinstance(rule, dict) and "exists" in rule:
            present = value is not _MISSING and not isinstance(value, Mapping)
            if present == rule["exists"]:
                return True
            continue
        if value is _MISSING:
            continue
        candidates = value if isinstance(value, list) else [value]
        if any(_match_rule(rule, candidate) for candidate in candidates):
            return True
    return False


def _equal(rule: Any, value: Any) -> bool:
    if rule is None:
        return value is None
    if isinstance(rule, bool) or isinstance(value, bool):
        return isinstance(rule, bool) and isinstance(value, bool) and rule == value
    if _is_number(rule):
        return _is_number(value) and float(rule) == float(value)
    return isinstance(value, str) and rule == value


def _match_rule(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return _equal(rule, value)
    [(operator, operand)] = rule.items()
    if operator == "numeric":
        return _is_number(value) and _numeric(operand, float(value))
    if operator == "anything-but":
        return _anything_but(operand, value)
    if not isinstance(value, str):
        return False
    return _string_rule(operator, operand, value)


def _string_rule(operator: str, operand: Any, value: str) -> bool:
    fold = False
    if isinstance(operand, dict):
        operand, fold = operand["equals-ignore-case"], True
    subject, target = (value.casefold(), operand.casefold()) if fold else (value, operand)
    if operator == "prefix":
        return subject.startswith(target)
    if operator == "suffix":
        return subject.endswith(target)
    if operator == "equals-ignore-case":
        return value.casefold() == operand.casefold()
    if operator == "wildcard":
        return _wildcard(operand).fullmatch(value) is not None
    return False


def _wildcard(operand: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in operand.split("*")), re.DOTALL)


def _numeric(operand: list[Any], number: float) -> bool:
    for i in range(0, len(operand), 2):
        operator, bound = operand[i], float(operand[i + 1])
        ok = {
            "<": number < bound,
            "<=": number <= bound,
            "=": number == bound,
            ">=": number >= bound,
            ">": number > bound,
        }[operator]
        if not ok:
            return False
    return True


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        [(inner, inner_operand)] = operand.items()
        if not isinstance(value, str):
            return False
        options = inner_operand if isinstance(inner_operand, list) else [inner_operand]
        return not any(_string_rule(inner, option, value) for option in options)
    options = operand if isinstance(operand, list) else [operand]
    if value is None:
        return False  # anything-but matches present, non-null values
    return not any(_equal(option, value) for option in options)


# --- data key per source ---------------------------------------------------------------------------


def filter_view(record: dict[str, Any], data_key: str) -> dict[str, Any]:
    """The record as patterns see it: ``data_key``'s text parsed when it is a JSON object."""
    text = record.get(data_key)
    if not isinstance(text, str):
        return record
    try:
        parsed = json_input.loads(text)
    except ValueError:
        return record
    if not isinstance(parsed, dict):
        return record
    return {**record, data_key: parsed}
