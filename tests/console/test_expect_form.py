"""The expectations editor's fields to and from an ``Expect``: pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict

from console import expect_form, expectations

FULL: dict[str, Any] = {
    "Outcome": "Failed", "ErrorType": "ValueError",
    "Response": {"Contains": {"statusCode": 200, "tags": ["a"]}},
    "JsonPath": [{"Path": "$.body", "Equals": "ok"}, {"Path": "$.n", "Contains": 1}, {"Path": "$.id", "Matches": "^[a-f0-9-]{36}$"},
                 {"Path": "$.gone", "Exists": False}],
    "Logs": {"Contains": ["^processing", "done"], "NotContains": ["Traceback"]},
    "MaxDurationMs": 1500, "MaxMemoryMb": 128.5,
}  # fmt: skip


def post(**fields: Any) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in fields.items():
        data.setlist(f"expect_{key}", value if isinstance(value, list) else [value])
    return data


@pytest.mark.parametrize("expect", [None, {}, {"Outcome": "Succeeded"}, {"Response": {"Equals": "plain text"}}, FULL])
def test_an_expect_shown_and_sent_back_unchanged_is_the_same_expect(expect: Any) -> None:
    fields = expect_form.from_expect(expect)
    data = post(
        on="1" if fields.on else "", outcome=fields.outcome, error_type=fields.error_type, response_mode=fields.response_mode,
        response=fields.response, path=[r.path for r in fields.rows], path_test=[r.test for r in fields.rows],
        path_value=[r.value for r in fields.rows], logs_contains=fields.logs_contains,
        logs_not_contains=fields.logs_not_contains, max_duration_ms=fields.max_duration_ms, max_memory_mb=fields.max_memory_mb,
    )  # fmt: skip
    back = expect_form.from_post(data)
    assert back.to_expect() == expect and not back.has_errors
    if expect is not None:
        assert expectations.parse(back.to_expect()) == expect


def test_empty_fields_and_no_tick_mean_no_expectations_and_a_tick_alone_means_any_outcome() -> None:
    assert expect_form.from_post(post(outcome="", path=["", ""], path_value=["", ""])).to_expect() is None
    assert expect_form.from_post(post(on="1")).to_expect() == {}
    assert expect_form.from_post(post(outcome="Succeeded")).to_expect() == {"Outcome": "Succeeded"}  # filling is enough


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ({"response_mode": "Equals", "response": '{"a": 1,}'}, "response", "line 1, column 9"),
        ({"response": "{}"}, "response", "equals or contains"),
        ({"response_mode": "Contains"}, "response", "Enter the expected response"),
        ({"max_duration_ms": "soon"}, "max_duration_ms", "number of milliseconds"),
        ({"max_memory_mb": "lots"}, "max_memory_mb", "number of MB"),
    ],
)
def test_what_is_not_even_json_or_a_number_is_refused_next_to_its_field(fields: dict[str, str], where: str, message: str) -> None:
    form = expect_form.from_post(post(**fields))
    form.to_expect()
    assert message in " ".join(form.errors[where])


@pytest.mark.parametrize(
    ("test", "value", "expected", "error"),
    [
        ("Equals", "200", 200, ""), ("Equals", '"ok"', "ok", ""), ("Equals", "ok", None, "must be JSON"),
        ("Contains", "ok", "ok", ""), ("Contains", '{"a": 1}', {"a": 1}, ""), ("Matches", " ^a ", " ^a ", ""),
        ("Exists", "", True, ""), ("Exists", "false", False, ""), ("Exists", "maybe", None, "true or false"),
    ],
)
def test_a_jsonpath_rows_value_is_read_by_its_test(test: str, value: str, expected: Any, error: str) -> None:
    form = expect_form.from_post(post(path=["$.x"], path_test=[test], path_value=[value]))
    expect = form.to_expect()
    if error:
        assert error in " ".join(form.paths[0].errors)
    else:
        assert expect == {"JsonPath": [{"Path": "$.x", test: expected}]} and not form.has_errors


def test_the_services_refusal_lands_on_the_field_or_row_it_names() -> None:
    form = expect_form.from_post(post(path=["$.a", "$.b"], path_value=["1", "2"]))
    form.add_error("JsonPath[1].Path", "bad path")
    form.add_error("Logs.NotContains[0]", "bad regex")
    form.add_error("Logs.Contains[2]", "bad too")
    form.add_error("ErrorType", "goes with Failed")
    form.add_error("Expect", "unknown")
    assert form.paths[1].errors == ["bad path"] and not form.paths[0].errors
    assert form.errors == {"logs_not_contains": ["bad regex"], "logs_contains": ["bad too"], "error_type": ["goes with Failed"],
                           "expect": ["unknown"]}  # fmt: skip


def test_approving_a_response_keeps_the_other_checks() -> None:
    base = {"Outcome": "Failed", "ErrorType": "X", "Response": {"Contains": 1}, "Logs": {"Contains": ["a"]}, "MaxMemoryMb": 64}
    assert expectations.approved(base, '{"ok": true}') == {
        "Outcome": "Succeeded", "Response": {"Equals": {"ok": True}}, "Logs": {"Contains": ["a"]}, "MaxMemoryMb": 64,
    }  # fmt: skip
    assert expectations.approved(None, "plain") == {"Outcome": "Succeeded", "Response": {"Equals": "plain"}}


def test_an_expected_response_nested_too_deep_is_a_field_error_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    fields = expect_form.from_post(post(on="1", response_mode="Equals", response=deep,
                                        path=["$.a"], path_test=["Equals"], path_value=[deep]))  # fmt: skip
    fields.to_expect()  # RecursionError before: a 500 on the Test tab's Save
    assert fields.has_errors
