"""Never a 5xx for a bad request (issue 13): every API route answers malformed input with a 4xx in
AWS's rest-json error shape.

Property-based. For **every operation of botocore's own Lambda model** (implemented here or not)
hypothesis draws the operation's parameters and lays them out as its HTTP binding says — method,
``requestUri`` with its labels filled, query members, header members, payload or JSON body — in
three ways: *calm* (names that exist, values of the members' types), *hostile* (anything anywhere),
or *from an example* (botocore's own examples-1.json for the operation, or one of ours, moved into
this world, as it is or with one or two members dropped or made bad). Bad values: wrong types,
nulls, 10**30 and 10**400, negative numbers, NaN and Infinity tokens, unpaired surrogates, NUL,
strings up to 70,000 characters, nesting from 20 to 100,000 levels; labels: unicode, ``..``, percent
signs, invalid UTF-8; and some bodies are no JSON object at all (``[`` × 100,000, invalid UTF-8,
numbers past any float), some query strings carry 10,001 fields. The workbench API's routes
(``/_workbench/api/…``) get the same, calm or hostile. Every request is SigV4-signed with a valid
key, so it reaches the operation. The property: the status is below 500, and a 4xx carries
``x-amzn-ErrorType`` and a JSON object body with ``message`` or ``Message`` (``api/errors.py``).

Bounded and reproducible: ``derandomize=True`` (the same examples on every run), no deadline, no
example database; ``EXAMPLES`` requests per routed operation and per workbench route, fewer for the
model's operations this server does not route; each example runs in a savepoint rolled back
afterwards, so a failure replays the same way. Synchronous invokes run on a stand-in pool (an
echo): what is under test is the API's parsing, not the sandbox. ``FUZZ_EXAMPLES=600`` explores
further (about 4 minutes; the cases that found bugs so far are kept below as plain tests).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, Shape
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from console.models import TestEvent
from invocations.access import Caller
from invocations.access_keys import NewAccessKey
from invocations.engine.types import InvokeRequest, InvokeResult
from invocations.models import Alias, EventSourceMapping, Function, Invocation, WorkerHeartbeat
from invocations.services import event_source_mappings, teams, triggers
from tests.conftest import ECHO_PY, zip_bytes
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

# Per operation this server routes, and per workbench route; FUZZ_EXAMPLES=2000 explores further.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
UNROUTED_EXAMPLES = 10  # per model operation it does not implement: each is a 404 UnknownOperationException
FUZZ = hypothesis_settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the fixtures' rows are read-only context; each example rolls back
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

MODEL = botocore.session.get_session().get_service_model("lambda")
HOST = "lambda.test"
FN = "fuzz"
ACCOUNT = "111111111111"
FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FN}"
REQUEST_ID = "4b2f8a70-0000-4000-8000-00000000f022"
MAPPING_UUID = "4b2f8a70-0000-4000-8000-00000000e5a1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# --- values -------------------------------------------------------------------------------------------
# Strategies are built once (module constants, or cached per shape): building them is most of the
# cost of drawing.

HUGE_NUMBERS = [10**30, -(10**30), 2**63, 2**64, -(2**63) - 1, 10**400, -1, 0, 1.5, 1e308]
ODD_STRINGS = [
    "", " ", ".", "..", "../..", "%", "%25", "%2F", "%00", "\x00", "a\x00b", "null", "NaN", "Infinity", "-0",
    "1e999", "99999999999999999999", "$LATEST", "$", ":", "::::", "arn:", "arn:aws:lambda:::function:",
    FN_ARN + ":1:2:3", "\u202e", "💥", "ı", "ß" * 40, "\ud800", "a/b", "<script>", "'; DROP TABLE x; --",
    "\t\n", "*", "{}", "[]",
]


@dataclass(frozen=True)
class Deep:
    """A JSON value nested ``depth`` levels, written out flat (``json.dumps`` would recurse)."""

    depth: int
    kind: str = "list"

    def text(self) -> str:
        opening, closing = ("[", "]") if self.kind == "list" else ('{"a":', "}")
        return opening * self.depth + "1" + closing * self.depth


def dumps(value: Any) -> str:
    """``json.dumps`` (NaN, Infinity, unpaired surrogates as escapes, huge integers), with ``Deep``."""
    if isinstance(value, Deep):
        return value.text()
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(key))}:{dumps(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return json.dumps(value)


# Long strings, cheap to draw (a character repeated), from just past AWS's limits to 70,000.
LONG_STRINGS = st.builds(lambda char, size: char * size, st.sampled_from(["a", "é", "💥", "%", "."]),
                         st.sampled_from([65, 129, 257, 1025, 4097, 70000]))  # fmt: skip
# Nesting around the parser's limit (≈ 940 levels in a request) and far past it.
DEEP = st.builds(Deep, st.sampled_from([20, 200, 600, 900, 1200, 5000, 100_000]), st.sampled_from(["list", "dict"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.sampled_from(HUGE_NUMBERS), st.sampled_from(ODD_STRINGS))  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS, lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)  # fmt: skip
# What a careless or hostile client puts where a member belongs (deep nesting comes separately: it
# stops a request at the parser, so drawn everywhere it would hide what lies behind).
BAD_VALUES = st.one_of(
    st.sampled_from(HUGE_NUMBERS + [float("nan"), float("inf"), -float("inf")]), st.sampled_from(ODD_STRINGS),
    SCALARS, LONG_STRINGS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
)  # fmt: skip


def _zip() -> str:
    return base64.b64encode(zip_bytes({"app.py": ECHO_PY})).decode()


# Realistic values by member name, so that drawn requests get past "not found" and into the checks.
KNOWN: dict[str, list[Any]] = {
    "FunctionName": [FN, FN_ARN, f"{FN}:1", f"{FN}:live", f"{ACCOUNT}:function:{FN}", "fuzz-new"],
    "Qualifier": ["$LATEST", "1", "live", "2"],
    "FunctionVersion": ["$LATEST", "1", "ALL"],
    "Name": ["live", "beta"],
    "Role": [ROLE],
    "Runtime": ["python3.11", "nodejs20.x"],
    "Handler": ["app.handler"],
    "Code": [{"ZipFile": _zip()}],
    "ZipFile": [_zip()],
    "StatementId": ["sid-1"],
    "Action": ["lambda:InvokeFunction", "lambda:*"],
    "Principal": ["s3.amazonaws.com", ACCOUNT, "*"],
    "EventSourceArn": ["arn:aws:sqs:us-east-1:111111111111:queue", "arn:aws:sqs:us-east-1:111111111111:other",
                       "arn:aws:kinesis:us-east-1:111111111111:stream/s"],
    "Destination": ["arn:aws:sqs:us-east-1:111111111111:dlq", FN_ARN],
    "AuthType": ["NONE", "AWS_IAM"],
    "RevisionId": ["00000000-0000-0000-0000-000000000000"],
    "Resource": [FN_ARN],
    "UUID": [MAPPING_UUID, "00000000-0000-0000-0000-000000000000"],
    "StartingPosition": ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"],
    "StartingPositionTimestamp": [0, 1e12, 10**30, float("nan")],
    "AdditionalVersionWeights": [{"1": 0.5}, {"1": 10**400}, {"1": float("nan")}, {"1": "0.5"}],
    "Pattern": ['{"body": [{"prefix": "a"}]}', '{"a":' * 800 + "[1]" + "}" * 800, "[" * 4000],
    "Payload": ['{"a": 1}'],
}
# Present in every calm request that has them (the model makes them optional; the checks behind need them).
CALM_ALWAYS = {"EventSourceArn", "FunctionName"}
_cache: dict[tuple[Any, ...], st.SearchStrategy[Any]] = {}


def cached(key: tuple[Any, ...], build: Callable[[], st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    if key not in _cache:
        _cache[key] = build()
    return _cache[key]


def member_values(name: str, shape: Shape, depth: int, hostile: bool) -> st.SearchStrategy[Any]:
    """A member's value: realistic (by its name) or valid for its shape; when hostile, also bad."""

    def build() -> st.SearchStrategy[Any]:
        choices = [valid_values(shape, depth, hostile)] + ([BAD_VALUES] if hostile else [])
        if name in KNOWN:
            choices.insert(0, st.sampled_from(KNOWN[name]))
        return st.one_of(*choices)

    return cached(("member", name, shape.name, depth, hostile), build)


