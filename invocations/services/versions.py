"""PublishVersion: an immutable snapshot of $LATEST, numbered 1, 2, … and never renumbered."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from invocations import activity
from invocations.access import Caller, find_function
from invocations.arns import FunctionRef
from invocations.errors import InvalidParameterValueException, PreconditionFailedException
from invocations.models import LATEST, Function, FunctionVersion, new_revision_id

# What makes two versions "the same" for PublishVersion. The description is not part of it: a
# version's own description comes from the PublishVersion call.
SNAPSHOT_FIELDS = (
    "runtime", "handler", "role", "timeout", "memory_size", "environment", "code_sha256", "code_size",
    "code_digest", "architectures", "ephemeral_storage", "tracing_mode", "logging_config",
    "dead_letter_target_arn", "layers", "package_type",
)  # fmt: skip


def _same_snapshot(a: FunctionVersion, b: FunctionVersion) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in SNAPSHOT_FIELDS)


def publish_version(
    *,
    caller: Caller,
    ref: FunctionRef,
    code_sha256: str | None = None,
    description: str | None = None,
    revision_id: str | None = None,
) -> FunctionVersion:
    """PublishVersion, for a caller who may."""
    function = find_function(caller, ref, "lambda:PublishVersion", qualified=False)
    with transaction.atomic():
        version = publish(function, code_sha256=code_sha256, description=description, revision_id=revision_id)
        activity.record(caller=caller, action="lambda:PublishVersion", function=function,
                        changes={"version": version.version})  # fmt: skip
    return version


def publish(
    function: Function,
    *,
    code_sha256: str | None = None,
    description: str | None = None,
    revision_id: str | None = None,
) -> FunctionVersion:
    """Publish $LATEST; when neither code nor configuration changed since the newest version, AWS
    publishes nothing and returns that version, and so do we."""
    with transaction.atomic():
        function = Function.objects.select_for_update().select_related("team").get(pk=function.pk)
        latest = FunctionVersion.objects.select_related("function__team").get(function=function, version=LATEST)
        if revision_id and revision_id != latest.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias "
                "API to retrieve the latest Revision Id"
            )
        if code_sha256 and code_sha256 != latest.code_sha256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        if function.next_version > 1:
            newest = (
                FunctionVersion.objects.select_related("function__team")
                .filter(function=function, version=str(function.next_version - 1))
                .first()
            )
            if newest is not None and _same_snapshot(newest, latest):
                return newest
        number = function.next_version
        version = FunctionVersion.objects.create(
            function=function,
            version=str(number),
            description=latest.description if description is None else description,
            **{name: getattr(latest, name) for name in SNAPSHOT_FIELDS},
            state=FunctionVersion.State.ACTIVE,
            last_update_status=FunctionVersion.UpdateStatus.SUCCESSFUL,
            revision_id=new_revision_id(),
            last_modified=timezone.now(),
        )
        function.next_version = number + 1
        function.save(update_fields=["next_version"])
    return version
