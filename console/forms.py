"""Forms: every input, query strings included, is validated here (STYLE.md, habit 12)."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from console.models import TestEvent
from console.placeholders import JsonProblem, check_json
from invocations.models import Invocation, Membership
from invocations import destinations
from invocations.services.event_invoke_config import DESTINATION_MAX_LENGTH, MAX_EVENT_AGE, MAX_RETRY_ATTEMPTS, MIN_EVENT_AGE
from invocations.services.functions import (
    MAX_DESCRIPTION,
    MAX_EPHEMERAL,
    MAX_HANDLER,
    MAX_MEMORY,
    MAX_TIMEOUT,
    MIN_EPHEMERAL,
    MIN_MEMORY,
    RESERVED_ENV_KEYS,
)
from invocations.services.tags import MAX_TAGS, tag_problem

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


def _number(low: int, high: int, **kwargs: Any) -> forms.IntegerField:
    """An integer input with AWS's bounds as min/max/step, so the browser and the form agree."""
    return forms.IntegerField(min_value=low, max_value=high, step_size=1, **kwargs)


def _pairs(text: str, what: str) -> list[tuple[int, str, str]]:
    """KEY=value lines as (line number, key, value); blank lines and # comments skipped. Only the
    first "=" splits, so a value may hold "=" (``X=a=b``) and may be empty (``X=``)."""
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"Line {number}: write {what} as KEY=value.")
        pairs.append((number, key.strip(), value.strip()))
    return pairs


def _no_duplicates(pairs: list[tuple[int, str, str]], noun: str) -> dict[str, str]:
    seen: dict[str, int] = {}
    for number, key, _ in pairs:
        if key in seen:
            raise forms.ValidationError(f"Line {number}: the {noun} {key} is already set on line {seen[key]}.")
        seen[key] = number
    return {key: value for _, key, value in pairs}


def parse_environment(text: str) -> dict[str, str]:
    """Environment variables as AWS takes them: keys of letters, digits and "_", starting with a
    letter and at least two characters long (the API's pattern ``[a-zA-Z]([a-zA-Z0-9_])+``; AWS
    refuses ``X`` too), none of the keys Lambda sets itself, each key once."""
    pairs = _pairs(text, "a variable")
    for number, key, _ in pairs:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            raise forms.ValidationError(
                f"Line {number}: {key} is not a valid name: use letters, digits and _, starting with a letter."
            )
        if len(key) < 2:
            raise forms.ValidationError(f"Line {number}: {key} is too short: AWS needs names of at least two characters.")
        if key in RESERVED_ENV_KEYS:
            raise forms.ValidationError(f"Line {number}: {key} is reserved: Lambda sets it itself (reserved keys can't be changed).")
    return _no_duplicates(pairs, "variable")


def parse_tags(text: str) -> dict[str, str]:
    pairs = _pairs(text, "a tag")
    for number, key, value in pairs:
        problem = tag_problem(key, value)
        if problem:
            raise forms.ValidationError(f"Line {number}: {problem}")
    tags = _no_duplicates(pairs, "tag")
    if len(tags) > MAX_TAGS:
        raise forms.ValidationError(f"A function can have at most {MAX_TAGS} tags.")
    return tags


def pairs_text(values: dict[str, str]) -> str:
    return "\n".join(f"{key}={value}" for key, value in values.items())


