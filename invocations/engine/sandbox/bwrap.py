"""The default backend's command line: nsenter into the slot, drop to the sandbox user, bwrap.

    sh prologue (root: cgroups, rlimits, seccomp program on fd 3)
      → nsenter --net=<slot's namespace> --mount=<staging namespace> --setuid H --setgid H
      → bwrap --unshare-user --uid 993 … --seccomp 3 → the runtime

Inside, the runtime is uid 993 (Lambda's ``sbx_user1051``) in its own user, PID, IPC, UTS and
cgroup namespaces, with no capabilities, ``no_new_privs``, the seccomp filter, no way to make user
namespaces; on the host it is the unprivileged uid H, which owns nothing but its own ``/tmp``. It
sees a read-only root made of ``/usr``, a few ``/etc`` files, the interpreter, ``/var/runtime`` and
``/var/task``, plus its ``/tmp`` (the slot's ext4 file system), its ``/proc`` and a minimal ``/dev``.
This module only builds argv; ``host.py`` owns the namespaces and files it names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from invocations.engine.interpreters import PYTHON_RUNTIMES, python_prefix
from invocations.engine.sandbox.launch import RUNTIME_DIR, SECCOMP_FD, TASK_ROOT
from invocations.engine.sandbox.slots import Slot
from invocations.engine.types import FunctionSpec, RuntimeInfo

SANDBOX_UID = 993  # sbx_user1051 on Lambda

# World-readable parts of /etc a runtime needs (the loader cache, TLS roots, time zone, name service
# switch). Not all of /etc: it holds /etc/shadow. passwd, group, hosts and resolv.conf are generated.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "host.conf", "nsswitch.conf", "gai.conf", "ssl",
               "ca-certificates", "ca-certificates.conf", "localtime", "alternatives", "os-release",
               "mime.types", "protocols", "services", "pki", "crypto-policies")
GENERATED_ETC = ("passwd", "group", "hosts")


def generated_files(*, egress: bool) -> dict[str, bytes]:
    """The /etc files the staging area writes (paths relative to it)."""
    return {
        "etc/passwd": (f"root:x:0:0:root:/root:/sbin/nologin\n"
                       f"sbx_user1051:x:{SANDBOX_UID}:{SANDBOX_UID}::/home/sbx_user1051:/sbin/nologin\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n").encode(),
        "etc/group": f"root:x:0:\nsbx_user1051:x:{SANDBOX_UID}:\nnogroup:x:65534:\n".encode(),
        "etc/hosts": b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        # slirp4netns answers DNS at 10.0.2.3; without egress there is nothing to ask.
        "etc/resolv.conf": b"nameserver 10.0.2.3\n" if egress else b"",
    }


@dataclass(frozen=True)
class StagedPaths:
    """Where the staging area shows each source (see ``host.Sandbox``)."""

    root: str

    def etc(self, name: str) -> str:
        return os.path.join(self.root, "etc", name)

    def prefix(self, runtime: str) -> str:
        return os.path.join(self.root, "prefix", runtime)

    def runtime_dir(self, runtime: str) -> str:
        return os.path.join(self.root, "runtimes", runtime)


def staged_runtime(spec: FunctionSpec) -> str | None:
    """The name under which a runtime's /var/runtime is staged (None: it has none)."""
    if spec.runtime in PYTHON_RUNTIMES:
        return f"python{PYTHON_RUNTIMES[spec.runtime]}"
    if spec.runtime.startswith("nodejs"):
        return "node"
    return None


def command(*, bwrap: str, nsenter: str, host_uid: int, platform_pid: int, staging_mnt_fd: int, slot: Slot,
            staged: StagedPaths, spec: FunctionSpec, runtime: RuntimeInfo) -> list[str]:
    """Everything between the prologue and the runtime's own argv."""
    if slot.netns is None:
        raise ValueError("a sandboxed slot has a network namespace")
    argv = [nsenter, f"--net=/proc/{platform_pid}/fd/{slot.netns}", f"--mount=/proc/{platform_pid}/fd/{staging_mnt_fd}",
            "--setuid", str(host_uid), "--setgid", str(host_uid), "--",
            bwrap, "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "localhost",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for entry in ETC_ENTRIES:
        if os.path.lexists(f"/etc/{entry}"):
            argv += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    for name in (*GENERATED_ETC, "resolv.conf"):
        argv += ["--ro-bind", staged.etc(name), f"/etc/{name}"]
    if spec.runtime in PYTHON_RUNTIMES and runtime.executable:
        prefix = python_prefix(runtime.executable)
        if not prefix.startswith("/usr/"):
            argv += ["--ro-bind", staged.prefix(spec.runtime), prefix]
    staged_dir = staged_runtime(spec)
    if staged_dir:
        argv += ["--ro-bind", staged.runtime_dir(staged_dir), RUNTIME_DIR]
    argv += ["--ro-bind", slot.code_dir, TASK_ROOT, "--bind", slot.tmp_dir, "/tmp",
             # Read-only everywhere but /tmp, as on Lambda (EROFS); /dev's nodes stay writable.
             "--remount-ro", "/", "--remount-ro", "/dev",
             "--chdir", TASK_ROOT, "--seccomp", str(SECCOMP_FD), "--"]
    return argv
