"""Invoking through a function URL (spec §7.2–§7.4), host form and path form, in the Django tier."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.test import Client

from invocations import recorder
from invocations.access_keys import NewAccessKey
from invocations.models import Invocation
from invocations.arns import arn_of
from invocations.models import Team
from invocations.services import function_urls, permissions, teams
from invocations.services.teams import default_team
from tests.invocations.services.test_invoke import make_function

pytestmark = pytest.mark.django_db

EVENT_PY = "def handler(event, context):\n    return {'statusCode': 200, 'body': __import__('json').dumps(event)}\n"
SHAPES_PY = '''
import json
def handler(event, context):
    kind = event["rawPath"].strip("/")
    if kind == "string":
        return "just text"
    if kind == "dict":
        return {"hello": "world"}
    if kind == "cookies":
        return {"statusCode": 201, "headers": {"X-Own": "1", "Content-Length": "3",
                "Access-Control-Allow-Origin": "*"}, "cookies": ["a=1; Path=/", "b=2"], "body": "abc"}
    if kind == "binary":
        return {"statusCode": 200, "headers": {"content-type": "image/png"}, "isBase64Encoded": True,
                "body": "iVBORw=="}
    if kind == "fail":
        raise RuntimeError("boom")
    return {"statusCode": 200, "body": json.dumps(event)}
'''
STREAM_JS = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream,
    {statusCode: 203, headers: {"content-type": "text/plain", "x-path": event.rawPath}, cookies: ["s=1"]});
  out.write("one,");
  out.end("two");
});
"""


@pytest.fixture
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


def url(code_dir: Path, files: dict[str, str], *, auth: str = "NONE", name: str = "web", team: Team | None = None,
        public: bool = True, **options: Any) -> Any:
    """A function and its URL; a ``NONE`` URL made public (``public``) as the console makes it."""
    function = make_function(name, files, code_dir=code_dir, team=team or default_team(), **options.pop("function", {}))
    operator = teams.operator(function.team)
    config = function_urls.create_function_url_config(
        caller=operator, function_name=arn_of(function), qualifier=None, auth_type=auth, **options
    )
    if auth == "NONE" and public:
        permissions.allow_public_url(caller=operator, function=function, qualifier="")
    return config


def host_of(config: Any) -> str:
    return f"{config.url_id}.lambda-url.us-east-1.localhost:8000"


def get(config: Any, path: str = "/", *, via: str = "host", method: str = "get", **extra: Any) -> Any:
    client = Client()
    if via == "host":
        return getattr(client, method)(path, HTTP_HOST=host_of(config), **extra)
    return getattr(client, method)(f"/lambda-url/{config.url_id}{path}", HTTP_HOST="127.0.0.1:8000", **extra)


def records() -> list[Invocation]:
    recorder.flush()
    return list(Invocation.objects.order_by("pk"))


@pytest.mark.parametrize("via", ["host", "path"])
def test_the_function_sees_a_2_0_event(code_dir: Path, via: str) -> None:
    config = url(code_dir, {"app.py": EVENT_PY})
    response = get(config, "/a/b%20c", via=via, QUERY_STRING="x=1&x=2", HTTP_COOKIE="c1=1; c2=2",
                   HTTP_USER_AGENT="tester", REMOTE_ADDR="::ffff:127.0.0.1", HTTP_X_REP="1,2")
    assert response.status_code == 200
    event = json.loads(response.content)
    assert event["version"] == "2.0" and event["rawPath"] == "/a/b%20c" and event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"} and event["cookies"] == ["c1=1", "c2=2"]
    assert event["headers"]["x-rep"] == "1,2" and "cookie" not in event["headers"]
    context = event["requestContext"]
    assert context["http"] == {"method": "GET", "path": "/a/b%20c", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                               "userAgent": "tester"}
    assert context["apiId"] == config.url_id == context["domainPrefix"]
    assert context["domainName"] == f"{config.url_id}.lambda-url.us-east-1.localhost"
    assert context["requestId"] == response["x-amzn-RequestId"] and "authorizer" not in context
    assert isinstance(context["timeEpoch"], int)
    [record] = records()
    assert record.source == "url" and record.request_id == response["x-amzn-RequestId"]
    assert record.status == "succeeded"