def valid_values(shape: Shape, depth: int = 0, hostile: bool = False) -> st.SearchStrategy[Any]:
    """A value of the shape's type within its model constraints (patterns aside)."""
    return cached(("shape", shape.name, depth, hostile), lambda: _valid_values(shape, depth, hostile))


def _valid_values(shape: Shape, depth: int, hostile: bool) -> st.SearchStrategy[Any]:
    meta, kind = shape.metadata, shape.type_name
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum)
        return st.text(min_size=min(meta.get("min", 0), 8), max_size=min(meta.get("max", 40), 40))
    if kind in ("integer", "long"):
        return st.integers(meta.get("min", -(2**31)), meta.get("max", 2**31 - 1))
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(0, 2**32)
    if kind == "blob":
        return st.binary(max_size=32).map(lambda data: base64.b64encode(data).decode())
    if depth > 3:
        return st.none()
    if kind == "list":
        return st.lists(member_values("", shape.member, depth + 1, hostile), max_size=3)
    if kind == "map":
        return st.dictionaries(valid_values(shape.key, depth + 1), member_values("", shape.value, depth + 1, hostile),
                               max_size=3)  # fmt: skip
    if kind == "structure":
        members = {name: member_values(name, member, depth + 1, hostile) for name, member in shape.members.items()
                   if member.serialization.get("location") is None}  # fmt: skip
        # Calm: the required members always there (so the request gets past them); hostile: any.
        always = set(shape.required_members) | CALM_ALWAYS
        required = {} if hostile else {name: members.pop(name) for name in always if name in members}
        return st.fixed_dictionaries(required, optional=members)
    raise AssertionError(f"no strategy for {kind}")


# Bodies that are no JSON object, or that a JSON parser cannot hold.
RAW_BODIES: list[bytes] = [
    b"[" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"{" * 3000,
    b"\xff\xfe\xfd",
    b"not json",
    b"null",
    b"[]",
    b'"a string"',
    b"1e999999",
    b"9" * 5000,
    b"-",
    b'{"FunctionName": 1e400, "MemorySize": 1e400, "Timeout": -1e400}',
    b'{"a": NaN, "b": Infinity}',
    b'{"a": "\\ud800"}',
    b'{"a": 1, "a": 2}',
    b"\x00",
    b" " * 1000,
]
RAW = st.sampled_from(RAW_BODIES)
JSON_BODIES = JSON_VALUES.map(lambda document: dumps(document).encode())
# An Invoke payload: any JSON (around the nesting limit too), raw bytes, a hostile body.
PAYLOADS = st.one_of(st.just(b""), JSON_BODIES, DEEP.map(lambda document: document.text().encode()), RAW,
                     st.binary(max_size=64))  # fmt: skip


def labels(name: str, hostile: bool) -> st.SearchStrategy[str]:
    """A URI label: what exists; when hostile, also an odd string (unicode, dots, percent signs, long)."""
    known = st.sampled_from([str(value) for value in KNOWN.get(name, ["x"])])
    if not hostile:
        return known
    return cached(("label", name), lambda: st.one_of(
        known, st.sampled_from([text for text in ODD_STRINGS if text]), st.text(min_size=1, max_size=40), LONG_STRINGS,
    ))  # fmt: skip


