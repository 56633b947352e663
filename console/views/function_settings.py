"""The Configuration tab's asynchronous-invocation settings, function URL and resource-based
policy, through their services.

A URL made public here (auth type ``NONE``) gets the two statements AWS's console adds with it
(``lambda:InvokeFunctionUrl`` for ``FunctionUrlAuthType`` NONE, ``lambda:InvokeFunction`` for
``InvokedViaFunctionUrl``); switching it to ``AWS_IAM`` or deleting it takes them away. The tab
shows the policy, and adds or removes a statement for another account.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.db import transaction
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from console.access import console_caller, get_visible_function
from console.forms import PermissionForm
from console.services.functions import ref_of
from console.views.common import HtmxHttpRequest, login_required
from invocations.arns import arn_of
from invocations.errors import AwsError
from invocations.models import EventInvokeConfig, Function, FunctionUrlConfig
from invocations.services import permissions


class AsyncConfigForm(forms.Form):
    maximum_retry_attempts = forms.IntegerField(required=False, label="Retry attempts", help_text="0–2 (default 2).")
    maximum_event_age_in_seconds = forms.IntegerField(required=False, label="Maximum age of event (s)", help_text="60–21600 (default 6 h).")
    on_success = forms.CharField(max_length=350, required=False, label="On success destination", help_text="An SQS/SNS/Lambda/EventBridge ARN or an https:// webhook.")
    on_failure = forms.CharField(max_length=350, required=False, label="On failure destination")


class UrlConfigForm(forms.Form):
    auth_type = forms.ChoiceField(choices=[("NONE", "NONE"), ("AWS_IAM", "AWS_IAM")])
    invoke_mode = forms.ChoiceField(choices=[("BUFFERED", "BUFFERED"), ("RESPONSE_STREAM", "RESPONSE_STREAM")])


def settings_context(request: HtmxHttpRequest, function: Function) -> dict[str, Any]:
    config = EventInvokeConfig.objects.filter(function=function, qualifier="$LATEST").first()
    async_form = AsyncConfigForm(
        initial={
            "maximum_retry_attempts": config.maximum_retry_attempts if config else None,
            "maximum_event_age_in_seconds": config.maximum_event_age_in_seconds if config else None,
            "on_success": config.on_success_destination if config else "",
            "on_failure": config.on_failure_destination if config else "",
        }
    )
    url_config = FunctionUrlConfig.objects.filter(function=function, qualifier="").first()
    links = None
    if url_config is not None:
        try:
            from invocations.services import function_urls

            links = function_urls.links(url_config, request_host=request.get_host())
        except (ImportError, AttributeError):
            links = None
    url_form = UrlConfigForm(initial={"auth_type": url_config.auth_type, "invoke_mode": url_config.invoke_mode} if url_config else None)
    statements = [
        {"sid": s.get("Sid"), "json": json.dumps(s, indent=2)} for s in permissions.statements_of(function)
    ]
    return {"async_form": async_form, "url_config": url_config, "url_links": links, "url_form": url_form,
            "policy_statements": statements, "permission_form": PermissionForm()}  # fmt: skip


@login_required
@require_POST
def async_config(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = AsyncConfigForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("console:configuration", name=name)
    from invocations.services import event_invoke_config as service

    data = form.cleaned_data
    destinations = {
        "OnSuccess": {"Destination": data["on_success"]} if data["on_success"] else {},
        "OnFailure": {"Destination": data["on_failure"]} if data["on_failure"] else {},
    }
    body: dict[str, Any] = {"DestinationConfig": destinations}
    if data["maximum_retry_attempts"] is not None:
        body["MaximumRetryAttempts"] = data["maximum_retry_attempts"]
    if data["maximum_event_age_in_seconds"] is not None:
        body["MaximumEventAgeInSeconds"] = data["maximum_event_age_in_seconds"]
    try:
        service.put_function_event_invoke_config(
            caller=console_caller(request), ref=ref_of(function), given=service.ConfigInput.from_body(body)
        )
    except AwsError as error:
        messages.error(request, f"Asynchronous invocation: {error.message}")
    else:
        messages.success(request, "Asynchronous invocation settings saved.")
    return redirect("console:configuration", name=name)


@login_required
@require_POST
def url_config(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = UrlConfigForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("console:configuration", name=name)
    from invocations.services import function_urls

    data = form.cleaned_data
    caller = console_caller(request)
    named: dict[str, Any] = {"caller": caller, "function_name": arn_of(function), "qualifier": None}
    try:
        with transaction.atomic():
            if request.POST.get("action") == "delete":
                function_urls.delete_function_url_config(**named)
                permissions.revoke_public_url(caller=caller, function=function, qualifier="")
                messages.success(request, "Function URL deleted.")
            else:
                if FunctionUrlConfig.objects.filter(function=function, qualifier="").exists():
                    function_urls.update_function_url_config(**named, auth_type=data["auth_type"], invoke_mode=data["invoke_mode"])
                    messages.success(request, "Function URL updated.")
                else:
                    function_urls.create_function_url_config(**named, auth_type=data["auth_type"], invoke_mode=data["invoke_mode"])
                    messages.success(request, "Function URL created.")
                if data["auth_type"] == "NONE":
                    permissions.allow_public_url(caller=caller, function=function, qualifier="")
                else:
                    permissions.revoke_public_url(caller=caller, function=function, qualifier="")
    except AwsError as error:
        messages.error(request, f"Function URL: {error.message}")
    return redirect("console:configuration", name=name)


@login_required
@require_POST
def add_permission(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """AddPermission for the unqualified function, from the Configuration tab."""
    function = get_visible_function(request, name)
    form = PermissionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("console:configuration", name=name)
    data = form.cleaned_data
    body = {"StatementId": data["statement_id"], "Principal": data["principal"], "Action": data["action"]}
    try:
        permissions.add_permission(caller=console_caller(request), ref=ref_of(function), body=body)
    except AwsError as error:
        messages.error(request, f"Permission: {error.message}")
    else:
        messages.success(request, f"Statement {data['statement_id']} added.")
    return redirect("console:configuration", name=name)


@login_required
@require_POST
def remove_permission(request: HtmxHttpRequest, name: str, sid: str) -> HttpResponse:
    function = get_visible_function(request, name)
    try:
        permissions.remove_permission(caller=console_caller(request), ref=ref_of(function), statement_id=sid)
    except AwsError as error:
        messages.error(request, f"Permission: {error.message}")
    else:
        messages.success(request, f"Statement {sid} removed.")
    return redirect("console:configuration", name=name)
