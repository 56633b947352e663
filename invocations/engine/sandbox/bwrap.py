"""The default backend: nsenter into the slot, drop to the sandbox user, bwrap.

    sh prologue (root: cgroups, rlimits, seccomp program on fd 3)
      → nsenter --net=<slot's namespace> --mount=<staging namespace> --setuid H --setgid H
      → bwrap --unshare-user --uid 993 … --seccomp 3 → the runtime

Inside, the runtime is uid 993 (Lambda's ``sbx_user1051``) in its own user, PID, IPC, UTS and
cgroup namespaces, with no capabilities, ``no_new_privs``, the seccomp filter, no way to make user
namespaces; on the host it is the unprivileged uid H, which owns nothing but its own ``/tmp``. It
sees a read-only root made of ``/usr``, a few ``/etc`` files, the interpreter, ``/var/runtime`` and
``/var/task``, plus its ``/tmp`` (the slot's ext4 file system), its ``/proc`` and a minimal ``/dev``.
``host.Sandbox`` owns the namespaces and files this command line names.
"""

from __future__ import annotations

import os
import subprocess

from invocations.engine.interpreters import PYTHON_RUNTIMES, python_prefix
from invocations.engine.limits import EnvironmentGroups
from invocations.engine.sandbox import seccomp
from invocations.engine.sandbox.host import (
    ETC_ENTRIES,
    GENERATED_ETC,
    SANDBOX_UID,
    Sandbox,
    SandboxUnavailable,
    StagedPaths,
    require,
    staged_runtime,
)
from invocations.engine.sandbox.launch import (
    LAUNCHER_DIR,
    RUNTIME_DIR,
    SECCOMP_FD,
    TASK_ROOT,
    LaunchPlan,
    Layout,
    address_space_limit,
    lambda_environment,
    launcher_argv,
    launcher_environment,
    prologue,
    runtime_argv,
)
from invocations.engine.sandbox.slots import Slot
from invocations.engine.types import FunctionSpec, RuntimeInfo

def command(*, bwrap: str, nsenter: str, host_uid: int, platform_pid: int, staging_mnt_fd: int, slot: Slot,
            staged: StagedPaths, spec: FunctionSpec, runtime: RuntimeInfo, ready: bool = False) -> list[str]:
    """Everything between the prologue and the runtime's own argv. A ready environment's /var/task is
    its slot's (still empty) code directory: the code is mounted there at claim, and the mount
    propagates into the sandbox (the staging area's code directories are a shared mount)."""
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
    for name in GENERATED_ETC:
        argv += ["--ro-bind", staged.etc(name), f"/etc/{name}"]
    if spec.runtime in PYTHON_RUNTIMES and runtime.executable:
        prefix = python_prefix(runtime.executable)
        if not prefix.startswith("/usr/"):
            argv += ["--ro-bind", staged.prefix(spec.runtime), prefix]
    staged_dir = staged_runtime(spec)
    if staged_dir:
        argv += ["--ro-bind", staged.runtime_dir(staged_dir), RUNTIME_DIR]
    argv += ["--ro-bind", slot.code_dir or slot.lambda_dir, TASK_ROOT]
    if ready:
        argv += ["--ro-bind", staged.runtime_dir("launcher"), LAUNCHER_DIR]
    argv += ["--bind", slot.tmp_dir, "/tmp",
             # Read-only everywhere but /tmp, as on Lambda (EROFS); /dev's nodes stay writable.
             "--remount-ro", "/", "--remount-ro", "/dev",
             "--chdir", "/" if ready else TASK_ROOT, "--seccomp", str(SECCOMP_FD), "--"]
    return argv


class BwrapSandbox(Sandbox):
    name = "bwrap"

    def _prepare(self) -> None:
        self._bwrap = require("bwrap")
        try:
            program = seccomp.program()
        except (ImportError, OSError, RuntimeError) as error:
            raise SandboxUnavailable(f"cannot build the seccomp filter (libseccomp2, pyseccomp): {error}") from None
        self._seccomp_path = os.path.join(self._work_dir, f"{os.getpid()}-seccomp.bpf")
        fd = os.open(self._seccomp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(program)

    def _smoke_test(self) -> None:
        """Run ``true`` the way an environment runs, without a slot: proves that this kernel lets the
        sandbox user make its user namespace and that bwrap accepts the seccomp program."""
        argv = ["/bin/sh", "-c", 'exec 3<"$0" && exec "$@"', self._seccomp_path,
                self._nsenter, f"--mount=/proc/self/fd/{self.staging.mnt_fd}", "--setuid", str(self.config.host_uid),
                "--setgid", str(self.config.host_uid), "--", self._bwrap, "--unshare-user", "--uid", str(SANDBOX_UID),
                "--disable-userns", "--unshare-pid", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr",
                "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--seccomp", "3", "--", "/usr/bin/true"]
        result = subprocess.run(argv, pass_fds=(self.staging.mnt_fd,), capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=30)
        if result.returncode != 0:
            self.close()
            raise SandboxUnavailable(f"a test sandbox failed to start: {result.stderr.strip() or result.returncode}")

    def launch_plan(self, *, spec: FunctionSpec, runtime: RuntimeInfo, slot: Slot, groups: EnvironmentGroups,
                    log_stream: str, ready: bool = False) -> LaunchPlan:
        layout = Layout(TASK_ROOT, RUNTIME_DIR, "/tmp")
        if ready:
            env, command_argv = launcher_environment(runtime, slot.api_address), launcher_argv(runtime)
        else:
            env, command_argv = lambda_environment(spec, runtime, slot.api_address, layout, log_stream), runtime_argv(spec, runtime, layout)
        argv = (prologue(groups, spec, address_space=address_space_limit(spec, groups), seccomp=self._seccomp_path)
                + command(bwrap=self._bwrap, nsenter=self._nsenter, host_uid=self.config.host_uid,
                          platform_pid=os.getpid(), staging_mnt_fd=self.staging.mnt_fd, slot=slot,
                          staged=self.staged, spec=spec, runtime=runtime, ready=ready)
                + command_argv)
        return LaunchPlan(argv, env, "/")

    def close(self) -> None:
        super().close()
        try:
            os.unlink(self._seccomp_path)
        except FileNotFoundError:
            pass