QUERY_NUMBERS = ["", "0", "1", "-1", "50", "51", "201", "10001", "99999999999999999999", "1e5", "NaN", "inf", "1.5",
                 " 1", "٣", "0x10", "9" * 5000]  # fmt: skip


def query_values(name: str, shape: Shape, hostile: bool) -> st.SearchStrategy[Any]:
    """A query member's text: valid for its shape; when hostile, a number out of range or an odd string."""

    def build() -> st.SearchStrategy[Any]:
        if shape.type_name == "list":
            return st.lists(query_values(name, shape.member, hostile), max_size=3)
        valid: st.SearchStrategy[Any]
        if shape.type_name == "boolean":
            valid = st.sampled_from(["true", "false"])
        elif shape.type_name == "timestamp":
            valid = st.sampled_from(["2026-01-01T00:00:00Z", "1700000000"])
        elif shape.type_name in ("integer", "long"):
            valid = st.integers(shape.metadata.get("min", 0), shape.metadata.get("max", 100)).map(str)
        else:
            valid = valid_values(shape)
        choices = [valid]
        if name in KNOWN:
            choices.append(st.sampled_from([str(v) for v in KNOWN[name]]))
        if hostile:
            choices += [st.sampled_from(QUERY_NUMBERS), st.sampled_from(ODD_STRINGS), LONG_STRINGS]
        return st.one_of(*choices)

    return cached(("query", name, shape.name, hostile), build)


PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def header_values(name: str, shape: Shape, hostile: bool) -> st.SearchStrategy[str]:
    """What fits in an HTTP header: printable ASCII (valid enum values, base64 of odd JSON…)."""

    def build() -> st.SearchStrategy[str]:
        choices: list[st.SearchStrategy[str]] = [st.sampled_from(shape.enum)] if shape.enum else [PRINTABLE]
        if name == "ClientContext":
            choices.append(JSON_VALUES.map(lambda value: _b64(dumps({"custom": value}).encode())))
        if hostile:
            choices.append(PRINTABLE)
            if name == "ClientContext":
                choices += [JSON_VALUES.map(lambda value: _b64(dumps(value).encode())),
                            st.sampled_from([_b64(b"[" * 2600), _b64(b"[" * 900 + b"]" * 900), _b64(b"\xff"), "!!",
                                             "A" * 4000])]  # fmt: skip
        return st.one_of(*choices)

    return cached(("header", name, shape.name, hostile), build)


# --- requests -----------------------------------------------------------------------------------------


def _bytes(text: str) -> bytes:
    # A lone surrogate goes out as the bytes it would be (ED A0 80): invalid UTF-8, as a client may send.
    return text.encode("utf-8", "surrogatepass")


def encode_label(text: str) -> str:
    """A URI label as botocore sends it: percent-encoded, only -_.~ left alone."""
    return quote(_bytes(text), safe="-_.~")


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return urlencode([(_bytes(key), _bytes(value)) for key, value in pairs], quote_via=quote, safe="-_.~")


@dataclass
class Drawn:
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __str__(self) -> str:
        query = encode_query(self.query)[:300]
        return f"{self.method} {self.path[:300]}?{query} {self.headers} body={self.body[:300]!r}…({len(self.body)} bytes)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))  # what hypothesis prints for a failing example: short, whatever the sizes


def parameter_values(operation: OperationModel, name: str, hostile: bool) -> st.SearchStrategy[Any]:
    """One parameter, drawn as its location takes it."""
    member = operation.input_shape.members[name]
    where = member.serialization.get("location")
    if where == "uri":
        return labels(name, hostile)
    if where == "querystring":
        return query_values(name, member, hostile)
    if where == "header":
        return header_values(name, member, hostile)
    if name == operation.input_shape.serialization.get("payload"):
        return PAYLOADS if member.type_name == "blob" else valid_values(member, 1, hostile)
    return member_values(name, member, 1, hostile)


def input_values(operation: OperationModel, hostile: bool) -> st.SearchStrategy[dict[str, Any]]:
    """An operation's parameters as boto3 takes them, every location at once: labels, query
    members, headers, the payload or the body members."""

    def build() -> st.SearchStrategy[dict[str, Any]]:
        shape = operation.input_shape
        if shape is None:
            return st.just({})
        strategies = {name: parameter_values(operation, name, hostile) for name in shape.members}
        always = {name for name, member in shape.members.items() if member.serialization.get("location") == "uri"}
        if not hostile:
            always |= (set(shape.required_members) | CALM_ALWAYS) & set(strategies)
        return st.fixed_dictionaries({name: strategies.pop(name) for name in always}, optional=strategies)

    return cached(("input", operation.name, hostile), build)


# Valid parameters to start from: botocore's own examples for the operation (examples-1.json, moved
# into this world: our function, account and region), and a few of ours for the deeper checks.
_BOTOCORE_EXAMPLES = botocore.session.get_session().get_component("data_loader").load_service_model("lambda", "examples-1")
_IN_THIS_WORLD = [("my-function", FN), ("myFunction", FN), ("123456789012", ACCOUNT), ("us-west-2", "us-east-1"),
                  ("us-east-2", "us-east-1"), ("14e0db71-xmpl-4eb5-b481-8945cf9d10c2", MAPPING_UUID),
                  ("1234xCy789012", MAPPING_UUID)] + [(f'"{name}"', '"live"') for name in ("BLUE", "GREEN", "PROD", "LIVE")]
