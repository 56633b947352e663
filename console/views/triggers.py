"""The Triggers tab: the function's event source mappings and its schedules, webhooks and SNS
subscriptions — state, last result, records processed, last error — with add / enable / disable /
delete, and **Send test record** for SQS mappings (``event_sources/record_probe.py``).

Mappings change through the ESM service (``services/event_source_mappings.py``), triggers through
``services/triggers.py``; this module only translates forms to service calls.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from console.access import get_visible_function, console_caller
from console.forms import check_arn
from console.views.common import HtmxHttpRequest, login_required, render_page
from invocations.access import check_function
from invocations.arns import arn_of
from invocations.errors import AccessDeniedException, AwsError
from invocations.event_sources import schedules
from invocations.models import Alias, EventSourceMapping, Function, FunctionVersion, Invocation, Trigger
from invocations.services import event_source_mappings as esm_service
from invocations.services import triggers as trigger_service

TEMPLATE = "console/function_triggers.html"


SOURCE_EXAMPLE = "arn:aws:sqs:us-east-1:123456789012:orders, arn:aws:kinesis:us-east-1:123456789012:stream/clicks or amqp://user:pass@host:5672/"


class TriggerForm(forms.Form):
    kind = forms.ChoiceField(choices=Trigger.Kind.choices)
    name = forms.RegexField(regex=r"^[A-Za-z0-9_.-]{1,64}$", max_length=64, help_text="Letters, digits, '_', '.', '-'.",
                            error_messages={"invalid": "Use 1–64 letters, digits, '_', '.' or '-'."})  # fmt: skip
    qualifier = forms.ChoiceField(required=False, label="Invokes", help_text="$LATEST, a published version or an alias.")
    schedule_expression = forms.CharField(
        max_length=256, required=False, label="Schedule expression", help_text="rate(5 minutes) or cron(0 12 * * ? *), UTC.",
        widget=forms.TextInput(attrs={"data-kinds": "schedule", "spellcheck": "false"}),
    )  # fmt: skip
    payload = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "data-kinds": "schedule", "spellcheck": "false"}), required=False,
                              help_text="Schedules: a fixed event (JSON) instead of the scheduled-event shape.")  # fmt: skip
    topic_arn = forms.CharField(max_length=1024, required=False, label="Topic ARN", help_text="SNS: arn:aws:sns:REGION:ACCOUNT:TOPIC.",
                                widget=forms.TextInput(attrs={"data-kinds": "sns", "spellcheck": "false", "placeholder": "arn:aws:sns:us-east-1:123456789012:orders"}))  # fmt: skip

    def __init__(self, *args: Any, function: Function, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qualifier"].choices = qualifier_choices(function)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if kind == "schedule" and not (cleaned.get("schedule_expression") or "").strip():
            self.add_error("schedule_expression", "A schedule needs an expression, e.g. rate(5 minutes).")
        if kind == "sns" and "topic_arn" not in self.errors:
            topic = (cleaned.get("topic_arn") or "").strip()
            try:
                cleaned["topic_arn"] = check_arn(topic, ("sns",), "arn:aws:sns:us-east-1:123456789012:orders") if topic else ""
            except forms.ValidationError as error:
                self.add_error("topic_arn", error)
            if not topic:
                self.add_error("topic_arn", "An SNS trigger needs the topic's ARN.")
        return cleaned


def qualifier_choices(function: Function) -> list[tuple[str, str]]:
    """$LATEST, the aliases, then the published versions (newest first)."""
    aliases = list(Alias.objects.filter(function=function).order_by("name").values_list("name", flat=True))
    versions = [v for v in FunctionVersion.objects.filter(function=function).exclude(version="$LATEST")
                .values_list("version", flat=True)]  # fmt: skip
    versions.sort(key=lambda v: int(v) if v.isdigit() else 0, reverse=True)
    return [("", "$LATEST"), *((a, f"alias {a}") for a in aliases), *((v, f"version {v}") for v in versions)]


class MappingForm(forms.Form):
    event_source_arn = forms.CharField(max_length=1024, label="Event source ARN", help_text="An SQS queue or Kinesis stream ARN, or a RabbitMQ amqp:// URL.",
                                       widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "arn:aws:sqs:us-east-1:123456789012:orders"}))  # fmt: skip
    batch_size = forms.IntegerField(min_value=1, max_value=10000, step_size=1, required=False, label="Batch size")
    maximum_batching_window_in_seconds = forms.IntegerField(min_value=0, max_value=300, step_size=1, required=False, label="Batching window (s)")
    starting_position = forms.ChoiceField(
        choices=[("", "—"), ("TRIM_HORIZON", "TRIM_HORIZON"), ("LATEST", "LATEST")], required=False, help_text="Streams only."
    )
    filter_pattern = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Filter pattern", help_text='e.g. {"body": {"kind": ["order"]}}')
    report_batch_item_failures = forms.BooleanField(required=False, label="Report batch item failures")

    def clean_event_source_arn(self) -> str:
        value: str = self.cleaned_data["event_source_arn"].strip()
        if value.startswith(("amqp://", "amqps://")):
            return value
        check_arn(value, ("sqs", "kinesis", "mq"), SOURCE_EXAMPLE)
        if value.split(":")[2] == "kinesis" and not value.split(":", 5)[5].startswith("stream/"):
            raise forms.ValidationError(f"A Kinesis source is a stream ARN: {SOURCE_EXAMPLE}.")
        return value


def _field_of(message: str, fields: dict[str, str]) -> str | None:
    """The form field an AWS error is about, by the member it names (None: the whole form)."""
    return next((field for word, field in fields.items() if word in message), None)


class TestRecordForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=262144, label="Message body")


def _mappings(function: Function) -> list[EventSourceMapping]:
    return list(EventSourceMapping.objects.filter(function=function).exclude(state="Deleting").order_by("id"))


def _context(request: HtmxHttpRequest, function: Function, **extra: Any) -> dict[str, Any]:
    triggers = trigger_service.list_triggers(caller=console_caller(request), function=function)
    for trigger in triggers:
        trigger.describe = schedules.describe(trigger.schedule_expression) if trigger.schedule_expression else ""  # type: ignore[attr-defined]
        trigger.endpoint = trigger_service.endpoint_path(trigger)  # type: ignore[attr-defined]
    return {
        "function": function, "tab": "triggers", "mappings": _mappings(function), "triggers": triggers,
        "trigger_form": extra.pop("trigger_form", None) or TriggerForm(initial={"kind": "schedule"}, function=function),
        "mapping_form": extra.pop("mapping_form", None) or MappingForm(),
        "test_form": TestRecordForm(initial={"body": '{"hello": "world"}'}),
        **extra,
    }  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def triggers_page(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The tab; a POST adds a schedule, webhook or SNS trigger."""
    function = get_visible_function(request, name)
    if request.method == "GET":
        return render_page(request, TEMPLATE, _context(request, function))
    check_function(console_caller(request), "lambda:CreateTrigger", function)
    form = TriggerForm(request.POST, function=function)
    if not form.is_valid():
        return render_page(request, TEMPLATE, _context(request, function, trigger_form=form), status=400)
    data = form.cleaned_data
    try:
        created = trigger_service.create_trigger(
            caller=console_caller(request), function=function, name=data["name"], kind=data["kind"], qualifier=data["qualifier"],
            schedule_expression=data["schedule_expression"] if data["kind"] == "schedule" else "",
            payload=data["payload"] if data["kind"] == "schedule" else "",
            topic_arn=data["topic_arn"] if data["kind"] == "sns" else "",
        )  # fmt: skip
    except AccessDeniedException:
        raise
    except AwsError as error:
        field = _field_of(str(error.message), {"ScheduleExpression": "schedule_expression", "Payload": "payload", "TopicArn": "topic_arn",
                                               "Name must": "name", "named": "name", "Kind": "kind", "alias": "qualifier", "version": "qualifier"})  # fmt: skip
        form.add_error(field, error.message)
        return render_page(request, TEMPLATE, _context(request, function, trigger_form=form), status=400)
    messages.success(request, f"Trigger {created.trigger.name} added.")
    if created.secret:
        # Shown on this response only: it is stored encrypted and never displayed again.
        return render_page(request, TEMPLATE, _context(request, function, new_secret=created.secret, new_trigger=created.trigger,
                                                               new_endpoint=trigger_service.endpoint_path(created.trigger)))
    return redirect("console:triggers", name=function.name)


