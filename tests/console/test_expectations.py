"""Every kind of expectation, holding and failing, and every malformed ``Expect`` refused (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from console.expectations import ExpectError, Observed, contains, evaluate, parse

OK = Observed(succeeded=True, response='{"statusCode": 200, "body": "all ok", "items": [{"id": 1, "tags": ["a", "b"]}, {"id": 2}]}',
              logs="START\nprocessed 2 items\nEND\n", duration_ms=12.5, max_memory_used_mb=40)  # fmt: skip
ERR = Observed(succeeded=False, error_type="ValueError", response='{"errorMessage": "bad", "errorType": "ValueError"}',
               logs="START\nTraceback (most recent call last):\nValueError: bad\n", duration_ms=3.0, max_memory_used_mb=38)  # fmt: skip
TEXT = Observed(succeeded=True, response="plain text, not JSON", logs="", duration_ms=1.0, max_memory_used_mb=30)

CASES: list[tuple[str, dict[str, Any], Observed, list[str]]] = [
    ("nothing expected holds", {}, ERR, []),
    ("outcome succeeded holds", {"Outcome": "Succeeded"}, OK, []),
    ("outcome succeeded fails on an error", {"Outcome": "Succeeded"}, ERR, ["Outcome"]),
    ("outcome failed holds", {"Outcome": "Failed"}, ERR, []),
    ("outcome failed fails on success", {"Outcome": "Failed"}, OK, ["Outcome"]),
    ("error type holds", {"ErrorType": "ValueError"}, ERR, []),
    ("error type differs", {"ErrorType": "KeyError"}, ERR, ["ErrorType"]),
    ("error type on a success", {"ErrorType": "KeyError"}, OK, ["Outcome"]),
    ("response equals holds", {"Response": {"Equals": {"errorMessage": "bad", "errorType": "ValueError"}}}, ERR, []),
    ("response equals: a missing key", {"Response": {"Equals": {"errorMessage": "bad"}}}, ERR, ["Response.Equals"]),
    ("response equals: 1 is not true", {"Response": {"Equals": {"statusCode": True}}}, Observed(True, response='{"statusCode": 1}'), ["Response.Equals"]),
    ("response equals text", {"Response": {"Equals": "plain text, not JSON"}}, TEXT, []),
    ("response contains a subset", {"Response": {"Contains": {"statusCode": 200, "items": [{"id": 2}]}}}, OK, []),
    ("response contains: wrong value", {"Response": {"Contains": {"statusCode": 500}}}, OK, ["Response.Contains"]),
    ("response contains: nested list item", {"Response": {"Contains": {"items": [{"tags": ["b"]}]}}}, OK, []),
    ("response contains a substring of text", {"Response": {"Contains": "not JSON"}}, TEXT, []),
    ("jsonpath equals", {"JsonPath": [{"Path": "$.statusCode", "Equals": 200}]}, OK, []),
    ("jsonpath equals fails", {"JsonPath": [{"Path": "$.statusCode", "Equals": 201}]}, OK, ["JsonPath[0]"]),
    ("jsonpath contains text", {"JsonPath": [{"Path": "$.body", "Contains": "ok"}]}, OK, []),
    ("jsonpath matches regex", {"JsonPath": [{"Path": "$.body", "Matches": "^all o+k$"}]}, OK, []),
    ("jsonpath matches fails", {"JsonPath": [{"Path": "$.body", "Matches": "^fail"}]}, OK, ["JsonPath[0]"]),
    ("jsonpath over many matches", {"JsonPath": [{"Path": "$.items[*].id", "Equals": 2}]}, OK, []),
    ("jsonpath filter", {"JsonPath": [{"Path": "$.items[?(@.id == 1)].tags", "Contains": ["a"]}]}, OK, []),
    ("jsonpath finds nothing", {"JsonPath": [{"Path": "$.missing", "Equals": 1}]}, OK, ["JsonPath[0]"]),
    ("jsonpath exists", {"JsonPath": [{"Path": "$.body", "Exists": True}, {"Path": "$.nope", "Exists": False}]}, OK, []),
    ("jsonpath exists fails", {"JsonPath": [{"Path": "$.nope", "Exists": True}, {"Path": "$.body", "Exists": False}]}, OK, ["JsonPath[0]", "JsonPath[1]"]),
    ("jsonpath on text finds nothing", {"JsonPath": [{"Path": "$.a", "Equals": 1}]}, TEXT, ["JsonPath[0]"]),
    ("logs contain", {"Logs": {"Contains": ["processed \\d+ items"]}}, OK, []),
    ("logs do not contain", {"Logs": {"Contains": ["processed"]}}, ERR, ["Logs.Contains[0]"]),
    ("logs must not contain", {"Logs": {"NotContains": ["Traceback"]}}, OK, []),
    ("logs must not contain fails", {"Logs": {"NotContains": ["^Traceback"]}}, ERR, ["Logs.NotContains[0]"]),
    ("duration within", {"MaxDurationMs": 13}, OK, []),
    ("duration over", {"MaxDurationMs": 12}, OK, ["MaxDurationMs"]),
    ("memory within", {"MaxMemoryMb": 40}, OK, []),
    ("memory over", {"MaxMemoryMb": 39}, OK, ["MaxMemoryMb"]),
    ("memory unknown fails", {"MaxMemoryMb": 128}, Observed(True), ["MaxMemoryMb"]),
]


@pytest.mark.parametrize(("expect", "observed", "where"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_expectation(expect: dict[str, Any], observed: Observed, where: list[str]) -> None:
    verdict = evaluate(parse(expect), observed)
    assert [failure.where for failure in verdict.failures] == where
    assert verdict.passed is (not where)
    for failure in verdict.failures:
        assert failure.message


def test_a_failure_says_what_was_expected_and_what_came() -> None:
    (failure,) = evaluate(parse({"JsonPath": [{"Path": "$.statusCode", "Equals": 201}]}), OK).failures
    assert (failure.expected, failure.actual) == ("201", "200")
    assert failure.to_json() == {"Where": "JsonPath[0]", "Message": failure.message, "Expected": "201", "Actual": "200"}


BAD: list[tuple[Any, str]] = [
    ([], "Expect"),
    ({"Outcum": "Succeeded"}, "Expect"),
    ({"Outcome": "Passed"}, "Outcome"),
    ({"Outcome": "Succeeded", "ErrorType": "ValueError"}, "ErrorType"),
    ({"ErrorType": ""}, "ErrorType"),
    ({"Response": {"Equals": 1, "Contains": 2}}, "Response"),
    ({"Response": {"Like": 1}}, "Response"),
    ({"JsonPath": {"Path": "$.a"}}, "JsonPath"),
    ({"JsonPath": [{"Path": "a.b", "Equals": 1}]}, "JsonPath[0].Path"),
    ({"JsonPath": [{"Path": "$.[", "Equals": 1}]}, "JsonPath[0].Path"),
    ({"JsonPath": [{"Path": "$.a"}]}, "JsonPath[0]"),
    ({"JsonPath": [{"Path": "$.a", "Equals": 1, "Matches": "x"}]}, "JsonPath[0]"),
    ({"JsonPath": [{"Path": "$.a", "Matches": "("}]}, "JsonPath[0].Matches"),
    ({"JsonPath": [{"Path": "$.a", "Exists": "yes"}]}, "JsonPath[0].Exists"),
    ({"Logs": {"Contains": "processed"}}, "Logs.Contains"),
    ({"Logs": {"Contains": ["["]}}, "Logs.Contains[0]"),
    ({"Logs": {"Has": ["x"]}}, "Logs"),
    ({"MaxDurationMs": 0}, "MaxDurationMs"),
    ({"MaxDurationMs": "100"}, "MaxDurationMs"),
    ({"MaxMemoryMb": True}, "MaxMemoryMb"),
]


@pytest.mark.parametrize(("expect", "where"), BAD, ids=[repr(b[0])[:50] for b in BAD])
def test_malformed_expectations_are_refused_with_their_place(expect: Any, where: str) -> None:
    with pytest.raises(ExpectError) as raised:
        parse(expect)
    assert raised.value.where == where


def test_parse_normalises_error_type_to_a_failed_outcome() -> None:
    assert parse({"ErrorType": "ValueError"}) == {"Outcome": "Failed", "ErrorType": "ValueError"}
    assert parse(None) == {}


def test_contains_is_a_subset_test() -> None:
    assert contains({"a": {"b": [1, 2, 3]}, "c": 1}, {"a": {"b": [3, 1]}})
    assert not contains({"a": {"b": [1]}}, {"a": {"b": [2]}})
    assert not contains([1, 2], {"a": 1})
    assert contains(1.0, 1) and not contains(1, True)