OUR_TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "CreateFunction": [{"FunctionName": "fuzz-new", "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
                        "Code": {"ZipFile": _zip()}, "Timeout": 3, "MemorySize": 128, "Environment": {"Variables": {"A": "1"}},
                        "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512}}],
    "CreateEventSourceMapping": [
        {"EventSourceArn": "arn:aws:kinesis:us-east-1:111111111111:stream/s", "FunctionName": FN,
         "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1767225600, "BatchSize": 10},
        {"EventSourceArn": "arn:aws:sqs:us-east-1:111111111111:other", "FunctionName": FN, "BatchSize": 10,
         "MaximumBatchingWindowInSeconds": 1, "FilterCriteria": {"Filters": [{"Pattern": '{"body": [{"prefix": "a"}]}'}]},
         "ScalingConfig": {"MaximumConcurrency": 2}},
    ],
    "CreateAlias": [{"FunctionName": FN, "Name": "beta", "FunctionVersion": "1",
                     "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}}],
    "CreateFunctionUrlConfig": [{"FunctionName": FN, "AuthType": "NONE", "InvokeMode": "BUFFERED",
                                 "Cors": {"AllowOrigins": ["*"], "MaxAge": 60, "AllowMethods": ["GET"]}}],
    "UpdateFunctionConfiguration": [{"FunctionName": FN, "Timeout": 10, "MemorySize": 256,
                                     "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
                                     "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:111111111111:dlq"}}],
    "UpdateFunctionCode": [{"FunctionName": FN, "ZipFile": _zip(), "Publish": True}],
    "Invoke": [{"FunctionName": FN, "Payload": b'{"a": 1}', "InvocationType": "RequestResponse", "LogType": "Tail",
                "ClientContext": _b64(b'{"custom": {"k": "v"}}')}],
}  # fmt: skip


@functools.cache
def templates(operation_name: str) -> list[dict[str, Any]]:
    examples = [example["input"] for example in _BOTOCORE_EXAMPLES["examples"].get(operation_name, [])]
    text = json.dumps(examples)
    for theirs, ours in _IN_THIS_WORLD:
        text = text.replace(theirs, ours)
    found: list[dict[str, Any]] = json.loads(text) + OUR_TEMPLATES.get(operation_name, [])
    return found


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The key paths into a parameters dict (nested objects included)."""
    if not isinstance(value, dict) or len(prefix) > 3:
        return []
    found = []
    for key, item in value.items():
        found.append((*prefix, key))
        found += _paths(item, (*prefix, key))
    return found


@st.composite
def mutations_of(draw: Callable[..., Any], template: dict[str, Any], operation: OperationModel) -> dict[str, Any]:
    """The template as it is, or with one or two members dropped, made bad, or redrawn."""
    params = copy.deepcopy(template)
    members = operation.input_shape.members if operation.input_shape is not None else {}
    for _ in range(draw(st.integers(0, 2))):
        paths = _paths(params)
        if not paths:
            break
        *parents, key = draw(st.sampled_from(paths))
        holder = params
        for parent in parents:
            holder = holder[parent]
        action = draw(st.sampled_from(["bad", "bad", "bad", "drop", "redraw", "deep"]))
        if action == "drop" and (parents or members.get(key) is None or members[key].serialization.get("location") != "uri"):
            del holder[key]
        elif action == "redraw" and not parents and key in members:
            holder[key] = draw(parameter_values(operation, key, True))
        elif action == "deep":
            holder[key] = draw(DEEP)
        else:
            holder[key] = draw(BAD_VALUES)
    return params


def _text(value: Any) -> str:
    """A parameter as a label or query value: booleans as botocore writes them, anything else as str."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Deep):
        return value.text()
    return value if isinstance(value, str) else dumps(value)


def _header(value: Any) -> str:
    """What an HTTP header can carry: printable ASCII (anything else escaped, controls dropped)."""
    text = _text(value).encode("ascii", "backslashreplace").decode()
    return "".join(char for char in text if " " <= char <= "~")


def to_request(operation: OperationModel, params: dict[str, Any]) -> Drawn:
    """Lay the parameters out as the operation's HTTP binding says (what botocore's serializer does,
    without its type checks)."""
    http, shape = operation.http, operation.input_shape
    uri, _, fixed_query = http["requestUri"].partition("?")
    members = shape.members if shape is not None else {}
    payload = shape.serialization.get("payload") if shape is not None else None

    def label(match: re.Match[str]) -> str:
        name = match.group(1).rstrip("+")
        return encode_label(_text(params.get(name, "")))

    drawn = Drawn(method=http["method"], path=re.sub(r"\{([^}]+)\}", label, uri))
    drawn.query = [(key, value) for key, _, value in (pair.partition("=") for pair in fixed_query.split("&") if pair)]
    body: dict[str, Any] = {}
    for name, value in params.items():
        member = members.get(name)
        where = member.serialization.get("location") if member is not None else None
        wire = member.serialization.get("name", name) if member is not None else name
        if where == "querystring":
            drawn.query += [(wire, _text(item)) for item in (value if isinstance(value, list) else [value])]
        elif where == "header":
            drawn.headers[wire] = _header(value)
        elif where == "uri":
            continue
        elif name == payload:
            drawn.body = value if isinstance(value, bytes) else _bytes(value if isinstance(value, str) else dumps(value))
        else:
            body[name] = value
    if payload is None and (body or http["method"] in ("POST", "PUT")):
        drawn.body = dumps(body).encode()
        drawn.headers["Content-Type"] = "application/json"
    return drawn


@st.composite
def operation_requests(draw: Callable[..., Any], operation: OperationModel) -> Drawn:
    """A request for ``operation``: from its input shape, calm (what exists, values of the right
    type) or hostile (anything, anywhere); or from one of its valid examples, mutated."""
    found = templates(operation.name)
    mode = draw(st.sampled_from(["calm", "hostile", "example"] if found else ["calm", "hostile"]))
    if mode == "example":
        params = draw(st.sampled_from(found).flatmap(lambda template: mutations_of(template, operation)))
    else:
        params = draw(input_values(operation, mode == "hostile"))
    drawn = to_request(operation, params)
    if mode == "hostile" and operation.input_shape is not None and "payload" not in operation.input_shape.serialization:
        if draw(st.integers(0, 4)) == 0:
            drawn.body = draw(RAW)
            drawn.headers["Content-Type"] = "application/json"
        if draw(st.integers(0, 19)) == 0:  # a query string no form should have to read
            drawn.query += [(f"k{i}", "v") for i in range(draw(st.sampled_from([1000, 10_001])))]
    return drawn


# --- the workbench API ------------------------------------------------------------------------------


def either(calm: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] = BAD_VALUES) -> dict[bool, st.SearchStrategy[Any]]:
    """A value's strategy by mode: ``{False: calm, True: calm or odd}``."""
    return {False: calm, True: st.one_of(calm, odd)}


def body_of(members: dict[str, dict[bool, st.SearchStrategy[Any]]],
            always: set[str] = set()) -> dict[bool, st.SearchStrategy[Any]]:  # fmt: skip
    """A JSON object's strategy by mode; in a calm one the ``always`` members are there."""
    calm = st.fixed_dictionaries({name: members[name][False] for name in always},
                                 optional={name: value[False] for name, value in members.items() if name not in always})
    hostile = st.fixed_dictionaries({}, optional={name: value[True] for name, value in members.items()})
    return {False: calm, True: hostile}


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # with {function}, {request_id}, {name} labels
    query: dict[str, dict[bool, st.SearchStrategy[Any]]] = field(default_factory=dict)
    body: dict[bool, st.SearchStrategy[Any]] | None = None


NUMBERS = either(st.integers(1, 200).map(str), st.one_of(st.sampled_from(QUERY_NUMBERS), st.integers().map(str)))
CURSORS = either(
    st.sampled_from(["0", "1.000000:1", "1767225600.000000:1"]),
    st.one_of(
        st.sampled_from(["99999999999999999999.0:1", "99999999999999999999.000000:1", "99999999999999.000000:1",
                         "1.000000:99999999999999999999", "-1.000000:1", "1e3:1", "nan:1", "1.000000:", ":1", "0:0",
                         "1.000000:" + "9" * 5000, "9" * 5000 + ".000000:1"]),
        st.builds(lambda stamp, micros, pk: f"{stamp}.{micros:06d}:{pk}", st.integers(0, 10**25),
                  st.integers(0, 999999), st.integers(0, 10**25)),
    ),
)  # fmt: skip
ANY_TEXT = st.one_of(st.text(max_size=20), st.sampled_from(ODD_STRINGS), LONG_STRINGS)
TRIGGER_BODY = body_of({
    "Name": either(st.sampled_from(["nightly", "hook", "t.1"])),
    "Kind": either(st.sampled_from(["schedule", "webhook", "sns"])),
    "Qualifier": either(st.sampled_from(["", "1", "live", "$LATEST", "9"])),
    "Enabled": either(st.booleans()),
    "ScheduleExpression": either(st.sampled_from(["rate(1 minute)", "cron(0 12 * * ? *)"]), st.sampled_from([
        "rate(0 minutes)", "rate(99999999999999999999 days)", "cron(99999999999999999999 * * * ? *)", "rate()",
    ])),
    "Payload": either(JSON_VALUES.map(dumps), st.one_of(DEEP.map(Deep.text), DEEP, BAD_VALUES)),
    "TopicArn": either(st.sampled_from(["arn:aws:sns:us-east-1:111111111111:topic"])),
    # "Subscribe": true would call SNS itself: not a parsing question, and no network here.
}, always={"Name", "Kind"})  # fmt: skip
EVENT_ITEM = body_of({
    "Name": either(st.sampled_from(["one", "two"])),
    "Body": either(JSON_VALUES, st.one_of(DEEP, BAD_VALUES)),
    "Scope": either(st.sampled_from(["private", "shared"])),
}, always={"Name", "Body"})  # fmt: skip
EVENTS_BODY = body_of({
    "Events": {hostile: st.lists(EVENT_ITEM[hostile], max_size=3) | (BAD_VALUES if hostile else st.nothing())
               for hostile in (False, True)},
    "Overwrite": either(st.booleans()),
})  # fmt: skip
HISTORY_QUERY = {
    "status": either(st.sampled_from(["succeeded", "failed", "queued"]), ANY_TEXT),
    "source": either(st.sampled_from(["api", "cli", "console"]), ANY_TEXT),
    "qualifier": either(st.sampled_from(["1", "live"]), ANY_TEXT),
    "limit": NUMBERS,
    "Marker": NUMBERS,
    "since": CURSORS,
}
PAGE_QUERY = {"limit": NUMBERS, "Marker": NUMBERS}
EXPECT = either(
    st.fixed_dictionaries({}, optional={
        "Outcome": st.sampled_from(["Succeeded", "Failed"]),
        "Response": st.sampled_from([{"Contains": {"statusCode": 200}}, {"Equals": "ok"}]),
        "JsonPath": st.just([{"Path": "$.body", "Matches": "ok"}]),
        "Logs": st.just({"Contains": ["x"], "NotContains": ["Traceback"]}),
        "MaxDurationMs": st.integers(1, 10**6), "MaxMemoryMb": st.integers(1, 10240),
    }),
    st.one_of(BAD_VALUES, DEEP, st.fixed_dictionaries({
        "JsonPath": st.one_of(st.just([{"Path": "$[", "Matches": "("}]), BAD_VALUES),
        "MaxDurationMs": st.one_of(st.sampled_from([10**400, -1, "1"]), BAD_VALUES),
    })),
)  # fmt: skip
EVENT_PUT_BODY = body_of({
    "Body": either(JSON_VALUES, st.one_of(DEEP, BAD_VALUES)),
    "Scope": either(st.sampled_from(["private", "shared"])),
    "Expect": EXPECT,
})  # fmt: skip
SUITE_BODY = body_of({
    "Qualifier": either(st.sampled_from(["$LATEST", "1", "live"])),
    "Events": either(st.lists(st.sampled_from(["one", "two"]), max_size=2)),
})  # fmt: skip
SUITE_IDS = either(st.sampled_from(["1", "2"]), st.sampled_from(["0", "9" * 30, "-1", "x", "1.5", ""]))

WORKBENCH_ROUTES = [
    Route("GET", "/_workbench/api/functions/{function}/invocations", HISTORY_QUERY),
    Route("GET", "/_workbench/api/invocations/{request_id}"),
    Route("POST", "/_workbench/api/invocations/{request_id}/replay",
          body=body_of({"InvocationType": either(st.sampled_from(["Event", "RequestResponse"]))})),
    Route("GET", "/_workbench/api/activity", PAGE_QUERY),
    Route("GET", "/_workbench/api/functions/{function}/activity", PAGE_QUERY),
    Route("GET", "/_workbench/api/functions/{function}/events"),
    Route("POST", "/_workbench/api/functions/{function}/events", body=EVENTS_BODY),
    Route("GET", "/_workbench/api/functions/{function}/events/{name}"),
    Route("PUT", "/_workbench/api/functions/{function}/events/{name}", body=EVENT_PUT_BODY),
    Route("DELETE", "/_workbench/api/functions/{function}/events/{name}", {"Scope": either(st.sampled_from(["private", "shared"]), ANY_TEXT)}),
    Route("GET", "/_workbench/api/functions/{function}/suites", PAGE_QUERY),
    Route("POST", "/_workbench/api/functions/{function}/suites", body=SUITE_BODY),
    Route("GET", "/_workbench/api/functions/{function}/suites/compare", {"a": SUITE_IDS, "b": SUITE_IDS}),
    Route("GET", "/_workbench/api/functions/{function}/suites/{suite_id}"),
    Route("GET", "/_workbench/api/functions/{function}/suite-settings"),
    Route("PUT", "/_workbench/api/functions/{function}/suite-settings",
          body=body_of({"RunOnDeploy": either(st.booleans())})),
    Route("GET", "/_workbench/api/functions/{function}/triggers"),
    Route("POST", "/_workbench/api/functions/{function}/triggers", body=TRIGGER_BODY),
    Route("GET", "/_workbench/api/functions/{function}/triggers/{name}"),
    Route("DELETE", "/_workbench/api/functions/{function}/triggers/{name}"),
    Route("POST", "/_workbench/api/functions/{function}/triggers/{name}/enable"),
    Route("POST", "/_workbench/api/functions/{function}/triggers/{name}/disable"),
    Route("GET", "/2015-03-31/functions/{function}/async-invocations/{request_id}"),
]  # fmt: skip
ODD_LABELS = st.one_of(st.sampled_from([text for text in ODD_STRINGS if text]), st.text(min_size=1, max_size=40),
                       LONG_STRINGS)  # fmt: skip
WORKBENCH_LABELS = {
    "function": either(st.sampled_from([FN, FN_ARN, f"{FN}:1"]), ODD_LABELS),
    "request_id": either(st.just(REQUEST_ID), ODD_LABELS),
    "name": either(st.sampled_from(["hook", "one", "nightly"]), ODD_LABELS),
    "suite_id": either(st.sampled_from(["1", "2"]), st.sampled_from(["0", "9" * 30, "00001"])),
}


@st.composite
def workbench_requests(draw: Callable[..., Any], route: Route) -> Drawn:
    hostile = draw(st.booleans())

    def label(match: re.Match[str]) -> str:
        return encode_label(draw(WORKBENCH_LABELS[match.group(1)][hostile]))

    drawn = Drawn(method=route.method, path=re.sub(r"\{(\w+)\}", label, route.template))
    for name, values in route.query.items():
        if draw(st.booleans()):
            drawn.query.append((name, draw(values[hostile])))
    if route.body is not None:
        document = route.body[hostile].map(lambda value: dumps(value).encode())
        drawn.body = draw(st.one_of(document, RAW) if hostile else document)
        drawn.headers["Content-Type"] = "application/json"
    return drawn


# --- sending and the property ---------------------------------------------------------------------


def send(key: NewAccessKey, drawn: Drawn) -> HttpResponse:
    """Sign like botocore (SigV4 over the percent-encoded path) and hand it to Django as a WSGI
    server would (the path decoded, the query string raw)."""
    query = encode_query(drawn.query)
    target = drawn.path + (f"?{query}" if query else "")
    request = AWSRequest(method=drawn.method, url=f"http://{HOST}{target}", data=drawn.body, headers=dict(drawn.headers))
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "lambda", "us-east-1").add_auth(request)
    content_type = request.headers.get("Content-Type", "")
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in request.headers.items()
            if name.lower() != "content-type"}  # fmt: skip
    meta["HTTP_HOST"] = HOST
    response: HttpResponse = Client().generic(drawn.method, target, data=drawn.body, content_type=content_type, **meta)
    return response