class ConfigurationForm(forms.Form):
    handler = forms.CharField(max_length=MAX_HANDLER)
    runtime = forms.ChoiceField(required=False)
    description = forms.CharField(max_length=MAX_DESCRIPTION, required=False)
    timeout = _number(1, MAX_TIMEOUT, label="Timeout (s)", help_text=f"Seconds, 1–{MAX_TIMEOUT}.")
    memory_size = _number(MIN_MEMORY, MAX_MEMORY, label="Memory (MB)", help_text=f"{MIN_MEMORY}–{MAX_MEMORY} MB.")
    ephemeral_storage = _number(
        MIN_EPHEMERAL, MAX_EPHEMERAL, required=False, label="Ephemeral storage (MB)",
        help_text=f"/tmp size, {MIN_EPHEMERAL}–{MAX_EPHEMERAL} MB.",
    )  # fmt: skip
    environment = forms.CharField(
        required=False, strip=False, label="Environment variables",
        widget=forms.Textarea(attrs={"rows": 5, "class": "code", "placeholder": "KEY=value", "spellcheck": "false"}),
        help_text="One KEY=value per line. Names: letters, digits and _, starting with a letter, at least two characters.",
    )  # fmt: skip
    tags = forms.CharField(
        required=False, strip=False, label="Tags",
        widget=forms.Textarea(attrs={"rows": 3, "class": "code", "placeholder": "team=payments", "spellcheck": "false"}),
        help_text=f"One key=value per line, at most {MAX_TAGS}.",
    )  # fmt: skip
    reserved_concurrency = forms.IntegerField(required=False, min_value=0, step_size=1, label="Reserved concurrency", help_text="Empty = unreserved.")

    def __init__(self, *args: Any, runtimes: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.initial.get("runtime") or ""
        choices = sorted({*(runtimes or []), *([current] if current else [])})
        self.fields["runtime"].choices = [(r, r) for r in choices]

    def clean_environment(self) -> dict[str, str]:
        return parse_environment(self.cleaned_data["environment"])

    def clean_tags(self) -> dict[str, str] | None:
        # Left out of the POST (an API-style client): the tags stay as they are.
        if "tags" not in self.data:
            return None
        return parse_tags(self.cleaned_data["tags"])


NONE_CHOICE, OTHER_CHOICE = "", "other"


def check_destination(value: str) -> str:
    """A destination this platform can deliver to, or a plain-words error."""
    if destinations.parse(value).kind is None:
        raise forms.ValidationError(
            f"“{value[:80]}” is not a destination: type an SQS queue, SNS topic, EventBridge bus or Lambda "
            "function ARN (e.g. arn:aws:sqs:us-east-1:123456789012:my-queue), or an https:// URL."
        )
    return value


class AsyncConfigForm(forms.Form):
    """Retries, event age and the two destinations: each destination picked from the team's
    functions, or typed (SQS / SNS / EventBridge / another account's Lambda ARN, or a webhook)."""

    maximum_retry_attempts = _number(0, MAX_RETRY_ATTEMPTS, required=False, label="Retry attempts", help_text=f"0–{MAX_RETRY_ATTEMPTS} (default 2).")
    maximum_event_age_in_seconds = _number(
        MIN_EVENT_AGE, MAX_EVENT_AGE, required=False, label="Maximum age of event (s)",
        help_text=f"{MIN_EVENT_AGE}–{MAX_EVENT_AGE} s (default 6 h).",
    )  # fmt: skip
    on_success_choice = forms.ChoiceField(required=False, label="On success destination")
    on_success = forms.CharField(max_length=DESTINATION_MAX_LENGTH, required=False, label="On success: ARN or URL",
                                 help_text="When “Another destination” is chosen.")  # fmt: skip
    on_failure_choice = forms.ChoiceField(required=False, label="On failure destination")
    on_failure = forms.CharField(max_length=DESTINATION_MAX_LENGTH, required=False, label="On failure: ARN or URL",
                                 help_text="When “Another destination” is chosen.")  # fmt: skip

    def __init__(self, *args: Any, function_arns: list[str], own_arn: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.function_arns = [arn for arn in function_arns if arn != own_arn]
        self.own_arn = own_arn
        choices = [(NONE_CHOICE, "None"), *((arn, arn.rsplit(":", 1)[-1] + " (function)") for arn in self.function_arns),
                   (OTHER_CHOICE, "Another destination (type its ARN or URL)…")]  # fmt: skip
        for name in ("on_success", "on_failure"):
            self.fields[f"{name}_choice"].choices = choices
            self.fields[name].widget.attrs.update({"data-destination-for": f"id_{name}_choice", "spellcheck": "false"})

    @classmethod
    def initial_for(cls, on_success: str, on_failure: str, function_arns: list[str]) -> dict[str, str]:
        initial = {}
        for name, value in (("on_success", on_success), ("on_failure", on_failure)):
            choice = value if value in function_arns else (OTHER_CHOICE if value else NONE_CHOICE)
            initial[f"{name}_choice"] = choice
            initial[name] = value if choice == OTHER_CHOICE else ""
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("on_success", "on_failure"):
            if name in self.errors:
                continue
            choice, typed = cleaned.get(f"{name}_choice") or NONE_CHOICE, (cleaned.get(name) or "").strip()
            if choice == OTHER_CHOICE:
                if not typed:
                    self.add_error(name, "Type the destination's ARN or URL, or choose a function or None.")
                    continue
                try:
                    typed = check_destination(typed)
                except forms.ValidationError as error:
                    self.add_error(name, error)
                    continue
                if typed == self.own_arn or typed.startswith(self.own_arn + ":"):
                    self.add_error(name, "A function can't be its own destination.")
                    continue
                cleaned[f"{name}_destination"] = typed
            else:
                cleaned[f"{name}_destination"] = choice
        return cleaned


CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*")
_ORIGIN = re.compile(r"\*|https?://[^\s/]+")
_HEADER = re.compile(r"\*|[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _items(text: str) -> list[str]:
    return [item.strip() for item in re.split(r"[,\n]", text or "") if item.strip()]


class UrlConfigForm(forms.Form):
    """A function URL: auth type, invoke mode and its Cors (AWS's shape, AWS's limits)."""

    auth_type = forms.ChoiceField(choices=[("NONE", "NONE (public)"), ("AWS_IAM", "AWS_IAM (signed requests)")], label="Auth type")
    invoke_mode = forms.ChoiceField(choices=[("BUFFERED", "BUFFERED"), ("RESPONSE_STREAM", "RESPONSE_STREAM")], label="Invoke mode")
    cors_allow_origins = forms.CharField(required=False, label="Allow origins", help_text="Comma-separated: https://example.com, or * for any. Empty: no CORS.",
                                         widget=forms.TextInput(attrs={"placeholder": "https://example.com", "spellcheck": "false"}))  # fmt: skip
    cors_allow_methods = forms.MultipleChoiceField(choices=[(m, m) for m in CORS_METHODS], required=False, label="Allow methods",
                                                   widget=forms.CheckboxSelectMultiple, help_text="At most 6, or * for all.")  # fmt: skip
    cors_allow_headers = forms.CharField(required=False, label="Allow headers", help_text="Comma-separated header names, or *.",
                                         widget=forms.TextInput(attrs={"placeholder": "content-type, x-api-key", "spellcheck": "false"}))  # fmt: skip
    cors_expose_headers = forms.CharField(required=False, label="Expose headers", help_text="Comma-separated header names.",
                                          widget=forms.TextInput(attrs={"spellcheck": "false"}))  # fmt: skip
    cors_max_age = _number(0, 86400, required=False, label="Max age (s)", help_text="0–86400 s the browser caches the preflight.")
    cors_allow_credentials = forms.BooleanField(required=False, label="Allow credentials (cookies, Authorization)")

    @classmethod
    def initial_for(cls, auth_type: str, invoke_mode: str, cors: dict[str, Any]) -> dict[str, Any]:
        return {
            "auth_type": auth_type, "invoke_mode": invoke_mode,
            "cors_allow_origins": ", ".join(cors.get("AllowOrigins", [])),
            "cors_allow_methods": list(cors.get("AllowMethods", [])),
            "cors_allow_headers": ", ".join(cors.get("AllowHeaders", [])),
            "cors_expose_headers": ", ".join(cors.get("ExposeHeaders", [])),
            "cors_max_age": cors.get("MaxAge"), "cors_allow_credentials": bool(cors.get("AllowCredentials")),
        }  # fmt: skip

    def _list(self, name: str, pattern: re.Pattern[str], limit: int, max_length: int, what: str) -> list[str]:
        values = _items(self.cleaned_data.get(name) or "")
        bad = [v for v in values if len(v) > max_length or not pattern.fullmatch(v)]
        if bad:
            raise forms.ValidationError(f"{bad[0][:80]} is not {what}.")
        if len(values) > limit:
            raise forms.ValidationError(f"At most {limit} values.")
        return values

    def clean_cors_allow_origins(self) -> list[str]:
        return self._list("cors_allow_origins", _ORIGIN, 100, 253, "an origin: write scheme://host[:port] (no path), or *")

    def clean_cors_allow_headers(self) -> list[str]:
        return self._list("cors_allow_headers", _HEADER, 100, 1024, "a header name")

    def clean_cors_expose_headers(self) -> list[str]:
        return self._list("cors_expose_headers", _HEADER, 100, 1024, "a header name")

    def clean_cors_allow_methods(self) -> list[str]:
        methods: list[str] = self.cleaned_data.get("cors_allow_methods") or []
        if "*" in methods and len(methods) > 1:
            raise forms.ValidationError("Choose * alone (it means every method) or the methods one by one.")
        if len(methods) > 6:
            raise forms.ValidationError("AWS takes at most 6 methods: choose * for all of them.")
        return methods

    def cors(self) -> dict[str, Any]:
        """The Cors structure for the URL services ({} when nothing is set)."""
        data = self.cleaned_data
        cors: dict[str, Any] = {}
        for member, name in (("AllowOrigins", "cors_allow_origins"), ("AllowMethods", "cors_allow_methods"),
                             ("AllowHeaders", "cors_allow_headers"), ("ExposeHeaders", "cors_expose_headers")):  # fmt: skip
            if data.get(name):
                cors[member] = data[name]
        if data.get("cors_max_age") is not None:
            cors["MaxAge"] = data["cors_max_age"]
        if data.get("cors_allow_credentials"):
            cors["AllowCredentials"] = True
        return cors


def check_arn(value: str, services: tuple[str, ...], example: str) -> str:
    """An ARN of one of ``services`` (``arn:aws:SERVICE:REGION:ACCOUNT:NAME``), in plain words."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1].startswith("aws") or parts[2] not in services \
            or not re.fullmatch(r"\d{12}", parts[4]) or not parts[5]:
        raise forms.ValidationError(f"“{value[:80]}” is not a valid ARN here: it looks like {example}.")
    return value


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
    # Across functions only (the invocations page): a select of the team's functions (the view
    # fills it in); any name is accepted, so a link to a deleted function's records still works.
    function = forms.CharField(max_length=64, required=False, widget=forms.Select)
    state = forms.ChoiceField(
        choices=[("", "live and deleted functions"), ("live", "live functions"), ("deleted", "deleted functions")],
        required=False, label="Functions",
    )  # fmt: skip
    cursor = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)


class CompareForm(forms.Form):
    a = forms.CharField(max_length=36, label="A")
    b = forms.CharField(max_length=36, label="B")
    # Logs are compared with request ids, timestamps and REPORT measurements normalised (diffs.normalise_logs).
    raw = forms.BooleanField(required=False, label="Raw logs (no normalising)")


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
