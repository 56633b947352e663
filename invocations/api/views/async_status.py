"""GetAsyncInvocation (beyond AWS): the state of an Event invocation by its request id.

``GET /2015-03-31/functions/{FunctionName}/async-invocations/{RequestId}``, SigV4-signed like every
API call. The answer (JSON) is the invocation's status, its record condition once final, each
attempt and each destination delivery — see ``invocations.timeline.async_invocation`` for the shape.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from invocations.api.base import aws_operation, caller, json_response
from invocations.selectors import parse_control_function_name
from invocations.timeline import async_invocation


@aws_operation
def get_async_invocation(request: HttpRequest, function_name: str, request_id: str) -> HttpResponse:
    ref = parse_control_function_name(function_name)
    return json_response(async_invocation(caller=caller(request), ref=ref, request_id=request_id))
