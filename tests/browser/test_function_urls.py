"""A browser reaches a function URL over IPv4 and IPv6: the host form (Chromium resolves
*.localhost to loopback by itself) and the path form on 127.0.0.1 and [::1]."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.live.conftest import ROLE, Live, make_public
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

PAGE_PY = """\
import json
def handler(event, context):
    body = {"path": event["rawPath"], "query": event.get("queryStringParameters"),
            "ip": event["requestContext"]["http"]["sourceIp"], "ua": event["requestContext"]["http"]["userAgent"]}
    return {"statusCode": 200, "headers": {"content-type": "text/html"},
            "body": "<html><body><pre id='out'>" + json.dumps(body) + "</pre></body></html>"}
"""


@pytest.fixture(scope="module")
def page_url(live: Live) -> dict[str, Any]:
    client = live.client()
    client.create_function(FunctionName="browser-url", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": PAGE_PY})})
    client.get_waiter("function_active_v2").wait(FunctionName="browser-url", WaiterConfig={"Delay": 1})
    config = client.create_function_url_config(FunctionName="browser-url", AuthType="NONE")
    make_public(client, "browser-url")
    return config


def seen_by_the_function(page: Any, url: str) -> dict[str, Any]:
    response = page.goto(url)
    assert response is not None and response.status == 200
    return json.loads(page.locator("#out").inner_text())


def test_a_browser_opens_the_host_form_of_a_function_url(page: Any, shot: Any, page_url: dict[str, Any]) -> None:
    seen = seen_by_the_function(page, page_url["FunctionUrl"] + "hello?who=browser")
    shot(page, "url-01-host-form")
    assert seen["path"] == "/hello"
    assert seen["query"] == {"who": "browser"}
    assert seen["ip"] in ("127.0.0.1", "::1")
    assert "Chrome" in seen["ua"]


def test_a_browser_opens_the_path_form_over_ipv4_and_ipv6(page: Any, live: Live, page_url: dict[str, Any]) -> None:
    url_id = urlsplit(page_url["FunctionUrl"]).hostname.split(".")[0]  # type: ignore[union-attr]
    assert live.endpoint_v6 is not None, "the stack listens on both families by default"
    over_ipv4 = seen_by_the_function(page, f"{live.endpoint}/lambda-url/{url_id}/v4")
    over_ipv6 = seen_by_the_function(page, f"{live.endpoint_v6}/lambda-url/{url_id}/v6")
    assert (over_ipv4["path"], over_ipv4["ip"]) == ("/v4", "127.0.0.1")
    assert (over_ipv6["path"], over_ipv6["ip"]) == ("/v6", "::1")