def assert_no_server_error(response: HttpResponse, drawn: Drawn) -> None:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code < 500, f"{response.status_code} {content[:500]!r} for {drawn}"
    if response.status_code >= 400:
        assert response.get("x-amzn-ErrorType"), f"no x-amzn-ErrorType on {response.status_code} for {drawn}"
        body = json.loads(content)
        assert isinstance(body, dict) and ("message" in body or "Message" in body), f"{content[:300]!r} for {drawn}"


def exchange(key: NewAccessKey, drawn: Drawn) -> HttpResponse:
    """Send in a savepoint that is rolled back: every example starts from the same rows."""
    with transaction.atomic():
        response = send(key, drawn)
        assert_no_server_error(response, drawn)
        transaction.set_rollback(True)
    return response


# --- the world the requests land in -----------------------------------------------------------------


class EchoPool:
    """Stands in for the environment pool: answers every invoke with its payload at once."""

    def invoke(self, spec: Any, request: InvokeRequest, *, reserved_concurrency: int | None = None) -> InvokeResult:
        now = timezone.now().timestamp()
        return InvokeResult(
            request_id=request.request_id, payload=request.payload, function_error=None, error_type=None,
            status="succeeded", logs="START\nEND\n", duration_ms=1.0, billed_duration_ms=1, init_duration_ms=None,
            memory_size_mb=128, max_memory_used_mb=32, cold_start=False, started_at=now, finished_at=now,
        )  # fmt: skip

    def submit(self, spec: Any, request: InvokeRequest, *, reserved_concurrency: int | None = None) -> Future[InvokeResult]:
        future: Future[InvokeResult] = Future()
        future.set_result(self.invoke(spec, request))
        if request.stream is not None:
            request.stream.end()
        return future


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """The cast's users get a cheap password hash: PBKDF2 costs ≈ 0.4 s a user, ≈ 0.8 s a test here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, team: Any, owner: Any,
          owner_caller: Caller) -> Iterator[Function]:  # fmt: skip
    """Function ``fuzz`` ($LATEST and 1, alias ``live``), a record, a saved event, a webhook trigger,
    a queue's event source mapping, and runtimes on offer."""
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    monkeypatch.setattr("invocations.node.get_pool", lambda: EchoPool())
    WorkerHeartbeat.objects.create(name="worker-1", kind="worker", runtimes=["python3.11", "nodejs20.x"],
                                   seen_at=timezone.now())  # fmt: skip
    function = make_function(FN, versions=("$LATEST", "1"), code_dir=settings.LAMBDA_CODE_DIR, team=team)
    Function.objects.filter(pk=function.pk).update(next_version=2)
    Alias.objects.create(function=function, name="live", function_version="1")
    now = timezone.now()
    Invocation.objects.create(request_id=REQUEST_ID, function=function, function_name=FN, status="succeeded",
                              payload='{"a": 1}', response='{"a": 1}', invocation_type="Event", finished_at=now)  # fmt: skip
    TestEvent.objects.create(function=function, name="one", scope="shared", owner=owner, body='{"v": 1}')
    triggers.create_trigger(caller=teams.operator(team), function=function, name="hook", kind="webhook")
    mapping = event_source_mappings.create_event_source_mapping(
        caller=owner_caller, body={"EventSourceArn": "arn:aws:sqs:us-east-1:111111111111:queue", "FunctionName": FN}
    )
    EventSourceMapping.objects.filter(pk=mapping.pk).update(uuid=MAPPING_UUID)
    yield function


