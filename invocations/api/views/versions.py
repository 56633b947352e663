"""PublishVersion and ListVersionsByFunction."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from invocations.api import shapes
from invocations.api.base import aws_operation, caller, json_body, json_response
from invocations.api.views.functions import max_items
from invocations.selectors import list_versions, parse_control_function_name
from invocations.services.versions import publish_version as publish


@aws_operation
def publish_version(request: HttpRequest, function_name: str) -> HttpResponse:
    body = json_body(request)
    ref = parse_control_function_name(function_name)
    version = publish(
        caller=caller(request),
        ref=ref,
        code_sha256=body.get("CodeSha256"),
        description=body.get("Description"),
        revision_id=body.get("RevisionId"),
    )
    return json_response(shapes.function_configuration(version), status=201)


@aws_operation
def list_versions_by_function(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    page = list_versions(caller=caller(request), ref=ref, marker=request.GET.get("Marker"), max_items=max_items(request))
    # Every entry carries its version in the ARN, `…:$LATEST` included [LSR].
    data: dict[str, Any] = {
        "Versions": [shapes.function_configuration(v, arn_qualifier=v.version) for v in page.items]
    }
    if page.next_marker:
        data["NextMarker"] = page.next_marker
    return json_response(data)
