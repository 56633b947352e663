"""The wire form of the platform's errors (spec §2): one place renders every ``AwsError``.

A rest-json error is an HTTP status, an ``x-amzn-ErrorType`` header naming the code, and a JSON body
(``AwsError.body``). The errors themselves are domain data in ``invocations/errors.py``.
"""

from __future__ import annotations

import json

from django.http import HttpResponse

from invocations.errors import AwsError


def error_response(error: AwsError, request_id: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(error.body(), separators=(",", ":")), status=error.status, content_type="application/json"
    )
    response["x-amzn-RequestId"] = request_id
    response["x-amzn-ErrorType"] = error.code
    for name, value in error.headers.items():
        response[name] = value
    return response
