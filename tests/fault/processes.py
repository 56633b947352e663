"""Looking at processes through /proc (Linux): children, liveness, command lines."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # "pid (comm) state ppid …": comm may hold spaces and parentheses.
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as dead)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None and int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(name))
    return sorted(found)


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def pids_running(fragment: str) -> list[int]:
    """Processes whose command line contains ``fragment``."""
    return [int(n) for n in os.listdir("/proc") if n.isdigit() and fragment in command_line(int(n)) and alive(int(n))]


def wait_for(predicate: Callable[[], object], timeout: float, what: str = "condition") -> float:
    """Poll until ``predicate()`` is true; return the seconds it took (AssertionError on timeout)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started
