"""Serve function URLs before anything else (sessions, CSRF, auth): a function URL is not the
console, and its responses carry only what the function and the URL config say.

The check costs a string comparison per request: the host form needs ``.lambda-url.`` in the Host,
the path form a ``/lambda-url/`` prefix.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from invocations.urls_function.routing import PATH_PREFIX, route


class FunctionUrlMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.region = settings.LAMBDA_REGION
        self.domain = settings.FUNCTION_URL_DOMAIN

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        host = request.META.get("HTTP_HOST", "")
        path = request.path_info
        if ".lambda-url." in host or path.startswith(PATH_PREFIX):
            found = route(host=host, path=path, region=self.region, domain=self.domain)
            if found is not None:
                from invocations.urls_function.views import serve

                return serve(request, found)
        return self.get_response(request)