OPERATIONS = sorted(MODEL.operation_names)


def test_the_fuzz_covers_every_operation_of_botocores_model() -> None:
    assert len(OPERATIONS) >= 85  # 91 in botocore 1.44.8 (spec §6.1)


def routed(operation: OperationModel) -> bool:
    """Whether a route of this server takes the operation's path (the method aside)."""
    try:
        resolve(re.sub(r"\{[^}]+\}", "x", operation.http["requestUri"].partition("?")[0]))
    except Resolver404:
        return False
    return True


def test_the_fuzz_reaches_the_operations_this_server_implements() -> None:
    names = {name for name in OPERATIONS if routed(MODEL.operation_model(name))}
    assert {"CreateFunction", "Invoke", "InvokeWithResponseStream", "CreateEventSourceMapping", "AddPermission"} <= names


@pytest.mark.parametrize("operation_name", OPERATIONS)
def test_no_operation_answers_a_drawn_request_with_a_5xx(
    operation_name: str, world: Function, access_key: NewAccessKey
) -> None:
    operation = MODEL.operation_model(operation_name)

    @hypothesis_settings(FUZZ, max_examples=EXAMPLES if routed(operation) else UNROUTED_EXAMPLES)
    @given(drawn=operation_requests(operation))
    def check(drawn: Drawn) -> None:
        exchange(access_key, drawn)

    check()


