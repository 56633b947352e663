"""The console end to end in a real browser: log in, create a function, save events, test sync and
async (watching the timeline finish), open history, replay and compare."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.live

FUNCTION = "browser-fn"


def set_event(page: Any, text: str) -> None:
    page.evaluate("(t) => document.querySelector('#event-body')._cm.setValue(t)", text)


def test_a_user_runs_the_whole_console_flow(live: Any, page: Any, shot: Any) -> None:
    from playwright.sync_api import expect

    base = live.endpoint
    page.goto(f"{base}/login/")
    page.fill("#id_username", live.username)
    page.fill("#id_password", live.password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Functions")

    page.goto(f"{base}/functions/new/")
    page.fill("#id_name", FUNCTION)
    page.select_option("#id_runtime", "python3.11")
    expect(page.locator(".CodeMirror")).to_contain_text("lambda_handler")
    shot(page, "01-create-function")
    page.click("#create-function button[type=submit]")
    expect(page.locator(".tabs a.active")).to_have_text("Code")

    page.click(".tabs >> text=Test")
    expect(page.locator(".CodeMirror")).to_be_visible()
    set_event(page, '{\n  "greeting": "hi",\n  "id": "{{uuid}}",\n  "bad": \n}')
    expect(page.locator("#json-status")).to_contain_text("Line 5, column 1")
    set_event(page, '{"greeting": "hi", "id": "{{uuid}}", "at": {{epoch_ms}}}')
    expect(page.locator("#json-status")).to_contain_text("Valid JSON")
    page.click("button[data-format]")
    page.fill("#event-name", "my private event")
    page.check("input[name=scope][value=private]")
    page.click("#save-button")
    expect(page.locator("#saved-events")).to_contain_text("my private event")

    page.goto(f"{base}/functions/{FUNCTION}/test/?template=sqs")
    page.fill("#event-name", "team sqs event")
    page.check("input[name=scope][value=shared]")
    page.click("#save-button")
    expect(page.locator("#saved-events")).to_contain_text("team sqs event")
    expect(page.locator("#saved-events .scope-shared")).to_have_count(1)

    page.click("#saved-events >> text=my private event")
    page.click("#test-button")
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    expect(page.locator("#summary")).to_contain_text("Billed duration")
    expect(page.locator("#logs")).to_contain_text("REPORT RequestId")
    shot(page, "02-sync-test-result")

    page.check("#asynchronous")
    page.click("#test-button")
    expect(page.locator("#timeline")).to_contain_text("Queued")
    expect(page.locator("#timeline")).to_contain_text("Final: succeeded", timeout=60_000)
    shot(page, "03-async-timeline")

    page.click(".tabs >> text=History")
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(2)
    shot(page, "04-history")

    page.locator("table.history tbody tr").last.locator("a").click()
    expect(page.locator("h1").last).to_contain_text("Invocation")
    page.evaluate("() => document.querySelector('#replay-payload')._cm.setValue('{\"replayed\": true}')")
    page.click("#replay-button")
    expect(page.locator("#result-banner")).to_contain_text("succeeded", timeout=60_000)
    expect(page.locator("#sent-event")).to_contain_text("replayed")
    shot(page, "05-replay")

    page.goto(f"{base}/functions/{FUNCTION}/history/")
    expect(page.locator("table.history tbody tr")).to_have_count(3)
    boxes = page.locator("input[name=pick]")
    boxes.nth(0).check()
    boxes.nth(2).check()
    page.click("#compare-button")
    expect(page).to_have_url(re.compile(r"/compare/\?"))
    expect(page.locator("tr.diff-changed").first).to_be_visible()
    shot(page, "06-compare")
