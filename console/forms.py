"""Forms: every input, query strings included, is validated here (STYLE.md, habit 12)."""

from __future__ import annotations

from typing import Any

from django import forms

from console.models import TestEvent
from console.placeholders import JsonProblem, check_json
from invocations.models import Invocation, Membership
from invocations.services.functions import MAX_MEMORY, MAX_TIMEOUT, MIN_MEMORY

MAX_ZIP_BYTES = 52_428_800


def _json_field(value: str) -> str:
    try:
        check_json(value)
    except JsonProblem as problem:
        raise forms.ValidationError(
            f"The event is not valid JSON: {problem.message} at line {problem.line}, column {problem.column}."
        ) from None
    return value


class AccessKeyForm(forms.Form):
    description = forms.CharField(max_length=200, required=False)


class TeamSwitchForm(forms.Form):
    team = forms.IntegerField(min_value=1)


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.DEVELOPER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class PermissionForm(forms.Form):
    """A statement for another account (AddPermission's common case)."""

    statement_id = forms.RegexField(regex=r"^[a-zA-Z0-9_-]{1,100}$", max_length=100, label="Statement ID")
    principal = forms.CharField(max_length=2048, help_text="An account id (12 digits), arn:aws:iam::<id>:root, a service principal, or *.")
    action = forms.CharField(max_length=64, initial="lambda:InvokeFunction")


class FunctionCreateForm(forms.Form):
    name = forms.CharField(max_length=64)
    runtime = forms.ChoiceField()
    source = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 14, "class": "code", "spellcheck": "false"}))
    package = forms.FileField(required=False, help_text="A .zip deployment package (instead of the inline code).")

    def __init__(self, *args: Any, runtimes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["runtime"].choices = [(r, r) for r in runtimes]

    def clean_package(self) -> bytes | None:
        upload = self.cleaned_data.get("package")
        if not upload:
            return None
        if upload.size > MAX_ZIP_BYTES:
            raise forms.ValidationError("The package must be at most 50 MB.")
        data: bytes = upload.read()
        return data


class CodeForm(forms.Form):
    filename = forms.CharField(max_length=255)
    source = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 24, "class": "code", "spellcheck": "false"}))


class ZipUploadForm(forms.Form):
    package = forms.FileField()

    def clean_package(self) -> bytes:
        upload = self.cleaned_data["package"]
        if upload.size > MAX_ZIP_BYTES:
            raise forms.ValidationError("The package must be at most 50 MB.")
        data: bytes = upload.read()
        return data


class ConfigurationForm(forms.Form):
    handler = forms.CharField(max_length=256)
    description = forms.CharField(max_length=1024, required=False)
    # Ranges are AWS's to enforce (the service answers with its own message); these only parse numbers.
    timeout = forms.IntegerField(help_text=f"Seconds, 1–{MAX_TIMEOUT}.")
    memory_size = forms.IntegerField(label="Memory (MB)", help_text=f"{MIN_MEMORY}–{MAX_MEMORY} MB.")
    environment = forms.CharField(
        required=False, strip=False, label="Environment variables",
        widget=forms.Textarea(attrs={"rows": 5, "class": "code", "placeholder": "KEY=value"}),
        help_text="One KEY=value per line.",
    )  # fmt: skip
    reserved_concurrency = forms.IntegerField(required=False, label="Reserved concurrency", help_text="Empty = unreserved.")


class TestForm(forms.Form):
    body = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 18, "class": "code", "spellcheck": "false"}))
    qualifier = forms.CharField(max_length=128, required=False)
    asynchronous = forms.BooleanField(required=False, label="Invoke asynchronously")

    def clean_body(self) -> str:
        return _json_field(self.cleaned_data["body"])


class EventForm(forms.Form):
    name = forms.CharField(max_length=100)
    # Absent when an existing event is saved (its scope is fixed; duplicate it to change scope).
    scope = forms.ChoiceField(choices=TestEvent.Scope.choices, required=False)
    body = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 18, "class": "code"}))

    def clean_body(self) -> str:
        return _json_field(self.cleaned_data["body"])


