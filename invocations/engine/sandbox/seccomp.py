"""The seccomp filter every environment runs under, in the spirit of Docker's default profile.

Docker's profile is an allow-list; this is the equivalent deny-list for a process that already has
no capabilities and lives in its own user namespace (so most of what Docker gates on a capability
fails anyway): what stays reachable to an unprivileged process and is kernel attack surface or a way
out is refused with EPERM. Two calls answer ENOSYS instead, so that callers fall back: ``clone3``
(its flags sit in a struct seccomp cannot read; glibc then uses ``clone``, whose flags it can) and
io_uring (libuv and others probe it and fall back). Architectures other than the native one are
killed (libseccomp's default bad-arch action), which closes the 32-bit syscall table.

The table (``rules``) is rendered twice: as a BPF program built once per pool with libseccomp
(through ``pyseccomp``) and handed to bwrap (``--seccomp FD``), which installs it right before
exec'ing the runtime, after ``no_new_privs``; and as an OCI profile that gVisor applies inside its
sandbox (``gvisor.py``).
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from typing import Any

DENIED = (
    # file systems and the mount table
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "quotactl", "quotactl_fd", "swapon", "swapoff",
    # namespaces (new ones are also refused by flag on clone/unshare below)
    "unshare", "setns",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # the kernel itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "bpf",
    "perf_event_open", "userfaultfd", "syslog", "acct", "iopl", "ioperm", "lookup_dcookie",
    "open_by_handle_at", "name_to_handle_at", "settimeofday", "clock_settime", "clock_adjtime",
    "vhangup", "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "fanotify_init",
    # kernel keyrings are per user, not per namespace
    "keyctl", "add_key", "request_key",
)

NOT_IMPLEMENTED = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")

# clone(2) flags that make a new namespace.
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
SOCK_TYPE_MASK = 0xF
TIOCSTI, TIOCLINUX = 0x5412, 0x541C


@dataclass(frozen=True)
class Condition:
    index: int  # which argument
    op: str  # "EQ" or "MASKED_EQ"
    value: int
    mask: int = 0  # MASKED_EQ: (argument & mask) == value


@dataclass(frozen=True)
class Rule:
    """A syscall answered with ``errno`` instead of running (when every condition holds)."""

    name: str
    errno: int
    conditions: tuple[Condition, ...] = ()


def rules() -> list[Rule]:
    """The filter as data: rendered as BPF for bwrap (``program``) and as an OCI profile for gVisor
    (``oci_profile``), so both backends refuse the same calls."""
    table = [Rule(name, errno.EPERM) for name in DENIED] + [Rule(name, errno.ENOSYS) for name in NOT_IMPLEMENTED]
    table += [Rule("clone", errno.EPERM, (Condition(0, "MASKED_EQ", flag, flag),)) for flag in NAMESPACE_FLAGS]
    # Packet sockets of any type; raw IP sockets. Raw netlink stays (getifaddrs uses it).
    table.append(Rule("socket", errno.EPERM, (Condition(0, "EQ", socket.AF_PACKET),)))
    table += [Rule("socket", errno.EPERM, (Condition(0, "EQ", family), Condition(1, "MASKED_EQ", socket.SOCK_RAW, SOCK_TYPE_MASK)))
              for family in (socket.AF_INET, socket.AF_INET6)]
    # Typing into, or controlling, a terminal.
    table += [Rule("ioctl", errno.EPERM, (Condition(1, "EQ", request),)) for request in (TIOCSTI, TIOCLINUX)]
    return table


def program() -> bytes:
    """The filter as a BPF program, ready for ``bwrap --seccomp``."""
    import pyseccomp as seccomp  # libseccomp through ctypes; imported here so a missing libseccomp is a check, not an ImportError

    arch = seccomp.system_arch()
    filter_ = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for rule in rules():
        if not _known(seccomp, arch, rule.name):
            continue  # not a syscall on this architecture (iopl on arm64, …)
        arguments = [seccomp.Arg(c.index, seccomp.MASKED_EQ, c.mask, c.value) if c.op == "MASKED_EQ"
                     else seccomp.Arg(c.index, seccomp.EQ, c.value) for c in rule.conditions]
        filter_.add_rule(seccomp.ERRNO(rule.errno), rule.name, *arguments)
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as out:
        filter_.export_bpf(out)
    with os.fdopen(read_end, "rb") as source:
        return source.read()


def oci_profile(known: set[str] | None = None) -> dict[str, object]:
    """The filter as an OCI runtime-spec ``linux.seccomp`` object (``runsc --oci-seccomp``);
    ``known`` limits it to syscalls the runtime knows by name."""
    syscalls = []
    for rule in rules():
        if known is not None and rule.name not in known:
            continue
        entry: dict[str, object] = {"names": [rule.name], "action": "SCMP_ACT_ERRNO", "errnoRet": rule.errno}
        if rule.conditions:
            # runc's convention, which runsc follows: MASKED_EQ compares (argument & value) with valueTwo.
            entry["args"] = [{"index": c.index, "value": c.mask, "valueTwo": c.value, "op": "SCMP_CMP_MASKED_EQ"}
                             if c.op == "MASKED_EQ" else {"index": c.index, "value": c.value, "op": "SCMP_CMP_EQ"}
                             for c in rule.conditions]
        syscalls.append(entry)
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": syscalls}


def _known(seccomp: Any, arch: int, name: str) -> bool:
    try:
        seccomp.resolve_syscall(arch, name)
    except (ValueError, OSError):
        return False
    return True
