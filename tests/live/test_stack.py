"""The harness itself: the server answers on both loopback addresses and the worker is up."""

from __future__ import annotations

import http.client

import pytest

from scripts.stack import Stack, default_listen_address, free_port, ipv6_available
from tests.live.conftest import Live, ipv6_endpoint

pytestmark = pytest.mark.live


def test_the_server_answers_on_ipv4(live: Live) -> None:
    assert live.stack.http_ready("127.0.0.1")


def test_the_server_answers_on_ipv6(live: Live) -> None:
    ipv6_endpoint(live)
    assert live.stack.http_ready("::1")


def test_the_worker_is_ready(live: Live) -> None:
    assert live.stack.worker is not None and live.stack.worker.poll() is None
    assert live.stack.worker_ready()


def test_the_console_login_page_is_served_with_its_stylesheet(live: Live) -> None:
    conn = http.client.HTTPConnection(live.stack.host, live.stack.port, timeout=10)
    conn.request("GET", "/login/")
    page = conn.getresponse()
    assert page.status == 200
    assert b"console/console.css" in page.read()
    conn.request("GET", "/static/console/console.css")
    css = conn.getresponse()
    assert css.status == 200
    assert b".topbar" in css.read()
    conn.close()


def test_listen_address_defaults_to_dual_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTEN_ADDRESS", raising=False)
    assert default_listen_address() == ("::" if ipv6_available() else "0.0.0.0")
    monkeypatch.setenv("LISTEN_ADDRESS", "0.0.0.0")
    assert default_listen_address() == "0.0.0.0"


def test_an_ipv4_only_stack_answers_on_ipv4_only_and_stops_cleanly(
    live: Live, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("ipv4-only")
    env = {"DATABASE_URL": live.stack.env["DATABASE_URL"]} if "DATABASE_URL" in live.stack.env else {}
    stack = Stack(data_dir, port=free_port(), env=env, listen_address="0.0.0.0", log_dir=data_dir, worker=False)
    with stack:
        assert stack.endpoint_v6 is None
        assert stack.http_ready("127.0.0.1")
        assert not stack.http_ready("::1")
        web = stack.web
        assert web is not None
    assert web.returncode is not None
    assert stack.web is None and not stack.port_in_use()