class RenameForm(forms.Form):
    name = forms.CharField(max_length=100)


class SaveAsEventForm(forms.Form):
    name = forms.CharField(max_length=100)
    scope = forms.ChoiceField(choices=TestEvent.Scope.choices, initial=TestEvent.Scope.PRIVATE, widget=forms.RadioSelect)
    expect_response = forms.BooleanField(
        required=False, label="Expect this response",
        help_text="The event's expectations become: succeeds, with exactly this response (snapshot testing).",
    )  # fmt: skip


class ReplayForm(forms.Form):
    payload = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 10, "class": "code"}))
    qualifier = forms.CharField(max_length=128, required=False)

    def clean_payload(self) -> str:
        return _json_field(self.cleaned_data["payload"])


class ImportForm(forms.Form):
    file = forms.FileField(help_text="An AWS shareable-event schema, a SAM events/*.json file, or plain JSON.")
    scope = forms.ChoiceField(choices=TestEvent.Scope.choices, initial=TestEvent.Scope.PRIVATE)

    def clean_file(self) -> tuple[str, str]:
        upload = self.cleaned_data["file"]
        if upload.size > 6 * 1024 * 1024:
            raise forms.ValidationError("The file must be at most 6 MB.")
        try:
            return upload.name, upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None


class HistoryForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "any status"), *Invocation.Status.choices], required=False)
    source = forms.ChoiceField(choices=[("", "any source"), *Invocation.Source.choices], required=False)
    type = forms.ChoiceField(choices=[("", "any type"), *Invocation.Type.choices], required=False)
    version = forms.CharField(max_length=16, required=False)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    request_id = forms.CharField(max_length=36, required=False, label="Request ID")
    # Across functions only (the invocations page): a deleted function's records are found here.
    function = forms.CharField(max_length=64, required=False)
    state = forms.ChoiceField(
        choices=[("", "live and deleted functions"), ("live", "live functions"), ("deleted", "deleted functions")],
        required=False, label="Functions",
    )  # fmt: skip
    cursor = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)


class CompareForm(forms.Form):
    a = forms.CharField(max_length=36)
    b = forms.CharField(max_length=36)


class RunAllForm(forms.Form):
    """Run all: a qualifier, and the events ticked (none: every event with expectations)."""

    qualifier = forms.CharField(max_length=128, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        names = self.data.getlist("events") if hasattr(self.data, "getlist") else []
        if len(names) > 500 or any(len(name) > 100 for name in names):
            raise forms.ValidationError("Choose at most 500 saved events by their names.")
        cleaned["events"] = [name for name in names if name]
        return cleaned


class SuiteCompareForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="Run A")
    b = forms.IntegerField(min_value=1, label="Run B")


class RunOnDeployForm(forms.Form):
    run_on_deploy = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


class PackageFileForm(forms.Form):
    """One file of the Code tab's tree: where it was (``original``, empty for a new file), where it
    goes (``path``: a rename when they differ), its text, or deleted. Paths are checked with the
    whole tree (console/services/package_tree.py), where duplicates can be seen."""

    original = forms.CharField(required=False, max_length=1024, widget=forms.HiddenInput)
    path = forms.CharField(required=False, strip=True, max_length=1024, label="File path")
    content = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 20, "class": "code", "spellcheck": "false"}))
    delete = forms.BooleanField(required=False, label="Delete this file")


PackageFileFormSet = forms.formset_factory(PackageFileForm, extra=1, max_num=2000, absolute_max=2000, validate_max=True)


class CodeTestChoiceForm(forms.Form):
    """After a deploy started from the Code tab's Test button: which event to run then."""

    then_test = forms.RegexField(regex=r"^(last|empty|\d{1,12})$", required=False)


class MoveFunctionForm(forms.Form):
    """The team a function moves to: one the user administers (the service checks again)."""

    team = forms.TypedChoiceField(coerce=int, label="New team")

    def __init__(self, *args: Any, teams: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "Choose a team")] + [(t.pk, f"{t.name} ({t.account_id})") for t in teams]
