"""``workbench logs`` (cli/main.py): --since parsing, printing, paging and following by the cursor."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from cli import main


def test_since_takes_durations_and_iso_times() -> None:
    now = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    assert main.parse_since("10m", now) == (now - 600) * 1000
    assert main.parse_since("2h", now) == (now - 7200) * 1000
    assert main.parse_since("1d", now) == (now - 86400) * 1000
    assert main.parse_since("2026-01-01T00:00:00Z", now) == now * 1000
    assert main.parse_since("2026-01-01T01:00:00+01:00", now) == now * 1000
    assert main.parse_since("2026-01-01 00:00", now) == now * 1000  # UTC when it does not say
    for bad in ("10", "m", "ten minutes", "-5m"):
        with pytest.raises(argparse.ArgumentTypeError):
            main.parse_since(bad, now)


class FakeServer:
    """Answers the logs route from a script of pages; a KeyboardInterrupt ends the script."""

    def __init__(self, pages: list[dict[str, Any] | type[BaseException]]) -> None:
        self.pages = pages
        self.queries: list[dict[str, Any]] = []

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        assert (method, path) == ("GET", "functions/echo/logs")
        self.queries.append(dict(query or {}))
        page = self.pages.pop(0)
        if isinstance(page, type):
            raise page()
        return page


def event(message: str, ms: int = 1_767_225_600_123) -> dict[str, Any]:
    return {"timestamp": ms, "message": message, "logStreamName": "2026/01/01/[$LATEST]ab", "eventId": message}


def args(*extra: str) -> argparse.Namespace:
    parsed = main.build_parser().parse_args(["logs", "echo", *extra])
    parsed.interval = 0
    return parsed


def test_it_prints_each_line_with_time_and_stream_and_reads_every_page(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeServer([{"events": [event("one")], "nextToken": "1.000000:1", "since": "1.000000:1"},
                         {"events": [event("two")], "since": "2.000000:2"}])
    assert main.cmd_logs(server, args("--filter", "o", "--stream", "S")) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out.splitlines()
    assert out == ["2026-01-01T00:00:00.123Z 2026/01/01/[$LATEST]ab one", "2026-01-01T00:00:00.123Z 2026/01/01/[$LATEST]ab two"]
    assert server.queries[0]["filterPattern"] == "o" and server.queries[0]["logStreamName"] == "S"
    assert server.queries[0]["since"] is None and server.queries[1]["since"] == "1.000000:1"
    assert abs(server.queries[0]["startTime"] - main.parse_since("10m")) < 5000


def test_follow_polls_from_the_cursor_until_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeServer([{"events": [event("old")], "since": "1.000000:1"},
                         {"events": [], "since": "1.000000:1"},
                         {"events": [event("new")], "since": "3.000000:3"},
                         KeyboardInterrupt])
    assert main.cmd_logs(server, args("--follow")) == 0  # type: ignore[arg-type]
    assert [line.split()[-1] for line in capsys.readouterr().out.splitlines()] == ["old", "new"]
    assert [q["since"] for q in server.queries] == [None, "1.000000:1", "1.000000:1", "3.000000:3"]
