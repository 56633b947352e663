"""Creating and changing functions from the console, through the control plane's own services.

Validation is AWS's: the console calls `create_function`, `update_function_configuration`,
`update_function_code` and `put_function_concurrency` and turns their AWS errors into messages
next to the form fields they are about.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from console.services import package_tree
from invocations.access import Caller
from invocations.arns import FunctionRef
from invocations.errors import AccessDeniedException, AwsError, PreconditionFailedException
from invocations.models import Function, FunctionVersion, Membership, Team
from invocations.selectors import parse_control_function_name
from invocations.services import code as code_service
from invocations.services import functions as function_service
from invocations.services import tags as tag_service

DEFAULT_ROLE = "arn:aws:iam::000000000000:role/lambda-role"
MAX_INLINE_BYTES = 512 * 1024  # larger files are shown as "download the package" only

# AWS names a member in its message ("Value 'x' at 'memorySize' failed…"); the console's field names.
_MEMBER_FIELDS = {
    "functionName": "name",
    "handler": "handler",
    "runtime": "runtime",
    "timeout": "timeout",
    "memorySize": "memory_size",
    "description": "description",
    "environment.variables": "environment",
    "ephemeralStorage.size": "ephemeral_storage",
    "reservedConcurrentExecutions": "reserved_concurrency",
}


@dataclass(frozen=True)
class Blank:
    filename: str
    handler: str
    source: str


_PYTHON = Blank(
    "lambda_function.py",
    "lambda_function.lambda_handler",
    'import json\n\n\ndef lambda_handler(event, context):\n    print("event:", json.dumps(event))\n'
    '    return {"statusCode": 200, "body": json.dumps("Hello from Lambda!")}\n',
)
_NODE = Blank(
    "index.js",
    "index.handler",
    'exports.handler = async (event) => {\n  console.log("event:", JSON.stringify(event));\n'
    '  return { statusCode: 200, body: JSON.stringify("Hello from Lambda!") };\n};\n',
)

# A custom runtime's bootstrap speaks the Runtime API itself. The sandbox has /bin/sh and curl (the
# engine's provided.* tests run this same loop), so the template needs nothing from the package.
_BOOTSTRAP = Blank(
    "bootstrap",
    "function.handler",
    """#!/bin/sh
# A custom runtime (provided.*): Lambda runs this file and it answers events through the Runtime API.
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  echo "event: $EVENT"
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" \\
    -d "{\\"statusCode\\": 200, \\"body\\": \\"Hello from Lambda!\\", \\"event\\": $EVENT}" >/dev/null
