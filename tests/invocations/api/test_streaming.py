"""InvokeWithResponseStream through real boto3 (spec §4.1): event-stream frames botocore parses."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from invocations import recorder
from invocations.api import eventstream
from invocations.models import Invocation
from tests.invocations.api.control_plane import error_of
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

NODE_STREAM = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType("text/plain");
  for (const part of event.parts) responseStream.write(part);
  responseStream.end();
});
exports.breaks = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("half");
  throw new Error("midway");
});
"""


@pytest.fixture(autouse=True)
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


def events(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list(response["EventStream"])


def test_frames_decode_with_botocores_parser() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(eventstream.payload_chunks(b"hello")[0] + eventstream.invoke_complete(log_result="bG9n"))
    first, last = list(buffer)
    assert first.headers == {":event-type": "PayloadChunk", ":content-type": "application/octet-stream",
                             ":message-type": "event"}
    assert first.payload == b"hello"
    assert json.loads(last.payload) == {"LogResult": "bG9n"}
    assert eventstream.payload_chunks(b"") == []


def test_a_node_stream_arrives_as_payload_chunks(lambda_client: Any, code_dir: Path) -> None:
    make_function("streamer", {"index.js": NODE_STREAM}, handler="index.handler", runtime="nodejs20.x",
                  code_dir=code_dir)
    response = lambda_client.invoke_with_response_stream(
        FunctionName="streamer", Payload=json.dumps({"parts": ["a", "b", "c"]}), LogType="Tail")
    assert response["StatusCode"] == 200 and response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    got = events(response)
    assert b"".join(e["PayloadChunk"]["Payload"] for e in got[:-1]) == b"abc"
    complete = got[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete and "END RequestId" in base64.b64decode(complete["LogResult"]).decode()
    recorder.flush()
    [record] = Invocation.objects.all()
    assert record.status == "succeeded" and record.response == "abc" and record.source == "api"


def test_a_python_function_arrives_in_one_chunk(lambda_client: Any, code_dir: Path) -> None:
    make_function("echo", code_dir=code_dir)
    response = lambda_client.invoke_with_response_stream(FunctionName="echo", Payload=b'{"k":"v"}')
    got = events(response)
    assert [list(e) for e in got] == [["PayloadChunk"], ["InvokeComplete"]]
    assert json.loads(got[0]["PayloadChunk"]["Payload"]) == {"k": "v"} and got[1]["InvokeComplete"] == {}


def test_function_errors_are_reported_in_invoke_complete(lambda_client: Any, code_dir: Path) -> None:
    make_function("streamer", {"index.js": NODE_STREAM}, handler="index.breaks", runtime="nodejs20.x",
                  code_dir=code_dir)
    got = events(lambda_client.invoke_with_response_stream(FunctionName="streamer"))
    assert got[0]["PayloadChunk"]["Payload"] == b"half"
    complete = got[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Error" and json.loads(complete["ErrorDetails"])["errorMessage"] == "midway"


def test_dry_run_event_type_and_unknown_functions(lambda_client: Any, code_dir: Path) -> None:
    make_function("echo", code_dir=code_dir)
    assert lambda_client.invoke_with_response_stream(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke_with_response_stream(FunctionName="echo", InvocationType="Event")
    assert error_of(caught)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke_with_response_stream(FunctionName="ghost")
    assert error_of(caught)[:2] == (404, "ResourceNotFoundException")
