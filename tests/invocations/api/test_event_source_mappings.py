"""Create/Get/Update/Delete/ListEventSourceMapping(s) through real boto3 (spec §8.1)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.event_sources import supervisor
from invocations.models import Alias, EventSourceMapping
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

FN = "arn:aws:lambda:us-east-1:111111111111:function"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"
FIFO = "arn:aws:sqs:us-east-1:000000000000:orders.fifo"
STREAM = "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"
BROKER = "arn:aws:mq:us-east-1:000000000000:broker:rabbit:b-1234"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(autouse=True)
def functions(settings: Any, tmp_path: Path, team: Any) -> None:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    function = make_function(code_dir=settings.LAMBDA_CODE_DIR, versions=("$LATEST", "1"))
    Alias.objects.create(function=function, name="prod", function_version="1")
    make_function("other", code_dir=settings.LAMBDA_CODE_DIR)


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def body(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k not in ("ResponseMetadata", "LastModified")}


def test_create_for_sqs_answers_202_with_awss_defaults(lambda_client: Any) -> None:
    response = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert isinstance(response["LastModified"], datetime)
    assert abs((datetime.now(timezone.utc) - response["LastModified"]).total_seconds()) < 60
    uuid = response["UUID"]
    assert UUID_RE.match(uuid)
    assert body(response) == {
        "UUID": uuid,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": QUEUE,
        "FunctionArn": f"{FN}:echo",
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": [],
        "EventSourceMappingArn": f"arn:aws:lambda:us-east-1:111111111111:event-source-mapping:{uuid}",
    }


def test_last_modified_is_an_epoch_number_on_the_wire(lambda_client: Any) -> None:
    raw: list[bytes] = []
    lambda_client.meta.events.register(
        "after-call.lambda.CreateEventSourceMapping", lambda http_response, **_: raw.append(http_response.content)
    )
    lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")
    assert isinstance(json.loads(raw[0])["LastModified"], float)


def test_the_supervisor_settles_creating_into_enabled_or_disabled(lambda_client: Any) -> None:
    enabled = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")["UUID"]
    disabled = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="other", Enabled=False)["UUID"]
    supervisor.settle_states()
    assert lambda_client.get_event_source_mapping(UUID=enabled)["State"] == "Enabled"
    assert lambda_client.get_event_source_mapping(UUID=disabled)["State"] == "Disabled"


def test_update_moves_through_disabling_enabling_and_updating(lambda_client: Any) -> None:
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")["UUID"]
    supervisor.settle_states()
    response = lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["State"]) == (202, "Disabling")
    supervisor.settle_states()
    assert lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    supervisor.settle_states()
    response = lambda_client.update_event_source_mapping(UUID=uuid, BatchSize=5)
    assert (response["State"], response["BatchSize"], response["StateTransitionReason"]) == ("Updating", 5, "USER_INITIATED")
    supervisor.settle_states()
    assert lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"


def test_delete_answers_deleting_then_the_mapping_is_gone(lambda_client: Any) -> None:
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")["UUID"]
    response = lambda_client.delete_event_source_mapping(UUID=uuid)
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["State"]) == (202, "Deleting")
    supervisor.settle_states()
    with pytest.raises(ClientError) as caught:
        lambda_client.get_event_source_mapping(UUID=uuid)
    assert error_of(caught) == (404, "ResourceNotFoundException", "The resource you requested does not exist.")


@pytest.mark.parametrize("operation", ["get", "update", "delete"])
def test_an_unknown_uuid_is_a_404(lambda_client: Any, operation: str) -> None:
    call = getattr(lambda_client, f"{operation}_event_source_mapping")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        call(UUID="6d9b5bbb-0000-4000-8000-000000000000")


def test_a_duplicate_sqs_mapping_is_a_409_naming_the_existing_one(lambda_client: Any) -> None:
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")["UUID"]
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")
    assert error_of(caught) == (
        409,
        "ResourceConflictException",
        f'An event source mapping with SQS arn (" {QUEUE} ") and function (" {FN}:echo ") already exists. '
        f"Please update or delete the existing mapping with UUID {uuid}",
    )
    # Another function, or a qualified one, is not a duplicate.
    lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="other")
    qualified = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo:prod")
    assert qualified["FunctionArn"] == f"{FN}:echo:prod"


def test_an_unknown_function_is_a_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="nope")
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {FN}:nope")


@pytest.mark.parametrize(
    ("arguments", "status", "code", "message"),
    [
        ({"BatchSize": 11}, 400, "InvalidParameterValueException",
         "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
        ({"BatchSize": 10001, "MaximumBatchingWindowInSeconds": 1}, 400, "ValidationException",
         "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: "
         "Member must have value less than or equal to 10000"),
        ({"MaximumBatchingWindowInSeconds": 301}, 400, "ValidationException",
         "1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: "
         "Member must have value less than or equal to 300"),
        ({"StartingPosition": "LATEST"}, 400, "InvalidParameterValueException",
         "StartingPosition is not valid for SQS event sources."),
        ({"DestinationConfig": {"OnFailure": {"Destination": QUEUE}}}, 400, "InvalidParameterValueException",
         "Unsupported DestinationConfig parameter for given event source mapping type."),
        ({"MaximumRetryAttempts": 2}, 400, "InvalidParameterValueException",
         "Unsupported MaximumRetryAttempts parameter for given event source mapping type."),
        ({"BisectBatchOnFunctionError": True}, 400, "InvalidParameterValueException",
         "Unsupported BisectBatchOnFunctionError parameter for given event source mapping type."),
        ({"FilterCriteria": {"Filters": [{"Pattern": "not json"}]}}, 400, "InvalidParameterValueException",
         "Invalid filter pattern definition."),
        ({"FunctionResponseTypes": ["Other"]}, 400, "ValidationException",
         "1 validation error detected: Value '['Other']' at 'functionResponseTypes' failed to satisfy constraint: "
         "Member must satisfy enum value set: [ReportBatchItemFailures]"),
        ({"ScalingConfig": {"MaximumConcurrency": 1001}}, 400, "ValidationException",
         "1 validation error detected: Value '1001' at 'maximumConcurrency' failed to satisfy constraint: "
         "Member must have value less than or equal to 1000"),
    ],
)  # fmt: skip
def test_sqs_validation_errors_say_what_is_wrong(
    lambda_client: Any, arguments: dict[str, Any], status: int, code: str, message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo", **arguments)
    assert error_of(caught) == (status, code, message)
    assert not EventSourceMapping.objects.exists()


def test_fifo_queues_take_at_most_10(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(
            EventSourceArn=FIFO, FunctionName="echo", BatchSize=11, MaximumBatchingWindowInSeconds=1
        )
    assert error_of(caught)[:2] == (400, "InvalidParameterValueException")


def test_sqs_options_are_stored_and_echoed(lambda_client: Any) -> None:
    pattern = json.dumps({"body": {"kind": ["order"]}})
    response = lambda_client.create_event_source_mapping(
        EventSourceArn=QUEUE,
        FunctionName=f"{FN}:echo",
        BatchSize=100,
        MaximumBatchingWindowInSeconds=2,
        FilterCriteria={"Filters": [{"Pattern": pattern}]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 3},
        Enabled=False,
    )
    expected = {
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 2,
        "FilterCriteria": {"Filters": [{"Pattern": pattern}]},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 3},
    }
    assert {k: response[k] for k in expected} == expected
    got = lambda_client.get_event_source_mapping(UUID=response["UUID"])
    assert {k: got[k] for k in expected} == expected
    mapping = EventSourceMapping.objects.get(uuid=response["UUID"])
    assert (mapping.source_kind, mapping.enabled, mapping.created_by.username) == ("sqs", False, "alice")
    # FilterCriteria {} removes the filters (as AWS).
    updated = lambda_client.update_event_source_mapping(UUID=response["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in updated


def test_a_kinesis_mapping_needs_a_starting_position_and_echoes_stream_fields(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(EventSourceArn=STREAM, FunctionName="echo")
    assert error_of(caught) == (
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null",
    )
    response = lambda_client.create_event_source_mapping(
        EventSourceArn=STREAM,
        FunctionName="echo",
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=2,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": QUEUE}},
    )
    assert body(response) == {
        "UUID": response["UUID"],
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": STREAM,
        "FunctionArn": f"{FN}:echo",
        "State": "Creating",
        "StateTransitionReason": "User action",
        "FunctionResponseTypes": [],
        "EventSourceMappingArn": f"arn:aws:lambda:us-east-1:111111111111:event-source-mapping:{response['UUID']}",
        "StartingPosition": "TRIM_HORIZON",
        "ParallelizationFactor": 1,
        "MaximumRetryAttempts": 2,
        "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": True,
        "TumblingWindowInSeconds": 0,
        "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
        "LastProcessingResult": "No records processed",
    }
    assert EventSourceMapping.objects.get(uuid=response["UUID"]).source_kind == "kinesis"
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(EventSourceArn=STREAM, FunctionName="echo", StartingPosition="LATEST")
    assert error_of(caught)[:2] == (409, "ResourceConflictException")


def test_at_timestamp_keeps_the_timestamp(lambda_client: Any) -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    response = lambda_client.create_event_source_mapping(
        EventSourceArn=STREAM, FunctionName="echo", StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=moment
    )
    assert response["StartingPositionTimestamp"] == moment


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"MaximumRecordAgeInSeconds": 30}, "1 validation error detected: Value '30' at 'maximumRecordAgeInSeconds' "
         "failed to satisfy constraint: Member must have value greater than or equal to 60"),
        ({"MaximumRetryAttempts": 10001}, "1 validation error detected: Value '10001' at 'maximumRetryAttempts' "
         "failed to satisfy constraint: Member must have value less than or equal to 10000"),
        ({"ParallelizationFactor": 11}, "1 validation error detected: Value '11' at 'parallelizationFactor' "
         "failed to satisfy constraint: Member must have value less than or equal to 10"),
        ({"DestinationConfig": {"OnSuccess": {"Destination": QUEUE}}},
         "Unsupported OnSuccess destination for event source mappings."),
        ({"ScalingConfig": {"MaximumConcurrency": 5}}, "Unsupported ScalingConfig parameter for given event source mapping type."),
    ],
)  # fmt: skip
def test_stream_validation_errors(lambda_client: Any, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(
            EventSourceArn=STREAM, FunctionName="echo", StartingPosition="LATEST", **arguments
        )
    assert error_of(caught)[2] == message


def test_a_rabbitmq_mapping_by_broker_arn_and_url(lambda_client: Any) -> None:
    response = lambda_client.create_event_source_mapping(
        EventSourceArn=BROKER,
        FunctionName="echo",
        Queues=["jobs"],
        SourceAccessConfigurations=[
            {"Type": "BROKER_URL", "URI": "amqp://guest:guest@127.0.0.1:5672/"},
            {"Type": "VIRTUAL_HOST", "URI": "/"},
        ],
    )
    assert (response["BatchSize"], response["Queues"], response["StateTransitionReason"]) == (100, ["jobs"], "User action")
    mapping = EventSourceMapping.objects.get(uuid=response["UUID"])
    assert (mapping.source_kind, mapping.source_url, mapping.queues) == ("rabbitmq", "amqp://guest:guest@127.0.0.1:5672/", ["jobs"])


def test_a_rabbitmq_mapping_by_amqp_url_gets_a_derived_arn(lambda_client: Any) -> None:
    response = lambda_client.create_event_source_mapping(
        EventSourceArn="amqp://guest:guest@127.0.0.1:5672/%2F", FunctionName="echo", Queues=["jobs"]
    )
    assert re.match(r"^arn:aws:mq:us-east-1:111111111111:broker:127\.0\.0\.1:b-[0-9a-f]{12}$", response["EventSourceArn"])
    mapping = EventSourceMapping.objects.get(uuid=response["UUID"])
    assert (mapping.source_kind, mapping.source_url) == ("rabbitmq", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"EventSourceArn": BROKER, "Queues": ["q"]}, "A RabbitMQ mapping needs the broker's address"),
        ({"EventSourceArn": "amqp://h/", "Queues": ["a", "b"]}, "Queues must name exactly one queue."),
        ({"EventSourceArn": "arn:aws:s3:::bucket"}, "Unsupported event source type"),
        ({"EventSourceArn": QUEUE, "Queues": ["q"]}, "Unsupported Queues parameter"),
    ],
)
def test_unsupported_sources_and_bad_queues_are_refused(lambda_client: Any, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.create_event_source_mapping(FunctionName="echo", **arguments)
    status, code, text = error_of(caught)
    assert (status, code) == (400, "InvalidParameterValueException") and text.startswith(message)


def test_list_filters_by_source_and_function_and_pages(lambda_client: Any) -> None:
    a = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")["UUID"]
    b = lambda_client.create_event_source_mapping(EventSourceArn=FIFO, FunctionName="echo")["UUID"]
    c = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="other")["UUID"]
    every = lambda_client.list_event_source_mappings()["EventSourceMappings"]
    assert [m["UUID"] for m in every] == [a, b, c]
    by_queue = lambda_client.list_event_source_mappings(EventSourceArn=QUEUE)["EventSourceMappings"]
    assert [m["UUID"] for m in by_queue] == [a, c]
    by_function = lambda_client.list_event_source_mappings(FunctionName=f"{FN}:echo")["EventSourceMappings"]
    assert [m["UUID"] for m in by_function] == [a, b]
    first = lambda_client.list_event_source_mappings(MaxItems=2)
    second = lambda_client.list_event_source_mappings(MaxItems=2, Marker=first["NextMarker"])
    assert [m["UUID"] for m in first["EventSourceMappings"] + second["EventSourceMappings"]] == [a, b, c]
    assert "NextMarker" not in second
    paginated = [m["UUID"] for page in lambda_client.get_paginator("list_event_source_mappings").paginate(
        PaginationConfig={"PageSize": 1}) for m in page["EventSourceMappings"]]  # fmt: skip
    assert paginated == [a, b, c]


def test_update_can_move_the_mapping_to_another_function(lambda_client: Any) -> None:
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="echo")["UUID"]
    response = lambda_client.update_event_source_mapping(UUID=uuid, FunctionName="other")
    assert response["FunctionArn"] == f"{FN}:other"


def test_deleting_the_function_deletes_its_mappings(lambda_client: Any) -> None:
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="other")["UUID"]
    lambda_client.delete_function(FunctionName="other")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_event_source_mapping(UUID=uuid)
