"""Printing: colour only on a terminal (and never with NO_COLOR), tables, progress on stderr."""

from __future__ import annotations

import os
import sys
from typing import TextIO

_CODES = {"red": "31", "green": "32", "yellow": "33", "dim": "2", "bold": "1", "cyan": "36"}


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str, stream: TextIO = sys.stdout) -> str:
    return f"\033[{_CODES[colour]}m{text}\033[0m" if use_colour(stream) else text


def progress(message: str) -> None:
    """A step of a long operation, on stderr (stdout stays clean for pipes)."""
    print(paint(message, "dim", sys.stderr), file=sys.stderr, flush=True)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
