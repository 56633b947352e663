"""The browser tier: headless Debian Chromium (Playwright) against the live stack.

Screenshots go to var/artifacts/browser/ (gitignored with var/), one per step, for a human to look
at after a run. Chromium comes from apt (`apt-get install chromium`); Playwright never downloads one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import live, live_database_url  # noqa: F401  (the session's stack)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "browser"


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is open, and later tests that call asyncio.run() must not find one.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def shot() -> Any:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


WIDTHS = (1400, 800)


def login(page: Any, live: Any, username: str | None = None, password: str | None = None) -> None:
    """Log in through the real form (the stack's admin unless told otherwise)."""
    page.goto(f"{live.endpoint}/login/")
    page.fill("#id_username", username or live.username)
    page.fill("#id_password", password or live.password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def horizontal_overflow(page: Any) -> list[str]:
    """What sticks out past the viewport's right edge: the page itself, or any visible element
    (tables inside a scrolling wrapper do not count: the wrapper scrolls, the page does not)."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const out = [];
          if (document.documentElement.scrollWidth > width + 1) out.push('page ' + document.documentElement.scrollWidth + ' > ' + width);
          for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height || r.right <= width + 1) continue;
            let clipped = false;
            for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
              const s = getComputedStyle(p);
              if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX) && p.getBoundingClientRect().right <= width + 1) { clipped = true; break; }
            }
            if (!clipped) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') + ' right=' + Math.round(r.right));
          }
          return out.slice(0, 10);
        }"""
    )


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the current page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


@pytest.fixture
def audit(shot: Any) -> Any:
    """Check the page as it stands at both widths: a screenshot of each (NAME-1400.png,
    NAME-800.png), no horizontal overflow, and no serious or critical axe-core violation.
    The viewport is left at the first width."""

    def check(page: Any, name: str) -> None:
        original = page.viewport_size
        problems = []
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(50)
            shot(page, f"{name}-{width}")
            problems += [f"{width}px overflow: {o}" for o in horizontal_overflow(page)]
            problems += [f"{width}px axe: {v}" for v in axe_violations(page)]
        page.set_viewport_size(original or {"width": WIDTHS[0], "height": 900})
        assert not problems, f"{name}: " + "\n".join(problems)

    return check
