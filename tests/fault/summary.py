"""The figures the fault tier prints: collected while the tests run, shown in pytest's terminal
summary (so they appear in CI's log without ``-s``)."""

from __future__ import annotations

import sys

LINES: list[str] = []


def report(line: str) -> None:
    LINES.append(line)
    print(line, file=sys.stderr)  # also in the test's own captured output, and live with -s
