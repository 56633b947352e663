"""Memory and process limits for execution environments.

Preferred: cgroup v1 memory and pids controllers (MACHINE-FACTS.md: the v2 mount has no memory
controller here, the v1 one is writable). One child group per environment under a parent of ours
(nested in the group we run in, so the node's own limits still apply). When no controller is
writable we degrade to RLIMIT_AS (Python only: V8 reserves huge virtual space) and VmHWM from /proc.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
import uuid
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

CGROUP_ROOT = "/sys/fs/cgroup"
PIDS_MAX = 1024
NOFILE = 1024  # Lambda's file descriptor quota
MB = 1024 * 1024


def _own_cgroup(controller: str) -> str | None:
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controller in controllers.split(","):
                    return path
    except OSError:
        return None
    return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _make_parent(controller: str, token: str) -> str | None:
    mount = os.path.join(CGROUP_ROOT, controller)
    own = _own_cgroup(controller)
    if own is None or not os.path.isfile(os.path.join(mount, "cgroup.procs")):
        return None
    # One parent per pool (a process may hold several); the pid lets a later pool sweep leftovers.
    parent = os.path.join(mount, own.lstrip("/"), f"lambda-workbench-{os.getpid()}-{token}")
    try:
        os.makedirs(parent, exist_ok=True)
        probe = os.path.join(parent, "probe")
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError:
        return None
    _remove_stale_siblings(os.path.dirname(parent))
    return parent


def _remove_stale_siblings(directory: str) -> None:
    """Parents left behind by pools whose process died without shutdown()."""
    for name in os.listdir(directory):
        if not name.startswith("lambda-workbench-"):
            continue
        pid = name.split("-")[2] if name.count("-") >= 2 else ""
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            stale = os.path.join(directory, name)
            for child in os.listdir(stale):
                if os.path.isdir(os.path.join(stale, child)):
                    try:
                        os.rmdir(os.path.join(stale, child))
                    except OSError:
                        pass
            try:
                os.rmdir(stale)
            except OSError:
                pass


@dataclass
class EnvironmentGroups:
    """The cgroups of one environment (either may be absent)."""

    memory: str | None
    pids: str | None
    # memory.max_usage_in_bytes, kept open: it is read after every invocation (Max Memory Used),
    # and a pread on an open cgroup file costs a fraction of open+read+close.
    _peak_fd: int | None = field(default=None, init=False, repr=False)

    def procs_files(self) -> list[str]:
        return [os.path.join(g, "cgroup.procs") for g in (self.memory, self.pids) if g]

    def peak_memory_mb(self) -> int | None:
        if not self.memory:
            return None
        try:
            if self._peak_fd is None:
                self._peak_fd = os.open(os.path.join(self.memory, "memory.max_usage_in_bytes"), os.O_RDONLY)
            return math.ceil(int(os.pread(self._peak_fd, 32, 0)) / MB)
        except (OSError, ValueError):
            return None

    def _close_peak(self) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None

    def set_memory_limit(self, memory_mb: int) -> bool:
        """Change the limit of a running environment (a ready one given its function); False when
        it already uses more, or the limit cannot be written."""
        if not self.memory:
            return True
        try:
            if os.path.exists(os.path.join(self.memory, "memory.memsw.limit_in_bytes")):
                # memsw must stay ≥ the memory limit: raise it first when growing, after when shrinking.
                current = int(_read(os.path.join(self.memory, "memory.limit_in_bytes")))
                order: tuple[str, ...] = ("memory.memsw.limit_in_bytes", "memory.limit_in_bytes") \
                    if memory_mb * MB > current else ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
            else:
                order = ("memory.limit_in_bytes",)
            for name in order:
                _write(os.path.join(self.memory, name), str(memory_mb * MB))
        except (OSError, ValueError):
            return False
        return True

    def oom_killed(self) -> bool:
        if not self.memory:
            return False
        try:
            for line in _read(os.path.join(self.memory, "memory.oom_control")).splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1]) > 0
            return int(_read(os.path.join(self.memory, "memory.failcnt"))) > 0
        except OSError:
            return False

    def kill_all(self) -> None:
        for group in (self.memory, self.pids):
            if not group:
                continue
            try:
                pids = _read(os.path.join(group, "cgroup.procs")).split()
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass

    def remove(self) -> bool:
        """True when every group is gone (EBUSY while processes remain)."""
        self._close_peak()
        done = True
        for attr in ("memory", "pids"):
            group = getattr(self, attr)
            if not group:
                continue
            try:
                os.rmdir(group)
                setattr(self, attr, None)
            except FileNotFoundError:
                setattr(self, attr, None)
            except OSError:
                done = False
        return done


class Limits:
    """Detected once per pool; hands out per-environment groups."""

    def __init__(self, use_cgroups: bool = True) -> None:
        token = uuid.uuid4().hex[:8]
        self.memory_parent = _make_parent("memory", token) if use_cgroups else None
        self.pids_parent = _make_parent("pids", token) if use_cgroups else None
        self.memsw = bool(self.memory_parent) and os.path.exists(
            os.path.join(self.memory_parent or "", "memory.memsw.limit_in_bytes"))
        why = "not writable" if use_cgroups else "disabled"
        if self.memory_parent is None:
            logger.warning("cgroup v1 memory controller %s: memory capped with RLIMIT_AS "
                           "(Python runtimes only) and measured from VmHWM", why)
        if self.pids_parent is None:
            logger.warning("cgroup v1 pids controller %s: process count is not capped", why)

    def create(self, env_id: str, memory_mb: int) -> EnvironmentGroups:
        memory = pids = None
        if self.memory_parent:
            memory = os.path.join(self.memory_parent, env_id)
            try:
                os.mkdir(memory)
                _write(os.path.join(memory, "memory.limit_in_bytes"), str(memory_mb * MB))
                if self.memsw:
                    try:
                        _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), str(memory_mb * MB))
                    except OSError:
                        pass
            except OSError as exc:
                logger.warning("could not create memory cgroup %s: %s", memory, exc)
                memory = None
        if self.pids_parent:
            pids = os.path.join(self.pids_parent, env_id)
            try:
                os.mkdir(pids)
                _write(os.path.join(pids, "pids.max"), str(PIDS_MAX))
            except OSError as exc:
                logger.warning("could not create pids cgroup %s: %s", pids, exc)
                pids = None
        return EnvironmentGroups(memory, pids)

    def close(self, wait_s: float = 2.0) -> None:
        """Remove every group we made, killing what is left in them (called at pool shutdown)."""
        deadline = time.monotonic() + wait_s
        for parent in (self.memory_parent, self.pids_parent):
            if not parent or not os.path.isdir(parent):
                continue
            children = [os.path.join(parent, c) for c in os.listdir(parent) if os.path.isdir(os.path.join(parent, c))]
            for child in children:
                groups = EnvironmentGroups(child, None)
                while not groups.remove() and time.monotonic() < deadline:
                    groups.kill_all()
                    time.sleep(0.01)
            try:
                os.rmdir(parent)
            except OSError:
                logger.warning("could not remove cgroup %s", parent)


def largest_process(group: str | None) -> int | None:
    """The member of a cgroup with the largest resident set."""
    if not group:
        return None
    best, best_rss = None, -1
    try:
        pids = _read(os.path.join(group, "cgroup.procs")).split()
    except OSError:
        return None
    for pid in pids:
        try:
            for line in _read(f"/proc/{pid}/status").splitlines():
                if line.startswith("VmRSS:") and int(line.split()[1]) > best_rss:
                    best, best_rss = int(pid), int(line.split()[1])
        except OSError:
            continue
    return best


def vm_hwm_mb(status_fd: int) -> int:
    """VmHWM (peak resident set) from an open /proc/<pid>/status; 0 once the process is gone."""
    try:
        text = os.pread(status_fd, 4096, 0).decode()
    except OSError:
        return 0
    start = text.find("VmHWM:")
    if start < 0:
        return 0
    return math.ceil(int(text[start + 6:text.index("kB", start)]) / 1024)


def rss_peak_mb(root_pid: int) -> int:
    """Sum of VmHWM over a process tree (the fallback when there is no memory cgroup)."""
    total_kb = 0
    stack = [root_pid]
    seen: set[int] = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for line in _read(f"/proc/{pid}/status").splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
            for task in os.listdir(f"/proc/{pid}/task"):
                stack += [int(c) for c in _read(f"/proc/{pid}/task/{task}/children").split()]
        except OSError:
            continue
    return math.ceil(total_kb / 1024)
