"""Test suites in a real browser: a user writes expectations beside two events (part of it with
the keyboard only), presses Run all, and sees the failing event with its expected/actual diff."""

from __future__ import annotations

from typing import Any

import pytest

from tests.live.conftest import ROLE
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

FUNCTION = "suite-browser-fn"
HANDLER = '''\
def handler(event, context):
    print("processing", event.get("n"))
    return {"statusCode": 200, "body": "ok " + str(event.get("n", 0))}
'''


def new_event(page: Any, base: str, name: str, body: str) -> None:
    page.goto(f"{base}/functions/{FUNCTION}/test/")
    page.evaluate("(t) => document.querySelector('#event-body')._cm.setValue(t)", body)
    page.fill("#event-name", name)
    page.check("input[name=scope][value=shared]")


def test_a_user_writes_expectations_runs_all_and_sees_the_failure_diffed(live: Any, page: Any, shot: Any) -> None:
    from playwright.sync_api import expect

    client = live.client()
    client.create_function(FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": HANDLER})}, Timeout=5, MemorySize=128)  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=FUNCTION, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    base = live.endpoint
    page.goto(f"{base}/login/")
    page.fill("#id_username", live.username)
    page.fill("#id_password", live.password)
    page.click("button[type=submit]")

    # The first event: its expectations set with the mouse.
    new_event(page, base, "one", '{"n": 1}')
    expect(page.locator("#expect-outcome")).to_be_disabled()  # unticked: the fields are off
    page.check("#expect-on")
    page.select_option("#expect-outcome", "Succeeded")
    page.select_option("#expect-response-mode", "Equals")
    page.fill("#expect-response", '{"statusCode": 200, "body": "ok 1"}')
    page.fill("#expect-logs-contains", "^processing")
    page.click("#save-button")
    expect(page.locator("#saved-events")).to_contain_text("one")

    # The second, by keyboard only: tick, Tab through, add a JSONPath row, type into it.
    new_event(page, base, "two", '{"n": 2}')
    page.focus("#expect-on")
    page.keyboard.press("Space")
    expect(page.locator("#expect-outcome")).to_be_enabled()
    page.keyboard.press("Tab")
    expect(page.locator("#expect-outcome")).to_be_focused()
    page.focus("#add-path")
    page.keyboard.press("Enter")
    added = page.locator("#path-rows .path-row").last.locator("input[name=expect_path]")
    expect(added).to_be_focused()
    page.keyboard.type("$.body")
    page.keyboard.press("Tab")  # the test select: "equals"
    page.keyboard.press("Tab")
    page.keyboard.type('"ok 3"')
    page.keyboard.press("Tab")  # its Remove button, then out of the row: no trap
    expect(page.locator("#path-rows .path-row").last.locator("[data-remove-path]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#add-path")).to_be_focused()
    # A wrong regex is refused next to its field, and what was typed stays.
    page.fill("#expect-logs-not-contains", "Trace(back")
    page.click("#save-button")
    expect(page.locator("#expect-logs-not-contains-error")).to_contain_text("not a valid regular expression")
    expect(page.locator("#path-rows input[name=expect_path_value]").first).to_have_value('"ok 3"')
    page.fill("#expect-logs-not-contains", "Traceback")
    page.click("#save-button")
    expect(page.locator("#saved-events .expects")).to_have_count(2)
    shot(page, "suites-01-expectations")

    page.click("#run-all-button")
    banner = page.locator("#suite-banner")
    expect(banner).to_contain_text("Failed: 1 passed, 1 failed of 2", timeout=90_000)
    row = page.locator("#suite-results tr.suite-row", has_text="two")
    expect(row.locator(".status")).to_have_text("Failed")
    expect(page.locator("#suite-results tr.suite-row", has_text="one").locator(".status")).to_have_text("Passed")
    failure = page.locator("#suite-results .failure").first
    expect(failure).to_contain_text("JsonPath[0]")
    expect(failure.locator("table.expected-actual td").first.locator("mark")).to_have_text("3")
    expect(failure.locator("table.expected-actual td").last.locator("mark")).to_have_text("2")
    page.locator("#suite-run").scroll_into_view_if_needed()
    shot(page, "suites-02-run-all-failure")

    page.goto(f"{base}/")
    expect(page.locator(f"a.suite-status[href='/functions/{FUNCTION}/suites/'] .status")).to_have_text("failed")

    # Snapshot testing: test "two", approve its response, drop the JSONPath row, save, run again.
    page.goto(f"{base}/functions/{FUNCTION}/test/")
    page.click("#saved-events >> text=two")
    expect(page.locator("#event-name")).to_have_value("two")
    page.click("#test-button")
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    page.click("#approve-button")
    expect(page.locator("#expect-note")).to_contain_text("Approved")
    expect(page.locator("#expect-response")).to_have_value('{\n  "statusCode": 200,\n  "body": "ok 2"\n}')
    page.locator("#path-rows .path-row").first.locator("[data-remove-path]").click()
    page.check("#expect-this-response")  # the same response again, at this Save only
    page.click("#save-button")
    expect(page.locator("#path-rows input[name=expect_path]")).to_have_count(1)  # the blank one
    expect(page.locator("#expect-this-response")).not_to_be_checked()
    page.click("#run-all-button")
    expect(page.locator("#suite-banner")).to_contain_text("Passed: 2 passed, 0 failed of 2", timeout=90_000)

    page.click(".tabs >> text=Suites")
    expect(page.locator("#suite-runs tbody tr")).to_have_count(2)
    shot(page, "suites-03-runs")
    page.click("#compare-suites-button")
    expect(page.locator("#compare-summary")).to_contain_text("1 event changed outcome")
    expect(page.locator("#suite-compare tr.diff-changed")).to_contain_text("outcome changed")
    shot(page, "suites-04-compare")
