"""AWS event-stream framing for InvokeWithResponseStream (spec §4.1), as botocore parses it.

One message = prelude (total length, headers length, CRC32 of those 8 bytes), headers (name length,
name, type 7 = string, value length, value), payload, CRC32 of everything before it.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

_STRING = 7
MAX_PAYLOAD = 16 * 1024 * 1024  # botocore accepts up to 24 MiB per frame; bigger chunks are split


def _headers(headers: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        out += bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    encoded = _headers(headers)
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude))
    body = head + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    return message(
        [(":event-type", event_type), (":content-type", content_type), (":message-type", "event")], payload
    )


def payload_chunks(data: bytes) -> list[bytes]:
    """PayloadChunk events for ``data`` (none for empty data)."""
    return [
        event("PayloadChunk", data[start : start + MAX_PAYLOAD], "application/octet-stream")
        for start in range(0, len(data), MAX_PAYLOAD)
    ]


def invoke_complete(*, error_code: str | None = None, error_details: str | None = None,
                    log_result: str | None = None) -> bytes:
    body: dict[str, Any] = {}
    if error_code:
        body["ErrorCode"] = error_code
    if error_details:
        body["ErrorDetails"] = error_details
    if log_result:
        body["LogResult"] = log_result
    return event("InvokeComplete", json.dumps(body, separators=(",", ":")).encode(), "application/json")
