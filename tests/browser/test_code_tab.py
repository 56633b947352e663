"""The Code tab in a real browser: the file tree (edit, new file, rename, delete), the undeployed
banner and the prompts before leaving, Deploy refreshing the SHA-256, Test from the Code tab, path
errors shown on their field, Python/shell highlighting, and a custom runtime's bootstrap template."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.live.conftest import ROLE
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

HANDLER = "import json\n\ndef handler(event, context):\n    return {\"v\": 1, \"event\": event}\n"


def set_code(page: Any, index: int, text: str) -> None:
    page.evaluate("([i, t]) => document.querySelector(`#file-pane-${i} textarea`)._cm.setValue(t)", [index, text])


def test_a_developer_edits_the_tree_deploys_and_tests_from_the_code_tab(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = f"tree-{uuid.uuid4().hex[:6]}"
    live.client().create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                   Code={"ZipFile": make_zip({"app.py": HANDLER, "helpers/util.py": "X = 1\n"})})
    login(page, live)
    page.goto(f"{live.endpoint}/functions/{name}/")
    sha_before = page.locator("#code-sha256").inner_text()
    # The handler's file is shown first, highlighted as Python; one file at a time.
    expect(page.locator(".file-tree a.active")).to_have_text("app.py")
    expect(page.locator("#file-pane-0 .cm-keyword").first).to_have_text("import")
    expect(page.locator("#file-pane-1")).to_be_hidden()
    expect(page.locator("#undeployed")).to_be_hidden()
    audit(page, "code-tab")

    # Edit: the banner appears; a tab link asks first, and Cancel keeps the page.
    set_code(page, 0, HANDLER.replace('"v": 1', '"v": 2'))
    expect(page.locator("#undeployed")).to_be_visible()
    expect(page.locator(".file-tree a.active")).to_have_class(re.compile(r"\bchanged\b"))
    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.click(".tabs >> text=Configuration")
    assert dialogs and "not deployed" in dialogs[0]
    assert page.url.endswith(f"/functions/{name}/")
    assert page.evaluate("() => { const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented; }")
    audit(page, "code-tab-undeployed")

    # Rename helpers/util.py, add a file, then a bad path is refused on its field (nothing lost).
    page.click(".file-tree >> text=helpers/util.py")
    expect(page.locator("#file-pane-1")).to_be_visible()
    page.fill("#id_file-1-path", "helpers/tools.py")
    expect(page.locator(".file-tree a.active")).to_have_text("helpers/tools.py")
    page.click("#new-file")
    new_path = page.locator("#id_file-3-path")
    expect(new_path).to_be_focused()
    new_path.fill("../escape.py")
    set_code(page, 3, "Y = 2\n")
    page.click("#deploy")
    expect(page.locator("#id_file-3-path-error")).to_contain_text("'..'")
    expect(page.locator("#tree-errors")).to_have_count(0)
    assert page.locator("#code-sha256").inner_text() == sha_before
    audit(page, "code-tab-path-error")
    page.fill("#id_file-3-path", "notes/readme.txt")
    page.click("#deploy")
    expect(page.locator(".messages")).to_contain_text("Deployed. Code SHA-256")
    sha_after = page.locator("#code-sha256").inner_text()
    assert sha_after != sha_before and sha_after in page.locator(".messages").inner_text()
    expect(page.locator(".file-tree")).to_contain_text("helpers/tools.py")
    expect(page.locator(".file-tree")).to_contain_text("notes/readme.txt")
    expect(page.locator(".file-tree")).not_to_contain_text("helpers/util.py")
    expect(page.locator("#undeployed")).to_be_hidden()

    # Test from the Code tab runs the deployed code; with changes it asks to deploy first.
    page.click("#code-test-button")
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    expect(page.locator("#result")).to_contain_text('"v": 2')
    set_code(page, 0, HANDLER.replace('"v": 1', '"v": 3'))
    page.once("dialog", lambda d: d.accept())
    page.click("#code-test-button")
    page.wait_for_url(re.compile(r"[?&]test="))
    expect(page.locator("#result-banner")).to_contain_text("Executing function: succeeded", timeout=60_000)
    expect(page.locator("#result")).to_contain_text('"v": 3')
    assert page.locator("#code-sha256").inner_text() != sha_after
    audit(page, "code-tab-tested")

    # Delete a file from the tree.
    page.click(".file-tree >> text=notes/readme.txt")
    page.check("#file-panes .file-pane.selected [data-delete-input]")
    expect(page.locator(".file-tree a.deleted")).to_have_text("notes/readme.txt")
    page.click("#deploy")
    expect(page.locator(".messages")).to_contain_text("Deployed")
    expect(page.locator(".file-tree")).not_to_contain_text("notes/readme.txt")


def test_a_custom_runtime_starts_from_a_bootstrap_that_runs(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    name = f"custom-{uuid.uuid4().hex[:6]}"
    login(page, live)
    page.goto(f"{live.endpoint}/functions/new/")
    page.fill("#id_name", name)
    page.select_option("#id_runtime", "provided.al2023")
    expect(page.locator(".CodeMirror")).to_contain_text("AWS_LAMBDA_RUNTIME_API")
    expect(page.locator(".CodeMirror .cm-def, .CodeMirror .cm-variable-2").first).to_be_visible()  # shell mode
    audit(page, "create-custom-runtime")
    # The code editor indents with Tab and lets the keyboard out with Esc then Tab (no trap).
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.querySelector('textarea[name=source]')._cm.getValue().endsWith('    ')")
    assert page.evaluate("() => document.activeElement.closest('.CodeMirror') !== null")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('.CodeMirror') === null && document.activeElement !== document.body")
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Shift+Tab")  # indent less: the four spaces go again
    page.click("#create-function button[type=submit]")
    expect(page.locator(".file-tree a.active")).to_have_text("bootstrap")
    page.click("#code-test-button")
    expect(page.locator("#result-banner")).not_to_have_class(re.compile("banner-running"), timeout=60_000)
    assert "succeeded" in page.locator("#result-banner").inner_text(), page.locator("#code-test").inner_text()
    expect(page.locator("#result")).to_contain_text("Hello from Lambda!")
