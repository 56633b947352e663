"""A function's web page is a stranger to the console (ARCHITECTURE.md, "Trust boundaries"). Pure.

Function URLs have their own origin in the host form, ``<url-id>.lambda-url.<region>.<domain>``: a
page served there cannot read the console's cookies (they are host-only) nor its pages (the
same-origin policy), and cannot post to it (Django's CSRF check refuses another Origin).

The path form, ``/lambda-url/<url-id>/…``, is kept for clients that cannot resolve ``*.localhost``;
it answers on any host, the console's included. There a function's response is guarded:

* ``Content-Security-Policy: sandbox …`` without ``allow-same-origin``: the document runs in an
  opaque origin, so it reads no cookie, its ``fetch('/keys/')`` is a cross-origin request from
  ``null`` (no cookies, an unreadable answer, and a POST the CSRF check refuses), and it cannot
  register a service worker over the console. Scripts, forms and pop-ups still work.
* The function cannot set or clear the console's cookies (``Set-Cookie`` of their names is
  dropped), nor widen a service worker's scope or clear the site's data.

On both forms the console's own cookies are taken out of the request before the function sees it
(the browser sends them to the path form; nothing of the console's belongs in ``event.cookies``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from invocations.urls_function.responses import UrlResponse

SANDBOX_CSP: Final = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
# Response headers that act on the whole origin, not on the function's page.
ORIGIN_WIDE_HEADERS: Final = frozenset({"service-worker-allowed", "clear-site-data", "set-cookie"})


def _cookie_name(pair: str) -> str:
    return pair.split("=", 1)[0].strip()


def strip_cookies(headers: list[tuple[str, str]], names: Iterable[str]) -> list[tuple[str, str]]:
    """``headers`` with the cookies named ``names`` taken out of every ``Cookie`` header."""
    hidden = set(names)
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() != "cookie":
            kept.append((name, value))
            continue
        pairs = [pair.strip() for pair in value.split(";") if pair.strip() and _cookie_name(pair) not in hidden]
        if pairs:
            kept.append((name, "; ".join(pairs)))
    return kept


def guard_path_form(mapped: UrlResponse, cookie_names: Iterable[str]) -> UrlResponse:
    """The response with nothing in it that would act on the console's origin; the sandbox policy
    is added by the view (alongside any policy of the function's own: all of them apply)."""
    hidden = set(cookie_names)
    headers = [(name, value) for name, value in mapped.headers if name.lower() not in ORIGIN_WIDE_HEADERS]
    cookies = [cookie for cookie in mapped.cookies if _cookie_name(cookie) not in hidden]
    return UrlResponse(mapped.status, headers, cookies, mapped.body)
