"""The workbench's own JSON API under ``/_workbench/api/`` — what the ``workbench`` CLI needs and
the AWS API does not offer: invocation history, one record, replay, log following, saved test
events. SigV4-signed like the AWS API (same keys, service ``lambda``), same error shapes.

Records are read with ``lambda:ListInvocations`` / ``lambda:GetInvocation`` on their function (every
role of its team, another team where its policy says so); a replay is an ``lambda:InvokeFunction``
of the original's function by the replaying caller.

Routes (documented in README.md, "The workbench API"):

* ``GET  functions/{name}/invocations`` — newest first; filters ``status``, ``source``,
  ``qualifier``; ``limit`` (1–200, default 50); ``Marker`` for the next page. With ``since`` (a
  ``Cursor`` from an earlier answer) it returns instead the records *finished* after that cursor,
  oldest first, with their logs — what ``workbench logs --follow`` polls.
* ``GET  invocations/{request_id}`` — one record, with payload, response and logs.
* ``POST invocations/{request_id}/replay`` — invoke again with the same function, qualifier and
  payload; body ``{"InvocationType": "RequestResponse"|"Event"}`` (optional).
* ``GET  activity`` and ``GET functions/{name}/activity`` — the audit log of the caller's team or of
  one function, newest first (``limit``, ``Marker``).

Saved test events (``functions/{name}/events``) belong to the console app and are served by
``console/api.py`` in this same frame.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from invocations import activity, pipeline
from invocations.access import Caller, find_function
from invocations.api.base import aws_operation, caller, json_body, json_response, valid_query
from invocations.arns import FunctionRef, arn_of
from invocations.errors import InvalidParameterValueException, ResourceNotFoundException
from invocations.models import Invocation
from invocations.recorder import BINARY_PREFIX
from invocations.selectors import deleted_function_records, invocation_for, parse_control_function_name
from invocations.services import invoke as invoke_service

MAX_LIMIT = 200
MAX_ID = 2**63 - 1  # row ids are 64-bit: a larger Marker or cursor id names no row


class HistoryQuery(forms.Form):
    status = forms.ChoiceField(choices=[("", "")] + list(Invocation.Status.choices), required=False)
    source = forms.ChoiceField(choices=[("", "")] + list(Invocation.Source.choices), required=False)
    qualifier = forms.CharField(max_length=128, required=False)
    limit = forms.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False)
    Marker = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    since = forms.RegexField(regex=r"^\d+\.\d{6}:\d+$|^0$", required=False)

    def clean_since(self) -> str | tuple[datetime, int]:
        """"" (none), "0" (from the start) or the cursor's (finished_at, id): a cursor is one this
        API gave out, so one whose time or id is out of range is a 400, not an overflow."""
        since: str = self.cleaned_data["since"]
        if since in ("", "0"):
            return since
        stamp, _, pk = since.partition(":")
        try:
            when = datetime.fromtimestamp(float(stamp), tz=dt_timezone.utc)
        except (OverflowError, ValueError, OSError):
            raise forms.ValidationError(f"{stamp} is not a time this API gives out in a Cursor.") from None
        if len(pk) > len(str(MAX_ID)) or int(pk) > MAX_ID:  # int() refuses more than 4,300 digits
            raise forms.ValidationError(f"{pk[:30]} is not an invocation id.")
        return when, int(pk)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _cursor(invocation: Invocation) -> str:
    finished = invocation.finished_at.timestamp() if invocation.finished_at else 0.0
    return f"{finished:.6f}:{invocation.pk}"


def summary(invocation: Invocation) -> dict[str, Any]:
    return {
        "RequestId": invocation.request_id,
        "FunctionName": invocation.function_name,
        "FunctionDeleted": invocation.function_id is None,
        "Qualifier": invocation.qualifier or None,
        "ExecutedVersion": invocation.executed_version or None,
        "Source": invocation.source,
        "InvocationType": invocation.invocation_type,
        "Status": invocation.status,
        "FunctionError": invocation.function_error or None,
        "ErrorType": invocation.error_type or None,
        "DurationMs": invocation.duration_ms,
        "BilledDurationMs": invocation.billed_duration_ms,
        "InitDurationMs": invocation.init_duration_ms,
        "ColdStart": invocation.cold_start,
        "MemorySizeMb": invocation.memory_size_mb,
        "MaxMemoryUsedMb": invocation.max_memory_used_mb,
        "Attempt": invocation.attempt,
        "CreatedAt": _iso(invocation.created_at),
        "StartedAt": _iso(invocation.started_at),
        "FinishedAt": _iso(invocation.finished_at),
        "Cursor": _cursor(invocation),
    }


def detail(invocation: Invocation) -> dict[str, Any]:
    data = summary(invocation)
    response = invocation.response
    binary = response.startswith(BINARY_PREFIX)
    data.update(
        Payload=invocation.payload,
        Response=response[len(BINARY_PREFIX):] if binary else response,
        ResponseIsBase64=binary,
        Logs=invocation.logs,
        ClientContext=invocation.client_context or None,
    )
    return data


def _query(request: HttpRequest) -> dict[str, Any]:
    return valid_query(HistoryQuery(request.GET))


def _records_of(who: Caller, ref: FunctionRef) -> QuerySet[Invocation]:
    """The function's records; for a name the caller's account no longer has, the records its
    deleted functions of that name left (404 when there are none either)."""
    try:
        function = find_function(who, ref, "lambda:ListInvocations", qualified=False)
    except ResourceNotFoundException:
        if ref.account not in (None, who.account_id):
            raise
        deleted = deleted_function_records(caller=who, name=ref.name)
        if not deleted.exists():
            raise
        return deleted
    return Invocation.objects.filter(function=function)


@aws_operation
def list_invocations(request: HttpRequest, function_name: str) -> HttpResponse:
    query = _query(request)
    rows = _records_of(caller(request), parse_control_function_name(function_name))
    for field in ("status", "source", "qualifier"):
        if query[field]:
            rows = rows.filter(**{field: query[field]})
    limit = query["limit"] or 50
    if query["since"]:
        # Finished after the cursor, oldest first: a follower sees each record once it has ended.
        rows = rows.exclude(finished_at=None)
        if query["since"] != "0":
            when, pk = query["since"]
            rows = rows.filter(Q(finished_at__gt=when) | Q(finished_at=when, pk__gt=pk))
        page = list(rows.select_related("body").order_by("finished_at", "pk")[:limit])
        return json_response({"Invocations": [detail(i) for i in page],
                              "Cursor": _cursor(page[-1]) if page else request.GET["since"]})
    if query["Marker"]:
        # Newest first is (created_at, id) descending: the function's index (inv_function_counts)
        # read backwards. Ordering by id alone sorted every record of the function (≈ 50,000 at a
        # million records) for each page. The Marker stays the last row's id; when retention has
        # removed that row since, the page goes on by id.
        marker = Invocation.objects.filter(pk=query["Marker"]).values_list("created_at", flat=True).first()
        if marker is None:
            rows = rows.filter(pk__lt=query["Marker"])
        else:
            rows = rows.filter(created_at__lte=marker).exclude(created_at=marker, pk__gte=query["Marker"])
    # A summary shows no payload, response or logs: they are in InvocationBody, never read here.
    page = list(rows.order_by("-created_at", "-pk")[: limit + 1])
    data: dict[str, Any] = {"Invocations": [summary(i) for i in page[:limit]]}
    if len(page) > limit:
        data["NextMarker"] = str(page[limit - 1].pk)
    return json_response(data)


@aws_operation
def get_invocation(request: HttpRequest, request_id: str) -> HttpResponse:
    return json_response(detail(invocation_for(caller=caller(request), request_id=request_id)))


@aws_operation
def replay(request: HttpRequest, request_id: str) -> HttpResponse:
    """Invoke again what ``request_id`` invoked (function, qualifier, payload), as a CLI call."""
    who = caller(request)
    original = invocation_for(caller=who, request_id=request_id)
    if original.function is None:
        raise ResourceNotFoundException(f"The function of {request_id} no longer exists.")
    body = json_body(request)
    invocation_type = body.get("InvocationType") or invoke_service.REQUEST_RESPONSE
    if invocation_type not in (invoke_service.REQUEST_RESPONSE, invoke_service.EVENT):
        raise InvalidParameterValueException("InvocationType must be RequestResponse or Event.")
    new_id = str(uuid.uuid4())
    outcome = pipeline.invoke(
        pipeline.InvocationRequest(
            caller=who.through("cli"),
            function_name=arn_of(original.function),
            qualifier=original.qualifier or None,
            payload=original.payload.encode("utf-8"),
            invocation_type=invocation_type,
            log_type="Tail",
            source=Invocation.Source.CLI,
            request_id=new_id,
        )
    )
    return json_response({
        "RequestId": new_id,
        "ReplayOf": request_id,
        "StatusCode": outcome.status_code,
        "ExecutedVersion": outcome.executed_version,
        "FunctionError": outcome.function_error,
        "Payload": base64.b64encode(outcome.payload).decode("ascii"),
        "LogResult": outcome.log_result,
    })


# --- the activity log ------------------------------------------------------------------------------


class ActivityQuery(forms.Form):
    limit = forms.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False)
    Marker = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)


def _activity_page(request: HttpRequest, rows: Any) -> HttpResponse:
    query = valid_query(ActivityQuery(request.GET))
    limit, marker = query["limit"] or 50, query["Marker"]
    if marker:
        rows = rows.filter(pk__lt=marker)
    page = list(rows[: limit + 1])
    data: dict[str, Any] = {"Activity": [activity.to_json(entry) for entry in page[:limit]]}
    if len(page) > limit:
        data["NextMarker"] = str(page[limit - 1].pk)
    return json_response(data)


@aws_operation
def list_team_activity(request: HttpRequest) -> HttpResponse:
    """The caller's team's activity log, newest first."""
    return _activity_page(request, activity.for_team(caller=caller(request)))


@aws_operation
def list_function_activity(request: HttpRequest, function_name: str) -> HttpResponse:
    """One function's activity log, newest first."""
    ref = parse_control_function_name(function_name)
    return _activity_page(request, activity.for_function(caller=caller(request), ref=ref))
