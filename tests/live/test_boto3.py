"""The issue's user story through boto3, against the real server and worker."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.live.conftest import ROLE, Live, ipv6_endpoint
from tests.live.functions import ECHO_HANDLER, ERROR_HANDLER, make_zip

pytestmark = pytest.mark.live


def create(client: Any, name: str, source: str) -> Any:
    config = client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": source})},
        Timeout=3,
        MemorySize=128,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return config


def test_create_function_returns_its_configuration(live_lambda: Any) -> None:
    config = create(live_lambda, "created-by-boto3", ECHO_HANDLER)
    assert config["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert config["FunctionName"] == "created-by-boto3"
    assert config["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:created-by-boto3"
    assert config["Runtime"] == "python3.11"
    assert config["Handler"] == "app.handler"
    assert config["Version"] == "$LATEST"
    got = live_lambda.get_function(FunctionName="created-by-boto3")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"


def test_invoke_echoes_the_payload_with_tail_logs(live_lambda: Any, hello_function: str) -> None:
    r = live_lambda.invoke(FunctionName=hello_function, Payload=b'{"a": 1}', LogType="Tail")
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {"a": 1}
    assert r["ExecutedVersion"] == "$LATEST"
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "$LATEST"
    logs = base64.b64decode(r["LogResult"]).decode()
    assert "START RequestId: " in logs
    assert "hello from the function" in logs
    assert "END RequestId: " in logs
    assert "REPORT RequestId: " in logs
    assert "Billed Duration: " in logs


def test_a_second_invoke_is_warm_and_still_works(live_lambda: Any, hello_function: str) -> None:
    for i in range(3):
        r = live_lambda.invoke(FunctionName=hello_function, Payload=json.dumps({"i": i}).encode())
        assert r["StatusCode"] == 200
        assert json.loads(r["Payload"].read()) == {"i": i}


def test_a_function_error_is_a_200_with_function_error_unhandled(live_lambda: Any) -> None:
    create(live_lambda, "fails", ERROR_HANDLER)
    r = live_lambda.invoke(FunctionName="fails", Payload=b"{}")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "something went wrong"


def test_event_invocation_is_accepted_and_run_by_the_worker(
    live: Live, live_lambda: Any, hello_function: str
) -> None:
    r = live_lambda.invoke(FunctionName=hello_function, InvocationType="Event", Payload=b'{"async": true}')
    assert r["StatusCode"] == 202
    request_id = r["ResponseMetadata"]["RequestId"]
    # The Celery worker records the outcome on the Invocation row the API stored under the same id.
    script = (
        "from invocations.models import Invocation; "
        f"print(Invocation.objects.filter(request_id={request_id!r}).values_list('status', flat=True).first())"
    )
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        output = live.stack.manage("shell", "--no-imports", "-c", script).strip()
        status = output.splitlines()[-1] if output else None
        if status in ("succeeded", "failed", "timed-out"):
            break
        time.sleep(0.5)
    assert status == "succeeded"
    # And the synchronous path is unaffected.
    assert live_lambda.invoke(FunctionName=hello_function, Payload=b"{}")["StatusCode"] == 200


def test_dry_run_returns_204(live_lambda: Any, hello_function: str) -> None:
    r = live_lambda.invoke(FunctionName=hello_function, InvocationType="DryRun")
    assert r["StatusCode"] == 204


def test_an_unknown_function_is_resource_not_found(live_lambda: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        live_lambda.invoke(FunctionName="nope", Payload=b"{}")
    error = excinfo.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"


def test_a_wrong_secret_is_an_invalid_signature(live: Live, hello_function: str) -> None:
    client = live.client(secret_access_key="x" * 40)
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName=hello_function, Payload=b"{}")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert excinfo.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_an_unknown_access_key_is_an_unrecognized_client(live: Live, hello_function: str) -> None:
    client = live.client(access_key_id="AKIAAAAAAAAAAAAAAAAA")
    with pytest.raises(ClientError) as excinfo:
        client.list_functions()
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert excinfo.value.response["Error"]["Message"] == "The security token included in the request is invalid."


def test_list_functions_includes_hello(live_lambda: Any, hello_function: str) -> None:
    names = [f["FunctionName"] for f in live_lambda.list_functions()["Functions"]]
    assert hello_function in names


def test_invoke_over_ipv6(live: Live, hello_function: str) -> None:
    client = live.client(endpoint=ipv6_endpoint(live))
    r = client.invoke(FunctionName=hello_function, Payload=b'{"via": "ipv6"}')
    assert r["StatusCode"] == 200
    assert json.loads(r["Payload"].read()) == {"via": "ipv6"}
