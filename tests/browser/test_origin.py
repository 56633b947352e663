"""The issue's console takeover, performed in a real browser: a logged-in admin opens a function's
page; the page tries to read the console's cookies and fetch ``/keys/`` as the admin, and the
function looks for the session cookie in its event. Through the path form (served on the console's
own host) and the host form (the function's own origin), it gets nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.live.conftest import ROLE, Live, make_public
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

# The function serves a page whose script reports what it could reach, and says which cookies the
# function itself was sent.
EVIL_PY = r'''
import json
PAGE = """<html><body><pre id="out">pending</pre><script>
const out = {event_cookies: EVENT_COOKIES};
try { out.cookie = document.cookie; } catch (e) { out.cookie = "blocked: " + e.name; }
const console_origin = new URLSearchParams(location.search).get("console") || "";
fetch(console_origin + "/keys/", {credentials: "include"})
  .then((r) => r.text())
  .then((t) => { out.keys = t.includes("AKIA") || t.includes("Access key ID") ? "READ: " + t.slice(0, 60) : "other"; })
  .catch((e) => { out.keys = "blocked: " + e.name; })
  .finally(() => { document.getElementById("out").textContent = JSON.stringify(out); });
</script></body></html>"""
def handler(event, context):
    page = PAGE.replace("EVENT_COOKIES", json.dumps(json.dumps(event.get("cookies") or [])))
    return {"statusCode": 200, "headers": {"content-type": "text/html"}, "body": page}
'''


@pytest.fixture(scope="module")
def evil_url(live: Live) -> str:
    client = live.client()
    client.create_function(FunctionName="evil-page", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": EVIL_PY})})  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName="evil-page", WaiterConfig={"Delay": 1})
    url: str = client.create_function_url_config(FunctionName="evil-page", AuthType="NONE")["FunctionUrl"]
    make_public(client, "evil-page")
    return url


def log_in(page: Any, live: Live) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live.endpoint}/login/")
    page.fill("#id_username", live.username)
    page.fill("#id_password", live.password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Functions")
    names = {cookie["name"] for cookie in page.context.cookies()}
    assert {"sessionid", "csrftoken"} <= names  # the admin is logged in: there is something to steal


def what_the_page_got(page: Any, url: str) -> dict[str, Any]:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator("#out")).not_to_have_text("pending")
    result: dict[str, Any] = json.loads(page.locator("#out").inner_text())
    result["event_cookies"] = json.loads(result["event_cookies"])
    return result


def assert_nothing_stolen(got: dict[str, Any]) -> None:
    assert "sessionid" not in got["cookie"] and "csrftoken" not in got["cookie"], got
    assert not got["keys"].startswith("READ"), got
    assert not any(c.startswith(("sessionid=", "csrftoken=")) for c in got["event_cookies"]), got


def test_a_functions_page_on_the_consoles_host_reads_no_cookie_and_no_console_page(
    live: Live, page: Any, shot: Any, evil_url: str
) -> None:
    log_in(page, live)
    url_id = urlsplit(evil_url).hostname.split(".")[0]  # type: ignore[union-attr]
    got = what_the_page_got(page, f"{live.endpoint}/lambda-url/{url_id}/")
    shot(page, "origin-01-path-form")
    assert_nothing_stolen(got)
    assert got["cookie"].startswith("blocked") or got["cookie"] == ""  # a sandboxed, opaque origin
    page.goto(f"{live.endpoint}/keys/")  # …and the admin is still logged in, their session untouched
    assert "Access keys" in page.content()


def test_a_functions_page_on_its_own_host_cannot_reach_the_console_either(
    live: Live, page: Any, shot: Any, evil_url: str
) -> None:
    log_in(page, live)
    got = what_the_page_got(page, f"{evil_url}?console={quote(live.endpoint, safe='')}")
    shot(page, "origin-02-host-form")
    assert_nothing_stolen(got)
    assert got["keys"].startswith("blocked")  # cross-origin: the console sends no CORS header
