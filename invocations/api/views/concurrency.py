"""Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from invocations.api.base import aws_operation, caller, empty_response, json_body, json_response
from invocations.selectors import parse_control_function_name
from invocations.services import functions as service


@aws_operation
def put_function_concurrency(request: HttpRequest, function_name: str) -> HttpResponse:
    body = json_body(request)
    ref = parse_control_function_name(function_name)
    reserved = service.put_function_concurrency(
        caller=caller(request), ref=ref, reserved=body.get("ReservedConcurrentExecutions")
    )
    return json_response({"ReservedConcurrentExecutions": reserved})


@aws_operation
def get_function_concurrency(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    reserved = service.get_function_concurrency(caller=caller(request), ref=ref)
    # AWS answers {} when nothing is reserved.
    return json_response({} if reserved is None else {"ReservedConcurrentExecutions": reserved})


@aws_operation
def delete_function_concurrency(request: HttpRequest, function_name: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    service.delete_function_concurrency(caller=caller(request), ref=ref)
    return empty_response(204)
