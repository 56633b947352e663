"""Event filtering (pure): one table of (pattern, record, expected) and one of invalid patterns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from invocations.event_sources.filtering import INVALID_PATTERN, FilterError, filter_view, parse_criteria

RECORD: dict[str, Any] = {
    "messageId": "m-1",
    "eventSource": "aws:sqs",
    "attributes": {"ApproximateReceiveCount": "1", "SenderId": "AIDA1"},
    "body": {
        "city": "Seattle",
        "state": "WA",
        "Region": "us-west-2",
        "price": 250,
        "ratio": 0.5,
        "flag": True,
        "nothing": None,
        "empty": "",
        "tags": ["red", "green"],
        "nested": {"deep": {"level": 3, "name": "File.TXT"}},
        "items": [{"sku": "a1"}, {"sku": "b2"}],
    },
}

CASES: list[tuple[str, dict[str, Any], bool]] = [
    # equals
    ("exact string", {"body": {"city": ["Seattle"]}}, True),
    ("exact string, other", {"body": {"city": ["Portland"]}}, False),
    ("exact is case sensitive", {"body": {"city": ["seattle"]}}, False),
    ("OR inside a list", {"body": {"city": ["Portland", "Seattle"]}}, True),
    ("AND across keys", {"body": {"city": ["Seattle"], "state": ["OR"]}}, False),
    ("AND across keys, both", {"body": {"city": ["Seattle"], "state": ["WA"]}}, True),
    ("number equals", {"body": {"price": [250]}}, True),
    ("number equals as float", {"body": {"price": [250.0]}}, True),
    ("number vs string", {"body": {"price": ["250"]}}, False),
    ("boolean", {"body": {"flag": [True]}}, True),
    ("boolean is not 1", {"body": {"flag": [1]}}, False),
    ("metadata key", {"eventSource": ["aws:sqs"]}, True),
    ("metadata nested key", {"attributes": {"SenderId": ["AIDA1"]}}, True),
    # null / empty
    ("null matches null", {"body": {"nothing": [None]}}, True),
    ("null does not match missing", {"body": {"missing": [None]}}, False),
    ("empty string", {"body": {"empty": [""]}}, True),
    ("empty string is not null", {"body": {"nothing": [""]}}, False),
    # prefix / suffix / equals-ignore-case / wildcard
    ("prefix", {"body": {"Region": [{"prefix": "us-"}]}}, True),
    ("prefix miss", {"body": {"Region": [{"prefix": "eu-"}]}}, False),
    ("prefix on a number", {"body": {"price": [{"prefix": "2"}]}}, False),
    ("prefix ignoring case", {"body": {"Region": [{"prefix": {"equals-ignore-case": "US-"}}]}}, True),
    ("suffix", {"body": {"nested": {"deep": {"name": [{"suffix": ".TXT"}]}}}}, True),
    ("suffix is case sensitive", {"body": {"nested": {"deep": {"name": [{"suffix": ".txt"}]}}}}, False),
    ("suffix ignoring case", {"body": {"nested": {"deep": {"name": [{"suffix": {"equals-ignore-case": ".txt"}}]}}}}, True),
    ("equals-ignore-case", {"body": {"city": [{"equals-ignore-case": "SEATTLE"}]}}, True),
    ("equals-ignore-case miss", {"body": {"city": [{"equals-ignore-case": "SEATTLEX"}]}}, False),
    ("wildcard", {"body": {"Region": [{"wildcard": "us-*-2"}]}}, True),
    ("wildcard miss", {"body": {"Region": [{"wildcard": "eu-*"}]}}, False),
    # anything-but
    ("anything-but a value", {"body": {"state": [{"anything-but": "OR"}]}}, True),
    ("anything-but the value", {"body": {"state": [{"anything-but": "WA"}]}}, False),
    ("anything-but a list", {"body": {"state": [{"anything-but": ["OR", "WA"]}]}}, False),
    ("anything-but numbers", {"body": {"price": [{"anything-but": [100, 200]}]}}, True),
    ("anything-but a prefix", {"body": {"Region": [{"anything-but": {"prefix": "us-"}}]}}, False),
    ("anything-but a suffix", {"body": {"Region": [{"anything-but": {"suffix": "-1"}}]}}, True),
    ("anything-but ignoring case", {"body": {"city": [{"anything-but": {"equals-ignore-case": ["seattle"]}}]}}, False),
    ("anything-but needs the key", {"body": {"missing": [{"anything-but": "x"}]}}, False),
    # numeric
    ("numeric equals", {"body": {"price": [{"numeric": ["=", 250]}]}}, True),
    ("numeric greater", {"body": {"price": [{"numeric": [">", 250]}]}}, False),
    ("numeric greater or equal", {"body": {"price": [{"numeric": [">=", 250]}]}}, True),
    ("numeric range", {"body": {"price": [{"numeric": [">", 100, "<=", 250]}]}}, True),
    ("numeric range excluding", {"body": {"price": [{"numeric": [">", 100, "<", 250]}]}}, False),
    ("numeric fraction", {"body": {"ratio": [{"numeric": [">", 0, "<", 1]}]}}, True),
    ("numeric on a string", {"body": {"city": [{"numeric": [">", 0]}]}}, False),
    # exists
    ("exists true", {"body": {"city": [{"exists": True}]}}, True),
    ("exists true, missing", {"body": {"missing": [{"exists": True}]}}, False),
    ("exists false, missing", {"body": {"missing": [{"exists": False}]}}, True),
    ("exists false, present", {"body": {"city": [{"exists": False}]}}, False),
    ("exists false, missing parent", {"body": {"nope": {"child": [{"exists": False}]}}}, False),
    ("exists on an object is not a leaf", {"body": {"nested": [{"exists": True}]}}, False),
    # nested keys and arrays
    ("nested", {"body": {"nested": {"deep": {"level": [3]}}}}, True),
    ("nested miss", {"body": {"nested": {"deep": {"level": [4]}}}}, False),
    ("array value: any element", {"body": {"tags": ["green"]}}, True),
    ("array value: none", {"body": {"tags": ["blue"]}}, False),
    ("array of objects", {"body": {"items": {"sku": ["b2"]}}}, True),
    ("array of objects miss", {"body": {"items": {"sku": ["c3"]}}}, False),
    ("object pattern on a string", {"body": {"city": {"name": ["x"]}}}, False),
    # $or
    ("$or", {"body": {"$or": [{"city": ["Portland"]}, {"price": [{"numeric": [">", 200]}]}]}}, True),
    ("$or none", {"body": {"$or": [{"city": ["Portland"]}, {"price": [{"numeric": [">", 300]}]}]}}, False),
]


@pytest.mark.parametrize(("name", "pattern", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_pattern_matches_as_eventbridge_does(name: str, pattern: dict[str, Any], expected: bool) -> None:
    criteria = parse_criteria({"Filters": [{"Pattern": json.dumps(pattern)}]})
    assert criteria.matches(RECORD) is expected


def test_filters_are_ored_and_none_means_everything() -> None:
    assert parse_criteria(None).matches(RECORD)
    assert parse_criteria({}).matches(RECORD)
    assert parse_criteria({"Filters": []}).matches(RECORD)
    both = parse_criteria(
        {"Filters": [{"Pattern": '{"body": {"city": ["Portland"]}}'}, {"Pattern": '{"body": {"state": ["WA"]}}'}]}
    )
    assert both.matches(RECORD)
    neither = parse_criteria(
        {"Filters": [{"Pattern": '{"body": {"city": ["Portland"]}}'}, {"Pattern": '{"body": {"state": ["OR"]}}'}]}
    )
    assert not neither.matches(RECORD)


def sqs_record(body: str) -> dict[str, Any]:
    return {"messageId": "1", "body": body, "eventSource": "aws:sqs"}


@pytest.mark.parametrize(
    ("body", "pattern", "expected"),
    [
        ('{"a": 1}', {"body": {"a": [1]}}, True),
        ('{"a": 1}', {"body": {"a": [2]}}, False),
        ("plain text", {"body": {"a": [1]}}, False),  # object pattern vs plain body: dropped, as AWS
        ("plain text", {"body": ["plain text"]}, True),
        ("plain text", {"body": [{"prefix": "plain"}]}, True),
        ("[1, 2]", {"body": {"a": [1]}}, False),  # JSON, but not an object: stays a string
        ('"quoted"', {"body": ['"quoted"']}, True),
    ],
)
def test_the_sqs_body_is_parsed_only_when_it_is_a_json_object(body: str, pattern: dict[str, Any], expected: bool) -> None:
    criteria = parse_criteria({"Filters": [{"Pattern": json.dumps(pattern)}]})
    assert criteria.matches(filter_view(sqs_record(body), "body")) is expected


INVALID: list[Any] = [
    {"Filters": [{"Pattern": "not json"}]},
    {"Filters": [{"Pattern": "[]"}]},
    {"Filters": [{"Pattern": "{}"}]},
    {"Filters": [{"Pattern": '{"a": "scalar"}'}]},
    {"Filters": [{"Pattern": '{"a": []}'}]},
    {"Filters": [{"Pattern": '{"a": [{"prefix": 1}]}'}]},
    {"Filters": [{"Pattern": '{"a": [{"numeric": [">", "1"]}]}'}]},
    {"Filters": [{"Pattern": '{"a": [{"numeric": ["<", 1, ">", 0]}]}'}]},
    {"Filters": [{"Pattern": '{"a": [{"numeric": ["!", 1]}]}'}]},
    {"Filters": [{"Pattern": '{"a": [{"exists": "yes"}]}'}]},
    {"Filters": [{"Pattern": '{"a": [{"unknown-op": 1}]}'}]},
    {"Filters": [{"Pattern": '{"a": [{"prefix": "x", "suffix": "y"}]}'}]},
    {"Filters": [{"Pattern": '{"a": [{"anything-but": []}]}'}]},
    {"Filters": [{"Pattern": '{"$or": [{"a": [1]}]}'}]},
    {"Filters": [{"Pattern": '{"a": [1]}'}] * 11},
    {"Filters": [{"Pattern": '{"a": ["' + "x" * 4100 + '"]}'}]},
    {"Filters": [{"NotPattern": "{}"}]},
    {"Other": []},
    ["not", "an", "object"],
]


@pytest.mark.parametrize("criteria", INVALID)
def test_an_invalid_definition_is_refused_with_awss_message(criteria: Any) -> None:
    with pytest.raises(FilterError, match=INVALID_PATTERN):
        parse_criteria(criteria)
