"""AWS API requests skip the console's middleware, and every API path answers in AWS's error shape.

The AWS API is SigV4-signed JSON: it uses no session, cookie, CSRF token, user, message or htmx
header, yet each of those middlewares ran on every call — ≈ 5 % of an Event accept's CPU. This
middleware sits right after the function URL one: a request whose path starts with a dated prefix
(``/2015-03-31/`` … any ``/YYYY-MM-DD/``) or ``/_workbench/`` goes straight to its view. A path
there that no route knows is answered as AWS answers one, a rest-json ``UnknownOperationException``
404 — never Django's HTML page, which boto3 would report as error code ``404`` with HTML for a message.

Routes are resolved against the root URLconf, so the console's own part of the workbench API
(``console/api_urls.py``) is found too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, get_resolver

from invocations.api.errors import error_response
from invocations.errors import UnknownOperationException

_API_PATH = re.compile(r"^/(?:\d{4}-\d{2}-\d{2}|_workbench)/")


def is_api_path(path: str) -> bool:
    return _API_PATH.match(path) is not None


class AwsApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.resolver = get_resolver()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not is_api_path(path):
            return self.get_response(request)
        try:
            match = self.resolver.resolve(path)
        except Resolver404:
            return error_response(UnknownOperationException(None), str(uuid.uuid4()))
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
