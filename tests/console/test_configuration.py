"""The Configuration tab's server rules (issue 15): one message per field that is wrong, typed values
kept, environment names and duplicates, runtime / ephemeral storage / tags, destination pickers,
the function URL's Cors, and a viewer's direct POSTs refused."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.test import Client

from console.forms import parse_environment, parse_tags
from console.views.function_settings import plain
from invocations.models import Activity, EventInvokeConfig, EventSourceMapping, Trigger, Function, FunctionUrlConfig, FunctionVersion, Membership, Team
from invocations.services import tags as tag_service

GOOD = {"handler": "lambda_function.lambda_handler", "runtime": "python3.11", "description": "d", "timeout": 10,
        "memory_size": 256, "ephemeral_storage": 512, "environment": "STAGE=dev", "tags": "", "reserved_concurrency": ""}  # fmt: skip


@pytest.fixture
def logged_in(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


def latest(function: Function) -> FunctionVersion:
    return FunctionVersion.objects.get(function=function, version="$LATEST")


def errors_of(body: str) -> set[str]:
    """The ids of the per-field messages in a page."""
    import re

    return set(re.findall(r'id="([a-z_]+)-error"', body))


# --- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("XY=1", {"XY": "1"}),
        ("DB_URL=postgres://u:p@h/db?a=b", {"DB_URL": "postgres://u:p@h/db?a=b"}),  # only the first "=" splits
        ("EMPTY=\n\n# a comment\nB2=x", {"EMPTY": "", "B2": "x"}),
        ("  SPACED  =  v  ", {"SPACED": "v"}),
    ],
)
def test_environment_lines_parse(text: str, expected: dict[str, str]) -> None:
    assert parse_environment(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("X=1", "X is too short: AWS needs names of at least two characters"),
        ("1ABC=1", "1ABC is not a valid name"),
        ("MY-KEY=1", "MY-KEY is not a valid name"),
        ("AWS_REGION=eu-west-1", "AWS_REGION is reserved"),
        ("_HANDLER=x", "_HANDLER is not a valid name"),
        ("STAGE=dev\nLEVEL=1\nSTAGE=prod", "Line 3: the variable STAGE is already set on line 1"),
        ("NOEQUALS", "Line 1: write a variable as KEY=value"),
    ],
)
def test_bad_environment_lines_are_named(text: str, complaint: str) -> None:
    with pytest.raises(forms.ValidationError) as raised:
        parse_environment(text)
    assert complaint in raised.value.messages[0]


def test_tags_follow_awss_rules() -> None:
    assert parse_tags("team=payments\ncost-center=42") == {"team": "payments", "cost-center": "42"}
    for text, complaint in [("aws:x=1", "reserved for AWS"), ("a=1\na=2", "tag a is already set"), ("k=" + "v" * 257, "at most 256"),
                            ("bad#key=1", "may only use")]:  # fmt: skip
        with pytest.raises(forms.ValidationError) as raised:
            parse_tags(text)
        assert complaint in raised.value.messages[0]
    with pytest.raises(forms.ValidationError):
        parse_tags("\n".join(f"k{i}=v" for i in range(51)))


def test_awss_wording_is_said_plainly() -> None:
    message = "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"
    assert plain(message) == "Must be less than or equal to 900. (got 901)"
    assert plain("You can't specify the function as a destination for itself.") == "You can't specify the function as a destination for itself."


# --- general configuration -------------------------------------------------------------------------


@pytest.mark.django_db
def test_timeout_and_memory_each_get_their_own_message_and_keep_what_was_typed(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/", {**GOOD, "timeout": 901, "memory_size": 50, "description": "typed"},
                              HTTP_HX_REQUEST="true")  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 400
    assert errors_of(body) == {"timeout", "memory_size"}
    assert body.count("less than or equal to 900") == 1 and body.count("greater than or equal to 128") == 1
    assert 'value="901"' in body and 'value="50"' in body and 'value="typed"' in body
    assert (latest(hello).timeout, latest(hello).memory_size) == (3, 128)


@pytest.mark.django_db
def test_inputs_carry_awss_limits(logged_in: Client, hello: Function) -> None:
    body = logged_in.get("/functions/hello/configuration/").content.decode()
    for name, low, high in [("timeout", 1, 900), ("memory_size", 128, 10240), ("ephemeral_storage", 512, 10240),
                            ("maximum_retry_attempts", 0, 2), ("maximum_event_age_in_seconds", 60, 21600)]:  # fmt: skip
        tag = "<input" + body.split(f'name="{name}"', 1)[1].split(">", 1)[0]
        assert f'min="{low}"' in tag and f'max="{high}"' in tag and 'step="1"' in tag, (name, tag)


@pytest.mark.django_db
def test_a_duplicate_environment_key_is_refused_and_nothing_changes(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/", {**GOOD, "environment": "STAGE=dev\nSTAGE=prod", "timeout": 20})
    assert response.status_code == 400
    assert errors_of(response.content.decode()) == {"environment"}
    assert "the variable STAGE is already set on line 1" in response.content.decode()
    assert latest(hello).timeout == 3 and latest(hello).environment == {}


@pytest.mark.django_db
def test_runtime_ephemeral_storage_description_and_tags_are_saved(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/", {**GOOD, "runtime": "nodejs20.x", "ephemeral_storage": 2048,
                                                                   "description": "orders API", "tags": "team=payments\nenv=prod"})  # fmt: skip
    assert response.status_code == 302
    version = latest(hello)
    assert (version.runtime, version.ephemeral_storage, version.description) == ("nodejs20.x", 2048, "orders API")
    assert Function.objects.get(pk=hello.pk).tags == {"team": "payments", "env": "prod"}
    assert Activity.objects.filter(function=hello, action="lambda:TagResource").exists()
    logged_in.post("/functions/hello/configuration/", {**GOOD, "tags": "team=payments"})
    assert Function.objects.get(pk=hello.pk).tags == {"team": "payments"}
    assert Activity.objects.filter(function=hello, action="lambda:UntagResource").exists()
    page = logged_in.get("/functions/hello/configuration/").content.decode()
    assert "team=payments" in page


@pytest.mark.django_db
def test_a_form_without_tags_leaves_them_alone(logged_in: Client, hello: Function) -> None:
    Function.objects.filter(pk=hello.pk).update(tags={"keep": "me"})
    logged_in.post("/functions/hello/configuration/", {"handler": "lambda_function.lambda_handler", "timeout": 3, "memory_size": 128})
    assert Function.objects.get(pk=hello.pk).tags == {"keep": "me"}


@pytest.mark.django_db
def test_ephemeral_storage_out_of_range_is_its_own_message(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/", {**GOOD, "ephemeral_storage": 100})
    assert errors_of(response.content.decode()) == {"ephemeral_storage"}


@pytest.mark.django_db
def test_the_tag_service_refuses_reserved_keys(owner_caller: Any, hello: Function) -> None:
    from console.services.functions import ref_of
    from invocations.errors import InvalidParameterValueException

    with pytest.raises(InvalidParameterValueException):
        tag_service.tag_resource(caller=owner_caller, ref=ref_of(hello), tags={"aws:cost": "1"})
    assert tag_service.tag_resource(caller=owner_caller, ref=ref_of(hello), tags={"a": "1"}) == {"a": "1"}


# --- asynchronous invocation -----------------------------------------------------------------------


@pytest.fixture
def sibling(owner: Any, team: Team, hello: Function) -> Function:
    from console.services import functions as console_functions
    from invocations.access import user_caller

    return console_functions.create_function(caller=user_caller(user=owner, team=team, via="console"), name="sibling",
                                             runtime="python3.11", zip_data=None, source=None)  # fmt: skip


@pytest.mark.django_db
def test_a_destination_is_picked_from_the_teams_functions(logged_in: Client, hello: Function, sibling: Function) -> None:
    from invocations.arns import arn_of

    page = logged_in.get("/functions/hello/configuration/").content.decode()
    assert f'<option value="{arn_of(sibling)}">sibling (function)</option>' in page
    assert f'<option value="{arn_of(hello)}"' not in page  # not itself
    response = logged_in.post("/functions/hello/configuration/async/", {"on_success_choice": arn_of(sibling), "on_failure_choice": "other",
                                                                        "on_failure": "arn:aws:sqs:us-east-1:000000000000:dlq"})  # fmt: skip
    assert response.status_code == 302
    config = EventInvokeConfig.objects.get(function=hello)
    assert (config.on_success_destination, config.on_failure_destination) == (arn_of(sibling), "arn:aws:sqs:us-east-1:000000000000:dlq")
    page = logged_in.get("/functions/hello/configuration/").content.decode()
    assert f'<option value="{arn_of(sibling)}" selected>' in page


@pytest.mark.django_db
def test_an_invalid_destination_is_explained_under_its_field_and_keeps_both(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/async/", {
        "maximum_retry_attempts": 1, "on_success_choice": "other", "on_success": "wb-echo",
        "on_failure_choice": "other", "on_failure": "arn:aws:sqs:us-east-1:000000000000:dlq"}, HTTP_HX_REQUEST="true")  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 400
    assert errors_of(body) == {"on_success"}
    assert "“wb-echo” is not a destination: type an SQS queue" in body
    assert "failed to satisfy" not in body and "DestinationConfig(" not in body
    assert 'value="wb-echo"' in body and 'value="arn:aws:sqs:us-east-1:000000000000:dlq"' in body
    assert not EventInvokeConfig.objects.filter(function=hello).exists()


@pytest.mark.django_db
def test_retry_attempts_and_event_age_are_checked_per_field(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/async/", {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 30})
    assert errors_of(response.content.decode()) == {"maximum_retry_attempts", "maximum_event_age_in_seconds"}


@pytest.mark.django_db
def test_a_missing_function_destination_lands_on_its_field(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/async/", {
        "on_failure_choice": "other", "on_failure": "arn:aws:lambda:us-east-1:000000000000:function:ghost"})  # fmt: skip
    assert response.status_code == 400
    assert errors_of(response.content.decode()) == {"on_failure"}


# --- function URL and Cors -------------------------------------------------------------------------


@pytest.mark.django_db
def test_cors_is_saved_in_awss_shape(logged_in: Client, hello: Function) -> None:
    response = logged_in.post("/functions/hello/configuration/url/", {
        "auth_type": "AWS_IAM", "invoke_mode": "BUFFERED", "cors_allow_origins": "https://a.example, https://b.example:8443",
        "cors_allow_methods": ["GET", "POST"], "cors_allow_headers": "content-type, x-api-key", "cors_expose_headers": "x-request-id",
        "cors_max_age": 600, "cors_allow_credentials": "on"})  # fmt: skip
    assert response.status_code == 302
    assert FunctionUrlConfig.objects.get(function=hello).cors == {
        "AllowOrigins": ["https://a.example", "https://b.example:8443"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "x-api-key"], "ExposeHeaders": ["x-request-id"], "MaxAge": 600, "AllowCredentials": True,
    }  # fmt: skip
    page = logged_in.get("/functions/hello/configuration/").content.decode()
    assert 'value="https://a.example, https://b.example:8443"' in page
    assert '<a id="function-url"' in page and 'data-copy="#function-url"' in page


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("cors_allow_origins", "https://a.example/path", "is not an origin"),
        ("cors_allow_origins", "a.example", "is not an origin"),
        ("cors_allow_headers", "bad header", "is not a header name"),
        ("cors_max_age", "90000", "less than or equal to 86400"),
        ("cors_allow_methods", ["*", "GET"], "Choose * alone"),
        ("cors_allow_methods", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], "at most 6 methods"),
    ],
)
@pytest.mark.django_db
def test_bad_cors_is_explained_per_field_and_nothing_is_created(
    logged_in: Client, hello: Function, field: str, value: Any, complaint: str
) -> None:
    response = logged_in.post("/functions/hello/configuration/url/", {"auth_type": "NONE", "invoke_mode": "BUFFERED", field: value})
    body = response.content.decode()
    assert response.status_code == 400
    assert errors_of(body) == {field} and complaint in body
    assert not FunctionUrlConfig.objects.filter(function=hello).exists()


@pytest.mark.django_db
def test_the_delete_url_button_asks_first(logged_in: Client, hello: Function) -> None:
    logged_in.post("/functions/hello/configuration/url/", {"auth_type": "AWS_IAM", "invoke_mode": "BUFFERED"})
    page = logged_in.get("/functions/hello/configuration/").content.decode()
    assert 'id="delete-url"' in page and 'data-confirm="Delete the function URL?' in page
    assert logged_in.post("/functions/hello/configuration/url/", {"action": "delete"}).status_code == 302
    assert not FunctionUrlConfig.objects.filter(function=hello).exists()


# --- roles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/functions/hello/configuration/", {**GOOD, "tags": "a=b"}),
        ("/functions/hello/configuration/async/", {"maximum_retry_attempts": 0}),
        ("/functions/hello/configuration/url/", {"auth_type": "NONE", "invoke_mode": "BUFFERED", "cors_allow_origins": "*"}),
        ("/functions/hello/configuration/url/", {"action": "delete"}),
        ("/functions/hello/triggers/", {"kind": "schedule", "name": "tick", "schedule_expression": "rate(5 minutes)"}),
        ("/functions/hello/triggers/mappings/", {"event_source_arn": "arn:aws:sqs:us-east-1:000000000000:q"}),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_a_viewer_posting_directly_is_refused_and_nothing_changes(
    client: Client, teammate: Any, team: Team, hello: Function, path: str, data: dict[str, Any]
) -> None:
    FunctionUrlConfig.objects.create(function=hello, qualifier="", url_id="u" * 32, auth_type="AWS_IAM", invoke_mode="BUFFERED",
                                     creation_time="2026-01-01T00:00Z", last_modified_time="2026-01-01T00:00Z")  # fmt: skip
    Membership.objects.filter(team=team, user=teammate).update(role="viewer")
    client.force_login(teammate)
    response = client.post(path, data)
    assert response.status_code == 403
    hello.refresh_from_db()
    assert hello.tags == {} and not EventInvokeConfig.objects.exists()
    assert FunctionUrlConfig.objects.get(function=hello).cors == {}
    assert not Trigger.objects.exists() and not EventSourceMapping.objects.exists()
