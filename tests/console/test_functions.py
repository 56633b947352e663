"""The functions list, creating functions, the Code and Configuration tabs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from invocations.models import Function, FunctionVersion, Invocation, Team
from tests.conftest import zip_bytes

pytestmark = pytest.mark.django_db


def test_functions_list_shows_runtime_and_24_hour_counts(client: Client, owner: Any, hello: Function) -> None:
    now = timezone.now()
    Invocation.objects.create(request_id="a", function=hello, function_name="hello", status="succeeded")
    Invocation.objects.create(request_id="b", function=hello, function_name="hello", status="failed")
    Invocation.objects.create(request_id="c", function=hello, function_name="hello", status="failed", created_at=now - timedelta(days=2))
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert "python3.11" in body
    assert '<td class="num">2</td>' in body  # invocations in the last 24 h
    assert '<td class="num bad">1</td>' in body  # errors in the last 24 h


def test_functions_list_query_count_does_not_grow_with_functions(
    client: Client, owner: Any, team: Team, django_assert_num_queries: Any
) -> None:
    for i in range(30):
        fn = Function.objects.create(name=f"f{i}", team=team)
        FunctionVersion.objects.create(function=fn, version="$LATEST", runtime="python3.11", handler="a.b", role="r", code_sha256="x", code_digest="x")
        Invocation.objects.create(request_id=f"r{i}", function=fn, function_name=fn.name)
    client.force_login(owner)
    client.get("/")  # the first page of a session stores the current team in it
    # session, user; the switcher's teams, the role there; how many match, one page of versions
    # (+ teams), counts, last suite statuses
    with django_assert_num_queries(8):
        response = client.get("/")
    assert response.content.decode().count("python3.11") == 25  # a page holds 25


def test_owner_creates_a_function_from_the_blank_template(client: Client, owner: Any, team: Team) -> None:
    client.force_login(owner)
    response = client.post("/functions/new/", {"name": "fresh", "runtime": "python3.11", "team": team.pk, "source": ""})
    assert response.status_code == 302 and response["Location"] == "/functions/fresh/"
    fn = Function.objects.get(name="fresh")
    assert fn.team == team and fn.owner == owner
    code = client.get("/functions/fresh/").content.decode()
    assert "lambda_function.py" in code and "Hello from Lambda!" in code


def test_owner_creates_a_node_function_with_inline_code(client: Client, owner: Any, team: Team) -> None:
    client.force_login(owner)
    source = "exports.handler = async (e) => e;\n"
    client.post("/functions/new/", {"name": "nodey", "runtime": "nodejs20.x", "source": source})
    latest = FunctionVersion.objects.get(function__name="nodey")
    assert latest.handler == "index.handler"
    assert "exports.handler = async (e) =&gt; e;" in client.get("/functions/nodey/").content.decode()


def test_owner_creates_a_function_from_a_zip_upload(client: Client, owner: Any, team: Team) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(owner)
    package = SimpleUploadedFile("code.zip", zip_bytes({"lambda_function.py": "def lambda_handler(e, c):\n    return 1\n"}))
    response = client.post("/functions/new/", {"name": "zipped", "runtime": "python3.11", "package": package})
    assert response.status_code == 302
    assert "return 1" in client.get("/functions/zipped/").content.decode()


def test_create_shows_aws_errors_next_to_the_name(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/new/", {"name": "hello", "runtime": "python3.11"})
    assert response.status_code == 200
    assert 'id="name-error"' in response.content.decode() and "Function already exist: hello" in response.content.decode()
    response = client.post("/functions/new/", {"name": "bad.name", "runtime": "python3.11"})
    assert 'id="name-error"' in response.content.decode()


def test_create_refuses_a_runtime_not_offered(client: Client, owner: Any) -> None:
    client.force_login(owner)
    response = client.post("/functions/new/", {"name": "x", "runtime": "java21"})
    assert 'id="runtime-error"' in response.content.decode()


def test_teammate_edits_and_deploys_inline_code(client: Client, teammate: Any, hello: Function) -> None:
    client.force_login(teammate)
    before = FunctionVersion.objects.get(function=hello).code_sha256
    response = client.post(
        "/functions/hello/", {"filename": "lambda_function.py", "source": "def lambda_handler(e, c):\n    return 'v2'\n"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    latest = FunctionVersion.objects.get(function=hello)
    assert latest.code_sha256 != before
    assert "return &#x27;v2&#x27;" in response.content.decode()
    assert "<html" not in response.content.decode()  # the editor partial only


def test_code_tab_escapes_source_with_html(client: Client, owner: Any, team: Team) -> None:
    client.force_login(owner)
    client.post("/functions/new/", {"name": "xss", "runtime": "python3.11", "source": "# </textarea><script>alert(1)</script>\n"})
    body = client.get("/functions/xss/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;/textarea&gt;&lt;script&gt;" in body


def test_configuration_saves_and_shows_aws_errors_next_to_fields(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    good = {"handler": "lambda_function.lambda_handler", "description": "d", "timeout": 10, "memory_size": 256,
            "environment": "STAGE=dev\nLEVEL=debug", "reserved_concurrency": 5}  # fmt: skip
    assert client.post("/functions/hello/configuration/", good).status_code == 302
    latest = FunctionVersion.objects.get(function=hello)
    assert (latest.timeout, latest.memory_size, latest.environment) == (10, 256, {"STAGE": "dev", "LEVEL": "debug"})
    assert Function.objects.get(pk=hello.pk).reserved_concurrency == 5

    response = client.post("/functions/hello/configuration/", {**good, "timeout": 1000}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="timeout-error"' in body and "less than or equal to 900" in body

    response = client.post("/functions/hello/configuration/", {**good, "memory_size": 64})
    assert 'id="memory_size-error"' in response.content.decode()

    response = client.post("/functions/hello/configuration/", {**good, "environment": "AWS_REGION=x"})
    assert 'id="environment-error"' in response.content.decode() and "reserved keys" in response.content.decode()

    response = client.post("/functions/hello/configuration/", {**good, "reserved_concurrency": 5000})
    assert 'id="reserved_concurrency-error"' in response.content.decode()

    response = client.post("/functions/hello/configuration/", {**good, "timeout": "soon"})
    assert 'id="timeout-error"' in response.content.decode()


def test_configuration_clears_reserved_concurrency_when_empty(client: Client, owner: Any, hello: Function) -> None:
    Function.objects.filter(pk=hello.pk).update(reserved_concurrency=3)
    client.force_login(owner)
    client.post("/functions/hello/configuration/", {"handler": "lambda_function.lambda_handler", "timeout": 3, "memory_size": 128, "reserved_concurrency": ""})
    assert Function.objects.get(pk=hello.pk).reserved_concurrency is None


def test_async_settings_are_saved_through_the_event_invoke_config_service(client: Client, owner: Any, hello: Function) -> None:
    from invocations.models import EventInvokeConfig

    client.force_login(owner)
    client.post("/functions/hello/configuration/async/", {"maximum_retry_attempts": 1, "maximum_event_age_in_seconds": 120})
    config = EventInvokeConfig.objects.get(function=hello)
    assert (config.maximum_retry_attempts, config.maximum_event_age_in_seconds) == (1, 120)
    response = client.post("/functions/hello/configuration/async/", {"maximum_retry_attempts": 7})
    assert response.status_code == 400
    assert 'id="maximum_retry_attempts-error"' in response.content.decode()
    assert EventInvokeConfig.objects.get(function=hello).maximum_retry_attempts == 1


def test_function_url_is_created_and_shown_with_a_curl_line(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/hello/configuration/url/", {"auth_type": "NONE", "invoke_mode": "BUFFERED"}, follow=True)
    body = response.content.decode()
    assert "Function URL created." in body
    assert 'id="function-url"' in body and "curl " in body
