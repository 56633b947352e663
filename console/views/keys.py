"""Access keys of the current team: a member creates (the secret is shown once), lists and revokes
their own; a team admin sees and revokes everyone's there."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from console.access import console_caller
from console.forms import AccessKeyForm
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.errors import AwsError
from invocations.services import teams


@login_required
@require_http_methods(["GET", "POST"])
def access_keys(request: HtmxHttpRequest) -> HttpResponse:
    caller = console_caller(request)
    form = AccessKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = teams.create_key(caller=caller, description=form.cleaned_data["description"])
        except AwsError as error:
            messages.error(request, error.message or error.code)
        form = AccessKeyForm()
    keys = teams.keys(caller=caller).only(
        "access_key_id", "description", "created_at", "last_used_at", "is_active", "user__username"
    ) if caller.team_id else []
    response = render_page(request, "console/access_keys.html", {"form": form, "keys": keys, "created": created})
    if created is not None:
        response["Cache-Control"] = "no-store"  # the secret must not be kept by any cache
    return response


@login_required
@require_POST
def revoke(request: HtmxHttpRequest, access_key_id: str) -> HttpResponse:
    if teams.revoke_key(caller=console_caller(request), access_key_id=access_key_id):
        messages.success(request, f"Access key {access_key_id} revoked.")
    else:
        messages.error(request, "No active key with that id.")
    return redirect("console:access_keys")
