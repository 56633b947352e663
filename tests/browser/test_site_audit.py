"""A walk through every console page (every GET page named in console/urls.py) with real data: a
function with a saved event, test and suite runs, invocations, a published version and an alias.
Each page is audited at 1400 and 800 px (no horizontal overflow, no serious or critical axe-core
violation), and no request on any page may answer 404 (the favicon included)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import URLResolver

from console import urls as console_urls
from tests.browser.conftest import ARTIFACTS, login
from tests.live.conftest import ROLE
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

FUNCTION = "audit-fn"
EVENT = "audit event"

# URL names that are not pages: POST-only actions and downloads.
NOT_PAGES = {
    "logout", "revoke_key", "switch_team", "member", "code_upload", "async_config", "url_config", "add_permission",
    "remove_permission", "run_test", "preview", "validate", "save_event", "import_events", "export_events",
    "rename_event", "duplicate_event", "delete_event", "export_event", "restore_version", "approve_event",
    "run_suite", "suite_run_on_deploy", "add_mapping", "mapping_action", "send_test_record", "trigger_action",
    "replay", "save_as_event", "publish_version", "create_alias", "delete_alias",
    "function_logs_tail",  # the Logs tab's live-tail fragment (htmx), audited in test_logs.py
    "function_monitor_data", "monitor_data",  # the Monitor charts' JSON
}  # fmt: skip


def url_names() -> set[str]:
    names: set[str] = set()
    for pattern in console_urls.urlpatterns:
        for inner in pattern.url_patterns if isinstance(pattern, URLResolver) else [pattern]:
            names.add(inner.name)
    return names


def csrf(page: Any) -> str:
    token: str = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    return token


def post(page: Any, url: str, form: dict[str, Any]) -> str:
    """A plain (non-htmx) form POST in the page's session; the redirect's target."""
    response = page.request.post(url, form=form, headers={"X-CSRFToken": csrf(page)}, max_redirects=0)
    assert response.status in (302, 303), (url, response.status, response.text()[:500])
    location: str = response.headers["location"]
    return location


def test_every_console_page_passes_the_audit(live: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    base = live.endpoint
    fn = f"{base}/functions/{FUNCTION}"
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 and "/functions/nope" not in r.url else None)

    page.goto(f"{base}/login/")
    pages: dict[str, str] = {}
    audited: dict[str, list[str]] = {}

    def visit(name: str, url: str, expect_status: int = 200) -> None:
        response = page.goto(url)
        assert response is not None and response.status == expect_status, (name, url, response and response.status)
        page.wait_for_load_state("networkidle")
        assert page.title().endswith("Lambda Workbench"), (name, page.title())
        pages[name] = url
        try:
            audit(page, f"audit-{name}")
        except AssertionError as problem:  # every page is walked; all problems are reported at the end
            audited[name] = str(problem).splitlines()

    visit("login", f"{base}/login/")
    login(page, live)

    client = live.client()
    client.create_function(FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": ECHO_HANDLER})})  # fmt: skip
    first = client.invoke(FunctionName=FUNCTION, Payload=b'{"n": 1}')["ResponseMetadata"]["RequestId"]
    second = client.invoke(FunctionName=FUNCTION, Payload=b'{"n": 2}')["ResponseMetadata"]["RequestId"]
    client.publish_version(FunctionName=FUNCTION, Description="audited")
    client.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")

    page.goto(f"{fn}/test/")
    post(page, f"{fn}/events/", {"name": EVENT, "scope": "shared", "body": json.dumps({"hello": "audit"})})
    page.goto(f"{fn}/test/")
    event_link = page.locator("#saved-events a", has_text=EVENT).first.get_attribute("href")
    event_id = event_link.split("event=")[1].split("&")[0]
    run_url = post(page, f"{fn}/test/run/", {"body": '{"hello": "audit"}', "qualifier": "$LATEST"})
    suite_url = post(page, f"{fn}/suites/run/", {"qualifier": "$LATEST", "events": EVENT})
    suite_id = suite_url.rstrip("/").split("/")[-1]

    visit("home", f"{base}/")
    visit("access_keys", f"{base}/keys/")
    visit("members", f"{base}/team/members/")
    visit("team_activity", f"{base}/team/activity/")
    visit("function_create", f"{base}/functions/new/")
    visit("code", f"{fn}/")
    visit("configuration", f"{fn}/configuration/")
    visit("function_activity", f"{fn}/activity/")
    visit("test", f"{fn}/test/?event={event_id}")
    visit("test_run", f"{base}{run_url}" if run_url.startswith("/") else run_url)
    expect(page.locator("#result")).to_be_visible()
    visit("event_versions", f"{fn}/events/{event_id}/versions/")
    visit("suites", f"{fn}/suites/")
    visit("suite_run", f"{fn}/suites/{suite_id}/")
    visit("compare_suites", f"{fn}/suites/compare/?a={suite_id}&b={suite_id}")
    visit("function_history", f"{fn}/history/")
    visit("function_logs", f"{fn}/logs/")
    visit("function_monitor", f"{fn}/monitor/")
    visit("monitor", f"{base}/monitor/")
    visit("triggers", f"{fn}/triggers/")
    visit("versions", f"{fn}/versions/")
    visit("function_delete", f"{fn}/delete/")
    visit("function_move", f"{fn}/team/")
    visit("edit_alias", f"{fn}/aliases/live/")
    visit("history", f"{base}/history/")
    visit("invocation", f"{base}/invocations/{first}/")
    visit("compare", f"{base}/compare/?a={first}&b={second}")
    visit("404", f"{base}/functions/nope/", expect_status=404)

    assert url_names() - NOT_PAGES - set(pages) == set(), "a console page the walk does not visit"
    assert missing == [], f"requests answered 404: {missing}"
    report = "".join(f"{name}:\n  " + "\n  ".join(problems) + "\n" for name, problems in audited.items())
    (ARTIFACTS / "site-audit.txt").write_text(report or "nothing found\n")
    assert not audited, "pages with overflow or serious axe-core violations:\n" + report