done
""",
)


def blank_for(runtime: str) -> Blank | None:
    if runtime.startswith("python3"):
        return _PYTHON
    if runtime.startswith("nodejs"):
        return _NODE
    if runtime.startswith("provided"):
        return _BOOTSTRAP
    return None


class FieldErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(str(errors))
        self.errors = errors


def field_errors(error: AwsError, default_field: str = "__all__") -> FieldErrors:
    """Spread an AWS error over the form fields its message names (the whole form otherwise). A
    refusal is not a field's problem: it goes on (to the console's 403 page)."""
    if isinstance(error, AccessDeniedException):
        raise error
    message = str(error.message or error.code)
    found: dict[str, list[str]] = {}
    for member in re.findall(r"at '([A-Za-z.]+)' failed", message):
        found.setdefault(_MEMBER_FIELDS.get(member, default_field), []).append(message)
    if not found:
        if "environment variables" in message:
            default_field = "environment"
        elif "runtime" in message.lower() and default_field == "__all__":
            default_field = "runtime"
        found[default_field] = [message]
    return FieldErrors({field: [messages[0]] for field, messages in found.items()})


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (package_tree.new_file_mode(text, name) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    return buffer.getvalue()


def ref_of(function: Function) -> FunctionRef:
    """The function as the services name it (its team's account, so there is no ambiguity)."""
    return FunctionRef(name=function.name, qualifier=None, account=function.team.account_id)


def create_function(
    *, caller: Caller, name: str, runtime: str, zip_data: bytes | None, source: str | None
) -> Function:
    """A function of the caller's current team, from a blank template (with `source` as its code)
    or from an uploaded zip."""
    try:
        # The API view checks the name's shape before the service does; so does the console.
        name = parse_control_function_name(name).name
    except AwsError as error:
        raise field_errors(error, "name") from None
    blank = blank_for(runtime)
    if zip_data is None:
        if blank is None:
            raise FieldErrors({"runtime": [f"There is no inline template for {runtime}: upload a .zip package."]})
        zip_data = zip_of({blank.filename: package_tree.lf(source) if source is not None else blank.source})
    handler = blank.handler if blank else "function.handler"
    try:
        version = function_service.create_function(
            caller=caller,
            ref=FunctionRef(name=name, qualifier=None),
            config=function_service.ConfigInput(Role=DEFAULT_ROLE, Handler=handler, Runtime=runtime),
            code={"ZipFile": base64.b64encode(zip_data).decode()},
        )
    except AwsError as error:
        raise field_errors(error, "name" if "already exist" in str(error.message) else "__all__") from None
    return version.function


# --- code ---------------------------------------------------------------------------------------


def package_files(version: FunctionVersion) -> list[str]:
    path = code_service.local_zip(version.code_digest)
    if not path.is_file():
        return []
    with zipfile.ZipFile(path) as archive:
        return sorted(info.filename for info in archive.infolist() if not info.is_dir())


def handler_file(version: FunctionVersion, files: list[str]) -> str | None:
    """The file the handler names (“lambda_function.handler” → lambda_function.py), if present."""
    module = version.handler.rsplit(".", 1)[0]
    for suffix in (".py", ".js", ".mjs", ".cjs"):
        if module + suffix in files:
            return module + suffix
    return files[0] if files else None


def read_file(version: FunctionVersion, filename: str) -> str | None:
    """A package file's text, or None when it is binary, too large or absent."""
    code_service.local_zip(version.code_digest)  # this node's copy (another node may have stored it)
    path = code_service.code_dir(version.code_digest) / filename
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(code_service.code_dir(version.code_digest).resolve()) or not resolved.is_file():
            return None
        if resolved.stat().st_size > MAX_INLINE_BYTES:
            return None
        return resolved.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def deploy_file(*, caller: Caller, version: FunctionVersion, filename: str, source: str) -> FunctionVersion:
    """UpdateFunctionCode with `filename` replaced by `source` (every other file kept, modes too)."""
    original = Path(code_service.local_zip(version.code_digest))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        if original.is_file():
            with zipfile.ZipFile(original) as archive:
                for info in archive.infolist():
                    if info.filename != filename:
                        out.writestr(info, archive.read(info))
        info = zipfile.ZipInfo(filename)
        info.external_attr = (0o644 | 0o100000) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        out.writestr(info, package_tree.lf(source))
    return deploy_zip(caller=caller, version=version, zip_data=buffer.getvalue())


def deploy_tree(
    *, caller: Caller, version: FunctionVersion, entries: list[package_tree.Entry], revision_id: str
) -> FunctionVersion:
    """UpdateFunctionCode with the Code tab's edited tree; ``revision_id`` is the $LATEST the page
    showed, so a deploy over someone else's newer code is refused rather than silently undone."""
    zip_data = package_tree.build(version, entries)
    try:
        return function_service.update_function_code(
            caller=caller, ref=ref_of(version.function), code={"ZipFile": base64.b64encode(zip_data).decode()},
            revision_id=revision_id or None,
        )
    except PreconditionFailedException:
        raise package_tree.TreeErrors(tree=[
            "The code changed since this page was opened (another deploy): reload the page to see it, then edit again."
        ]) from None
    except AwsError as error:
        if isinstance(error, AccessDeniedException):
            raise
        raise package_tree.TreeErrors(tree=[str(error.message or error.code)]) from None


def deploy_zip(*, caller: Caller, version: FunctionVersion, zip_data: bytes) -> FunctionVersion:
    try:
        return function_service.update_function_code(
            caller=caller, ref=ref_of(version.function), code={"ZipFile": base64.b64encode(zip_data).decode()}
        )
    except AwsError as error:
        raise field_errors(error, "code") from None


# --- configuration ------------------------------------------------------------------------------


def update_configuration(
    *,
    caller: Caller,
    function: Function,
    handler: str,
    description: str,
    timeout: int,
    memory_size: int,
    environment: dict[str, str],
    reserved_concurrency: int | None,
    runtime: str | None = None,
    ephemeral_storage: int | None = None,
    tags: dict[str, str] | None = None,
) -> FunctionVersion:
    """UpdateFunctionConfiguration, then the concurrency and the tags (None: left as they are),
    each through its own service; an AWS error lands on the field it is about."""
    config = function_service.ConfigInput(
        Handler=handler, Description=description, Timeout=timeout, MemorySize=memory_size,
        Environment={"Variables": environment}, Runtime=runtime or None,
        EphemeralStorage={"Size": ephemeral_storage} if ephemeral_storage is not None else None,
    )  # fmt: skip
    # One transaction: a refused concurrency or tag leaves the configuration as it was too.
    with transaction.atomic():
        try:
            version = function_service.update_function_configuration(caller=caller, ref=ref_of(function), config=config)
        except AwsError as error:
            raise field_errors(error) from None
        try:
            if reserved_concurrency is None:
                function_service.delete_function_concurrency(caller=caller, ref=ref_of(function))
            elif reserved_concurrency != function.reserved_concurrency:
                function_service.put_function_concurrency(caller=caller, ref=ref_of(function), reserved=reserved_concurrency)
        except AwsError as error:
            raise field_errors(error, "reserved_concurrency") from None
        if tags is not None:
            try:
                current = tag_service.list_tags(caller=caller, ref=ref_of(function))
                removed = [key for key in current if key not in tags]
                if removed:
                    tag_service.untag_resource(caller=caller, ref=ref_of(function), keys=removed)
                if any(current.get(key) != value for key, value in tags.items()):
                    tag_service.tag_resource(caller=caller, ref=ref_of(function), tags=tags)
            except AwsError as error:
                raise field_errors(error, "tags") from None
    return version


# --- delete and move ------------------------------------------------------------------------------


def delete_function(*, caller: Caller, function: Function) -> None:
    """DeleteFunction of the whole function (a developer's, as on the API)."""
    function_service.delete_function(caller=caller, ref=ref_of(function))


def move_targets(user: Any, function: Function) -> list[Team]:
    """The teams the user may move ``function`` to: the others they administer (all, for a superuser)."""
    teams = Team.objects.exclude(pk=function.team_id).order_by("name")
    if not user.is_superuser:
        teams = teams.filter(memberships__user=user, memberships__role=Membership.Role.ADMIN)
    return list(teams)


def move_function(*, caller: Caller, function: Function, team: Team) -> Function:
    try:
        return function_service.move_function(caller=caller, function=function, team=team)
    except AwsError as error:
        if isinstance(error, AccessDeniedException):
            raise
        raise FieldErrors({"team": [str(error.message or error.code)]}) from None
