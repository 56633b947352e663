"""The Test tab in a real browser (issue 15): the keyboard alone runs the whole flow, a double click
makes one invocation, unsaved edits are not lost silently, events change scope with feedback, and
the qualifier picker runs published versions and aliases."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.live.conftest import ROLE
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

HANDLER = '''\
import time

def handler(event, context):
    time.sleep(float(event.get("sleep", 0)) if isinstance(event, dict) else 0)
    print("got", event)
    return {"echo": event, "version": context.function_version}
'''
IN_EDITOR = "() => !!document.activeElement.closest('.CodeMirror')"
ACTIVE_ID = "() => document.activeElement.id"


def make_function(live: Any, name: str) -> Any:
    client = live.client()
    client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": HANDLER})}, Timeout=10, MemorySize=128)  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return client


def keyboard_login(page: Any, live: Any) -> None:
    page.goto(f"{live.endpoint}/login/")
    page.fill("#id_username", live.username)
    page.fill("#id_password", live.password)
    page.press("#id_password", "Enter")
    page.wait_for_url(lambda url: "/login/" not in url)


def tab_until(page: Any, predicate: str, *, backwards: bool = False, limit: int = 80) -> int:
    """Press Tab (or Shift+Tab) until `predicate` holds in the page; how many presses it took."""
    for n in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(predicate):
            return n
    raise AssertionError(f"never reached {predicate} by keyboard")


def set_event(page: Any, text: str) -> None:
    page.wait_for_function("() => !!document.querySelector('#event-body')._cm")  # the editor is up after a redraw
    page.evaluate("(t) => document.querySelector('#event-body')._cm.setValue(t)", text)


def editor_text(page: Any) -> str:
    page.wait_for_function("() => !!document.querySelector('#event-body')._cm")
    return str(page.evaluate("() => document.querySelector('#event-body')._cm.getValue()"))


def invocation_count(page: Any, live: Any, name: str) -> int:
    page.goto(f"{live.endpoint}/functions/{name}/history/")
    return int(page.locator("table.history tbody tr").count())


def test_the_keyboard_alone_types_saves_and_runs_an_event(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = "tt-keys-fn"
    make_function(live, name)
    keyboard_login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/test/")
    expect(page.locator(".CodeMirror")).to_be_visible()

    tab_until(page, "() => document.activeElement.id === 'event-name'")
    page.keyboard.type("typed by keyboard")
    tab_until(page, IN_EDITOR)
    page.keyboard.press("Control+a")
    page.keyboard.type('{"n": 7}')
    assert re.sub(r"\s", "", editor_text(page)) == '{"n":7}'

    # Tab leaves the editor (nothing inserted); Shift+Tab comes back in and leaves backwards too.
    page.keyboard.press("Tab")
    assert not page.evaluate(IN_EDITOR)
    assert "\t" not in editor_text(page)
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(IN_EDITOR)
    page.keyboard.press("Shift+Tab")
    assert not page.evaluate(IN_EDITOR)
    # Esc then Tab leaves as well; indenting is Ctrl+].
    page.keyboard.press("Tab")
    assert page.evaluate(IN_EDITOR)
    page.keyboard.press("Control+Home")
    page.keyboard.press("Control+BracketRight")
    assert editor_text(page).startswith("  {")
    page.keyboard.press("Control+BracketLeft")
    assert editor_text(page).startswith("{")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate(IN_EDITOR)

    tab_until(page, "() => document.activeElement.id === 'save-button'")
    page.keyboard.press("Enter")
    expect(page.locator("#editor-status")).to_contain_text("Saved the new private event “typed by keyboard”")
    expect(page.locator("#saved-events")).to_contain_text("typed by keyboard")
    assert page.evaluate(ACTIVE_ID) == "save-button"  # focus kept across the editor's redraw

    tab_until(page, "() => document.activeElement.id === 'test-button'", backwards=True)
    page.keyboard.press("Enter")
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    expect(page.locator("#response")).to_contain_text('"n": 7')
    # The result is scrolled into view and its heading has focus.
    page.wait_for_function("() => document.activeElement.id === 'result-heading'")
    assert page.evaluate("() => { const r = document.getElementById('result-heading').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    audit(page, "test-tab-keyboard-result")

    # Ctrl+Enter runs again from anywhere on the tab (here: the result heading).
    first = page.locator("#request-link").inner_text()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#request-link")).not_to_have_text(first, timeout=30_000)
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    assert invocation_count(page, live, name) == 2


def test_a_double_click_on_test_makes_exactly_one_invocation(live: Any, page: Any) -> None:
    from playwright.sync_api import expect

    name = "tt-double-fn"
    make_function(live, name)
    keyboard_login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/test/")
    set_event(page, '{"sleep": 3}')
    page.dblclick("#test-button")
    expect(page.locator("#test-button")).to_be_disabled()  # while the run is in flight
    for _ in range(10):  # the shortcut respects it too, also around the moment the POST answers
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(100)
    expect(page.locator("#test-button")).to_be_disabled()
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    expect(page.locator("#test-button")).to_be_enabled()
    assert invocation_count(page, live, name) == 1


def test_unsaved_edits_are_not_lost_without_a_warning(live: Any, page: Any) -> None:
    from playwright.sync_api import expect

    name = "tt-dirty-fn"
    make_function(live, name)
    keyboard_login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/test/")
    expect(page.locator(".CodeMirror")).to_be_visible()

    # Switching templates without edits asks nothing.
    dialogs: list[str] = []
    answer = {"accept": False}

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.accept() if answer["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.select_option("#template-select", "sqs")
    expect(page.locator(".CodeMirror")).to_contain_text("Hello from SQS!")
    assert dialogs == []

    # With edits: a confirm; dismissed, the edits and the selected template stay.
    page.click(".CodeMirror")
    page.keyboard.press("Control+End")
    page.keyboard.type(" ")
    edited = editor_text(page)
    page.select_option("#template-select", "sns")
    page.wait_for_timeout(300)
    assert dialogs == ["confirm"]
    assert editor_text(page) == edited
    assert page.eval_on_selector("#template-select", "s => s.value") == "sqs"

    # Leaving the page with edits prompts (beforeunload); dismissed, the page stays.
    page.click(".tabs >> text=History")
    page.wait_for_timeout(500)
    assert dialogs == ["confirm", "beforeunload"]
    assert page.url.endswith("/test/")

    # Accepted: the template replaces the edits.
    answer["accept"] = True
    page.select_option("#template-select", "sns")
    expect(page.locator(".CodeMirror")).to_contain_text("Hello from SNS!")
    assert dialogs == ["confirm", "beforeunload", "confirm"]

    # After Save nothing is unsaved: leaving asks nothing.
    page.fill("#event-name", "sns one")
    page.click(".CodeMirror")
    page.keyboard.type(" ")
    page.click("#save-button")
    expect(page.locator("#editor-status")).to_contain_text("Saved")
    count = len(dialogs)
    page.click(".tabs >> text=History")
    page.wait_for_url(re.compile(r"/history/"))
    assert len(dialogs) == count


def test_a_saved_event_changes_scope_with_feedback_and_save_as_new_keeps_the_scope(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = "tt-scope-fn"
    make_function(live, name)
    keyboard_login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/test/")
    page.fill("#event-name", "draft")
    page.check("input[name=scope][value=private]")
    page.click("#save-button")
    expect(page.locator("#editor-status")).to_contain_text("Saved the new private event “draft”")
    expect(page.locator("#saved-events .scope-private")).to_have_count(1)

    # Private → shared.
    expect(page.locator("input[name=scope][value=shared]")).to_be_enabled()
    page.check("input[name=scope][value=shared]")
    page.click("#save-button")
    expect(page.locator("#editor-status")).to_contain_text("It is now shared with the team")
    expect(page.locator("#saved-events .scope-shared")).to_have_count(1)
    expect(page.locator("#saved-events .scope-private")).to_have_count(0)

    # A second version, then Restore version 1: feedback again.
    set_event(page, '{"v": 2}')
    page.click("#save-button")
    expect(page.locator("#editor-status")).to_have_text("Saved “draft”.")  # not the previous save's text
    page.click("#show-versions")
    first = page.locator("#versions-panel tbody tr").filter(has=page.locator("td:first-child", has_text=re.compile(r"^1$")))
    first.locator("button", has_text="Restore").click()
    expect(page.locator("#editor-status")).to_contain_text("Restored version 1 of “draft”")
    assert '"v"' not in editor_text(page)
    page.wait_for_function("() => document.activeElement.id === 'editor-status'")  # the Restore button is gone: focus on what happened
    audit(page, "test-tab-restored")

    # Shared → private, then Save as new with Shared chosen makes a shared copy.
    page.check("input[name=scope][value=private]")
    page.click("#save-button")
    expect(page.locator("#editor-status")).to_contain_text("It is now private")
    page.fill("#event-name", "for the team")
    page.check("input[name=scope][value=shared]")
    page.click("button[name=save_as_new]")
    expect(page.locator("#editor-status")).to_contain_text("Saved as a new shared event “for the team”")
    expect(page.locator("#saved-events li", has_text="for the team").locator(".scope-shared")).to_have_count(1)
    expect(page.locator("#saved-events li", has_text="draft").locator(".scope-private")).to_have_count(1)


def test_the_qualifier_picker_runs_a_published_version_and_an_alias(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = "tt-qualifier-fn"
    client = make_function(live, name)
    client.publish_version(FunctionName=name, Description="first")
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    keyboard_login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/test/")
    options = page.eval_on_selector_all("#qualifier option", "os => os.map(o => o.value)")
    assert options == ["$LATEST", "1", "live"]

    page.select_option("#qualifier", "live")
    page.click("#test-button")
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    expect(page.locator("#response")).to_contain_text('"version": "1"')
    expect(page.locator("#summary")).to_contain_text("Version")
    audit(page, "test-tab-alias-result")
    # The invocation record names the alias and the version it ran.
    page.click("#request-link")
    expect(page.locator("body")).to_contain_text(f"{name}:live")
    history = invocation_count(page, live, name)
    assert history == 1
    expect(page.locator("table.history tbody tr").first).to_contain_text("1")


def test_the_toolbar_keeps_one_line_at_1400_and_stacks_at_800(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = "tt-layout-fn"
    make_function(live, name)
    keyboard_login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/test/")
    page.fill("#event-name", "layout")
    page.click("#save-button")
    expect(page.locator("#editor-status")).to_contain_text("Saved")  # every button shows (Save as new…)
    for bar in ("#test-form .run-bar", "#test-form .event-bar"):
        tops = page.eval_on_selector_all(
            f"{bar} > :not(.spacer)", "els => [...new Set(els.map(e => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2)))]"
        )
        assert len(tops) == 1, (bar, tops)  # each toolbar on one line at 1400 px
    audit(page, "test-tab-saved-event")
    page.set_viewport_size({"width": 800, "height": 900})
    # Stacked: the events panel sits above the editor, both full width.
    panel = page.locator(".events-panel").bounding_box()
    editor = page.locator(".editor-panel").bounding_box()
    assert panel and editor and editor["y"] >= panel["y"] + panel["height"] - 1
    assert abs(editor["width"] - panel["width"]) < 2
