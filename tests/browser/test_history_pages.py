"""History, Compare, the invocation page and the async record in a real browser (issue 15).

The module runs its own stack, not the session's: the retry test needs a short retry base delay
(LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS=3: attempt 2 three seconds after the first, attempt 3 six
after the second), where the session stack keeps AWS's 60 s.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from scripts.stack import ROOT, Stack, free_port
from tests.browser.conftest import login
from tests.live.conftest import Live, fresh_database
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

RETRY_SECONDS = 3.0
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")
FLAKY = """\
import time

def handler(event, context):
    if time.time() < event["succeed_after"]:
        print("too early, failing at", time.time())
        raise RuntimeError("not yet")
    print("on time, succeeding at", time.time())
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def hlive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("history-live")
    env = {
        "LAMBDA_RUNTIMES_DIR": str(ROOT / "var" / "runtimes"),
        "LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS": str(RETRY_SECONDS),
        "LAMBDA_ASYNC_SWEEP_SECONDS": "0.2",
        "CELERY_TASK_DEFAULT_QUEUE": f"history-{uuid.uuid4().hex[:12]}",
    }
    with fresh_database("lw_history") as url:
        if url:
            env["DATABASE_URL"] = url
        stack = Stack(data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
        stack.start(timeout=90)
        try:
            created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "hist").splitlines())
            yield Live(stack=stack, endpoint=stack.endpoint, endpoint_v6=None, username=created["USERNAME"],
                       password=created["PASSWORD"], access_key_id=created["AWS_ACCESS_KEY_ID"],
                       secret_access_key=created["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
        finally:
            stack.stop()


def create(client: Any, name: str, source: str) -> str:
    arn = client.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Code={"ZipFile": make_zip({"app.py": source})},
    )["FunctionArn"]  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return str(arn)


@pytest.fixture(scope="module")
def functions(hlive: Live) -> dict[str, str]:
    """echo-a with 55 invocations (more than a page), echo-b with 2."""
    client = hlive.client()
    arns = {name: create(client, name, ECHO_HANDLER) for name in ("echo-a", "echo-b")}
    for n in range(55):
        client.invoke(FunctionName="echo-a", Payload=json.dumps({"n": 1}).encode())
    for n in range(2):
        client.invoke(FunctionName="echo-b", Payload=b'{"b": true}')
    return arns


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def filter_now(page: Any) -> None:
    """Press Filter and wait for htmx's answer (a later click must not race it)."""
    with page.expect_response(lambda r: "/history/" in r.url and r.request.headers.get("hx-request") == "true"):
        page.click("#history-filters button[type=submit]")
    page.wait_for_timeout(100)  # the swap after the response


def fully_shown(page: Any, selector: str) -> bool:
    """The element is inside the viewport and not cut by a scrolling ancestor (no scrolling needed)."""
    return bool(page.evaluate(
        """(sel) => { const el = document.querySelector(sel); const r = el.getBoundingClientRect();
          if (r.width === 0 || r.right > document.documentElement.clientWidth + 1) return false;
          for (let p = el.parentElement; p; p = p.parentElement) {
            const s = getComputedStyle(p);
            if (['auto', 'scroll', 'hidden'].includes(s.overflowX) && r.right > p.getBoundingClientRect().right + 1) return false;
          }
          return true; }""",
        selector,
    ))  # fmt: skip


def test_filters_replace_each_other_and_the_next_page_keeps_them_once(hlive: Live, functions: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    login(page, hlive)
    page.goto(f"{hlive.endpoint}/history/")
    page.select_option("#id_status", "succeeded")
    filter_now(page)
    expect(page).to_have_url(re.compile(r"status=succeeded"))
    page.select_option("#id_function", "echo-a")
    filter_now(page)
    expect(page).to_have_url(re.compile(r"function=echo-a"))
    filter_now(page)  # a third time: still once each
    query = query_of(page.url)
    assert query == {"status": ["succeeded"], "function": ["echo-a"]}, page.url  # once each, no empty ones
    expect(page.locator("table.history tbody tr")).to_have_count(50)
    page.click("#next-page")
    expect(page).to_have_url(re.compile(r"cursor="))
    query = query_of(page.url)
    assert query["status"] == ["succeeded"] and query["function"] == ["echo-a"] and len(query["cursor"]) == 1
    expect(page.locator("table.history tbody tr")).to_have_count(5)
    page.reload()  # the pushed URL stands on its own
    expect(page.locator("table.history tbody tr")).to_have_count(5)


def test_history_reads_labels_and_utc_times_filters_by_function_and_shows_request_ids(hlive: Live, functions: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    login(page, hlive)
    page.goto(f"{hlive.endpoint}/history/")
    options = page.locator("#id_function option").all_inner_texts()
    assert options[0] == "any function" and {"echo-a", "echo-b"} <= set(options)
    first = page.locator("table.history tbody tr").first
    expect(first.locator("td").nth(5)).to_have_text("API")  # boto3 calls are "api"
    assert "Api" not in page.locator("table.history").inner_text()
    assert UTC_TIME.fullmatch(first.locator("time").inner_text())
    assert first.locator("time").get_attribute("datetime").endswith("+00:00")
    page.select_option("#id_function", "echo-b")
    filter_now(page)
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    page.select_option("#id_function", "")
    filter_now(page)
    expect(page.locator("table.history tbody tr")).to_have_count(50)
    link = "table.history tbody tr:first-child td.request-id a"
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 900})
        assert fully_shown(page, link), f"the Request ID is cut at {width} px"
        assert re.fullmatch(r"[0-9a-f-]{36}", page.locator(link).inner_text())
    page.set_viewport_size({"width": 1400, "height": 900})
    # Retention is stated (the stack's defaults), and a filter (htmx, rows only) keeps the line.
    expect(page.locator("#retention-note")).to_have_text(
        "History is kept 30 days and at most 10,000 invocations per function.")
    audit(page, "history-global")


def test_compare_counts_the_ticked_rows_and_never_alerts(hlive: Live, functions: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, hlive)
    page.goto(f"{hlive.endpoint}/functions/echo-a/history/")
    button = page.locator("#compare-button")
    expect(button).to_have_text("Compare selected (0)")
    expect(button).to_be_disabled()
    boxes = page.locator("input[name=pick]")
    boxes.nth(1).check()
    expect(button).to_have_text("Compare selected (1)")
    expect(button).to_be_disabled()
    boxes.nth(2).check()
    expect(button).to_have_text("Compare selected (2)")
    expect(button).to_be_enabled()
    boxes.nth(3).check()
    expect(button).to_have_text("Compare selected (3)")
    expect(button).to_be_disabled()
    boxes.nth(3).press("Space")  # by keyboard too
    expect(button).to_have_text("Compare selected (2)")
    audit(page, "history-function-two-picked")
    button.click()
    expect(page).to_have_url(re.compile(r"/compare/\?"))
    assert set(query_of(page.url)) == {"a", "b"}
    assert dialogs == []
    # Two warm runs of the same code with the same event: no log line differs once normalised.
    logs = page.locator("#diff-logs")
    expect(logs).to_contain_text("<request-id>")
    expect(logs.locator("tr.diff-changed")).to_have_count(0)
    expect(logs.locator("tr.diff-same")).not_to_have_count(0)
    audit(page, "compare-normalised")
    page.click("#logs-normalised a")
    expect(page.locator("#diff-logs tr.diff-changed")).not_to_have_count(0)  # raw: the request ids differ


def test_an_invocation_page_compares_with_a_recent_invocation_picked_from_a_list(hlive: Live, functions: Any, page: Any, audit: Any) -> None:
    from playwright.sync_api import expect

    login(page, hlive)
    page.goto(f"{hlive.endpoint}/functions/echo-b/history/")
    rows = page.locator("table.history tbody tr td.request-id a")
    newer, older = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    rows.nth(0).click()
    expect(page.locator("#compare-with option")).to_have_count(1)  # the function's other invocation only
    assert page.locator("#compare-with option").inner_text().endswith(older[:8] + "…")
    assert UTC_TIME.search(page.locator("#compare-with option").inner_text())
    audit(page, "invocation-compare-picker")
    page.click("#compare-with-button")
    expect(page).to_have_url(re.compile(r"/compare/\?"))
    assert query_of(page.url)["a"] == [newer] and query_of(page.url)["b"] == [older]
    expect(page.locator("#compare-metrics")).to_contain_text(older)


def test_a_retried_event_says_when_the_next_attempt_comes_keeps_every_attempts_logs_and_links_its_destination(
    hlive: Live, functions: Any, page: Any, audit: Any
) -> None:
    from playwright.sync_api import expect

    client = hlive.client()
    create(client, "flaky", FLAKY)
    receiver = create(client, "receiver", ECHO_HANDLER)
    client.put_function_event_invoke_config(FunctionName="flaky", DestinationConfig={"OnSuccess": {"Destination": receiver}})
    # Attempt 1 now, attempt 2 about 3 s later, attempt 3 about 6 s after that: fail, fail, succeed.
    payload = {"succeed_after": time.time() + RETRY_SECONDS * 2}
    response = client.invoke(FunctionName="flaky", InvocationType="Event", Payload=json.dumps(payload).encode())
    request_id = response["ResponseMetadata"]["RequestId"]
    login(page, hlive)
    banner = page.locator("#invocation-banner")
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page.goto(f"{hlive.endpoint}/invocations/{request_id}/")
        text = banner.inner_text()
        assert "in progress" not in text and "queued" not in text.replace("queued, waiting", "")
        match = re.search(r"attempt (\d) of 3 scheduled at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)", text)
        if match:
            if match.group(1) not in seen:
                audit(page, f"async-retry-{match.group(1)}-scheduled")
            seen.add(match.group(1))
        if "succeeded (Success)" in text and "pending" not in text:  # the destination is delivered after the success
            break
        page.wait_for_timeout(250)
    assert seen == {"2", "3"}, f"the retry-scheduled header was never seen for attempts {({'2', '3'} - seen)}"
    expect(banner).to_have_text("Asynchronous invocation: succeeded (Success) after 3 attempts")
    for number, words in ((1, "too early"), (2, "too early"), (3, "on time")):
        page.click(f"#attempt-{number} summary")
        expect(page.locator(f"#attempt-{number}-logs")).to_contain_text(words)
        expect(page.locator(f"#attempt-{number}-logs")).to_contain_text(f"START RequestId: {request_id}")
    # The destination's invocation, linked from the delivery, and back.
    caused = page.locator("#deliveries a.destination-invocation")
    deadline = time.monotonic() + 30
    while not caused.count() and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        page.reload()
    expect(caused).to_have_count(1)
    audit(page, "async-retried-succeeded")
    caused.click()
    expect(page.locator("#invocation-source")).to_have_text("Event · Destination")
    expect(page.locator("#caused-by a")).to_contain_text(request_id)
    audit(page, "destination-invocation")
    page.click("#caused-by a")
    expect(page).to_have_url(re.compile(re.escape(request_id)))


def test_the_readme_screenshots_script_writes_three_small_pngs(hlive: Live, browser: Any, tmp_path: Path) -> None:
    from scripts import screenshots

    screenshots.prepare(hlive.client())
    paths = screenshots.capture(endpoint=hlive.endpoint, username=hlive.username, password=hlive.password,
                                out=tmp_path, retry_seconds=RETRY_SECONDS, browser=browser)  # fmt: skip
    assert [p.name for p in paths] == ["test-tab.png", "async-timeline.png", "history.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size < 200_000, (path, path.stat().st_size)
