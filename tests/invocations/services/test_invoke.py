"""The invoke service without HTTP: validation, resolution (query count), specs, records.

Also home of ``make_function``, the helper the Invoke tests share: it writes Function and
FunctionVersion rows and unpacks the code where the engine looks for it (``LAMBDA_CODE_DIR``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from invocations import pipeline, recorder
from invocations.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from invocations.models import Alias, Function, FunctionVersion, Invocation, Team
from django.conf import settings

from invocations.access import Caller, account_caller
from invocations.policy import Principal
from invocations.arns import FunctionRef
from invocations.services import invoke as invoke_service
from invocations.services.teams import default_team
from tests.conftest import ECHO_PY, zip_bytes


@pytest.fixture(autouse=True)
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


def make_function(
    name: str = "echo",
    files: dict[str, str | bytes] | None = None,
    *,
    handler: str = "app.handler",
    runtime: str = "python3.11",
    versions: tuple[str, ...] = ("$LATEST",),
    code_dir: Path,
    team: Team | None = None,
    **fields: Any,
) -> Function:
    """A function with real code on disk — in ``team``, else in the cast's team "core" when the test
    has it (the boto3 client of the API tests acts there), else in the default team."""
    """A function with the given versions (same code), its code unpacked under ``code_dir``."""
    data = zip_bytes(files or {"app.py": ECHO_PY})
    digest = hashlib.sha256(data).hexdigest()
    target = code_dir / digest
    if not target.exists():
        target.mkdir(parents=True)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(target)
    reserved = fields.pop("reserved_concurrency", None)
    team = team or Team.objects.filter(name="core").first() or default_team()
    function = Function.objects.create(name=name, reserved_concurrency=reserved, team=team)
    for version in versions:
        FunctionVersion.objects.create(
            function=function,
            version=version,
            runtime=runtime,
            handler=handler,
            role="arn:aws:iam::000000000000:role/x",
            code_sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            code_size=len(data),
            code_digest=digest,
            **fields,
        )
    return function


def call(**overrides: Any) -> pipeline.InvokeOutcome:
    arguments: dict[str, Any] = {
        "function_name": "echo",
        "qualifier": None,
        "payload": b'{"a": 1}',
        "invocation_type": None,
        "log_type": None,
        "client_context": None,
        "source": "api",
        # The platform acting for the default account (no query until the function is looked up).
        "caller": Caller(principal=Principal(kind="account", account_id=settings.LAMBDA_ACCOUNT_ID)),
        "request_id": "11111111-2222-3333-4444-555555555555",
    }
    arguments.update(overrides)
    return pipeline.invoke(pipeline.InvocationRequest(**arguments))


# --- pure checks -------------------------------------------------------------------------------------


def test_it_rejects_an_unknown_invocation_type() -> None:
    with pytest.raises(ValidationException) as caught:
        call(invocation_type="Sometimes")
    assert caught.value.message == (
        "1 validation error detected: Value 'Sometimes' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    )


def test_it_rejects_an_unknown_log_type() -> None:
    with pytest.raises(ValidationException, match="'logType'"):
        call(log_type="Head")


def test_it_measures_the_sync_limit_in_bytes() -> None:
    with pytest.raises(RequestEntityTooLargeException) as caught:
        call(payload=b'"' + b"x" * 6291455 + b'"')
    assert caught.value.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_it_names_the_size_of_an_oversize_event() -> None:
    payload = b'"' + b"x" * 1048575 + b'"'
    with pytest.raises(RequestEntityTooLargeException) as caught:
        call(payload=payload, invocation_type="Event")
    assert caught.value.message == (
        "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )


@pytest.mark.parametrize("payload", [b"{not json", b"\xff\xfe{}", b'{"a": 1} trailing'])
def test_it_refuses_a_payload_that_is_not_json(payload: bytes) -> None:
    with pytest.raises(InvalidRequestContentException) as caught:
        call(payload=payload)
    assert caught.value.message.startswith(
        "Could not parse request body into json: Could not parse payload into json: "
    )


@pytest.mark.parametrize(
    "header",
    [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(json.dumps({"custom": {"k": "v" * 3000}}).encode()).decode(),
    ],
)
def test_it_refuses_a_bad_client_context(header: str) -> None:
    with pytest.raises(InvalidParameterValueException, match="Client context must be"):
        invoke_service.decode_client_context(header)


def test_it_decodes_a_client_context() -> None:
    text = json.dumps({"custom": {"k": "v"}})
    assert invoke_service.decode_client_context(base64.b64encode(text.encode()).decode()) == text


@pytest.mark.parametrize(("draw", "expected"), [(0.05, "2"), (0.15, "3"), (0.5, "1"), (0.99, "1")])
def test_alias_routing_picks_versions_by_weight(monkeypatch: pytest.MonkeyPatch, draw: float, expected: str) -> None:
    alias = Alias(
        name="live", function_version="1", routing_config={"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}
    )
    monkeypatch.setattr(invoke_service.random, "random", lambda: draw)
    assert invoke_service._pick_version(alias) == expected


def test_log_tail_is_the_last_4_kb() -> None:
    logs = "a" * 5000 + "END"
    tail = base64.b64decode(invoke_service.log_tail(logs))
    assert len(tail) == 4096
    assert tail.endswith(b"aEND")


# --- resolution -----------------------------------------------------------------------------------


def platform() -> Any:
    return account_caller(default_team())


@pytest.mark.django_db
def test_it_resolves_a_version_with_one_query(code_dir: Path, django_assert_num_queries: Any) -> None:
    make_function(versions=("$LATEST", "1"), code_dir=code_dir)
    caller = platform()
    with django_assert_num_queries(1):  # the caller's own account: its role decides without a query
        version = invoke_service.resolve(caller, FunctionRef("echo", "1"))
        assert version.function.name == "echo"
    assert version.version == "1"


@pytest.mark.django_db
def test_it_resolves_an_alias_with_two_queries(code_dir: Path, django_assert_num_queries: Any) -> None:
    function = make_function(versions=("$LATEST", "1"), code_dir=code_dir)
    Alias.objects.create(function=function, name="live", function_version="1")
    caller = platform()
    with django_assert_num_queries(2):
        version = invoke_service.resolve(caller, FunctionRef("echo", "live"))
        assert version.function.reserved_concurrency is None
    assert version.version == "1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("qualifier", "arn_suffix"), [(None, ""), ("7", ":7"), ("$LATEST", ":$LATEST"), ("nope", ":nope")]
)
def test_it_names_the_missing_function(code_dir: Path, qualifier: str | None, arn_suffix: str) -> None:
    make_function("other", code_dir=code_dir)
    with pytest.raises(ResourceNotFoundException) as caught:
        invoke_service.resolve(platform(), FunctionRef("echo", qualifier))
    assert caught.value.message == f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:echo{arn_suffix}"


@pytest.mark.django_db
def test_it_refuses_a_function_that_is_not_active(code_dir: Path) -> None:
    make_function(code_dir=code_dir, state=FunctionVersion.State.PENDING)
    with pytest.raises(ResourceConflictException) as caught:
        call()
    assert caught.value.message == (
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
    )


@pytest.mark.django_db
def test_the_spec_carries_the_versions_configuration(code_dir: Path) -> None:
    make_function(
        code_dir=code_dir,
        versions=("3",),
        memory_size=256,
        timeout=7,
        environment={"A": "1"},
        logging_config={"LogFormat": "JSON", "LogGroup": "/custom"},
    )
    version = invoke_service.resolve(platform(), FunctionRef("echo", "3"))
    spec = invoke_service.function_spec(version)
    assert spec.function_arn == "arn:aws:lambda:us-east-1:000000000000:function:echo"
    assert (spec.version, spec.memory_mb, spec.timeout_s, spec.environment) == ("3", 256, 7, (("A", "1"),))
    assert (spec.log_format, spec.log_group, spec.revision_id) == ("JSON", "/custom", version.revision_id)
    assert Path(spec.code_dir) == code_dir / version.code_digest
    assert (Path(spec.code_dir) / "app.py").exists()


@pytest.mark.django_db
def test_dry_run_checks_without_running_or_recording(code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    outcome = call(invocation_type="DryRun")
    assert outcome.status_code == 204
    assert not Invocation.objects.exists()


@pytest.mark.django_db
def test_an_empty_payload_is_invoked_as_an_empty_object(code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    outcome = call(payload=b"")
    assert outcome.status_code == 200
    assert json.loads(outcome.payload) == {}
    record = Invocation.objects.select_related("function__team").get()
    assert record.payload == "{}"
    assert record.account_id == record.function.team.account_id  # the history outlives the function


def test_binary_responses_are_stored_as_marked_base64() -> None:
    assert recorder.text_of_response(b'{"ok": true}') == '{"ok": true}'
    stored = recorder.text_of_response(b"\xff\x00raw")
    assert stored.startswith(recorder.BINARY_PREFIX)
    assert base64.b64decode(stored.removeprefix(recorder.BINARY_PREFIX)) == b"\xff\x00raw"