def test_a_binary_body_is_base64(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": EVENT_PY})
    response = get(config, "/up", method="post", data=b"\x89PNG\x00", content_type="image/png")
    event = json.loads(response.content)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x89PNG\x00"
    text = json.loads(get(config, "/up", method="post", data='{"a":1}', content_type="application/json").content)
    assert text["body"] == '{"a":1}' and text["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("path", "status", "content_type", "body"),
    [("/string", 200, "application/json", b"just text"),
     ("/dict", 200, "application/json", b'{"hello":"world"}'),
     ("/binary", 200, "image/png", base64.b64decode("iVBORw==")),
     ("/fail", 502, "application/json", b"Internal Server Error")],
)
def test_response_mapping(code_dir: Path, path: str, status: int, content_type: str, body: bytes) -> None:
    config = url(code_dir, {"app.py": SHAPES_PY})
    response = get(config, path)
    assert (response.status_code, response["Content-Type"], response.content) == (status, content_type, body)


def test_cookies_remapped_headers_and_config_cors(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": SHAPES_PY}, cors={"AllowOrigins": ["https://app.example"]})
    response = get(config, "/cookies", HTTP_ORIGIN="https://app.example")
    assert response.status_code == 201 and response.content == b"abc"
    items = response.items()
    assert [v for n, v in items if n == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    assert response["X-Own"] == "1" and response["x-amzn-Remapped-Content-Length"] == "3"
    assert response["Access-Control-Allow-Origin"] == "https://app.example"  # the config wins over "*"


def test_cors_preflight_is_answered_without_invoking(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": SHAPES_PY},
                 cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["POST"], "MaxAge": 10})
    response = get(config, "/", method="options", HTTP_ORIGIN="https://app.example",
                   HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Methods"] == "POST" and response["Access-Control-Max-Age"] == "10"
    assert records() == []


def test_an_unknown_url_is_403_like_aws(db: Any) -> None:
    response = Client().get("/", HTTP_HOST="a" * 32 + ".lambda-url.us-east-1.localhost:8000")
    assert response.status_code == 403 and json.loads(response.content) == {"Message": None}
    assert response["x-amzn-ErrorType"] == "AccessDeniedException"
    assert Client().get("/lambda-url/" + "b" * 32 + "/").status_code == 403


def test_throttling_is_429(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": EVENT_PY}, function={"reserved_concurrency": 0})
    response = get(config)
    assert response.status_code == 429 and response["x-amzn-ErrorType"] == "TooManyRequestsException"


def sign(config: Any, key: NewAccessKey, path: str = "/", body: bytes = b"", secret: str | None = None) -> dict[str, str]:
    request = AWSRequest(method="POST", url=f"http://{host_of(config)}{path}", data=body)
    SigV4Auth(Credentials(key.access_key_id, secret or key.secret_access_key), "lambda", "us-east-1").add_auth(request)
    return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items() if k.lower() != "content-length"}


def test_aws_iam_urls_need_a_sigv4_signature(code_dir: Path, access_key: NewAccessKey, team: Team) -> None:
    config = url(code_dir, {"app.py": EVENT_PY}, auth="AWS_IAM", team=team)
    unsigned = get(config, method="post", data=b"hi", content_type="text/plain")
    assert unsigned.status_code == 403 and unsigned["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    forged = Client().post("/", data=b"hi", content_type="text/plain", HTTP_HOST=host_of(config),
                           **sign(config, access_key, body=b"hi", secret="wrong"))
    assert forged.status_code == 403 and forged["x-amzn-ErrorType"] == "InvalidSignatureException"
    signed = Client().post("/", data=b"hi", content_type="text/plain", HTTP_HOST=host_of(config),
                           **sign(config, access_key, body=b"hi"))
    assert signed.status_code == 200, signed.content
    iam = json.loads(signed.content)["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == access_key.access_key_id and iam["userArn"] == "arn:aws:iam::111111111111:user/alice"
    assert iam["accountId"] == "111111111111"
    assert [r.caller_id for r in records()] == [access_key_user(access_key)]


def access_key_user(key: NewAccessKey) -> int:
    from invocations.models import AccessKey

    return AccessKey.objects.get(access_key_id=key.access_key_id).user_id


def test_response_stream_from_node(code_dir: Path) -> None:
    config = url(code_dir, {"index.js": STREAM_JS}, invoke_mode="RESPONSE_STREAM",
                 function={"runtime": "nodejs20.x", "handler": "index.handler"})
    response = get(config, "/s")
    assert response.streaming and response.status_code == 203
    assert b"".join(response.streaming_content) == b"one,two"
    assert response["x-path"] == "/s" and response["Content-Type"] == "text/plain"
    assert [v for n, v in response.items() if n == "Set-Cookie"] == ["s=1"]
    [record] = records()
    assert record.source == "url" and record.status == "succeeded"


def test_response_stream_mode_with_a_python_handler_is_mapped_like_buffered(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": SHAPES_PY}, invoke_mode="RESPONSE_STREAM")
    response = get(config, "/dict")
    assert response.status_code == 200 and response.content == b'{"hello":"world"}'


# --- who may call a URL ------------------------------------------------------------------------------


def test_a_none_url_without_the_public_statements_is_forbidden(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": EVENT_PY}, public=False)
    response = get(config)
    assert response.status_code == 403 and json.loads(response.content) == {"Message": "Forbidden"}
    assert records() == []


def test_another_teams_key_cannot_open_an_aws_iam_url_until_the_policy_allows_it(
    code_dir: Path, team: Team, outsider_key: NewAccessKey
) -> None:
    config = url(code_dir, {"app.py": EVENT_PY}, auth="AWS_IAM", team=team)
    signed = lambda: Client().post("/", data=b"hi", content_type="text/plain", HTTP_HOST=host_of(config),  # noqa: E731
                                   **sign(config, outsider_key, body=b"hi"))
    refused = signed()
    assert refused.status_code == 403 and json.loads(refused.content) == {"Message": "Forbidden"}
    function = config.function
    operator = teams.operator(team)
    permissions.allow(caller=operator, function=function, qualifier="", sid="url", principal="222222222222",
                      action="lambda:InvokeFunctionUrl", function_url_auth_type="AWS_IAM")
    assert signed().status_code == 403  # InvokeFunction via the URL is needed too (AWS, October 2025)
    permissions.allow(caller=operator, function=function, qualifier="", sid="invoke", principal="222222222222",
                      action="lambda:InvokeFunction", invoked_via_function_url=True)
    allowed = signed()
    assert allowed.status_code == 200
    assert json.loads(allowed.content)["requestContext"]["authorizer"]["iam"]["accountId"] == "222222222222"


# --- the console's origin is not the function's ----------------------------------------------------

COOKIE_PY = """\
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "text/html", "service-worker-allowed": "/",
            "clear-site-data": '"cookies"'}, "cookies": ["sessionid=stolen; Path=/", "csrftoken=fixed", "own=1"],
            "body": json.dumps(event.get("cookies"))}
"""


def test_the_path_form_runs_sandboxed_and_cannot_touch_the_consoles_cookies(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": COOKIE_PY})
    response = get(config, "/", via="path", HTTP_COOKIE="sessionid=SECRET; csrftoken=TOKEN; own=1")
    assert json.loads(response.content) == ["own=1"]  # the console's cookies never reach the function
    policies = [v for n, v in response.items() if n == "Content-Security-Policy"]
    assert policies and all("sandbox" in p and "allow-same-origin" not in p for p in policies)
    assert [v for n, v in response.items() if n == "Set-Cookie"] == ["own=1"]
    assert "Service-Worker-Allowed" not in response and "Clear-Site-Data" not in response


def test_the_host_form_is_the_functions_own_origin(code_dir: Path) -> None:
    config = url(code_dir, {"app.py": COOKIE_PY})
    response = get(config, "/", HTTP_COOKIE="sessionid=SECRET; own=1")
    assert json.loads(response.content) == ["own=1"]
    assert "Content-Security-Policy" not in response  # its own origin: the function's page as it wrote it
    assert len([v for n, v in response.items() if n == "Set-Cookie"]) == 3
