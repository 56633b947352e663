"""The Versions tab in a real browser: publish, create an alias with weighted routing, a refused
alias with its error beside the field, edit, and delete after a confirmation dialog."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import login
from tests.live.conftest import ROLE
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

FUNCTION = "browser-versions"


def test_a_developer_publishes_versions_and_routes_an_alias_between_two(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    client = live.client()
    client.create_function(FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": ECHO_HANDLER})})  # fmt: skip
    login(page, live)
    page.goto(f"{live.endpoint}/functions/{FUNCTION}/")
    page.click(".tabs >> text=Versions")
    expect(page).to_have_title(f"Versions · {FUNCTION} · Lambda Workbench")
    expect(page.locator("#version-table tbody tr")).to_have_count(1)
    expect(page.locator("#aliases")).to_contain_text("No aliases yet")
    audit(page, "versions-01-empty")

    page.fill("#publish-description", "first release")
    page.click("#publish-button")
    expect(page.locator(".messages")).to_contain_text("Version 1 published.")
    expect(page.locator("#version-1")).to_contain_text("first release")
    expect(page.locator("#version-1 .arn")).to_contain_text(f"function:{FUNCTION}:1")
    client.update_function_configuration(FunctionName=FUNCTION, Timeout=7)
    page.fill("#publish-description", "longer timeout")
    page.click("#publish-button")
    expect(page.locator("#version-2")).to_contain_text("longer timeout")

    # A refused alias: the error sits under its field and what was typed stays.
    page.click("#create-alias summary")
    page.fill("#id_name", "live")
    page.select_option("#id_function_version", "2")
    page.select_option("#id_additional_version", "2")
    page.fill("#id_weight", "0.3")
    page.click("#create-alias-button")
    expect(page.locator("#additional_version-error")).to_contain_text("other than the alias's own version")
    expect(page.locator("#id_name")).to_have_value("live")
    expect(page.locator("#id_weight")).to_have_value("0.3")
    expect(page.locator("#id_additional_version")).to_have_attribute("aria-invalid", "true")
    audit(page, "versions-02-alias-error")

    page.select_option("#id_additional_version", "1")
    page.fill("#id_description", "production")
    page.click("#create-alias-button")
    expect(page.locator(".messages")).to_contain_text("Alias live created.")
    row = page.locator("#alias-live")
    expect(row).to_contain_text("version 2: 0.7 · version 1: 0.3")
    expect(row.locator(".arn")).to_contain_text(f"function:{FUNCTION}:live")
    # The same services as the API's: boto3 reads what the console wrote.
    alias = client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "2" and alias["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.3}}
    audit(page, "versions-03-alias")

    row.get_by_role("link", name="Edit alias live").click()
    expect(page).to_have_title(f"Alias live · {FUNCTION} · Lambda Workbench")
    expect(page.locator("#id_weight")).to_have_value("0.3")
    page.fill("#id_weight", "0.05")
    audit(page, "versions-04-edit-alias")
    page.click("#save-alias")
    expect(page.locator("#alias-live")).to_contain_text("version 1: 0.05")
    assert client.get_alias(FunctionName=FUNCTION, Name="live")["RoutingConfig"]["AdditionalVersionWeights"] == {"1": 0.05}

    # Delete asks first; Cancel keeps the alias and gives focus back to the button.
    delete = page.get_by_role("button", name="Delete alias live")
    delete.click()
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete alias live?")
    audit(page, "versions-05-delete-confirm")
    page.keyboard.press("Enter")  # focus starts on Cancel
    expect(dialog).to_be_hidden()
    expect(page.locator("#alias-live")).to_have_count(1)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Delete alias live"
    delete.click()
    dialog.get_by_role("button", name="Delete alias").click()
    expect(page.locator(".messages")).to_contain_text("Alias live deleted.")
    expect(page.locator("#alias-live")).to_have_count(0)
    assert client.list_aliases(FunctionName=FUNCTION)["Aliases"] == []
