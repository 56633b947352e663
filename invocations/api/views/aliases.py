"""Alias operations: CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from invocations.api import shapes
from invocations.api.base import aws_operation, caller, empty_response, json_body, json_response
from invocations.api.views.functions import max_items
from invocations.selectors import list_aliases as select_aliases
from invocations.selectors import parse_control_function_name
from invocations.services import aliases as service


@aws_operation
def create_alias(request: HttpRequest, function_name: str) -> HttpResponse:
    body = json_body(request)
    ref = parse_control_function_name(function_name)
    alias = service.create_alias(
        caller=caller(request),
        ref=ref,
        name=body.get("Name"),
        function_version=body.get("FunctionVersion"),
        description=body.get("Description", ""),
        routing_config=body.get("RoutingConfig"),
    )
    return json_response(shapes.alias_configuration(alias), status=201)


@aws_operation
def get_alias(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    return json_response(shapes.alias_configuration(service.get_alias(caller=caller(request), ref=ref, name=name)))


@aws_operation
def update_alias(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    body = json_body(request)
    ref = parse_control_function_name(function_name)
    changes = {
        argument: body[member]
        for member, argument in (
            ("FunctionVersion", "function_version"),
            ("Description", "description"),
            ("RoutingConfig", "routing_config"),
        )
        if member in body
    }
    alias = service.update_alias(
        caller=caller(request), ref=ref, name=name, revision_id=body.get("RevisionId"), **changes
    )
    return json_response(shapes.alias_configuration(alias))


@aws_operation
def delete_alias(request: HttpRequest, function_name: str, name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    service.delete_alias(caller=caller(request), ref=ref, name=name)
    return empty_response(204)


@aws_operation
def list_aliases(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    page = select_aliases(
        caller=caller(request),
        ref=ref,
        function_version=request.GET.get("FunctionVersion"),
        marker=request.GET.get("Marker"),
        max_items=max_items(request),
    )
    data: dict[str, Any] = {"Aliases": [shapes.alias_configuration(alias) for alias in page.items]}
    if page.next_marker:
        data["NextMarker"] = page.next_marker
    return json_response(data)
