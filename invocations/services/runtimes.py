"""Which runtimes this deployment can run, and AWS's checks of a `Runtime` parameter.

Web nodes and workers write `WorkerHeartbeat` rows naming the runtimes they can start; a runtime
counts as available while some node has reported it within the last ten minutes.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from invocations.errors import InvalidParameterValueException, ValidationException
from invocations.arns import validation_message
from invocations.models import WorkerHeartbeat

HEARTBEAT_WINDOW = timedelta(minutes=10)

# The `Runtime` enum of the botocore 1.44.8 service model, in the model's order: a value outside it
# is a ValidationException, as AWS answers for any enum violation.
AWS_RUNTIMES: tuple[str, ...] = (
    "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x",
    "nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8", "java8.al2", "java11",
    "java17", "java21", "java25", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9",
    "python3.10", "python3.11", "python3.12", "python3.13", "python3.14", "dotnetcore1.0", "dotnetcore2.0",
    "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8", "dotnet10", "nodejs4.3-edge", "go1.x",
    "ruby2.5", "ruby2.7", "ruby3.2", "ruby3.3", "ruby3.4", "ruby4.0", "provided", "provided.al2",
    "provided.al2023", "nodejs26.x", "python3.15", "java8.al2023", "java11.al2023", "java17.al2023", "custom",
)  # fmt: skip


def available_runtimes() -> set[str]:
    """The union of the runtimes reported by the nodes seen recently."""
    since = timezone.now() - HEARTBEAT_WINDOW
    runtimes: set[str] = set()
    for reported in WorkerHeartbeat.objects.filter(seen_at__gte=since).values_list("runtimes", flat=True):
        runtimes.update(r for r in reported or [] if isinstance(r, str))
    return runtimes


def runtime_errors(runtime: object) -> list[tuple[str, str, str]]:
    """ValidationException triples for a value outside AWS's enum (none when it is a known name)."""
    if isinstance(runtime, str) and runtime in AWS_RUNTIMES:
        return []
    return [(str(runtime), "runtime", f"Member must satisfy enum value set: [{', '.join(AWS_RUNTIMES)}]")]


def check_runtime(runtime: object) -> str:
    """Refuse unknown names (ValidationException) and AWS runtimes no node of ours can run.

    AWS refuses a runtime it no longer runs with InvalidParameterValueException "The runtime
    parameter of nodejs12.x is no longer supported for creating or updating AWS Lambda functions…";
    a runtime that no node here offers is the same situation for this deployment.
    """
    errors = runtime_errors(runtime)
    if errors:
        raise ValidationException(validation_message(errors))
    assert isinstance(runtime, str)
    available = available_runtimes()
    if runtime not in available:
        offered = ", ".join(sorted(available)) or "none (no worker has reported in the last 10 minutes)"
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is not supported for creating or updating AWS Lambda "
            f"functions on this platform. We recommend you use a supported runtime while creating or "
            f"updating functions. Supported runtimes: {offered}."
        )
    return runtime
