"""Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s) (spec §5.1): parse, call the service, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from invocations.api.base import aws_operation, caller, empty_response, json_body, json_response
from invocations.errors import ValidationException
from invocations.arns import FunctionRef, validation_message
from invocations.selectors import parse_control_function_name
from invocations.services import event_invoke_config as service

MAX_ITEMS_LIMIT = 50


def _ref(request: HttpRequest, function_name: str) -> FunctionRef:
    return parse_control_function_name(function_name, qualifier=request.GET.get("Qualifier"))


@aws_operation
def put_function_event_invoke_config(request: HttpRequest, function_name: str) -> HttpResponse:
    given = service.ConfigInput.from_body(json_body(request))
    config = service.put_function_event_invoke_config(caller=caller(request), ref=_ref(request, function_name), given=given)
    return json_response(service.to_output(config))


@aws_operation
def update_function_event_invoke_config(request: HttpRequest, function_name: str) -> HttpResponse:
    given = service.ConfigInput.from_body(json_body(request))
    config = service.put_function_event_invoke_config(
        caller=caller(request), ref=_ref(request, function_name), given=given, merge=True
    )
    return json_response(service.to_output(config))


@aws_operation
def get_function_event_invoke_config(request: HttpRequest, function_name: str) -> HttpResponse:
    config = service.get_function_event_invoke_config(caller=caller(request), ref=_ref(request, function_name))
    return json_response(service.to_output(config))


@aws_operation
def delete_function_event_invoke_config(request: HttpRequest, function_name: str) -> HttpResponse:
    service.delete_function_event_invoke_config(caller=caller(request), ref=_ref(request, function_name))
    return empty_response(204)


def _max_items(value: str | None) -> int:
    if value is None or value == "":
        return MAX_ITEMS_LIMIT
    try:
        number = int(value)
    except ValueError:
        raise ValidationException(
            validation_message([(value, "maxItems", "Member must be a number")])
        ) from None
    if not 1 <= number <= MAX_ITEMS_LIMIT:
        bound = "less than or equal to 50" if number > MAX_ITEMS_LIMIT else "greater than or equal to 1"
        raise ValidationException(validation_message([(value, "maxItems", f"Member must have value {bound}")]))
    return number


@aws_operation
def list_function_event_invoke_configs(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    page = service.list_function_event_invoke_configs(
        caller=caller(request), ref=ref, marker=request.GET.get("Marker"), max_items=_max_items(request.GET.get("MaxItems"))
    )
    body: dict[str, object] = {"FunctionEventInvokeConfigs": [service.to_output(c) for c in page.items]}
    if page.next_marker:
        body["NextMarker"] = page.next_marker
    return json_response(body)
