"""The Configuration tab: general configuration (with runtime, ephemeral storage, tags),
asynchronous-invocation settings, function URL (with its Cors) and resource-based policy, through
their services.

Each form is its own ``{% partialdef %}``: htmx posts it and swaps just that card, so a refused
value gets its message under its own field and everything typed stays; without JavaScript the
whole page is rendered the same way (status 400), and a success redirects.

A URL made public here (auth type ``NONE``) gets the two statements AWS's console adds with it
(``lambda:InvokeFunctionUrl`` for ``FunctionUrlAuthType`` NONE, ``lambda:InvokeFunction`` for
``InvokedViaFunctionUrl``); switching it to ``AWS_IAM`` or deleting it takes them away. The tab
shows the policy, and adds or removes a statement for another account.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from console.access import console_caller, get_visible_function, visible_functions
from console.forms import AsyncConfigForm, ConfigurationForm, PermissionForm, UrlConfigForm, pairs_text
from console.services import functions as function_service
from console.services import suites
from console.services.functions import ref_of
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.access import check_function
from invocations.arns import arn_of
from invocations.errors import AccessDeniedException, AwsError
from invocations.models import EventInvokeConfig, Function, FunctionUrlConfig
from invocations.selectors import get_latest
from invocations.services import event_invoke_config as invoke_config_service
from invocations.services import function_urls, permissions, runtimes

TEMPLATE = "console/function_configuration.html"


def _team_arns(request: HtmxHttpRequest) -> list[str]:
    return [arn_of(f) for f in visible_functions(console_caller(request)).select_related("team").order_by("name")]


def _general_form(function: Function, data: Any = None) -> ConfigurationForm:
    latest = get_latest(function)
    initial = {
        "handler": latest.handler, "runtime": latest.runtime, "description": latest.description, "timeout": latest.timeout,
        "memory_size": latest.memory_size, "ephemeral_storage": latest.ephemeral_storage,
        "environment": pairs_text(latest.environment or {}), "tags": pairs_text(function.tags or {}),
        "reserved_concurrency": function.reserved_concurrency,
    }  # fmt: skip
    return ConfigurationForm(data, initial=initial, runtimes=sorted(runtimes.available_runtimes()))


def _async_form(request: HtmxHttpRequest, function: Function, data: Any = None) -> AsyncConfigForm:
    arns = _team_arns(request)
    config = EventInvokeConfig.objects.filter(function=function, qualifier="$LATEST").first()
    initial: dict[str, Any] = AsyncConfigForm.initial_for(
        config.on_success_destination if config else "", config.on_failure_destination if config else "", arns
    )
    if config:
        initial.update(maximum_retry_attempts=config.maximum_retry_attempts,
                       maximum_event_age_in_seconds=config.maximum_event_age_in_seconds)  # fmt: skip
    return AsyncConfigForm(data, initial=initial, function_arns=arns, own_arn=arn_of(function))


def _url_form(url_config: FunctionUrlConfig | None, data: Any = None) -> UrlConfigForm:
    initial = UrlConfigForm.initial_for(url_config.auth_type, url_config.invoke_mode, url_config.cors or {}) if url_config else None
    return UrlConfigForm(data, initial=initial)


def _page(request: HtmxHttpRequest, function: Function, *, partial: str | None = None, status: int = 200,
          **given: Any) -> HttpResponse:  # fmt: skip
    """The tab, with the forms given (bound, with their errors) and fresh ones for the rest."""
    url_config = FunctionUrlConfig.objects.filter(function=function, qualifier="").first()
    links = function_urls.links(url_config, request_host=request.get_host()) if url_config else None
    statements = [{"sid": s.get("Sid"), "json": json.dumps(s, indent=2)} for s in permissions.statements_of(function)]
    context = {
        "function": function, "tab": "configuration", "saved": False, "deploy_suite": None,
        "url_config": url_config, "url_links": links, "policy_statements": statements, "permission_form": PermissionForm(),
        **given,
    }  # fmt: skip
    if "form" not in context:
        context["form"] = _general_form(function)
    if "async_form" not in context:
        context["async_form"] = _async_form(request, function)
    if "url_form" not in context:
        context["url_form"] = _url_form(url_config)
    return render_page(request, TEMPLATE, context, partial=partial, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def configuration(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    if request.method == "GET":
        return _page(request, function)
    # A viewer's POST is refused before anything is read or checked (403, the console's page).
    check_function(console_caller(request), "lambda:UpdateFunctionConfiguration", function)
    form = _general_form(function, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        since = timezone.now()
        try:
            function_service.update_configuration(
                caller=console_caller(request), function=function, handler=data["handler"], description=data["description"],
                timeout=data["timeout"], memory_size=data["memory_size"], environment=data["environment"],
                reserved_concurrency=data["reserved_concurrency"], runtime=data["runtime"] or None,
                ephemeral_storage=data["ephemeral_storage"], tags=data["tags"],
            )  # fmt: skip
        except function_service.FieldErrors as errors:
            for field, problems in errors.errors.items():
                form.add_error(field if field in form.fields else None, [plain(p) for p in problems])
        else:
            deploy_suite = suites.deploy_run(caller=console_caller(request), function=function, since=since)
            if not request.htmx:
                started = f" Test suite run #{deploy_suite.pk} started." if deploy_suite else ""
                messages.success(request, f"Configuration saved.{started}")
                return redirect("console:configuration", name=name)
            function.refresh_from_db()
            return _page(request, function, partial="general", saved=True, deploy_suite=deploy_suite)
    return _page(request, function, partial="general", status=400, form=form)


_CONSTRAINT = re.compile(r"Value '(?P<value>[^']*)' at '(?P<member>[A-Za-z.]+)' failed to satisfy constraint: (?P<rule>.*)")


def plain(message: str) -> str:
    """AWS's ValidationException wording ("1 validation error detected: Value 'x' at 'y' failed to
    satisfy constraint: Member must …") said plainly; other messages are already plain."""
    text = message.split("detected: ", 1)[-1]
    found = _CONSTRAINT.match(text.split("; ")[0])
    if not found:
        return message
    rule = found["rule"].replace("Member must have value ", "Must be ").replace("Member must ", "Must ")
    rule = rule.replace("Must have length less than or equal to", "Must be at most").rstrip(".")
    return f"{rule[0].upper()}{rule[1:]}." + (f" (got {found['value']})" if found["value"] else "")


