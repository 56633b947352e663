"""The console's answer to a refusal: the styled 403 page (``templates/403.html``, also Django's
``permission_denied`` page) saying which permission is missing.

Services raise the domain's ``AccessDeniedException`` whatever path called them; the AWS API renders
it as AWS's JSON, the console as this page. Forms that show service errors next to their fields
catch it themselves; anything else lands here.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from invocations.errors import AccessDeniedException


class AccessDeniedMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, AccessDeniedException):
            return None
        return render(request, "403.html", {"message": exception.message}, status=403)
