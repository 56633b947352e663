"""Function URLs against the real stack (granian, dual stack): curl, urllib and boto3 over
127.0.0.1 and [::1], AWS_IAM with a bracketed host, RESPONSE_STREAM reaching the client as produced."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.live.conftest import REGION, ROLE, Live, make_public, ipv6_endpoint
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

URL_PY = '''\
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "cookies": ["seen=1"], "body": json.dumps({"path": event["rawPath"], "ip": event["requestContext"]["http"]["sourceIp"],
            "query": event.get("queryStringParameters"), "iam": "authorizer" in event["requestContext"],
            "method": event["requestContext"]["http"]["method"]})}
'''
SLOW_STREAM_JS = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream, {statusCode: 200, headers: {"content-type": "text/plain"}});
  out.write("first\\n");
  await new Promise((r) => setTimeout(r, 1500));
  out.write("second\\n");
  out.end();
});
"""


def create(live_lambda: Any, name: str, files: dict[str, str], *, runtime: str = "python3.11",
           handler: str = "app.handler") -> None:
    live_lambda.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                                Code={"ZipFile": make_zip(files)}, Timeout=10)
    live_lambda.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


@pytest.fixture(scope="module")
def public_url(live_lambda: Any) -> dict[str, Any]:
    create(live_lambda, "url-public", {"app.py": URL_PY})
    config = live_lambda.create_function_url_config(FunctionName="url-public", AuthType="NONE")
    make_public(live_lambda, "url-public")
    return config


@pytest.fixture(scope="module")
def iam_url(live_lambda: Any) -> dict[str, Any]:
    create(live_lambda, "url-iam", {"app.py": URL_PY})
    return live_lambda.create_function_url_config(FunctionName="url-iam", AuthType="AWS_IAM")


def url_id(config: dict[str, Any]) -> str:
    return urlsplit(config["FunctionUrl"]).hostname.split(".")[0]  # type: ignore[union-attr]


def endpoints(live: Live) -> list[str]:
    return [live.endpoint, ipv6_endpoint(live)]


def test_the_function_url_names_the_port_of_the_api(live: Live, public_url: dict[str, Any]) -> None:
    port = urlsplit(live.endpoint).port
    assert public_url["FunctionUrl"] == f"http://{url_id(public_url)}.lambda-url.us-east-1.localhost:{port}/"
    v6 = live.client(endpoint=live.endpoint_v6).get_function_url_config(FunctionName="url-public") \
        if live.endpoint_v6 else public_url
    assert v6["FunctionUrl"] == public_url["FunctionUrl"]


def test_curl_reaches_the_host_form_over_ipv4_and_ipv6(live: Live, public_url: dict[str, Any]) -> None:
    endpoints(live)
    for family in ("-4", "-6"):
        result = subprocess.run(["curl", "-sS", family, "-i", public_url["FunctionUrl"] + "hello?a=1&a=2"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        head, _, body = result.stdout.partition("\n\n")  # text mode turned CRLF into LF
        assert head.startswith("HTTP/1.1 200") and "set-cookie: seen=1" in head.lower()
        seen = json.loads(body)
        assert seen["path"] == "/hello" and seen["query"] == {"a": "1,2"} and not seen["iam"]
        assert seen["ip"] == ("127.0.0.1" if family == "-4" else "::1")  # never ::ffff:127.0.0.1


def test_the_path_form_over_both_families(live: Live, public_url: dict[str, Any]) -> None:
    for endpoint in endpoints(live):
        with urllib.request.urlopen(f"{endpoint}/lambda-url/{url_id(public_url)}/p/q", data=b"x") as response:
            seen = json.loads(response.read())
            assert response.headers["x-amzn-RequestId"]
        assert seen["path"] == "/p/q" and seen["method"] == "POST"


def test_an_unknown_url_is_403(live: Live) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{live.endpoint}/lambda-url/{'0' * 32}/")
    assert caught.value.code == 403 and json.loads(caught.value.read()) == {"Message": None}


def signed(live: Live, method: str, url: str, body: bytes = b"") -> urllib.request.Request:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(live.access_key_id, live.secret_access_key), "lambda", REGION).add_auth(request)
    return urllib.request.Request(url, data=body or None, method=method, headers=dict(request.headers.items()))


def test_aws_iam_urls_over_ipv4_and_ipv6_with_the_bracketed_host(live: Live, iam_url: dict[str, Any]) -> None:
    for endpoint in endpoints(live):
        url = f"{endpoint}/lambda-url/{url_id(iam_url)}/secure"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url)
        assert caught.value.code == 403
        with urllib.request.urlopen(signed(live, "POST", url, b'{"a":1}')) as response:
            assert json.loads(response.read())["iam"] is True


