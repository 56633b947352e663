"""Resource-based policy operations (spec §6.1): AddPermission, RemovePermission, GetPolicy."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from invocations.api.base import aws_operation, caller, empty_response, json_body, json_response
from invocations.arns import parse_function_name
from invocations.services import permissions as service


@aws_operation
def add_permission(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_function_name(function_name, qualifier=request.GET.get("Qualifier"))
    added = service.add_permission(caller=caller(request), ref=ref, body=json_body(request))
    return json_response({"Statement": service.json_text(added)}, status=201)


@aws_operation
def get_policy(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_function_name(function_name, qualifier=request.GET.get("Qualifier"))
    document, revision = service.get_policy(caller=caller(request), ref=ref)
    return json_response({"Policy": document, "RevisionId": revision})


@aws_operation
def remove_permission(request: HttpRequest, function_name: str, statement_id: str) -> HttpResponse:
    ref = parse_function_name(function_name, qualifier=request.GET.get("Qualifier"))
    service.remove_permission(
        caller=caller(request), ref=ref, statement_id=statement_id, revision_id_=request.GET.get("RevisionId")
    )
    return empty_response(204)
