"""One JSON object per log line (``LAMBDA_LOG_FORMAT=json``, config/settings.py).

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, plus ``request_id``
and ``function`` when known: given as ``extra={"request_id": ..., "function": ...}`` or bound for the
duration of an invocation with ``bind`` (invocations/metrics.py ``running``), and ``exception``
with the traceback when there is one. The Celery worker uses the same configuration
(config/celery.py connects ``setup_logging`` in JSON mode so Celery does not install its own format).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("log_context", default=None)

FIELDS = ("request_id", "function")


@contextlib.contextmanager
def bind(**fields: str) -> Iterator[None]:
    """Add ``fields`` (request_id, function) to every line logged in this context."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        bound = _context.get() or {}
        for name in FIELDS:
            value = getattr(record, name, None) or bound.get(name)
            if value:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)
