"""Put/Get/DeleteFunctionConcurrency through real boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.models import Function
from tests.invocations.api.control_plane import ARN, code_dir, create, error_of, runtimes_on_offer  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("code_dir", "runtimes_on_offer")]


def test_put_get_and_delete_reserved_concurrency(lambda_client: Any) -> None:
    create(lambda_client)
    assert lambda_client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=7)[
        "ReservedConcurrentExecutions"
    ] == 7
    assert Function.objects.get().reserved_concurrency == 7
    assert lambda_client.get_function_concurrency(FunctionName="hello")["ReservedConcurrentExecutions"] == 7
    response = lambda_client.delete_function_concurrency(FunctionName="hello")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(FunctionName="hello")
    assert Function.objects.get().reserved_concurrency is None


def test_zero_is_a_valid_reservation(lambda_client: Any) -> None:
    create(lambda_client)
    lambda_client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=0)
    assert Function.objects.get().reserved_concurrency == 0


def test_reservations_must_leave_100_unreserved(lambda_client: Any) -> None:
    create(lambda_client, "a")
    create(lambda_client, "b")
    lambda_client.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=850)
    with pytest.raises(ClientError) as caught:
        lambda_client.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=51)
    assert error_of(caught) == (
        400,
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100].",
    )
    lambda_client.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=50)
    # Raising one's own reservation counts only the others.
    lambda_client.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=850)


def test_a_qualified_name_is_refused(lambda_client: Any) -> None:
    create(lambda_client)
    with pytest.raises(ClientError) as caught:
        lambda_client.put_function_concurrency(FunctionName=f"{ARN}:hello:1", ReservedConcurrentExecutions=1)
    status, code, message = error_of(caught)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith("This operation is permitted on Lambda functions only.")


def test_concurrency_of_a_missing_function_is_404(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.put_function_concurrency(FunctionName="ghost", ReservedConcurrentExecutions=1)
    assert error_of(caught) == (404, "ResourceNotFoundException", f"Function not found: {ARN}:ghost")
