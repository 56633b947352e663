"""The Monitor tab and the team dashboard in a real browser: invocations made through boto3 show
in the totals, the charts (uPlot) and their number tables; the time picker changes the window;
a bad custom range is refused beside its field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.live.conftest import ROLE
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

FUNCTION = "browser-monitor"
HANDLER = """\
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""


def test_invocations_show_on_the_monitor_tab_and_the_dashboard(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    client = live.client()
    client.create_function(FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": HANDLER})})  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=FUNCTION)
    for fail in (False, False, False, True):
        answer = client.invoke(FunctionName=FUNCTION, Payload=json.dumps({"fail": fail}))
        assert ("FunctionError" in answer) is fail

    login(page, live)
    page.goto(f"{live.endpoint}/functions/{FUNCTION}/")
    page.click(".tabs >> text=Monitor")
    expect(page).to_have_title(f"Monitor · {FUNCTION} · Lambda Workbench")
    for _ in range(20):  # the recorder writes within LAMBDA_RECORD_FLUSH_SECONDS
        if page.locator("#total-invocations").inner_text() == "4":
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator("#total-invocations")).to_have_text("4")
    expect(page.locator("#total-errors")).to_have_text("1")
    expect(page.locator("#summary-invocations")).to_have_text("4")  # the header reads the same rollups
    expect(page.locator("#monitor-charts")).to_have_attribute("data-drawn", "7")
    expect(page.locator("#chart-invocations canvas")).to_have_count(1)
    expect(page.locator("#chart-invocations .chart-canvas")).to_have_attribute("aria-labelledby", "chart-invocations-title")
    page.click("#chart-invocations-data summary")
    cells = page.locator("#chart-invocations-data tbody tr").first.locator("td")
    expect(cells.nth(1)).to_have_text("4")
    expect(cells.nth(2)).to_have_text("1")
    expect(page.locator("#monitor-window")).to_contain_text("60 points of 1 min")
    audit(page, "monitor-01-function-hour")

    page.check("#range-1d")  # a preset applies at once
    page.wait_for_url("**range=1d**")
    expect(page.locator("#monitor-window")).to_contain_text("288 points of 5 min")
    expect(page.locator("#total-invocations")).to_have_text("4")
    expect(page.locator("#range-1d")).to_be_checked()
    audit(page, "monitor-02-function-day")

    page.check("#range-custom")
    page.fill("#id_start", "2026-05-02T10:00")
    page.fill("#id_end", "2026-05-01T10:00")
    page.click("#monitor-apply")
    expect(page.locator("#id_end-error")).to_have_text("The end must be after the start.")
    expect(page.locator("#id_end")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_start")).to_have_value("2026-05-02T10:00")
    audit(page, "monitor-03-custom-error")

    page.click("header.topbar >> text=Monitor")
    expect(page).to_have_title("Monitor · Lambda Workbench")
    row = page.locator("#monitor-functions tr", has_text=FUNCTION)
    expect(row.locator("td").nth(1)).to_have_text("4")
    expect(row.locator("td").nth(2)).to_have_text("1")
    expect(page.locator("#monitor-charts")).to_have_attribute("data-drawn", "7")
    audit(page, "monitor-04-dashboard")
    page.set_viewport_size({"width": 800, "height": 900})
    row.locator("a").click()
    expect(page).to_have_title(f"Monitor · {FUNCTION} · Lambda Workbench")