@login_required
@require_POST
def trigger_action(request: HtmxHttpRequest, name: str, trigger: str) -> HttpResponse:
    function = get_visible_function(request, name)
    action = request.POST.get("action")
    try:
        if action in ("enable", "disable"):
            trigger_service.set_enabled(caller=console_caller(request), function=function, name=trigger,
                                        enabled=action == "enable")  # fmt: skip
            messages.success(request, f"Trigger {trigger} {action}d.")
        elif action == "delete":
            trigger_service.delete_trigger(caller=console_caller(request), function=function, name=trigger)
            messages.success(request, f"Trigger {trigger} deleted.")
        else:
            messages.error(request, "Unknown action.")
    except AwsError as error:
        messages.error(request, error.message or error.code)
    return redirect("console:triggers", name=function.name)


def _mapping(function: Function, mapping_uuid: str) -> EventSourceMapping:
    mapping = EventSourceMapping.objects.select_related("function").filter(function=function, uuid=mapping_uuid).first()
    if mapping is None:
        raise Http404("No such mapping")
    return mapping


@login_required
@require_POST
def add_mapping(request: HtmxHttpRequest, name: str) -> HttpResponse:
    function = get_visible_function(request, name)
    check_function(console_caller(request), "lambda:CreateEventSourceMapping", function)
    form = MappingForm(request.POST)
    if not form.is_valid():
        return render_page(request, TEMPLATE, _context(request, function, mapping_form=form), status=400)
    data = form.cleaned_data
    body: dict[str, Any] = {"EventSourceArn": data["event_source_arn"], "FunctionName": arn_of(function)}
    if data["batch_size"] is not None:
        body["BatchSize"] = data["batch_size"]
    if data["maximum_batching_window_in_seconds"] is not None:
        body["MaximumBatchingWindowInSeconds"] = data["maximum_batching_window_in_seconds"]
    if data["starting_position"]:
        body["StartingPosition"] = data["starting_position"]
    if data["filter_pattern"].strip():
        body["FilterCriteria"] = {"Filters": [{"Pattern": data["filter_pattern"].strip()}]}
    if data["report_batch_item_failures"]:
        body["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    try:
        mapping = esm_service.create_event_source_mapping(caller=console_caller(request), body=body)
    except AccessDeniedException:
        raise
    except AwsError as error:
        field = _field_of(str(error.message), {"eventSourceArn": "event_source_arn", "event source": "event_source_arn", "batchSize": "batch_size",
                                               "BatchSize": "batch_size", "atchingWindow": "maximum_batching_window_in_seconds",
                                               "StartingPosition": "starting_position", "Filter": "filter_pattern"})  # fmt: skip
        form.add_error(field, error.message)
        return render_page(request, TEMPLATE, _context(request, function, mapping_form=form), status=400)
    messages.success(request, f"Event source mapping {mapping.uuid} created.")
    return redirect("console:triggers", name=function.name)


@login_required
@require_POST
def mapping_action(request: HtmxHttpRequest, name: str, mapping_uuid: str) -> HttpResponse:
    function = get_visible_function(request, name)
    mapping = _mapping(function, mapping_uuid)
    action = request.POST.get("action")
    try:
        if action in ("enable", "disable"):
            esm_service.update_event_source_mapping(caller=console_caller(request), mapping_uuid=mapping.uuid,
                                                    body={"Enabled": action == "enable"})  # fmt: skip
            messages.success(request, f"Mapping {action}d.")
        elif action == "delete":
            esm_service.delete_event_source_mapping(caller=console_caller(request), mapping_uuid=mapping.uuid)
            messages.success(request, "Mapping deleted.")
        else:
            messages.error(request, "Unknown action.")
    except AwsError as error:
        messages.error(request, error.message or error.code)
    return redirect("console:triggers", name=function.name)


@login_required
@require_POST
def send_test_record(request: HtmxHttpRequest, name: str, mapping_uuid: str) -> HttpResponse:
    from invocations.event_sources import record_probe

    function = get_visible_function(request, name)
    mapping = _mapping(function, mapping_uuid)
    form = TestRecordForm(request.POST)
    if not form.is_valid() or mapping.source_kind != "sqs":
        problem = "Send test record is available for SQS mappings." if form.is_valid() else "A message body is required."
        return render_page(request, TEMPLATE, _context(request, function, probe_error=problem, probe_mapping=mapping), partial="probe", status=400)
    check_function(console_caller(request), "lambda:InvokeFunction", function)
    outcome = record_probe.send_test_record(mapping, form.cleaned_data["body"])
    context = _context(request, function, probe=outcome, probe_mapping=mapping, probe_record=json.dumps(outcome.record, indent=2))
    return render_page(request, TEMPLATE, context, partial="probe")


def batch_records(invocation: Invocation) -> list[dict[str, Any]]:
    """The records of a batch invocation (source "trigger"), for the invocation page."""
    if invocation.source != Invocation.Source.TRIGGER:
        return []
    try:
        event = json.loads(invocation.payload or "{}")
    except ValueError:
        return []
    records: list[Any] = []
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        records = event["Records"]
    elif isinstance(event, dict) and isinstance(event.get("rmqMessagesByQueue"), dict):
        records = [m for messages_ in event["rmqMessagesByQueue"].values() if isinstance(messages_, list) for m in messages_]
    rows = []
    for index, record in enumerate(r for r in records if isinstance(r, dict)):
        identifier = (
            record.get("messageId") or (record.get("kinesis") or {}).get("sequenceNumber")
            or (record.get("Sns") or {}).get("MessageId") or (record.get("basicProperties") or {}).get("messageId") or ""
        )  # fmt: skip
        source = record.get("eventSourceARN") or record.get("EventSubscriptionArn") or record.get("eventSource") or ""
        rows.append({"index": index, "id": identifier, "source": source, "json": json.dumps(record, indent=2)})
    return rows


urlpatterns = [
    path("", triggers_page, name="triggers"),
    path("mappings/", add_mapping, name="add_mapping"),
    path("mappings/<str:mapping_uuid>/", mapping_action, name="mapping_action"),
    path("mappings/<str:mapping_uuid>/test/", send_test_record, name="send_test_record"),
    path("t/<str:trigger>/", trigger_action, name="trigger_action"),
]
