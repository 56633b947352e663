"""The seccomp filter every environment runs under, in the spirit of Docker's default profile.

Docker's profile is an allow-list; this is the equivalent deny-list for a process that already has
no capabilities and lives in its own user namespace (so most of what Docker gates on a capability
fails anyway): what stays reachable to an unprivileged process and is kernel attack surface or a way
out is refused with EPERM. Two calls answer ENOSYS instead, so that callers fall back: ``clone3``
(its flags sit in a struct seccomp cannot read; glibc then uses ``clone``, whose flags it can) and
io_uring (libuv and others probe it and fall back). Architectures other than the native one are
killed (libseccomp's default bad-arch action), which closes the 32-bit syscall table.

The program is built once per pool with libseccomp (through ``pyseccomp``) and handed to bwrap
(``--seccomp FD``), which installs it right before exec'ing the runtime, after ``no_new_privs``.
"""

from __future__ import annotations

import errno
import os
import socket

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


def program() -> bytes:
    """The filter as a BPF program, ready for ``bwrap --seccomp``."""
    import pyseccomp as seccomp  # libseccomp through ctypes; imported here so a missing libseccomp is a check, not an ImportError

    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        _add(rules, deny, name)
    for name in NOT_IMPLEMENTED:
        _add(rules, seccomp.ERRNO(errno.ENOSYS), name)
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # Packet sockets of any type; raw IP sockets. Raw netlink stays (getifaddrs uses it).
    rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, socket.AF_PACKET))
    for family in (socket.AF_INET, socket.AF_INET6):
        rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, family),
                       seccomp.Arg(1, seccomp.MASKED_EQ, SOCK_TYPE_MASK, socket.SOCK_RAW))
    for request in (TIOCSTI, TIOCLINUX):  # typing into, or controlling, a terminal
        rules.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as out:
        rules.export_bpf(out)
    with os.fdopen(read_end, "rb") as source:
        return source.read()


def _add(rules: object, action: int, name: str) -> None:
    import pyseccomp as seccomp

    try:
        seccomp.resolve_syscall(seccomp.system_arch(), name)
    except (ValueError, OSError):
        return  # not a syscall on this architecture (iopl on arm64, …)
    rules.add_rule(action, name)  # type: ignore[attr-defined]
