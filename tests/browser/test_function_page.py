"""Every function page's header in a real browser: the ARN with a copy button ("Copied"), the last
24 hours' summary, and the Configuration tab's danger zone (delete with a confirmation dialog)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.live.conftest import ROLE
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

ECHO = "def handler(event, context):\n    return event\n"


def test_the_header_copies_the_arn_and_summarises_the_last_day(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = f"hdr-{uuid.uuid4().hex[:6]}"
    client = live.client()
    arn = client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                 Code={"ZipFile": make_zip({"app.py": ECHO})})["FunctionArn"]
    for i in range(3):
        client.invoke(FunctionName=name, Payload=json.dumps({"i": i}))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, live)
    for tab in ["", "test/", "configuration/", "history/"]:
        page.goto(f"{live.endpoint}/functions/{name}/{tab}")
        expect(page.locator("#function-arn")).to_have_text(arn)
        expect(page.locator("#summary-invocations")).to_have_text("3")
    expect(page.locator("#summary-errors")).to_have_text("0")
    expect(page.locator("#summary-p50")).to_contain_text(" ms")
    copy = page.get_by_role("button", name="Copy ARN")
    copy.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#copy-arn-status")).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == arn
    expect(page.get_by_role("button", name="Copy ARN")).to_be_visible()  # the name stays
    audit(page, "function-header")


def test_a_function_is_deleted_from_the_danger_zone_after_a_dialog_naming_it(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = f"del-{uuid.uuid4().hex[:6]}"
    live.client().create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                   Code={"ZipFile": make_zip({"app.py": ECHO})})
    login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/configuration/")
    page.click("#delete-function")
    dialog = page.locator("#delete-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text(f"Delete function {name}?")
    expect(page.locator("#delete-cancel")).to_be_focused()
    audit(page, "danger-zone-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#delete-function")).to_be_focused()
    page.click("#delete-function")
    page.click("#delete-confirm")
    expect(page.locator(".messages")).to_contain_text(f"Function {name} deleted.")
    assert name not in [f["FunctionName"] for f in live.client().list_functions()["Functions"]]
