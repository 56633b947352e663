"""Per-invocation log text in CloudWatch's text format (spec §10)."""

from __future__ import annotations

import math
import time
import uuid

MAX_LOG_BYTES = 4 * 1024 * 1024  # per invocation; the tail is kept
TRUNCATED_MARK = b"[... earlier output truncated ...]\n"


def log_stream_name(version: str, started_at: float | None = None) -> str:
    """A new environment's CloudWatch log stream, named as Lambda names it: the environment's start
    day (UTC), the version it runs in brackets, and 32 random hex digits
    (``2026/12/01/[$LATEST]0f1e…``)."""
    day = time.strftime("%Y/%m/%d/", time.gmtime(time.time() if started_at is None else started_at))
    return f"{day}[{version}]{uuid.uuid4().hex}"


class LogBuffer:
    """Bytes written by a runtime, capped: a chatty function keeps only its last MAX_LOG_BYTES."""

    def __init__(self, limit: int = MAX_LOG_BYTES) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def write(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]
            self.truncated = True

    def extend(self, other: LogBuffer) -> None:
        self.truncated = self.truncated or other.truncated
        self.write(bytes(other.data))

    def text(self) -> str:
        body = (TRUNCATED_MARK if self.truncated else b"") + bytes(self.data)
        text = body.decode("utf-8", errors="replace")
        return text if not text or text.endswith("\n") else text + "\n"


def iso_timestamp(epoch: float | None = None) -> str:
    epoch = time.time() if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def timeout_line(request_id: str, timeout_s: float, at: float | None = None) -> str:
    return f"{iso_timestamp(at)} {request_id} Task timed out after {timeout_s:.2f} seconds\n"


def billed_duration_ms(duration_ms: float) -> int:
    return max(1, math.ceil(duration_ms))


def report_line(request_id: str, *, duration_ms: float, billed_ms: int, memory_mb: int, max_memory_mb: int,
                init_duration_ms: float | None) -> str:
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
            f"Memory Size: {memory_mb} MB\tMax Memory Used: {max_memory_mb} MB\t")
    if init_duration_ms is not None:
        line += f"Init Duration: {init_duration_ms:.2f} ms\t"
    return line + "\n"
