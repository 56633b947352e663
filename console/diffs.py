"""Side-by-side line diffs with the changed characters marked: the Compare pages and a suite
failure's Expected vs Actual."""

from __future__ import annotations

import difflib
import re
import json
from dataclasses import dataclass

# Past these sizes a diff stops being read by anyone and starts costing the request: SequenceMatcher
# is quadratic in the worst case. Longer texts are cut (the pages link to the full records).
MAX_LINES = 2000
MAX_MARKED_LINE = 1000  # characters: longer changed lines are highlighted whole

Parts = tuple[tuple[str, bool], ...]  # (text, changed) segments of one side of a line


@dataclass(frozen=True)
class Line:
    left: str
    right: str
    kind: str  # "same", "changed", "left-only" or "right-only"
    left_parts: Parts
    right_parts: Parts


def _marked(x: str, y: str) -> tuple[Parts, Parts]:
    if len(x) > MAX_MARKED_LINE or len(y) > MAX_MARKED_LINE:
        return ((x, True),), ((y, True),)
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=x, b=y, autojunk=False).get_opcodes():
        _append(left, x[i1:i2], tag != "equal")
        _append(right, y[j1:j2], tag != "equal")
    return tuple(left), tuple(right)


def _append(parts: list[tuple[str, bool]], text: str, changed: bool) -> None:
    if not text:
        return
    if parts and parts[-1][1] == changed:
        parts[-1] = (parts[-1][0] + text, changed)
    else:
        parts.append((text, changed))


def side_by_side(left: str, right: str) -> list[Line]:
    """Line pairs of ``left`` and ``right``; in a changed pair the differing characters are marked."""
    a, b = left.splitlines()[:MAX_LINES], right.splitlines()[:MAX_LINES]
    rows: list[Line] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows.extend(Line(x, y, "same", ((x, False),), ((y, False),)) for x, y in zip(a[i1:i2], b[j1:j2]))
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            x = a[i1 + k] if i1 + k < i2 else ""
            y = b[j1 + k] if j1 + k < j2 else ""
            if i1 + k < i2 and j1 + k < j2:
                x_parts, y_parts = _marked(x, y)
                rows.append(Line(x, y, "changed", x_parts, y_parts))
            else:
                rows.append(Line(x, y, "left-only" if i1 + k < i2 else "right-only", ((x, False),), ((y, False),)))
    return rows


def pretty_value(text: str) -> str:
    """A JSON text indented with sorted keys (so that a line diff lines up); other text as it is."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if not isinstance(value, (dict, list)):
        return text
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


# What differs between any two runs and says nothing about them: the Compare page's log diff
# replaces these before diffing (the metrics table above it compares the measured values).
REQUEST_ID_MARK = "<request-id>"
TIMESTAMP_MARK = "<time>"
MEASURE_MARK = "<n>"
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
# The REPORT line's measurements (Duration, Billed Duration, Init Duration, Max Memory Used); Memory
# Size is configuration, so a different value there is a real difference and stays.
_MEASURE = re.compile(r"((?:Billed |Init )?Duration|Max Memory Used): [\d.]+")


def normalise_logs(text: str, request_ids: tuple[str, ...]) -> str:
    """``text`` with the invocations' own request ids, ISO timestamps and the REPORT line's
    measurements replaced by fixed marks, so that a diff of two runs' logs marks real differences
    only (every START/END/REPORT line and every runtime log line names its request id)."""
    for request_id in request_ids:
        if request_id:
            text = text.replace(request_id, REQUEST_ID_MARK)
    text = _TIMESTAMP.sub(TIMESTAMP_MARK, text)
    return "\n".join(
        _MEASURE.sub(lambda m: f"{m.group(1)}: {MEASURE_MARK}", line) if line.startswith("REPORT ") else line
        for line in text.split("\n")
    )
