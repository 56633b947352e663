"""Placeholders in test events, resolved when the event is sent: {{uuid}} {{now}} {{epoch_ms}} {{random_int}}.

Each occurrence gets its own value ({{uuid}} twice gives two ids). They may stand inside a JSON
string ("id": "{{uuid}}") or as a bare value ("ts": {{epoch_ms}}): both resolve to valid JSON.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from invocations import json_input

PATTERN = re.compile(r"\{\{\s*(uuid|now|epoch_ms|random_int)\s*\}\}")
NAMES = ("uuid", "now", "epoch_ms", "random_int")


def _values(clock: Callable[[], datetime]) -> dict[str, Callable[[], str]]:
    return {
        "uuid": lambda: str(uuid.uuid4()),
        "now": lambda: clock().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epoch_ms": lambda: str(int(clock().timestamp() * 1000)),
        "random_int": lambda: str(random.randint(0, 2**31 - 1)),
    }


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def resolve(text: str, *, clock: Callable[[], datetime] = _utcnow) -> str:
    values = _values(clock)
    return PATTERN.sub(lambda match: values[match.group(1)](), text)


def found(text: str) -> list[str]:
    """The placeholder names used in `text`, in order of first use."""
    seen: list[str] = []
    for match in PATTERN.finditer(text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


class JsonProblem(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message, self.line, self.column = message, line, column


def check_json(text: str) -> None:
    """Raise JsonProblem (with line and column) unless `text` is JSON once placeholders are filled in.

    Each placeholder is replaced by a same-length stand-in ("1" and spaces) so the reported position
    is the position in the text the user typed.
    """
    probe = PATTERN.sub(lambda m: "1" + " " * (len(m.group(0)) - 1), text)
    try:
        json_input.loads(probe)
    except json.JSONDecodeError as error:
        raise JsonProblem(error.msg, error.lineno, error.colno) from None
    except json_input.NestingTooDeep as error:
        raise JsonProblem(str(error), 1, 1) from None


def pretty(text: str) -> str:
    """Indented JSON when `text` parses; otherwise `text` unchanged (a response may be anything).

    Encoding recurses as parsing does: a document nested about as deep as the parser takes (a payload
    Invoke accepted, a response a function sent) may fail to re-encode from a deeper stack."""
    try:
        return json.dumps(json_input.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return text
