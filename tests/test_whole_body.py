"""config/whole_body.py: non-streaming responses reach the server as one piece, closed; streaming
ones pass through untouched."""

from __future__ import annotations

from typing import Any

from django.core.signals import request_finished
from django.http import HttpResponse, StreamingHttpResponse

from config.whole_body import whole_bodies


def test_a_plain_response_becomes_one_closed_piece() -> None:
    response = HttpResponse(b"")
    response.write(b"a")
    response.write(b"bc")
    finished: list[object] = []

    def on_finished(sender: object, **kwargs: Any) -> None:
        finished.append(sender)

    request_finished.connect(on_finished)
    try:
        response._resource_closers.append(lambda: finished.append("closed"))
        body = whole_bodies(lambda environ, start_response: response)({}, None)
    finally:
        request_finished.disconnect(on_finished)
    assert body == [b"abc"]
    assert "closed" in finished and len(finished) == 2  # close() ran, and with it request_finished


def test_a_streaming_response_passes_through() -> None:
    response = StreamingHttpResponse(iter([b"a", b"b"]))
    assert whole_bodies(lambda environ, start_response: response)({}, None) is response