@login_required
@require_POST
def async_config(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    caller = console_caller(request)
    check_function(caller, "lambda:PutFunctionEventInvokeConfig", function)
    form = _async_form(request, function, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        body: dict[str, Any] = {"DestinationConfig": {
            "OnSuccess": {"Destination": data["on_success_destination"]} if data["on_success_destination"] else {},
            "OnFailure": {"Destination": data["on_failure_destination"]} if data["on_failure_destination"] else {},
        }}  # fmt: skip
        if data["maximum_retry_attempts"] is not None:
            body["MaximumRetryAttempts"] = data["maximum_retry_attempts"]
        if data["maximum_event_age_in_seconds"] is not None:
            body["MaximumEventAgeInSeconds"] = data["maximum_event_age_in_seconds"]
        try:
            invoke_config_service.put_function_event_invoke_config(
                caller=caller, ref=ref_of(function), given=invoke_config_service.ConfigInput.from_body(body)
            )
        except AccessDeniedException as denied:
            # A destination function the caller may not invoke: the destination's problem.
            form.add_error(_destination_field(form, str(denied.message)), "You may not invoke that function, so it can't be a destination.")
        except AwsError as error:
            form.add_error(_destination_field(form, str(error.message)), plain(str(error.message or error.code)))
        else:
            if not request.htmx:
                messages.success(request, "Asynchronous invocation settings saved.")
                return redirect("console:configuration", name=name)
            return _page(request, function, partial="async", async_saved=True)
    return _page(request, function, partial="async", status=400, async_form=form)


def _destination_field(form: AsyncConfigForm, message: str) -> str | None:
    """The field an AWS error about a destination is about (the whole form when it names neither)."""
    for name in ("on_success", "on_failure"):
        destination = form.cleaned_data.get(f"{name}_destination")
        if destination and destination in message:
            return name if form.cleaned_data.get(f"{name}_choice") == "other" else f"{name}_choice"
    for name, word in (("maximum_retry_attempts", "maximumRetryAttempts"), ("maximum_event_age_in_seconds", "maximumEventAge")):
        if word in message:
            return name
    return None


@login_required
@require_POST
def url_config(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    caller = console_caller(request)
    existing = FunctionUrlConfig.objects.filter(function=function, qualifier="").first()
    named: dict[str, Any] = {"caller": caller, "function_name": arn_of(function), "qualifier": None}
    if request.POST.get("action") == "delete":
        try:
            with transaction.atomic():
                function_urls.delete_function_url_config(**named)
                permissions.revoke_public_url(caller=caller, function=function, qualifier="")
        except AccessDeniedException:
            raise
        except AwsError as error:
            messages.error(request, f"Function URL: {plain(str(error.message))}")
        else:
            messages.success(request, "Function URL deleted.")
        if request.htmx:
            return HttpResponseClientRedirect(reverse("console:configuration", args=[name]))
        return redirect("console:configuration", name=name)
    check_function(caller, "lambda:UpdateFunctionUrlConfig" if existing else "lambda:CreateFunctionUrlConfig", function)
    form = _url_form(existing, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                if existing:
                    function_urls.update_function_url_config(**named, auth_type=data["auth_type"], invoke_mode=data["invoke_mode"], cors=form.cors())
                    done = "Function URL updated."
                else:
                    function_urls.create_function_url_config(**named, auth_type=data["auth_type"], invoke_mode=data["invoke_mode"], cors=form.cors())
                    done = "Function URL created."
                if data["auth_type"] == "NONE":
                    permissions.allow_public_url(caller=caller, function=function, qualifier="")
                else:
                    permissions.revoke_public_url(caller=caller, function=function, qualifier="")
        except AccessDeniedException:
            raise
        except AwsError as error:
            message = str(error.message or error.code)
            field = next((f"cors_{snake}" for camel, snake in (("allowOrigins", "allow_origins"), ("allowMethods", "allow_methods"),
                          ("allowHeaders", "allow_headers"), ("exposeHeaders", "expose_headers"), ("maxAge", "max_age"))
                          if camel in message), None)  # fmt: skip
            form.add_error(field, plain(message))
        else:
            if not request.htmx:
                messages.success(request, done)
                return redirect("console:configuration", name=name)
            return _page(request, function, partial="url", url_saved=done)
    return _page(request, function, partial="url", status=400, url_form=form)


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
