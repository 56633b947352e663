"""CORS for function URLs from the URL's ``Cors`` config (spec §7.3), as pure functions.

With ``Cors`` configured, the platform answers preflight requests itself (the function is not
invoked) and sets the ``Access-Control-*`` headers of every response, replacing any the function
set. Preflight details are unverified against AWS (spec §13): a preflight whose origin or method is
not allowed gets a 200 without CORS headers, so the browser blocks the call.
"""

from __future__ import annotations

from typing import Any


def is_configured(cors: dict[str, Any] | None) -> bool:
    return bool(cors)


def allowed_origin(cors: dict[str, Any], origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for ``origin``, or None when it is not allowed."""
    if not origin:
        return None
    origins = [o for o in cors.get("AllowOrigins") or []]
    if "*" in origins:
        # With credentials a browser rejects "*": echo the origin instead.
        return origin if cors.get("AllowCredentials") else "*"
    lowered = origin.lower()
    return origin if any(o.lower() == lowered for o in origins) else None


def is_preflight(method: str, headers: dict[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight_headers(cors: dict[str, Any], headers: dict[str, str]) -> list[tuple[str, str]]:
    """The headers of the platform's answer to a preflight (``headers`` lower-cased)."""
    origin = allowed_origin(cors, headers.get("origin"))
    method = headers.get("access-control-request-method", "").upper()
    methods = [m.upper() for m in cors.get("AllowMethods") or []]
    if origin is None or not ("*" in methods or method in methods):
        return []
    out = [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Methods", ", ".join(methods))]
    allow_headers = cors.get("AllowHeaders") or []
    if allow_headers:
        out.append(("Access-Control-Allow-Headers", ", ".join(allow_headers)))
    if cors.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    if cors.get("MaxAge") is not None:
        out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    if origin != "*":
        out.append(("Vary", "Origin"))
    return out


def response_headers(cors: dict[str, Any], origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers of an ordinary (non-preflight) response."""
    allowed = allowed_origin(cors, origin)
    if allowed is None:
        return []
    out = [("Access-Control-Allow-Origin", allowed)]
    if cors.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    expose = cors.get("ExposeHeaders") or []
    if expose:
        out.append(("Access-Control-Expose-Headers", ", ".join(expose)))
    if allowed != "*":
        out.append(("Vary", "Origin"))
    return out


def apply(cors: dict[str, Any] | None, headers: list[tuple[str, str]], origin: str | None) -> list[tuple[str, str]]:
    """``headers`` with the config's CORS headers replacing the function's own (AWS's wins)."""
    if not is_configured(cors):
        return headers
    assert cors is not None
    kept = [(n, v) for n, v in headers if not n.lower().startswith("access-control-")]
    return kept + response_headers(cors, origin)
