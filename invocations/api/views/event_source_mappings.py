"""Create/Get/Update/Delete/ListEventSourceMapping(s) (spec §8.1): parse, call the service, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from invocations.api.base import aws_operation, caller, json_body, json_response
from invocations.errors import ValidationException
from invocations.arns import validation_message
from invocations.services import event_source_mappings as service


def _max_items(value: str | None) -> int:
    if value is None or value == "":
        return 100
    try:
        number = int(value)
    except ValueError:
        raise ValidationException(validation_message([(value, "maxItems", "Member must be a number")])) from None
    if not 1 <= number <= service.MAX_LIST_ITEMS:
        bound = (
            f"less than or equal to {service.MAX_LIST_ITEMS}" if number > service.MAX_LIST_ITEMS else "greater than or equal to 1"
        )
        raise ValidationException(validation_message([(value, "maxItems", f"Member must have value {bound}")]))
    return number


@aws_operation
def create_event_source_mapping(request: HttpRequest) -> HttpResponse:
    mapping = service.create_event_source_mapping(caller=caller(request), body=json_body(request))
    return json_response(service.to_output(mapping), status=202)


@aws_operation
def list_event_source_mappings(request: HttpRequest) -> HttpResponse:
    page = service.list_event_source_mappings(
        caller=caller(request),
        event_source_arn=request.GET.get("EventSourceArn") or None,
        function_name=request.GET.get("FunctionName") or None,
        marker=request.GET.get("Marker"),
        max_items=_max_items(request.GET.get("MaxItems")),
    )
    body: dict[str, object] = {"EventSourceMappings": [service.to_output(m) for m in page.items]}
    if page.next_marker:
        body["NextMarker"] = page.next_marker
    return json_response(body)


@aws_operation
def get_event_source_mapping(request: HttpRequest, mapping_uuid: str) -> HttpResponse:
    return json_response(service.to_output(service.get_event_source_mapping(caller=caller(request), mapping_uuid=mapping_uuid)))


@aws_operation
def update_event_source_mapping(request: HttpRequest, mapping_uuid: str) -> HttpResponse:
    mapping = service.update_event_source_mapping(caller=caller(request), mapping_uuid=mapping_uuid, body=json_body(request))
    return json_response(service.to_output(mapping), status=202)


@aws_operation
def delete_event_source_mapping(request: HttpRequest, mapping_uuid: str) -> HttpResponse:
    return json_response(service.to_output(service.delete_event_source_mapping(caller=caller(request), mapping_uuid=mapping_uuid)), status=202)