@pytest.mark.parametrize("route", WORKBENCH_ROUTES, ids=lambda r: f"{r.method} {r.template}")
def test_no_workbench_route_answers_a_drawn_request_with_a_5xx(
    route: Route, world: Function, access_key: NewAccessKey
) -> None:
    @hypothesis_settings(FUZZ, max_examples=EXAMPLES)
    @given(drawn=workbench_requests(route))
    def check(drawn: Drawn) -> None:
        exchange(access_key, drawn)

    check()


# --- what the attacker and the fuzzer found, kept as plain regression tests --------------------------------------


def error_of(response: HttpResponse) -> tuple[int, str, str]:
    body = json.loads(response.content)
    return response.status_code, response["x-amzn-ErrorType"], body.get("message") or body.get("Message")


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000], ids=["open", "closed"])
def test_a_create_function_body_nested_100000_deep_is_a_400(world: Function, access_key: NewAccessKey,
                                                             body: bytes) -> None:  # fmt: skip
    response = send(access_key, Drawn("POST", "/2015-03-31/functions", headers={"Content-Type": "application/json"},
                                      body=body))  # fmt: skip
    status, code, message = error_of(response)
    assert (status, code) == (400, "InvalidRequestContentException")
    assert message.startswith("Could not parse request body into json: ") and "nest" in message


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000], ids=["open", "closed"])
def test_an_invoke_payload_nested_100000_deep_is_invalid_request_content(world: Function, access_key: NewAccessKey,
                                                                         body: bytes) -> None:  # fmt: skip
    response = send(access_key, Drawn("POST", f"/2015-03-31/functions/{FN}/invocations", body=body))
    status, code, message = error_of(response)
    assert (status, code) == (400, "InvalidRequestContentException")
    assert message.startswith("Could not parse request body into json: Could not parse payload into json: ")
    assert Invocation.objects.count() == 1  # nothing ran, nothing recorded


