"""Function URL config operations (spec §7.1): Create/Get/Update/Delete/ListFunctionUrlConfig(s).

``FunctionUrl`` is built for the host the caller reached (its port), unless settings fix it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from invocations.api.base import aws_operation, caller, empty_response, json_body, json_response
from invocations.api.views.functions import max_items
from invocations.services import function_urls as service

MAX_URL_PAGE = 50  # ListFunctionUrlConfigs MaxItems is 1–50


def _host(request: HttpRequest) -> str:
    return request.META.get("HTTP_HOST", "")


@aws_operation
def create_function_url_config(request: HttpRequest, function_name: str) -> HttpResponse:
    body = json_body(request)
    config = service.create_function_url_config(
        caller=caller(request),
        function_name=function_name,
        qualifier=request.GET.get("Qualifier"),
        auth_type=body.get("AuthType"),
        cors=body.get("Cors"),
        invoke_mode=body.get("InvokeMode"),
    )
    return json_response(service.render(config, request_host=_host(request), last_modified=False), status=201)


@aws_operation
def get_function_url_config(request: HttpRequest, function_name: str) -> HttpResponse:
    config = service.get_url_config(caller=caller(request), function_name=function_name,
                                    qualifier=request.GET.get("Qualifier"))  # fmt: skip
    return json_response(service.render(config, request_host=_host(request)))


@aws_operation
def update_function_url_config(request: HttpRequest, function_name: str) -> HttpResponse:
    body = json_body(request)
    config = service.update_function_url_config(
        caller=caller(request),
        function_name=function_name,
        qualifier=request.GET.get("Qualifier"),
        auth_type=body.get("AuthType"),
        cors=body.get("Cors"),
        invoke_mode=body.get("InvokeMode"),
    )
    return json_response(service.render(config, request_host=_host(request)))


@aws_operation
def delete_function_url_config(request: HttpRequest, function_name: str) -> HttpResponse:
    service.delete_function_url_config(caller=caller(request), function_name=function_name,
                                       qualifier=request.GET.get("Qualifier"))  # fmt: skip
    return empty_response(204)


@aws_operation
def list_function_url_configs(request: HttpRequest, function_name: str) -> HttpResponse:
    page = service.list_function_url_configs(
        caller=caller(request), function_name=function_name, marker=request.GET.get("Marker"),
        max_items=max_items(request, limit=MAX_URL_PAGE, maximum=MAX_URL_PAGE),
    )
    data: dict[str, object] = {
        "FunctionUrlConfigs": [service.render(c, request_host=_host(request)) for c in page.items]
    }
    if page.next_marker:
        data["NextMarker"] = page.next_marker
    return json_response(data)
