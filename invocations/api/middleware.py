"""AWS API requests skip the console's middleware.

The AWS API is SigV4-signed JSON: it uses no session, cookie, CSRF token, user, message or htmx
header, yet each of those middlewares ran on every call — ≈ 5 % of an Event accept's CPU. This
middleware sits right after the function URL one: a request whose path starts with one of the API's
dated prefixes (``/2015-03-31/`` …) or ``/_workbench/`` goes straight to its view; anything the API
routes do not know falls through to the full stack (and the console's 404).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, get_resolver

from invocations.api.urls import urlpatterns

PREFIXES = tuple(sorted({"/" + pattern.pattern.regex.pattern.lstrip("^").split("/", 1)[0] + "/" for pattern in urlpatterns}))


class AwsApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.resolver = get_resolver("invocations.api.urls")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if path.startswith(PREFIXES):
            try:
                match = self.resolver.resolve(path)
            except Resolver404:
                return self.get_response(request)
            request.resolver_match = match
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
