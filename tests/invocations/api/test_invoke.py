"""Invoke through real boto3 (the ``lambda_client`` fixture) against the real engine (spec §3, §4.2)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.access_keys import NewAccessKey
from invocations.models import Alias, FunctionVersion, Invocation
from invocations.services import invoke as invoke_service
from tests.conftest import make_lambda_client
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

ARN = "arn:aws:lambda:us-east-1:111111111111:function"

FAILING_PY = "def handler(event, context):\n    raise ValueError('no good: ' + str(event))\n"
CONTEXT_PY = (
    "def handler(event, context):\n"
    "    cc = context.client_context\n"
    "    return {'custom': cc.custom if cc else None, 'arn': context.invoked_function_arn,\n"
    "            'request_id': context.aws_request_id}\n"
)
PRINT_PY = "def handler(event, context):\n    print('hello from the function')\n    return 'done'\n"


@pytest.fixture(autouse=True)
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


def read(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


# --- running ----------------------------------------------------------------------------------------


def test_it_returns_the_functions_result(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    response = lambda_client.invoke(FunctionName="echo", Payload=b'{"a": 1}')
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert "LogResult" not in response
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert read(response) == {"a": 1}


@pytest.mark.parametrize(
    ("function_name", "qualifier", "executed"),
    [
        ("echo", None, "$LATEST"),
        ("echo:$LATEST", None, "$LATEST"),
        ("echo:1", None, "1"),
        ("echo", "1", "1"),
        ("echo:1", "1", "1"),
        ("111111111111:function:echo", None, "$LATEST"),
        ("111111111111:function:echo:1", None, "1"),
        (f"{ARN}:echo", None, "$LATEST"),
        (f"{ARN}:echo:1", None, "1"),
        (f"{ARN}:echo", "$LATEST", "$LATEST"),
        ("us-east-1:111111111111:function:echo", None, "$LATEST"),
    ],
)
def test_it_accepts_every_function_name_form(
    lambda_client: Any, code_dir: Path, function_name: str, qualifier: str | None, executed: str
) -> None:
    make_function(versions=("$LATEST", "1"), code_dir=code_dir)
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    response = lambda_client.invoke(FunctionName=function_name, Payload=b"[1]", **kwargs)
    assert response["ExecutedVersion"] == executed
    assert read(response) == [1]


def test_it_refuses_a_qualifier_that_contradicts_the_name(lambda_client: Any, code_dir: Path) -> None:
    make_function(versions=("$LATEST", "1"), code_dir=code_dir)
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo:1", Qualifier="2", Payload=b"{}")
    assert error_of(caught) == (
        400,
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
    )


def test_an_alias_runs_its_version_and_says_which(lambda_client: Any, code_dir: Path) -> None:
    function = make_function(versions=("$LATEST", "1", "2"), code_dir=code_dir)
    Alias.objects.create(function=function, name="live", function_version="1")
    response = lambda_client.invoke(FunctionName="echo:live", Payload=b"{}")
    assert response["ExecutedVersion"] == "1"
    record = Invocation.objects.get()
    assert (record.qualifier, record.executed_version) == ("live", "1")


def test_weighted_routing_reports_the_version_that_ran(
    lambda_client: Any, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    function = make_function(versions=("$LATEST", "1", "2"), code_dir=code_dir)
    Alias.objects.create(
        function=function, name="live", function_version="1", routing_config={"AdditionalVersionWeights": {"2": 0.3}}
    )
    monkeypatch.setattr(invoke_service.random, "random", lambda: 0.2)
    assert lambda_client.invoke(FunctionName="echo", Qualifier="live")["ExecutedVersion"] == "2"
    monkeypatch.setattr(invoke_service.random, "random", lambda: 0.7)
    assert lambda_client.invoke(FunctionName="echo", Qualifier="live")["ExecutedVersion"] == "1"


def test_tail_returns_the_last_4_kb_of_the_logs(lambda_client: Any, code_dir: Path) -> None:
    make_function(files={"app.py": PRINT_PY}, code_dir=code_dir)
    response = lambda_client.invoke(FunctionName="echo", LogType="Tail")
    logs = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in logs
    assert "hello from the function" in logs
    assert f"END RequestId: {request_id}" in logs
    assert f"REPORT RequestId: {request_id}\tDuration: " in logs
    assert read(response) == "done"


def test_a_function_error_is_a_200_with_function_error(lambda_client: Any, code_dir: Path) -> None:
    make_function(files={"app.py": FAILING_PY}, code_dir=code_dir)
    response = lambda_client.invoke(FunctionName="echo", Payload=b'"x"')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = read(response)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "no good: x"
    record = Invocation.objects.get()
    assert (record.status, record.function_error, record.error_type) == ("failed", "Unhandled", "ValueError")


def test_the_client_context_reaches_the_function(lambda_client: Any, code_dir: Path) -> None:
    make_function(files={"app.py": CONTEXT_PY}, code_dir=code_dir)
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    response = lambda_client.invoke(FunctionName="echo:$LATEST", ClientContext=context)
    body = read(response)
    assert body["custom"] == {"tenant": "t1"}
    assert body["arn"] == f"{ARN}:echo:$LATEST"
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert json.loads(Invocation.objects.get().client_context) == {"custom": {"tenant": "t1"}}


def test_a_bad_client_context_is_a_400(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", ClientContext="%%%")
    status, code, message = error_of(caught)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "Client context must be base64-encoded JSON" in message


def test_the_record_describes_the_invocation(lambda_client: Any, code_dir: Path, owner: Any) -> None:
    make_function(code_dir=code_dir, memory_size=256)
    first = lambda_client.invoke(FunctionName="echo", Payload=b'{"n": 1}')
    second = lambda_client.invoke(FunctionName="echo", Payload=b'{"n": 2}')
    records = {r.request_id: r for r in Invocation.objects.all()}
    cold = records[first["ResponseMetadata"]["RequestId"]]
    warm = records[second["ResponseMetadata"]["RequestId"]]
    assert (cold.status, cold.source, cold.invocation_type) == ("succeeded", "api", "RequestResponse")
    assert (cold.function_name, cold.executed_version, cold.function.name) == ("echo", "$LATEST", "echo")
    assert cold.caller_id == owner.pk
    assert (cold.payload, cold.response) == ('{"n": 1}', '{"n": 1}')
    assert cold.cold_start is True and warm.cold_start is False
    assert cold.init_duration_ms is not None and warm.init_duration_ms is None
    assert cold.duration_ms is not None and cold.duration_ms >= 0
    assert cold.billed_duration_ms is not None and cold.billed_duration_ms >= 1
    assert cold.memory_size_mb == 256
    assert cold.max_memory_used_mb is not None and cold.max_memory_used_mb > 0
    assert "REPORT RequestId: " + cold.request_id in cold.logs
    assert cold.started_at is not None and cold.finished_at is not None and cold.started_at <= cold.finished_at
    assert cold.code_sha256 == FunctionVersion.objects.get().code_sha256


def test_the_aws_cli_is_recorded_as_the_source(access_key: NewAccessKey, code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    client = make_lambda_client(access_key, user_agent="aws-cli/1.46.3 md/Botocore#1.43.62 ua/2.1 os/linux")
    client.invoke(FunctionName="echo")
    assert Invocation.objects.get().source == "cli"


# --- refusals ---------------------------------------------------------------------------------------


def test_an_oversize_sync_payload_is_a_413(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", Payload=b'"' + b"x" * 6291455 + b'"')
    assert error_of(caught) == (
        413,
        "RequestEntityTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )


def test_an_oversize_event_payload_is_a_413(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", InvocationType="Event", Payload=b'"' + b"x" * 1048575 + b'"')
    assert error_of(caught) == (
        413,
        "RequestEntityTooLargeException",
        "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)",
    )
    assert not Invocation.objects.exists()


@pytest.mark.parametrize("payload", [b"not json", b"\xc3\x28"])
def test_a_payload_that_is_not_json_is_a_400(lambda_client: Any, code_dir: Path, payload: bytes) -> None:
    make_function(code_dir=code_dir)
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", Payload=payload)
    status, code, message = error_of(caught)
    assert (status, code) == (400, "InvalidRequestContentException")
    assert message.startswith("Could not parse request body into json: Could not parse payload into json: ")


@pytest.mark.parametrize(
    ("function_name", "qualifier", "arn"),
    [
        ("nope", None, f"{ARN}:nope"),
        ("nope:3", None, f"{ARN}:nope:3"),
        ("echo", "9", f"{ARN}:echo:9"),
        ("echo", "missing-alias", f"{ARN}:echo:missing-alias"),
    ],
)
def test_an_unknown_function_is_a_404(
    lambda_client: Any, code_dir: Path, function_name: str, qualifier: str | None, arn: str
) -> None:
    make_function(code_dir=code_dir)
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as caught:
        lambda_client.invoke(FunctionName=function_name, **kwargs)
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {arn}")


def test_an_invalid_invocation_type_is_a_validation_error(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", InvocationType="Later")
    status, code, message = error_of(caught)
    assert (status, code) == (400, "ValidationException")
    assert "Value 'Later' at 'invocationType' failed to satisfy constraint" in message


def test_reserved_concurrency_zero_throttles(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir, reserved_concurrency=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as caught:
        lambda_client.invoke(FunctionName="echo")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]
    # (botocore retries a 429 once with this client's settings: every attempt is recorded.)
    assert {record.status for record in Invocation.objects.all()} == {"throttled"}


def test_a_pending_function_is_a_409(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir, state=FunctionVersion.State.PENDING)
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as caught:
        lambda_client.invoke(FunctionName="echo")
    assert error_of(caught)[2] == (
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
    )


def test_a_runtime_this_node_lacks_is_a_502(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir, runtime="python3.99")
    with pytest.raises(lambda_client.exceptions.InvalidRuntimeException) as caught:
        lambda_client.invoke(FunctionName="echo")
    assert error_of(caught)[0] == 502


# --- DryRun, Event, InvokeAsync ----------------------------------------------------------------------


def test_dry_run_is_a_204(lambda_client: Any, code_dir: Path) -> None:
    make_function(code_dir=code_dir)
    response = lambda_client.invoke(FunctionName="echo", InvocationType="DryRun")
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="nope", InvocationType="DryRun")


@pytest.fixture
def memory_broker() -> Any:
    """The Celery app publishing to kombu's in-memory transport for one test (no worker, no eager mode)."""
    from config.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = "memory://"
    app._pool = None  # the connection pool and producer pool are bound to the broker URL
    app.amqp._producer_pool = None
    try:
        yield app
    finally:
        app._pool = None
        app.amqp._producer_pool = None
        app.conf.broker_url = saved


