"""The README's console screenshots, taken from a live stack in headless Chromium at 1400 px.

    .venv/bin/python -m scripts.screenshots            # starts a throwaway stack, writes docs/screenshots/
    .venv/bin/python -m scripts.screenshots --out DIR  # somewhere else

Writes ``test-tab.png`` (a synchronous test's result), ``async-timeline.png`` (an event retried
once, then succeeded) and ``history.png`` (the function's history). Viewport-only PNGs, so each
stays well under 200 KB. tests/browser/test_history_pages.py runs ``capture`` on its own stack.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from scripts.stack import ROOT, Stack, free_port

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
WIDTH, HEIGHT = 1400, 900
NAME = "orders"
# Fails until the time in the event, then succeeds: a retried event in the timeline without a
# counter that a fresh environment would reset.
HANDLER = """\
import json, time

def handler(event, context):
    print("order", event.get("order"), "attempt at", round(time.time(), 1))
    if time.time() < event.get("succeed_after", 0):
        raise RuntimeError("inventory service not ready")
    return {"ok": True, "order": event.get("order")}
"""


def _zip(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def prepare(client: Any) -> None:
    """The function the screenshots show, with a few invocations in its history."""
    client.create_function(
        FunctionName=NAME, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Code={"ZipFile": _zip(HANDLER)}, Timeout=10,
    )  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=NAME, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    for order in range(1, 4):
        client.invoke(FunctionName=NAME, Payload=json.dumps({"order": order}).encode())


def capture(*, endpoint: str, username: str, password: str, out: Path, retry_seconds: float, browser: Any) -> list[Path]:
    """Log in and take the three screenshots; ``retry_seconds`` is the stack's retry base delay."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{endpoint}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)

        page.goto(f"{endpoint}/functions/{NAME}/test/")
        page.evaluate("(t) => document.querySelector('#event-body')._cm.setValue(t)", '{\n  "order": 42\n}')
        page.click("#test-button")
        page.locator("#result-banner").filter(has_text="succeeded").wait_for()
        # The editor and the result together: a taller window, scrolled to the function's tabs.
        page.set_viewport_size({"width": WIDTH, "height": 1500})
        page.evaluate("() => window.scrollTo(0, document.querySelector('.tabs').getBoundingClientRect().top + window.scrollY - 16)")
        paths = [out / "test-tab.png"]
        page.screenshot(path=str(paths[-1]))
        page.set_viewport_size({"width": WIDTH, "height": HEIGHT})

        succeed_after = time.time() + retry_seconds * 1.5  # the first attempt fails, the retry succeeds
        page.evaluate("(t) => document.querySelector('#event-body')._cm.setValue(t)",
                      json.dumps({"order": 43, "succeed_after": succeed_after}, indent=2))  # fmt: skip
        page.check("#asynchronous")
        page.click("#test-button")
        page.locator("#timeline").filter(has_text="Final: succeeded").wait_for(timeout=int(retry_seconds * 4000) + 30_000)
        page.locator("#timeline").scroll_into_view_if_needed()
        paths.append(out / "async-timeline.png")
        page.screenshot(path=str(paths[-1]))

        page.goto(f"{endpoint}/functions/{NAME}/history/")
        page.locator("table.history").wait_for()
        paths.append(out / "history.png")
        page.screenshot(path=str(paths[-1]))
        return paths
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    import boto3
    from playwright.sync_api import sync_playwright

    retry_seconds = 3.0
    with tempfile.TemporaryDirectory(prefix="screenshots-") as data:
        env = {
            "LAMBDA_RUNTIMES_DIR": os.environ.get("LAMBDA_RUNTIMES_DIR", str(ROOT / "var" / "runtimes")),
            "LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS": str(retry_seconds),
            "LAMBDA_ASYNC_SWEEP_SECONDS": "0.2",
            "CELERY_TASK_DEFAULT_QUEUE": f"screenshots-{uuid.uuid4().hex[:12]}",
        }
        stack = Stack(Path(data), port=free_port(), env=env, log_dir=Path(data) / "logs")
        stack.start(timeout=90)
        try:
            created = dict(line.split("=", 1) for line in stack.manage("bootstrapadmin", "--username", "admin").splitlines())
            client = boto3.client(
                "lambda", endpoint_url=stack.endpoint, region_name="us-east-1",
                aws_access_key_id=created["AWS_ACCESS_KEY_ID"], aws_secret_access_key=created["AWS_SECRET_ACCESS_KEY"],
            )  # fmt: skip
            prepare(client)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
                try:
                    for path in capture(endpoint=stack.endpoint, username=created["USERNAME"], password=created["PASSWORD"],
                                        out=args.out, retry_seconds=retry_seconds, browser=browser):  # fmt: skip
                        print(f"{path} {path.stat().st_size // 1024} KB")
                finally:
                    browser.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
