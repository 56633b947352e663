"""The pipeline's one mapping of the engine's refusals (sync calls, streams and Event attempts)."""

from __future__ import annotations

import pytest

from invocations.engine.types import RuntimeUnavailable, TooManyRequests
from invocations.errors import InvalidRuntimeException, TooManyRequestsException
from invocations.models import Invocation
from invocations.pipeline import platform_failure


@pytest.mark.parametrize(
    ("error", "runtime", "status", "error_type", "message", "aws_error", "aws_message"),
    [
        (TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded"), "python3.12",
         Invocation.Status.THROTTLED, "TooManyRequestsException", "Rate Exceeded.",
         TooManyRequestsException, "Rate Exceeded."),
        (TooManyRequests("ConcurrentInvocationLimitExceeded", "Too many."), "",
         Invocation.Status.THROTTLED, "TooManyRequestsException", "Too many.", TooManyRequestsException, "Too many."),
        (RuntimeUnavailable("no python3.9 here"), "python3.9",
         Invocation.Status.FAILED, "InvalidRuntimeException", "no python3.9 here", InvalidRuntimeException,
         "The runtime python3.9 is not available on this node: no python3.9 here"),
        (RuntimeUnavailable("gone"), "",
         Invocation.Status.FAILED, "InvalidRuntimeException", "gone", InvalidRuntimeException,
         "The runtime is not available on this node: gone"),
    ],
)  # fmt: skip
def test_a_platform_failure_is_recorded_and_raised_as_aws_says(
    error: Exception, runtime: str, status: str, error_type: str, message: str, aws_error: type, aws_message: str
) -> None:
    failure = platform_failure(error, runtime=runtime)  # type: ignore[arg-type]
    assert (failure.status, failure.error_type, failure.message) == (status, error_type, message)
    assert isinstance(failure.error, aws_error)
    assert failure.error.message == aws_message


def test_a_throttle_keeps_the_engines_reason() -> None:
    failure = platform_failure(TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded"))
    assert failure.error.status == 429
    assert failure.error.extra == {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}
