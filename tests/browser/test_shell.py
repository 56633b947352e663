"""The console's shell in a real browser: the functions list's search and pages, revoking a key
after a confirmation (and without JavaScript), page titles, the favicon, the 403 and 404 pages, and
the top bar at 800 px."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.live.conftest import ROLE
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

PREFIX = "shell-list-"


def test_search_and_pages_keep_each_other(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    client = live.client()
    package = make_zip({"app.py": ECHO_HANDLER})
    names = [f"{PREFIX}{n:02}" for n in range(27)]
    for name in names:
        client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Code={"ZipFile": package})
    try:
        search_and_pages(live, page, audit)
    finally:
        for name in names:  # the stack is shared: later tests expect their functions on the list's first page
            client.delete_function(FunctionName=name)


def search_and_pages(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    login(page, live)

    search = page.get_by_role("searchbox", name="Search functions by name")
    search.fill("SHELL-LIST")
    search.press("Enter")
    page.wait_for_url(re.compile(r"\?q=SHELL-LIST"))
    rows = page.locator("table.functions tbody tr")
    expect(rows).to_have_count(25)
    expect(page.locator("#function-count")).to_contain_text("27 functions matching “SHELL-LIST” · page 1 of 2")
    audit(page, "shell-01-search")
    page.get_by_role("link", name="Page 2").click()
    expect(rows).to_have_count(2)
    assert "q=SHELL-LIST" in page.url and "page=2" in page.url
    expect(page.get_by_role("searchbox")).to_have_value("SHELL-LIST")
    expect(page.locator(".pagination [aria-current=page]")).to_have_text("2")
    expect(rows.first).to_contain_text(f"{PREFIX}25")

    search.fill("no-such-function-anywhere")
    search.press("Enter")
    expect(page.locator("#no-match")).to_contain_text("No functions match “no-such-function-anywhere”")
    assert "page=" not in page.url  # a new search starts at page 1
    audit(page, "shell-02-no-match")


def test_revoking_a_key_asks_first_and_works_without_javascript(live: Any, page: Any, browser: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    login(page, live)
    page.goto(f"{live.endpoint}/keys/")
    page.fill("#id_description", "to revoke")
    page.click("#create-key")
    key_id = page.locator("#new-key-id").inner_text().strip()
    row = page.locator("#keys tr", has_text=key_id)
    row.get_by_role("button", name=f"Revoke access key {key_id}").click()
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Revoke access key {key_id} (to revoke)")
    assert page.evaluate("document.activeElement.id") == "confirm-cancel"
    audit(page, "shell-03-revoke-confirm")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("active")
    row.get_by_role("button", name=f"Revoke access key {key_id}").click()
    dialog.get_by_role("button", name=f"Revoke {key_id}").click()
    expect(page.locator(".messages")).to_contain_text(f"Access key {key_id} revoked.")
    expect(page.locator("#keys tr", has_text=key_id)).to_contain_text("revoked")

    # JavaScript off: the plain form revokes at once.
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 900})
    try:
        plain = context.new_page()
        login(plain, live)
        plain.goto(f"{live.endpoint}/keys/")
        plain.fill("#id_description", "no js")
        plain.click("#create-key")
        other = plain.locator("#new-key-id").inner_text().strip()
        plain.locator("#keys tr", has_text=other).get_by_role("button", name=f"Revoke access key {other}").click()
        expect(plain.locator("#keys tr", has_text=other)).to_contain_text("revoked")
    finally:
        context.close()


def test_titles_favicon_error_pages_and_the_top_bar(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    client = live.client()
    client.create_function(FunctionName="shell-titled", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": ECHO_HANDLER})})  # fmt: skip
    not_found: list[str] = []
    page.on("response", lambda r: not_found.append(r.url) if r.status == 404 else None)
    login(page, live)
    base, fn = live.endpoint, f"{live.endpoint}/functions/shell-titled"
    for url, title in [
        (f"{base}/", "Functions · Lambda Workbench"),
        (f"{fn}/", "Code · shell-titled · Lambda Workbench"),
        (f"{fn}/test/", "Test · shell-titled · Lambda Workbench"),
        (f"{fn}/configuration/", "Configuration · shell-titled · Lambda Workbench"),
        (f"{fn}/versions/", "Versions · shell-titled · Lambda Workbench"),
        (f"{fn}/history/", "History · shell-titled · Lambda Workbench"),
        (f"{base}/history/", "Invocations · Lambda Workbench"),
        (f"{base}/keys/", "Access keys · Lambda Workbench"),
    ]:
        page.goto(url)
        expect(page).to_have_title(title)
    assert not_found == [], not_found
    icon = page.request.get(f"{base}{page.locator('link[rel=icon]').get_attribute('href')}")
    assert icon.status == 200 and b"<svg" in icon.body()

    # The top bar at 800 px: name and role are separate words, and every link is on screen.
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"{base}/")
    bar = page.locator("header.topbar")
    assert re.search(rf"{re.escape(live.username)}\s+role: admin", bar.inner_text())
    for link in bar.locator("a, button, select").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 800, link.inner_text()

    response = page.goto(f"{base}/functions/no-such-function/versions/")
    assert response is not None and response.status == 404
    expect(page).to_have_title("Not found · Lambda Workbench")
    expect(page.locator("#error-page h1")).to_have_text("Not found")
    audit(page, "shell-04-404")
    page.get_by_role("link", name="Back to functions").click()
    expect(page).to_have_title("Functions · Lambda Workbench")

    # A viewer (made on the stack) who POSTs a change gets the styled 403 page.
    live.stack.manage("createuser", "vera-viewer", "--team", "default", "--role", "viewer")
    live.stack.manage("shell", "-c", "from django.contrib.auth import get_user_model as g; u = g().objects.get(username='vera-viewer'); u.set_password('viewer-pass-1'); u.save()")
    page.context.clear_cookies()
    login(page, live, "vera-viewer", "viewer-pass-1")
    page.goto(f"{fn}/versions/")
    expect(page.locator("#publish-form")).to_have_count(0)
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    denied = page.request.post(f"{fn}/versions/publish/", form={"description": "sneaky"}, headers={"X-CSRFToken": token})
    assert denied.status == 403 and "Not allowed · Lambda Workbench" in denied.text()
    page.set_content(denied.text())
    expect(page.locator("#error-page")).to_contain_text("lambda:PublishVersion")
    assert client.list_versions_by_function(FunctionName="shell-titled")["Versions"][-1]["Version"] == "$LATEST"
