"""The Logs tab in a real browser: the environment's stream listed after invoking (and it is the
name the function read from its context), its lines in order, a search across streams, and a live
tail that shows a new invocation's line once, without a reload, until it is stopped."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.live.conftest import ROLE
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

FUNCTION = "browser-logs"
STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")
SOURCE = """\
def handler(event, context):
    print("marker", event["n"], "in", context.log_stream_name)
    return {"stream": context.log_stream_name, "group": context.log_group_name}
"""


def invoke(client: Any, n: int) -> dict[str, Any]:
    answer = client.invoke(FunctionName=FUNCTION, Payload=json.dumps({"n": n}).encode())
    return dict(json.loads(answer["Payload"].read()))


def test_streams_search_and_live_tail(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    client = live.client()
    client.create_function(FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": SOURCE})})  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=FUNCTION, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    first, second = invoke(client, 1), invoke(client, 2)
    stream = first["stream"]
    assert STREAM.match(stream) and second["stream"] == stream and first["group"] == f"/aws/lambda/{FUNCTION}"

    login(page, live)
    page.goto(f"{live.endpoint}/functions/{FUNCTION}/")
    page.click(".tabs >> text=Logs")
    expect(page).to_have_title(f"Logs · {FUNCTION} · Lambda Workbench")
    for _ in range(20):  # records are written a moment after the answer
        if page.locator("#stream-table").count():
            break
        page.wait_for_timeout(300)
        page.reload()
    rows = page.locator("#stream-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").first).to_have_text(stream)  # the name the function read from its context
    expect(rows.first.locator("td.num")).to_have_text("2")
    audit(page, "logs-streams")

    rows.first.get_by_role("link", name=stream).click()
    expect(page.locator("#events-heading")).to_contain_text(stream)
    messages = page.locator("#log-lines .log-message").all_inner_texts()
    starts = [i for i, m in enumerate(messages) if m.startswith("START RequestId:")]
    marker_1, marker_2 = messages.index(f"marker 1 in {stream}"), messages.index(f"marker 2 in {stream}")
    assert len(starts) == 2 and starts[0] < marker_1 < starts[1] < marker_2
    assert messages[-1].startswith("REPORT RequestId:")
    audit(page, "logs-stream")

    page.click("#all-streams")
    page.fill("#id_q", "MARKER 2")
    page.click("#search-button")
    expect(page.locator("#log-lines .log-message")).to_have_text([f"marker 2 in {stream}"])
    expect(page.locator("#id_q")).to_have_value("MARKER 2")
    page.fill("#id_q", "(unclosed")
    page.check("#id_regex")
    page.click("#search-button")
    expect(page.locator("#error-q")).to_contain_text("Not a valid regular expression")
    audit(page, "logs-search")

    page.goto(f"{live.endpoint}/functions/{FUNCTION}/logs/")
    page.evaluate("window.__noReload = true")
    toggle = page.locator("#tail-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tail-toggle")).to_have_text("Stop live tail")
    expect(page.locator("#tail-toggle")).to_be_focused()
    expect(page.locator("#tail-status")).to_be_visible()
    invoke(client, 3)
    new_line = page.locator("#log-lines .log-message", has_text="marker 3 in")
    expect(new_line).to_have_count(1, timeout=15000)
    page.wait_for_timeout(2500)  # two more polls: still once
    expect(new_line).to_have_count(1)
    assert page.evaluate("window.__noReload") is True
    audit(page, "logs-tail")

    page.keyboard.press("Enter")  # the focus stayed on the toggle: now Stop
    expect(page.locator("#tail-toggle")).to_have_text("Start live tail")
    expect(page.locator("#tail-poller")).to_have_count(0)
    invoke(client, 4)
    page.wait_for_timeout(2500)
    expect(page.locator("#log-lines .log-message", has_text="marker 4 in")).to_have_count(0)
