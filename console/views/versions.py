"""The Versions tab: published versions and aliases, as the AWS console's "Versions" and "Aliases".

Publishing and alias changes go through the same services as the API's PublishVersion, CreateAlias,
UpdateAlias and DeleteAlias (``invocations/services``), so the console obeys the same rules and the
same role checks. The forms below repeat AWS's rules for an alias's routing only to say, next to the
field concerned, what the service would refuse; the service still decides.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from console.access import allowed, console_caller, get_visible_function
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.arns import FunctionRef, arn_of
from invocations.errors import (
    AccessDeniedException,
    AwsError,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from invocations.models import LATEST, Alias, Function, FunctionVersion
from invocations.selectors import get_latest, published_versions
from invocations.services import aliases as alias_service
from invocations.services import versions as version_service

TEMPLATE = "console/function_versions.html"
ALIAS_NAME_HELP = "Letters, digits, '-' and '_' (not only digits), at most 128."


class PublishForm(forms.Form):
    description = forms.CharField(max_length=alias_service.MAX_DESCRIPTION, required=False, label="Version description")


class AliasForm(forms.Form):
    """An alias's version and, optionally, one more version that gets ``weight`` of the traffic
    (AWS's AdditionalVersionWeights: at most one entry, 0.0–1.0, never the alias's own version)."""

    name = forms.RegexField(
        regex=rf"^{alias_service.ALIAS_PATTERN}$", max_length=alias_service.MAX_ALIAS_NAME, label="Alias name",
        help_text=ALIAS_NAME_HELP, error_messages={"invalid": f"Not a valid alias name. {ALIAS_NAME_HELP}"},
    )  # fmt: skip
    description = forms.CharField(max_length=alias_service.MAX_DESCRIPTION, required=False, label="Description")
    function_version = forms.ChoiceField(label="Version")
    additional_version = forms.ChoiceField(
        required=False, label="Additional version (weighted routing)",
        help_text="Optional: a second published version that receives part of the traffic.",
    )  # fmt: skip
    weight = forms.DecimalField(
        required=False, min_value=Decimal(0), max_value=Decimal(1), max_digits=6, decimal_places=5, label="Weight (0–1)",
        help_text="Share of invocations sent to the additional version, e.g. 0.1 for 10 %.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
    )  # fmt: skip

    def __init__(self, *args: Any, versions: list[str], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["function_version"].choices = [(v, v) for v in [LATEST, *versions]]
        self.fields["additional_version"].choices = [("", "— none —"), *((v, v) for v in versions)]
        if editing:
            del self.fields["name"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        primary, extra, weight = data.get("function_version"), data.get("additional_version"), data.get("weight")
        if extra:
            if weight is None and "weight" not in self.errors:
                self.add_error("weight", "Give the additional version's weight, between 0 and 1.")
            if primary == LATEST:
                self.add_error("function_version", "An alias that splits traffic must point to a published version, not $LATEST.")
            elif primary and extra == primary:
                self.add_error("additional_version", "Choose a version other than the alias's own version.")
        elif weight is not None:
            self.add_error("additional_version", "Choose the version that receives this weight.")
        return data

    def routing_config(self) -> dict[str, Any]:
        extra, weight = self.cleaned_data.get("additional_version"), self.cleaned_data.get("weight")
        return {"AdditionalVersionWeights": {extra: float(weight)} if extra and weight is not None else {}}


def _version_numbers(function: Function) -> list[str]:
    return [v.version for v in published_versions(function)]


def _alias_rows(function: Function) -> list[dict[str, Any]]:
    rows = []
    for alias in Alias.objects.filter(function=function).order_by("name"):
        weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        extra, weight = next(iter(weights.items()), (None, None))
        rows.append({
            "alias": alias, "arn": arn_of(function, alias.name), "extra": extra, "weight": weight,
            "primary_weight": None if weight is None else round(1 - weight, 5),
        })  # fmt: skip
    return rows


def _context(request: HtmxHttpRequest, function: Function, **extra: Any) -> dict[str, Any]:
    caller = console_caller(request)
    versions: list[FunctionVersion] = [get_latest(function), *published_versions(function)]
    numbers = [v.version for v in versions[1:]]
    for version in versions:
        version.arn = arn_of(function, version.version)  # type: ignore[attr-defined]
    return {
        "function": function, "tab": "versions", "function_arn": arn_of(function),
        "versions": versions, "aliases": _alias_rows(function),
        "can_publish": allowed(caller, "lambda:PublishVersion", function),
        "can_alias": allowed(caller, "lambda:CreateAlias", function),
        "publish_form": extra.pop("publish_form", None) or PublishForm(),
        "alias_form": extra.pop("alias_form", None) or AliasForm(versions=numbers, initial={"function_version": numbers[-1] if numbers else LATEST}),
        **extra,
    }  # fmt: skip


def _ref(function: Function) -> FunctionRef:
    return FunctionRef(function.name, None, function.team.account_id)


def _field_for(error: AwsError, fields: dict[str, str]) -> str | None:
    """Which form field a service refusal is about (None: the form as a whole)."""
    if isinstance(error, ResourceConflictException):
        return fields.get("name")
    if isinstance(error, ResourceNotFoundException):
        return fields.get("version")
    if isinstance(error, InvalidParameterValueException):
        return fields.get("version") if "$LATEST" in error.message else fields.get("extra")
    return None


@login_required
def versions_page(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    return render_page(request, TEMPLATE, _context(request, function))


@login_required
@require_POST
def publish(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = PublishForm(request.POST)
    if not form.is_valid():
        return render_page(request, TEMPLATE, _context(request, function, publish_form=form), status=400)
    before = set(_version_numbers(function))
    try:
        version = version_service.publish_version(
            caller=console_caller(request), ref=_ref(function), description=form.cleaned_data["description"]
        )
    except AccessDeniedException:
        raise
    except AwsError as error:
        form.add_error("description", error.message)
        return render_page(request, TEMPLATE, _context(request, function, publish_form=form), status=400)
    if version.version in before:
        # PublishVersion publishes nothing when $LATEST equals the newest version (AWS does the same).
        messages.info(request, f"Nothing changed since version {version.version}: no new version was published.")
    else:
        messages.success(request, f"Version {version.version} published.")
    return redirect("console:versions", name=function.name)


@login_required
@require_POST
def create_alias(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    form = AliasForm(request.POST, versions=_version_numbers(function))
    if form.is_valid():
        data = form.cleaned_data
        try:
            alias_service.create_alias(
                caller=console_caller(request), ref=_ref(function), name=data["name"], function_version=data["function_version"],
                description=data["description"], routing_config=form.routing_config(),
            )  # fmt: skip
        except AccessDeniedException:
            raise
        except AwsError as error:
            form.add_error(_field_for(error, {"name": "name", "version": "function_version", "extra": "additional_version"}), error.message)
        else:
            messages.success(request, f"Alias {data['name']} created.")
            return redirect("console:versions", name=function.name)
    return render_page(request, TEMPLATE, _context(request, function, alias_form=form, alias_form_open=True), status=400)


@login_required
@require_http_methods(["GET", "POST"])
def edit_alias(request: HtmxHttpRequest, name: str, alias: str) -> HttpResponse:
    function = get_visible_function(request, name)
    found = Alias.objects.filter(function=function, name=alias).first()
    if found is None:
        raise Http404("No such alias")
    weights = (found.routing_config or {}).get("AdditionalVersionWeights") or {}
    extra, weight = next(iter(weights.items()), ("", None))
    initial = {"function_version": found.function_version, "description": found.description, "additional_version": extra, "weight": weight}
    form = AliasForm(request.POST or None, versions=_version_numbers(function), editing=True, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                alias_service.update_alias(
                    caller=console_caller(request), ref=_ref(function), name=found.name, function_version=data["function_version"],
                    description=data["description"], routing_config=form.routing_config(), revision_id=request.POST.get("revision_id") or None,
                )  # fmt: skip
            except AccessDeniedException:
                raise
            except AwsError as error:
                form.add_error(_field_for(error, {"version": "function_version", "extra": "additional_version"}), error.message)
            else:
                messages.success(request, f"Alias {found.name} saved.")
                return redirect("console:versions", name=function.name)
        status = 400
    elif not allowed(console_caller(request), "lambda:UpdateAlias", function):
        raise AccessDeniedException(f"Your role may not change aliases of {function.name} (lambda:UpdateAlias).")
    context = {"function": function, "tab": "versions", "alias": found, "alias_arn": arn_of(function, found.name), "form": form}
    return render_page(request, "console/alias_edit.html", context, status=status)


@login_required
@require_POST
def delete_alias(request: HtmxHttpRequest, name: str, alias: str) -> HttpResponse:
    function = get_visible_function(request, name)
    existed = Alias.objects.filter(function=function, name=alias).exists()
    alias_service.delete_alias(caller=console_caller(request), ref=_ref(function), name=alias)
    if existed:
        messages.success(request, f"Alias {alias} deleted.")
    else:
        messages.error(request, f"No alias {alias}: nothing was deleted.")
    return redirect("console:versions", name=function.name)