def test_a_payload_nested_a_hundred_deep_still_runs(world: Function, access_key: NewAccessKey) -> None:
    payload = Deep(100).text().encode()
    response = send(access_key, Drawn("POST", f"/2015-03-31/functions/{FN}/invocations", body=payload))
    assert response.status_code == 200 and response.content == payload


def test_a_client_context_nested_too_deep_is_a_400(world: Function, access_key: NewAccessKey) -> None:
    context = base64.b64encode(b"[" * 2600).decode()
    response = send(access_key, Drawn("POST", f"/2015-03-31/functions/{FN}/invocations",
                                      headers={"X-Amz-Client-Context": context}, body=b"{}"))  # fmt: skip
    assert error_of(response)[:2] == (400, "InvalidParameterValueException")


@pytest.mark.parametrize(
    "since", ["99999999999999999999.0:1", "99999999999999999999.000000:1", "99999999999999.000000:1",
              "1.000000:99999999999999999999", "1.000000:" + "9" * 5000, "9" * 5000 + ".000000:1"],
    ids=lambda since: since if len(since) < 40 else f"{since[:12]}…({len(since)} characters)",
)  # fmt: skip
def test_a_history_cursor_out_of_range_is_a_400(world: Function, access_key: NewAccessKey, since: str) -> None:
    response = send(access_key, Drawn("GET", f"/_workbench/api/functions/{FN}/invocations", query=[("since", since)]))
    status, code, message = error_of(response)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "since" in message


def test_a_history_cursor_still_follows(world: Function, access_key: NewAccessKey) -> None:
    response = send(access_key, Drawn("GET", f"/_workbench/api/functions/{FN}/invocations", query=[("since", "0")]))
    page = json.loads(response.content)
    assert [i["RequestId"] for i in page["Invocations"]] == [REQUEST_ID]
    later = send(access_key, Drawn("GET", f"/_workbench/api/functions/{FN}/invocations", query=[("since", page["Cursor"])]))
    assert json.loads(later.content) == {"Invocations": [], "Cursor": page["Cursor"]}


JSON = {"Content-Type": "application/json"}
KINESIS = "arn:aws:kinesis:us-east-1:111111111111:stream/s"


@pytest.mark.parametrize(
    ("drawn", "expected"),
    [
        (Drawn("GET", "/2015-03-31/functions", query=[(f"k{i}", "v") for i in range(10_001)]),
         (400, "InvalidParameterValueException")),
        (Drawn("POST", f"/2015-03-31/functions/{FN}/aliases", headers=JSON,
               body=b'{"Name": "beta", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 1'
                    + b"0" * 400 + b"}}}"),
         (400, "ValidationException")),
        *[(Drawn("POST", "/2015-03-31/event-source-mappings", headers=JSON,
                 body=b'{"EventSourceArn": "%s", "FunctionName": "fuzz", "StartingPosition": "AT_TIMESTAMP", '
                      b'"StartingPositionTimestamp": %s}' % (KINESIS.encode(), stamp)),
           (400, "InvalidParameterValueException")) for stamp in (b"1e30", b"-1e20", b"NaN", b"Infinity", b"9" * 30)],
        (Drawn("GET", f"/2021-10-31/functions/{FN}/urls", query=[("MaxItems", "9" * 5000)]), (400, "ValidationException")),
        (Drawn("GET", f"/2021-10-31/functions/{FN}/urls", query=[("MaxItems", "²")]), (400, "ValidationException")),
        (Drawn("GET", "/_workbench/api/activity", query=[("Marker", "9" * 30)]), (400, "InvalidParameterValueException")),
        (Drawn("POST", f"/_workbench/api/functions/{FN}/triggers", headers=JSON,
               body=b'{"Name": "nightly", "Kind": "schedule", "ScheduleExpression": "rate(1 minute)", "Payload": "'
                    + b"[" * 5000 + b'"}'),
         (400, "InvalidParameterValueException")),
        (Drawn("POST", f"/_workbench/api/functions/{FN}/events", headers=JSON,
               body=b'{"Events": [{"Name": "deep", "Body": "' + b"[" * 5000 + b'"}]}'),
         (400, "InvalidParameterValueException")),
        (Drawn("GET", "/2015-03-31/event-source-mappings/a%00b"), (400, "InvalidParameterValueException")),
        (Drawn("GET", "/_workbench/api/invocations/%00"), (400, "InvalidParameterValueException")),
        (Drawn("GET", "/2015-03-31/functions", query=[("Marker", "\x00")]), (400, "InvalidParameterValueException")),
        (Drawn("PUT", f"/2015-03-31/functions/{FN}/configuration", headers=JSON, body=b'{"Description": "a\\u0000b"}'),
         (400, "InvalidParameterValueException")),
    ],
    ids=["10001-query-fields", "alias-weight-10**400", *[f"timestamp-{s}" for s in ("1e30", "-1e20", "NaN", "inf", "9x30")],
         "MaxItems-5000-digits", "MaxItems-superscript-2", "activity-Marker-9x30", "trigger-payload-deep",
         "test-event-body-deep", "NUL-in-a-label", "NUL-in-a-request-id", "NUL-in-a-query-value", "NUL-in-a-body"],
)  # fmt: skip
def test_a_number_or_document_out_of_range_is_a_400(world: Function, access_key: NewAccessKey, drawn: Drawn,
                                                    expected: tuple[int, str]) -> None:  # fmt: skip
    assert error_of(send(access_key, drawn))[:2] == expected