def test_the_console_curl_line_works_for_aws_iam(live: Live, iam_url: dict[str, Any]) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": live.access_key_id, "AWS_SECRET_ACCESS_KEY": live.secret_access_key}
    command = (f"curl -sS --aws-sigv4 'aws:amz:{REGION}:lambda' "
               f"--user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" {iam_url['FunctionUrl']}")
    result = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and json.loads(result.stdout)["iam"] is True, result.stdout + result.stderr


def test_response_stream_reaches_the_client_before_the_handler_finishes(live: Live, live_lambda: Any) -> None:
    create(live_lambda, "url-stream", {"index.js": SLOW_STREAM_JS}, runtime="nodejs20.x", handler="index.handler")
    config = live_lambda.create_function_url_config(FunctionName="url-stream", AuthType="NONE",
                                                    InvokeMode="RESPONSE_STREAM")
    make_public(live_lambda, "url-stream")
    for endpoint in endpoints(live):
        parts = urlsplit(endpoint)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        started = time.monotonic()
        connection.request("GET", f"/lambda-url/{url_id(config)}/")
        response = connection.getresponse()
        first = response.readline()
        first_at = time.monotonic() - started
        second = response.readline()
        done_at = time.monotonic() - started
        connection.close()
        assert (response.status, first, second) == (200, b"first\n", b"second\n")
        assert response.getheader("transfer-encoding") == "chunked"
        assert done_at - first_at >= 1.2, (first_at, done_at)  # the first line came ~1.5 s before the end


def test_invoke_with_response_stream_over_ipv6(live: Live, live_lambda: Any) -> None:
    endpoint = endpoints(live)[1]
    live_lambda.create_function(FunctionName="api-stream", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                                Code={"ZipFile": make_zip({"index.js": SLOW_STREAM_JS})}, Timeout=10)
    live_lambda.get_waiter("function_active_v2").wait(FunctionName="api-stream")
    started = time.monotonic()
    response = live.client(endpoint=endpoint).invoke_with_response_stream(FunctionName="api-stream")
    arrivals = []
    for event in response["EventStream"]:
        arrivals.append((list(event)[0], time.monotonic() - started))
    kinds = [kind for kind, _ in arrivals]
    assert kinds[0] == "PayloadChunk" and kinds[-1] == "InvokeComplete"
    assert arrivals[-1][1] - arrivals[0][1] >= 1.2


def test_url_invoke_latency_over_both_families(live: Live, public_url: dict[str, Any]) -> None:
    """Prints figures (run with -s); asserts only that every call succeeded."""
    for endpoint in endpoints(live):
        parts = urlsplit(endpoint)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        timings = []
        for _ in range(60):
            started = time.perf_counter()
            connection.request("GET", f"/lambda-url/{url_id(public_url)}/")
            response = connection.getresponse()
            response.read()
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status == 200
        connection.close()
        timings = sorted(timings[10:])
        print(f"\nURL invoke via {endpoint}: p50 {statistics.median(timings):.2f} ms, "
              f"p90 {timings[int(len(timings) * 0.9)]:.2f} ms (warm, keep-alive, n={len(timings)})")
