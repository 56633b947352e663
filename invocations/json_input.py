"""JSON that comes from outside — request bodies, Invoke payloads, client contexts, trigger payloads,
pushed events — parsed with one rule for documents nested too deep.

Python's ``json`` parses recursively, so a document nested deeper than the interpreter's recursion
limit allows raises ``RecursionError``, not ``ValueError``: ``[`` × 100,000 (valid JSON once closed)
slipped past every ``except ValueError`` around a parse and came back as a 500 ``ServiceException``.
The limit is the recursion limit (1,000 frames) less the caller's own stack: 937 levels measured for
an Invoke payload or a control-plane body through Django's test client.

What does AWS do with such a document? Lambda's front end is Java and its parse errors are
Jackson's (spec §3.4); Jackson 2.15 and later refuse documents nested more than 1,000 levels deep by
default (``StreamReadConstraints.maxNestingDepth``), so a 100,000-deep payload is most likely a 400
``InvalidRequestContentException`` there too [U: AWS's exact text for this case is not recorded].
Here it is a ``NestingTooDeep`` — a ``ValueError``, so each caller's existing ``except ValueError``
turns it into that caller's own 4xx with its own wording.
"""

from __future__ import annotations

import json
from typing import Any


class NestingTooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__("Document nesting depth exceeds the maximum allowed (just under 1,000 levels)")


def loads(document: str | bytes | bytearray) -> Any:
    """``json.loads``, with a document nested too deep raised as ``NestingTooDeep`` (a ValueError)."""
    try:
        return json.loads(document)
    except RecursionError:
        raise NestingTooDeep() from None


def has_nul(value: Any) -> bool:
    """Whether a parsed document holds a NUL character in any key or string (``\\u0000`` in its text).

    PostgreSQL's text and jsonb cannot store one, and a query that carries one fails there. Walked
    without recursion: the document may be nested as deep as ``loads`` allows.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
