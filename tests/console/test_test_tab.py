"""The Test tab: templates, placeholders, validation, sync runs through the task, async timelines."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from django.test import Client

from console import event_templates, placeholders
from console.models import TestRun
from console.services import runs
from invocations.access import user_caller
from invocations.models import Function, Invocation, InvocationBody

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def test_there_are_at_least_twenty_templates_and_each_is_json_once_resolved() -> None:
    assert len(event_templates.TEMPLATES) >= 20
    for template in event_templates.TEMPLATES:
        placeholders.check_json(template.body)
        json.loads(placeholders.resolve(template.body))
    keys = set(event_templates.BY_KEY)
    for needed in ("apigateway-rest", "apigateway-http", "function-url", "alb", "s3-put", "s3-delete", "sqs", "sns",
                   "dynamodb-stream", "kinesis", "eventbridge", "scheduled", "cloudwatch-logs", "cognito-pre-signup",
                   "kafka", "rabbitmq", "ses", "cloudformation-create", "alexa-intent", "lex-v2", "config-rule", "hello-world"):  # fmt: skip
        assert needed in keys


def test_cloudwatch_logs_template_is_really_gzipped_and_base64_encoded() -> None:
    data = json.loads(event_templates.BY_KEY["cloudwatch-logs"].body)["awslogs"]["data"]
    message = json.loads(gzip.decompress(base64.b64decode(data)))
    assert message["messageType"] == "DATA_MESSAGE" and len(message["logEvents"]) == 2


def test_placeholders_resolve_to_fresh_values_and_keep_numbers_numbers() -> None:
    text = '{"a": "{{uuid}}", "b": "{{uuid}}", "t": {{epoch_ms}}, "n": {{random_int}}, "now": "{{now}}"}'
    resolved = json.loads(placeholders.resolve(text))
    assert resolved["a"] != resolved["b"] and len(resolved["a"]) == 36
    assert isinstance(resolved["t"], int) and isinstance(resolved["n"], int)
    assert resolved["now"].endswith("Z")
    assert placeholders.found(text) == ["uuid", "epoch_ms", "random_int", "now"]


def test_json_errors_report_line_and_column_where_the_user_typed_them() -> None:
    with pytest.raises(placeholders.JsonProblem) as problem:
        placeholders.check_json('{\n  "t": {{epoch_ms}},\n  "x": oops\n}')
    assert (problem.value.line, problem.value.column) == (3, 8)


def test_test_page_loads_a_template_by_key_as_an_htmx_partial(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.get("/functions/hello/test/?template=sqs", **HX)
    body = response.content.decode()
    assert "<html" not in body and 'id="editor"' in body and "aws:sqs" in body
    full = client.get("/functions/hello/test/?template=sqs").content.decode()
    assert "<html" in full and 'hx-get="/functions/hello/test/?event=' not in full


def test_invalid_json_is_not_sent_and_the_error_names_line_and_column(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/hello/test/run/", {"body": '{\n "a": 1,\n}', "qualifier": "$LATEST"}, **HX)
    assert "line 3, column 1" in response.content.decode()
    assert not TestRun.objects.exists()


def test_unknown_qualifier_is_refused(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/hello/test/run/", {"body": "{}", "qualifier": "nope"}, **HX)
    assert "Unknown qualifier" in response.content.decode()


def test_preview_shows_the_event_with_placeholders_resolved(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/hello/test/preview/", {"body": '{"id": "{{uuid}}", "t": {{epoch_ms}}}'}, **HX)
    body = response.content.decode()
    assert "{{uuid}}" in body  # named in the note
    assert '&quot;t&quot;: 1' in body  # escaped, and epoch milliseconds start with 1 for a long while yet


def test_sync_test_is_queued_then_run_by_the_task_and_the_panel_polls_until_the_result(
    client: Client, owner: Any, hello: Function, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: sent.append((name, args)))
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/functions/hello/test/run/", {"body": '{"id": "{{uuid}}"}', "qualifier": "$LATEST"}, **HX)
    run = TestRun.objects.get()
    assert sent == [("console.run_console_test", [run.pk])]
    assert 'hx-trigger="every 500ms"' in response.content.decode()
    poll = client.get(f"/functions/hello/test/runs/{run.pk}/", **HX)
    assert poll.status_code == 200 and "Executing function" in poll.content.decode()

    runs.run_console_test(run_id=run.pk)  # what the worker does

    poll = client.get(f"/functions/hello/test/runs/{run.pk}/", **HX)
    body = poll.content.decode()
    assert poll.status_code == 286  # htmx stops polling
    assert "Executing function: succeeded" in body
    assert "hello from the handler" in body and "REPORT RequestId" in body
    assert "Init duration" in body and "128 MB" in body
    invocation = Invocation.objects.get(request_id=run.request_id)
    assert invocation.source == "console" and invocation.caller_id == owner.pk
    assert "{{uuid}}" not in invocation.payload


def test_a_failing_function_shows_error_message_type_and_stack_trace(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    client.post("/functions/hello/", {"filename": "lambda_function.py", "source": "def lambda_handler(e, c):\n    raise ValueError('<b>bad</b> input')\n"})
    started = runs.start_test(function=hello, caller=user_caller(user=owner, team=hello.team, via="console"), body="{}", qualifier="$LATEST", asynchronous=False)
    runs.run_console_test(run_id=started.run.pk)
    body = client.get(f"/functions/hello/test/runs/{started.run.pk}/", **HX).content.decode()
    assert "Executing function: failed" in body
    assert "&lt;b&gt;bad&lt;/b&gt; input" in body and "<b>bad</b>" not in body
    assert "ValueError" in body and 'id="error-type"' in body


def test_without_javascript_a_test_redirects_to_a_self_refreshing_run_page(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/hello/test/run/", {"body": "{}", "qualifier": "$LATEST"})
    run = TestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/functions/hello/test/runs/{run.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="1">' in page


def test_async_test_shows_the_timeline_while_queued(
    client: Client, owner: Any, hello: Function, monkeypatch: Any
) -> None:
    monkeypatch.setattr("invocations.dispatch._send", lambda *a: None)
    client.force_login(owner)
    response = client.post("/functions/hello/test/run/", {"body": "{}", "qualifier": "$LATEST", "asynchronous": "on"}, **HX)
    body = response.content.decode()
    invocation = Invocation.objects.get(invocation_type="Event")
    assert invocation.source == "console"
    assert 'id="timeline"' in body and "Queued" in body and 'hx-trigger="every 500ms"' in body


def test_async_panel_stops_polling_when_the_event_is_final(client: Client, owner: Any, hello: Function, monkeypatch: Any) -> None:
    monkeypatch.setattr("invocations.dispatch._send", lambda *a: None)
    client.force_login(owner)
    started = runs.start_test(function=hello, caller=user_caller(user=owner, team=hello.team, via="console"), body="{}", qualifier="", asynchronous=True)
    Invocation.objects.filter(request_id=started.run.request_id).update(status="succeeded", condition="Success")
    InvocationBody.objects.filter(invocation_id=started.run.request_id).update(response='"ok"')
    response = client.get(f"/functions/hello/test/runs/{started.run.pk}/", **HX)
    assert response.status_code == 286
    assert "Final: succeeded" in response.content.decode()


def test_outsider_cannot_poll_a_run_of_another_team(client: Client, owner: Any, outsider: Any, hello: Function) -> None:
    started = runs.start_test(function=hello, caller=user_caller(user=owner, team=hello.team, via="console"), body="{}", qualifier="", asynchronous=False)
    client.force_login(outsider)
    assert client.get(f"/functions/hello/test/runs/{started.run.pk}/").status_code == 404


def test_the_qualifier_picker_offers_every_version_and_alias_and_the_run_uses_it(
    client: Client, owner: Any, hello: Function, monkeypatch: Any
) -> None:
    from invocations.models import Alias
    from invocations.services import versions

    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: None)
    versions.publish(hello)
    Alias.objects.create(function=hello, name="live", function_version="1")
    client.force_login(owner)
    page = client.get("/functions/hello/test/").content.decode()
    assert '<option value="1">Version 1</option>' in page and '<option value="live">live → 1</option>' in page
    client.post("/functions/hello/test/run/", {"body": "{}", "qualifier": "live"}, **HX)
    run = TestRun.objects.get()
    assert run.qualifier == "live"
    runs.run_console_test(run_id=run.pk)
    invocation = Invocation.objects.get(request_id=run.request_id)
    assert invocation.qualifier == "live" and invocation.executed_version == "1"
    # Saving redraws the editor: the qualifier picked stays picked.
    body = client.post("/functions/hello/events/", {"name": "e", "scope": "private", "body": "{}", "qualifier": "1"}, **HX).content.decode()
    assert '<option value="1" selected>Version 1</option>' in body


def test_the_async_header_says_when_a_retry_is_scheduled(client: Client, owner: Any, hello: Function, monkeypatch: Any) -> None:
    import datetime

    monkeypatch.setattr("invocations.dispatch._send", lambda *a: None)
    client.force_login(owner)
    started = runs.start_test(function=hello, caller=user_caller(user=owner, team=hello.team, via="console"), body="{}", qualifier="", asynchronous=True)
    due = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    Invocation.objects.filter(request_id=started.run.request_id).update(status="queued", attempt=1, next_attempt_at=due)
    invocation = Invocation.objects.get(request_id=started.run.request_id)
    invocation.attempts.create(number=1, outcome="failed", error_type="Unhandled", finished_at=due, next_attempt_at=due)
    body = client.get(f"/functions/hello/test/runs/{started.run.pk}/", **HX).content.decode()
    assert "attempt 1 failed (Unhandled); attempt 2 of 3 scheduled at 2030-01-02 03:04:05 UTC" in body
    assert "in progress: queued" not in body
    assert 'data-final="0"' in body  # Test stays disabled while the retry is pending


def test_the_result_panel_has_a_heading_to_move_focus_to(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    body = client.post("/functions/hello/test/run/", {"body": "{", "qualifier": "$LATEST"}, **HX).content.decode()
    assert 'id="result-heading" tabindex="-1"' in body and 'data-final="1"' in body
