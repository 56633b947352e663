"""Which function URL a request is for: ``<url-id>.lambda-url.<region>.<domain>`` or the path form
``/lambda-url/<url-id>/…`` (for clients that do not resolve ``*.localhost``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PATH_PREFIX = "/lambda-url/"
# url-ids are 32 characters of [0-9a-z] (spec §7.1).
_HOST_RE = re.compile(r"^(?P<url_id>[0-9a-z]{32})\.lambda-url\.(?P<region>[a-z0-9-]+)\.(?P<domain>[^:]+|\[[^\]]+\])(?::\d+)?$")
_PATH_RE = re.compile(r"^/lambda-url/(?P<url_id>[0-9a-z]{32})(?P<rest>/.*)?$")


@dataclass(frozen=True)
class Route:
    url_id: str
    path: str  # the path the function sees (rawPath): "/" at least
    via: str  # "host" | "path"


def route(*, host: str, path: str, region: str, domain: str) -> Route | None:
    """The function URL ``host`` + ``path`` designate, or None when the request is not for one.

    The host form must name this node's region and domain, so that a DNS wildcard pointing other
    names here cannot reach functions; the path form works on any host.
    """
    match = _HOST_RE.match(host.lower())
    if match and match.group("region") == region and match.group("domain") == domain.lower():
        return Route(url_id=match.group("url_id"), path=path or "/", via="host")
    if path.startswith(PATH_PREFIX):
        found = _PATH_RE.match(path)
        if found:
            return Route(url_id=found.group("url_id"), path=found.group("rest") or "/", via="path")
    return None


def bracket(host: str) -> str:
    """An IPv6 literal in a URL needs brackets (RFC 3986); names and IPv4 do not."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def split_host(value: str) -> tuple[str, int | None]:
    """``host[:port]`` (with ``[v6]:port``) into the host (brackets kept) and the port."""
    if value.startswith("["):
        end = value.find("]")
        host, rest = value[: end + 1], value[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = value.partition(":")
    return host, int(port) if port.isdigit() else None


def host_form_url(*, url_id: str, region: str, domain: str, scheme: str, port: int | None) -> str:
    default = {"http": 80, "https": 443}.get(scheme)
    suffix = f":{port}" if port and port != default else ""
    return f"{scheme}://{url_id}.lambda-url.{region}.{domain}{suffix}/"


def path_form_url(*, url_id: str, host: str, scheme: str, port: int | None) -> str:
    default = {"http": 80, "https": 443}.get(scheme)
    suffix = f":{port}" if port and port != default else ""
    return f"{scheme}://{bracket(host)}{suffix}{PATH_PREFIX}{url_id}/"
