"""The Configuration tab in Chromium (issue 15): per-field errors that keep what was typed, the
destination picker, runtime / storage / tags, the Cors editor, the clickable URL and the
confirmation before Delete URL — each audited at 1400 and 800 px."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.live.conftest import ROLE, Live
from tests.live.functions import make_zip

pytestmark = pytest.mark.live

APP = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def functions(live: Live) -> dict[str, str]:
    client = live.client()
    arns = {}
    for name in ("cfg-main", "cfg-sink"):
        arns[name] = client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                            Code={"ZipFile": make_zip({"app.py": APP})})["FunctionArn"]  # fmt: skip
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    return arns


def open_tab(page: Any, live: Live) -> None:
    login(page, live)
    page.goto(f"{live.endpoint}/functions/cfg-main/configuration/")


def test_timeout_and_memory_errors_sit_under_their_fields_and_typing_is_kept(page: Any, live: Live, functions: Any, audit: Any) -> None:
    open_tab(page, live)
    page.fill("#id_timeout", "901")
    page.fill("#id_memory_size", "50")
    page.fill("#id_description", "kept while fixing")
    page.fill("#id_environment", "STAGE=dev\nSTAGE=prod")
    with page.expect_response(lambda r: r.url.endswith("/configuration/") and r.request.method == "POST"):
        page.click("#general-config button[type=submit]")
    page.wait_for_selector("#timeout-error")
    assert page.locator("#general-config .field-error").count() == 3
    assert "less than or equal to 900" in page.inner_text("#timeout-error")
    assert "greater than or equal to 128" in page.inner_text("#memory_size-error")
    assert "STAGE is already set on line 1" in page.inner_text("#environment-error")
    # Each message is inside its own field's block.
    assert page.locator(".field:has(#id_timeout) #timeout-error").count() == 1
    assert page.locator(".field:has(#id_memory_size) #memory_size-error").count() == 1
    assert (page.input_value("#id_timeout"), page.input_value("#id_memory_size")) == ("901", "50")
    assert page.input_value("#id_description") == "kept while fixing"
    assert page.get_attribute("#id_timeout", "max") == "900" and page.get_attribute("#id_memory_size", "min") == "128"
    audit(page, "config-01-field-errors")
    assert live.client().get_function_configuration(FunctionName="cfg-main")["Timeout"] == 3


def test_runtime_storage_description_and_tags_save(page: Any, live: Live, functions: Any, audit: Any) -> None:
    open_tab(page, live)
    page.fill("#id_ephemeral_storage", "1024")
    page.fill("#id_description", "orders")
    page.fill("#id_environment", "STAGE=dev")
    page.fill("#id_tags", "team=payments")
    page.click("#general-config button[type=submit]")
    page.wait_for_selector("#config-saved")
    configuration = live.client().get_function_configuration(FunctionName="cfg-main")
    assert (configuration["EphemeralStorage"]["Size"], configuration["Description"]) == (1024, "orders")
    assert configuration["Environment"]["Variables"] == {"STAGE": "dev"}
    assert live.client().get_function(FunctionName="cfg-main").get("Tags") == {"team": "payments"}
    audit(page, "config-02-saved")


def test_an_invalid_destination_is_explained_under_its_field_and_both_stay(page: Any, live: Live, functions: Any, audit: Any) -> None:
    open_tab(page, live)
    assert page.locator(".field:has(#id_on_success)").is_hidden()  # shown only for "Another destination"
    page.select_option("#id_on_success_choice", "other")
    assert page.locator("#id_on_success").is_visible()
    page.fill("#id_on_success", "wb-echo")
    page.select_option("#id_on_failure_choice", functions["cfg-sink"])
    page.click("#async-config button[type=submit]")
    page.wait_for_selector("#on_success-error")
    assert "is not a destination" in page.inner_text("#on_success-error")
    assert "failed to satisfy" not in page.inner_text("#async-config")
    assert page.input_value("#id_on_success") == "wb-echo"
    assert page.input_value("#id_on_failure_choice") == functions["cfg-sink"]
    audit(page, "config-03-destination-error")
    # Fixed in place: the picker's function is saved with a typed queue ARN.
    page.fill("#id_on_success", "arn:aws:sqs:us-east-1:000000000000:done")
    page.click("#async-config button[type=submit]")
    page.wait_for_selector("#async-saved")
    config = live.client().get_function_event_invoke_config(FunctionName="cfg-main")["DestinationConfig"]
    assert config["OnFailure"]["Destination"] == functions["cfg-sink"]
    assert config["OnSuccess"]["Destination"] == "arn:aws:sqs:us-east-1:000000000000:done"


def test_the_url_has_a_cors_editor_a_link_and_delete_asks_first(page: Any, live: Live, functions: Any, audit: Any) -> None:
    open_tab(page, live)
    page.fill("#id_cors_allow_origins", "example.com")
    page.click("#url-form button[type=submit]")
    page.wait_for_selector("#cors_allow_origins-error")
    assert "is not an origin" in page.inner_text("#cors_allow_origins-error")
    page.fill("#id_cors_allow_origins", "https://example.com")
    page.check("#url-form input[value=GET]")
    page.fill("#id_cors_max_age", "300")
    page.click("#url-form button[type=submit]")
    page.wait_for_selector("#url-saved")
    link = page.locator("a#function-url")
    assert link.get_attribute("href", timeout=5000).startswith("http")
    cors = live.client().get_function_url_config(FunctionName="cfg-main")["Cors"]
    assert (cors["AllowOrigins"], cors["AllowMethods"], cors["MaxAge"]) == (["https://example.com"], ["GET"], 300)
    audit(page, "config-04-url-cors")
    dialog = page.locator("dialog#confirm-dialog")
    page.click("#delete-url")
    expect(dialog).to_contain_text("Delete the function URL?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert live.client().get_function_url_config(FunctionName="cfg-main")["AuthType"]  # still there
    page.click("#delete-url")
    dialog.locator("#confirm-ok").click()
    page.wait_for_selector("text=No function URL yet.")
    audit(page, "config-05-url-deleted")
