"""The user's own API access keys: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from console.forms import AccessKeyForm
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.access_keys import create_access_key, revoke_access_key
from invocations.models import AccessKey


@login_required
@require_http_methods(["GET", "POST"])
def access_keys(request: HtmxHttpRequest) -> HttpResponse:
    form = AccessKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        created = create_access_key(user=request.user, description=form.cleaned_data["description"])
        form = AccessKeyForm()
    keys = AccessKey.objects.filter(user=request.user).only(
        "access_key_id", "description", "created_at", "last_used_at", "is_active"
    ).order_by("-created_at")
    response = render_page(request, "console/access_keys.html", {"form": form, "keys": keys, "created": created})
    if created is not None:
        response["Cache-Control"] = "no-store"  # the secret must not be kept by any cache
    return response


@login_required
@require_POST
def revoke(request: HtmxHttpRequest, access_key_id: str) -> HttpResponse:
    if revoke_access_key(user=request.user, access_key_id=access_key_id):
        messages.success(request, f"Access key {access_key_id} revoked.")
    else:
        messages.error(request, "No active key with that id.")
    return redirect("console:access_keys")
