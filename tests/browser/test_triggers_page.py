"""The Triggers tab in Chromium (issue 15): the table fits its card at 1400 px with Delete in view,
stacks at 800 px, Delete asks first (Cancel keeps the trigger), and a bad ARN is explained under
its own field with what was typed kept."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.live.conftest import ROLE, Live
from tests.live.functions import make_zip

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def function(live: Live) -> str:
    client = live.client()
    client.create_function(FunctionName="trg-main", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return e\n"})})  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName="trg-main", WaiterConfig={"Delay": 1})
    return "trg-main"


def add_trigger(page: Any, name: str, kind: str, **fields: str) -> None:
    page.click("#triggers summary")
    page.select_option("#add-trigger [name=kind]", kind)
    page.fill("#add-trigger [name=name]", name)
    for field, value in fields.items():
        page.fill(f"#add-trigger [name={field}]", value)
    page.click("#add-trigger button[type=submit]")
    page.wait_for_load_state()


def test_triggers_fit_their_card_and_delete_asks_first(page: Any, live: Live, function: str, audit: Any) -> None:
    login(page, live)
    page.goto(f"{live.endpoint}/functions/{function}/triggers/")
    add_trigger(page, "nightly-report-with-a-long-name", "schedule", schedule_expression="cron(0 3 * * ? *)")
    add_trigger(page, "orders-topic", "sns", topic_arn="arn:aws:sns:us-east-1:000000000000:orders-topic-with-a-rather-long-name")
    assert page.locator("#triggers-table tbody tr").count() == 2
    card = page.locator("#triggers").bounding_box()
    for button in page.locator("#triggers-table button.danger").all():
        box = button.bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"], "Delete sticks out of the card"
    assert page.evaluate("() => { const c = document.querySelector('#triggers'); return c.scrollWidth <= c.clientWidth + 1; }")
    audit(page, "triggers-01-table")
    page.set_viewport_size({"width": 800, "height": 900})
    assert page.locator("#trigger-orders-topic button.danger").is_visible()
    assert page.evaluate("() => { const c = document.querySelector('#triggers'); return c.scrollWidth <= c.clientWidth + 1; }")
    page.set_viewport_size({"width": 1400, "height": 900})

    dialog = page.locator("dialog#confirm-dialog")
    page.click("#trigger-orders-topic button.danger")
    expect(dialog).to_contain_text("Delete trigger orders-topic? It stops invoking trg-main.")
    page.keyboard.press("Escape")  # Esc is Cancel
    expect(dialog).to_be_hidden()
    assert page.locator("#trigger-orders-topic").count() == 1
    page.reload()
    assert page.locator("#trigger-orders-topic").count() == 1  # Cancel really kept it
    page.click("#trigger-orders-topic button.danger")
    dialog.locator("#confirm-ok").click()
    page.wait_for_selector("text=Trigger orders-topic deleted.")
    assert page.locator("#trigger-orders-topic").count() == 0


def test_a_bad_topic_arn_is_explained_under_its_field(page: Any, live: Live, function: str, audit: Any) -> None:
    login(page, live)
    page.goto(f"{live.endpoint}/functions/{function}/triggers/")
    page.click("#triggers summary")
    page.select_option("#add-trigger [name=kind]", "sns")
    assert page.locator("#add-trigger [name=schedule_expression]").is_hidden()
    page.fill("#add-trigger [name=name]", "typo")
    page.fill("#add-trigger [name=topic_arn]", "orders")
    page.click("#add-trigger button[type=submit]")
    page.wait_for_selector("#topic_arn-error")
    assert "is not a valid ARN" in page.inner_text("#topic_arn-error")
    assert page.locator(".field:has([name=topic_arn]) #topic_arn-error").count() == 1
    assert page.input_value("#add-trigger [name=topic_arn]") == "orders"
    assert page.input_value("#add-trigger [name=name]") == "typo"
    audit(page, "triggers-02-bad-arn")
