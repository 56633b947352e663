"""The Test tab's expectations editor: saved and versioned with the event, refusals next to their
field with what was typed kept, and approving a response (snapshot testing)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from console.models import TestEvent
from invocations.models import Function, Invocation

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def editor(**expect: Any) -> dict[str, Any]:
    """A Save of the editor: a shared event "orders" with these expectation fields."""
    data: dict[str, Any] = {"name": "orders", "scope": "shared", "body": '{"n": 1}', "expect_path": [""], "expect_path_test": ["Equals"],
                            "expect_path_value": [""]}  # fmt: skip
    data.update({f"expect_{key}": value for key, value in expect.items()})
    return data


@pytest.fixture
def logged_in(client: Client, owner: Any, hello: Function) -> Client:
    client.force_login(owner)
    return client


def test_expectations_are_saved_with_the_event_and_shown_again_in_the_form(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/events/", editor(
        on="1", outcome="Succeeded", response_mode="Contains", response='{"n": 1}',
        path=["$.n", "$.gone", ""], path_test=["Equals", "Exists", "Equals"], path_value=["1", "false", ""],
        logs_contains="hello from\n", logs_not_contains="Traceback", max_duration_ms="2000", max_memory_mb="256",
    ), **HX)  # fmt: skip
    assert response.status_code == 200
    event = TestEvent.objects.get(name="orders")
    assert event.expect == {
        "Outcome": "Succeeded", "Response": {"Contains": {"n": 1}},
        "JsonPath": [{"Path": "$.n", "Equals": 1}, {"Path": "$.gone", "Exists": False}],
        "Logs": {"Contains": ["hello from"], "NotContains": ["Traceback"]}, "MaxDurationMs": 2000, "MaxMemoryMb": 256,
    }  # fmt: skip
    page = logged_in.get(f"/functions/hello/test/?event={event.pk}").content.decode()
    assert '<option value="Succeeded" selected>' in page and 'value="$.gone"' in page and ">Traceback</textarea>" in page
    assert 'id="expect-on" value="1" checked' in page and "✓ expects" in page
    assert "&quot;MaxMemoryMb&quot;: 256" in page  # the API's Expect, read-only


def test_a_save_without_any_expectation_keeps_the_event_out_of_the_suite(logged_in: Client) -> None:
    logged_in.post("/functions/hello/events/", editor(), **HX)
    assert TestEvent.objects.get(name="orders").expect is None


@pytest.mark.parametrize(
    ("fields", "error_id", "kept"),
    [
        ({"logs_contains": "ok\n(unclosed"}, "expect-logs-contains-error", ">ok\n(unclosed</textarea>"),
        ({"response_mode": "Equals", "response": '{"a": }'}, "expect-response-error", ">{&quot;a&quot;: }</textarea>"),
        ({"outcome": "Succeeded", "error_type": "ValueError"}, "expect-error-type-error", 'value="ValueError"'),
        ({"max_duration_ms": "-5"}, "expect-max-duration-error", 'value="-5"'),
    ],
)
def test_refused_expectations_are_shown_next_to_their_field_with_the_inputs_kept(
    logged_in: Client, fields: dict[str, str], error_id: str, kept: str
) -> None:
    response = logged_in.post("/functions/hello/events/", editor(**fields), **HX)
    body = response.content.decode()
    assert response.status_code == 422 and f'id="{error_id}"' in body and kept in body
    assert 'value="orders"' in body and not TestEvent.objects.exists()


def test_a_bad_jsonpath_is_refused_on_its_own_row(logged_in: Client) -> None:
    response = logged_in.post("/functions/hello/events/", editor(
        path=["$.ok", "$..[?(", ""], path_test=["Exists", "Equals", "Equals"], path_value=["", "1", ""]), **HX)  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 422
    second_row = re.split(r'<div class="path-row[ "]', body)[2]  # [0] before the rows, [1] the first
    assert "is not a valid JSONPath" in second_row and 'value="$..[?("' in second_row


def test_versions_keep_the_expectations_and_restoring_one_brings_them_back(logged_in: Client) -> None:
    logged_in.post("/functions/hello/events/", editor(outcome="Succeeded"), **HX)
    event = TestEvent.objects.get()
    logged_in.post("/functions/hello/events/", {**editor(outcome="Failed", error_type="KeyError"), "event_id": event.pk}, **HX)
    logged_in.post("/functions/hello/events/", {**editor(), "event_id": event.pk}, **HX)  # expectations removed
    event.refresh_from_db()
    assert event.expect is None and [v.expect for v in event.versions.all()] == [
        None, {"Outcome": "Failed", "ErrorType": "KeyError"}, {"Outcome": "Succeeded"}]  # fmt: skip
    page = logged_in.get(f"/functions/hello/events/{event.pk}/versions/?v=2").content.decode()
    assert "2 checks" in page and "1 check<" in page and "&quot;ErrorType&quot;: &quot;KeyError&quot;" in page
    logged_in.post(f"/functions/hello/events/{event.pk}/versions/1/restore/", **HX)
    event.refresh_from_db()
    assert event.expect == {"Outcome": "Succeeded"} and event.versions.count() == 4


def test_saving_unchanged_expectations_makes_no_new_version(logged_in: Client) -> None:
    fields = {"outcome": "Succeeded", "path": ["$.a", ""], "path_test": ["Matches", "Equals"], "path_value": ["^x", ""], "max_memory_mb": "128"}
    logged_in.post("/functions/hello/events/", editor(**fields), **HX)
    event = TestEvent.objects.get()
    logged_in.post("/functions/hello/events/", {**editor(**fields), "event_id": event.pk}, **HX)
    assert event.versions.count() == 1


def succeeded(function: Function, request_id: str = "ok-1", response: str = '{"total": 3}', **extra: Any) -> Invocation:
    fields = {"status": Invocation.Status.SUCCEEDED, "response": response, **extra}
    return Invocation.objects.create(request_id=request_id, function=function, function_name=function.name, payload='{"n": 1}', **fields)


def test_approve_this_response_makes_it_the_expected_response_and_keeps_the_other_checks(logged_in: Client, hello: Function) -> None:
    logged_in.post("/functions/hello/events/", editor(outcome="Failed", logs_contains="hello"), **HX)
    event = TestEvent.objects.get()
    succeeded(hello)
    response = logged_in.post(f"/functions/hello/events/{event.pk}/approve/", {"request_id": "ok-1"}, **HX)
    assert response.status_code == 200 and 'id="expect-note"' in response.content.decode()
    event.refresh_from_db()
    assert event.expect == {"Outcome": "Succeeded", "Response": {"Equals": {"total": 3}}, "Logs": {"Contains": ["hello"]}}
    assert event.versions.count() == 2


def test_only_a_successful_invocation_of_the_same_function_can_be_approved(logged_in: Client, hello: Function) -> None:
    logged_in.post("/functions/hello/events/", editor(), **HX)
    event = TestEvent.objects.get()
    Invocation.objects.create(request_id="bad-1", function=hello, function_name="hello", status="failed", function_error="Unhandled",
                              response='{"errorType": "X"}')  # fmt: skip
    response = logged_in.post(f"/functions/hello/events/{event.pk}/approve/", {"request_id": "bad-1"}, **HX)
    assert response.status_code == 422 and "Only a successful invocation" in response.content.decode()
    assert logged_in.post(f"/functions/hello/events/{event.pk}/approve/", {"request_id": "nope"}, **HX).status_code == 422
    event.refresh_from_db()
    assert event.expect is None


def test_expect_this_response_in_the_result_panel_applies_when_the_event_is_saved(logged_in: Client, hello: Function) -> None:
    succeeded(hello, response="plain text")
    data = {**editor(max_duration_ms="500"), "approve_request_id": "ok-1"}
    assert logged_in.post("/functions/hello/events/", data, **HX).status_code == 200
    assert TestEvent.objects.get().expect == {"Outcome": "Succeeded", "Response": {"Equals": "plain text"}, "MaxDurationMs": 500}


def test_the_result_panel_offers_the_approval_once_a_run_succeeded(logged_in: Client, owner: Any, hello: Function) -> None:
    from console.services import runs
    from invocations.access import user_caller

    logged_in.post("/functions/hello/events/", editor(), **HX)
    event = TestEvent.objects.get()
    started = runs.start_test(function=hello, caller=user_caller(user=owner, team=hello.team, via="console"), body="{}",
                              qualifier="$LATEST", asynchronous=False)  # fmt: skip
    runs.run_console_test(run_id=started.run.pk)
    body = logged_in.get(f"/functions/hello/test/runs/{started.run.pk}/?event={event.pk}", **HX).content.decode()
    assert 'name="approve_request_id"' in body and 'form="test-form"' in body
    assert f"/functions/hello/events/{event.pk}/approve/" in body and 'id="approve-button"' in body


def test_save_as_test_event_from_the_invocation_page_can_expect_its_response(logged_in: Client, hello: Function) -> None:
    succeeded(hello)
    page = logged_in.get("/invocations/ok-1/").content.decode()
    assert 'name="expect_response"' in page
    response = logged_in.post("/invocations/ok-1/save/", {"name": "snap", "scope": "private", "expect_response": "on"})
    assert response.status_code == 302
    event = TestEvent.objects.get(name="snap")
    assert event.expect == {"Outcome": "Succeeded", "Response": {"Equals": {"total": 3}}} and json.loads(event.body) == {"n": 1}
    logged_in.post("/invocations/ok-1/save/", {"name": "no snap", "scope": "private"})
    assert TestEvent.objects.get(name="no snap").expect is None


def test_a_failed_invocations_response_cannot_be_expected(logged_in: Client, hello: Function) -> None:
    Invocation.objects.create(request_id="bad-1", function=hello, function_name="hello", status="failed", function_error="Unhandled")
    assert 'name="expect_response"' not in logged_in.get("/invocations/bad-1/").content.decode()
    response = logged_in.post("/invocations/bad-1/save/", {"name": "snap", "scope": "private", "expect_response": "on"})
    assert response.status_code == 400 and "Only a successful invocation" in response.content.decode()
    assert not TestEvent.objects.exists()
