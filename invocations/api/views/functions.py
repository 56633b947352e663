"""Function operations (spec §6.1): parse the request, call one service, render AWS's shape."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse

from invocations.api import shapes
from invocations.api.base import aws_operation, caller, empty_response, json_body, json_response
from invocations.errors import ValidationException
from invocations.arns import validation_message
from invocations.models import FunctionVersion
from invocations.selectors import function_version, list_functions as select_functions, parse_control_function_name
from invocations.services import code as code_service
from invocations.services import functions as service

# AWS's presigned Code.Location URLs are valid for 10 minutes.
CODE_URL_SECONDS = 600
MAX_PAGE = 50


def max_items(request: HttpRequest, *, limit: int = MAX_PAGE, maximum: int = 10000) -> int:
    """`MaxItems` (1–`maximum` in the model, 10000 for most operations; botocore checks only the
    minimum); pages hold at most `limit`."""
    raw = request.GET.get("MaxItems")
    if raw is None or raw == "":
        return limit
    try:
        value = int(raw)
    except ValueError:
        # int() refuses numbers of more than 4,300 digits: those are just too large.
        value = maximum + 1 if raw.isascii() and raw.isdigit() else -1
    if not 1 <= value <= maximum:
        constraint = (
            f"Member must have value less than or equal to {maximum}" if value > maximum
            else "Member must have value greater than or equal to 1"
        )
        raise ValidationException(validation_message([(raw, "maxItems", constraint)]))
    return min(value, limit)


def _flag(value: Any) -> bool:
    return value is True


# --- code download (Code.Location) ---------------------------------------------------------------


def _code_signature(digest: str, expires: int) -> str:
    key = hashlib.sha256(b"workbench-code-location:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, f"{digest}:{expires}".encode(), hashlib.sha256).hexdigest()


def code_location(request: HttpRequest, version: FunctionVersion) -> str:
    """A presigned-style URL on this server (the Host the client used, so IPv6 stays bracketed)."""
    expires = int(time.time()) + CODE_URL_SECONDS
    path = reverse("function-code", kwargs={"digest": version.code_digest})
    query = urlencode({"Expires": expires, "Signature": _code_signature(version.code_digest, expires)})
    return request.build_absolute_uri(f"{path}?{query}")


def download_code(request: HttpRequest, digest: str) -> HttpResponse:
    """The zip behind a Code.Location URL: no SigV4, the HMAC token in the URL is the credential."""
    try:
        expires = int(request.GET.get("Expires", ""))
    except ValueError:
        return HttpResponse("Request has expired or is not signed", status=403, content_type="text/plain")
    signature = request.GET.get("Signature", "")
    if expires < time.time() or not hmac.compare_digest(signature, _code_signature(digest, expires)):
        return HttpResponse("Request has expired or is not signed", status=403, content_type="text/plain")
    path = code_service.local_zip(digest)  # fetched from the database when another node stored it
    if not path.is_file():
        raise Http404("no such code")
    return FileResponse(open(path, "rb"), content_type="application/zip", as_attachment=True, filename=f"{digest}.zip")


# --- operations -----------------------------------------------------------------------------------


@aws_operation
def create_function(request: HttpRequest) -> HttpResponse:
    body = json_body(request)
    ref = parse_control_function_name(str(body.get("FunctionName", "")))
    version = service.create_function(
        caller=caller(request),
        ref=ref,
        config=service.ConfigInput.from_body(body),
        code=body.get("Code"),
        publish_first=_flag(body.get("Publish")),
        tags=body.get("Tags") if isinstance(body.get("Tags"), dict) else None,
    )
    return json_response(shapes.function_configuration(version), status=201)


@aws_operation
def get_function(request: HttpRequest, function_name: str) -> HttpResponse:
    qualifier = request.GET.get("Qualifier")
    ref = parse_control_function_name(function_name, qualifier=qualifier)
    version = function_version(caller=caller(request), ref=ref, action="lambda:GetFunction")
    function = version.function
    data: dict[str, Any] = {
        "Configuration": shapes.function_configuration(version, arn_qualifier=ref.qualifier),
        "Code": {"RepositoryType": "S3", "Location": code_location(request, version)},
    }
    if function.tags:
        data["Tags"] = dict(function.tags)
    if function.reserved_concurrency is not None:
        data["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
    return json_response(data)


@aws_operation
def get_function_configuration(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name, qualifier=request.GET.get("Qualifier"))
    version = function_version(caller=caller(request), ref=ref, action="lambda:GetFunctionConfiguration")
    return json_response(shapes.function_configuration(version, arn_qualifier=ref.qualifier))


@aws_operation
def list_functions(request: HttpRequest) -> HttpResponse:
    function_version = request.GET.get("FunctionVersion")
    if function_version not in (None, "ALL"):
        raise ValidationException(
            validation_message([(function_version, "functionVersion", "Member must satisfy enum value set: [ALL]")])
        )
    page = select_functions(
        caller=caller(request),
        all_versions=function_version == "ALL", marker=request.GET.get("Marker"), max_items=max_items(request)
    )
    data: dict[str, Any] = {
        "Functions": [
            # With FunctionVersion=ALL every entry names its version, $LATEST included.
            shapes.function_configuration(v, arn_qualifier=v.version if function_version == "ALL" else None)
            for v in page.items
        ]
    }
    if page.next_marker:
        data["NextMarker"] = page.next_marker
    return json_response(data)


@aws_operation
def update_function_configuration(request: HttpRequest, function_name: str) -> HttpResponse:
    body = json_body(request)
    ref = parse_control_function_name(function_name)
    version = service.update_function_configuration(
        caller=caller(request), ref=ref, config=service.ConfigInput.from_body(body), revision_id=body.get("RevisionId")
    )
    return json_response(shapes.function_configuration(version))


@aws_operation
def update_function_code(request: HttpRequest, function_name: str) -> HttpResponse:
    body = json_body(request)
    ref = parse_control_function_name(function_name)
    code = {key: body[key] for key in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri") if key in body}
    version = service.update_function_code(
        caller=caller(request),
        ref=ref,
        code=code,
        publish_after=_flag(body.get("Publish")),
        dry_run=_flag(body.get("DryRun")),
        revision_id=body.get("RevisionId"),
        architectures=body.get("Architectures"),
    )
    return json_response(shapes.function_configuration(version))


@aws_operation
def delete_function(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name, qualifier=request.GET.get("Qualifier"))
    service.delete_function(caller=caller(request), ref=ref)
    # The model says 200; the real service answers 204 [LSR].
    return empty_response(204)


@aws_operation
def get_account_settings(request: HttpRequest) -> HttpResponse:
    return json_response(service.account_settings(caller=caller(request)))