def published_tasks(app: Any) -> list[tuple[str, list[Any]]]:
    tasks = []
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        while True:
            try:
                message = queue.get(timeout=0.2)
            except queue.Empty:
                break
            message.ack()
            tasks.append((message.headers["task"], message.payload[0]))
        queue.close()
    return tasks


def test_an_event_is_stored_queued_and_published(
    lambda_client: Any, code_dir: Path, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    make_function(versions=("$LATEST", "1"), code_dir=code_dir)
    with django_capture_on_commit_callbacks(execute=True):
        response = lambda_client.invoke(FunctionName="echo:1", InvocationType="Event", Payload=b'{"e": 1}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    record = Invocation.objects.get()
    assert record.request_id == response["ResponseMetadata"]["RequestId"]
    assert (record.status, record.invocation_type, record.executed_version) == ("queued", "Event", "1")
    assert record.payload == '{"e": 1}'
    assert published_tasks(memory_broker) == [("invocations.run_queued_invocation", [record.pk])]


def test_invoke_async_is_an_event_with_the_old_limit(
    lambda_client: Any, code_dir: Path, memory_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    make_function(code_dir=code_dir)
    with django_capture_on_commit_callbacks(execute=True):
        response = lambda_client.invoke_async(FunctionName="echo", InvokeArgs=b'{"old": true}')
    assert response["Status"] == 202
    record = Invocation.objects.get()
    assert (record.status, record.invocation_type, record.payload) == ("queued", "Event", '{"old": true}')
    assert published_tasks(memory_broker) == [("invocations.run_queued_invocation", [record.pk])]
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke_async(FunctionName="echo", InvokeArgs=b'"' + b"x" * 262143 + b'"')
    assert error_of(caught) == (
        413,
        "RequestEntityTooLargeException",
        "262145 byte payload is too large for the Event invocation type (limit 262144 bytes)",
    )


@pytest.mark.django_db(transaction=True)
def test_an_event_the_broker_refuses_is_a_500_not_a_202(
    lambda_client: Any, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import OperationalError

    from invocations import dispatch

    def refuse(name: str, *args: object) -> None:
        raise OperationalError("broker unreachable")

    monkeypatch.setattr(dispatch, "_send", refuse)
    make_function(code_dir=code_dir)
    with pytest.raises(lambda_client.exceptions.ServiceException) as caught:
        lambda_client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    records = list(Invocation.objects.all())
    assert records and {(r.status, r.error_type) for r in records} == {("failed", "ServiceException")}


def test_a_function_created_through_the_api_can_be_invoked(lambda_client: Any, code_dir: Path) -> None:
    from invocations import node
    from tests.conftest import ECHO_PY, zip_bytes

    node.register_node("web")  # CreateFunction accepts only runtimes some node offers
    lambda_client.create_function(
        FunctionName="made", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": ECHO_PY})},
        Environment={"Variables": {"GREETING": "hi"}},
    )  # fmt: skip
    lambda_client.get_waiter("function_active_v2").wait(FunctionName="made")
    version = lambda_client.publish_version(FunctionName="made")["Version"]
    lambda_client.create_alias(FunctionName="made", Name="prod", FunctionVersion=version)
    response = lambda_client.invoke(FunctionName=f"{ARN}:made:prod", Payload=b'{"via": "alias"}')
    assert (response["ExecutedVersion"], read(response)) == (version, {"via": "alias"})
