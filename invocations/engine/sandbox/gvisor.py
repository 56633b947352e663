"""The strict backend (``LAMBDA_SANDBOX=gvisor``): every environment in a gVisor sandbox of its own.

Namespaces, an unprivileged user and seccomp (``bwrap.py``) leave the host kernel as the surface a
function talks to. gVisor puts a second kernel in between — its Sentry, a user-space kernel in Go —
so a kernel bug is no longer a way out, as Firecracker is for Lambda. The slot (network namespace,
Runtime API at 127.0.0.1:9001, relays, egress rules, ext4 /tmp) is the same as bwrap's:

    sh prologue (root: cgroups, rlimits)
      → nsenter --net=<slot's namespace> --mount=<staging namespace>
      → runsc --network=host --oci-seccomp run --bundle <this environment's OCI bundle>

``runsc`` runs as root, as Docker runs it: its Sentry drops to an unprivileged user in an empty user
namespace under its own seccomp filter, and its Gofer, which serves the files, runs chrooted with few
capabilities. (Rootless ``runsc`` would make every host file the function creates belong to the
runsc user, which gVisor's Gofer then cannot hand to uid 993 — files in /tmp fail with EINVAL — so
the function would have to be root inside the sandbox.) Inside, the function is uid 993 with no
capabilities, ``no_new_privs``, a read-only root, and the same seccomp table as under bwrap (as an
OCI profile, applied by gVisor). ``--network=host`` means gVisor's own sockets are the namespace's:
the function reaches exactly what the slot allows, through the same nftables table and relays.

The memory cgroup is MemorySize plus ``GVISOR_OVERHEAD_MB`` for the Sentry and Gofer themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from invocations.engine.interpreters import PYTHON_RUNTIMES, python_prefix
from invocations.engine.limits import NOFILE, EnvironmentGroups
from invocations.engine.sandbox import seccomp
from invocations.engine.sandbox.host import (
    ETC_ENTRIES,
    GENERATED_ETC,
    SANDBOX_UID,
    Sandbox,
    SandboxUnavailable,
    require,
    staged_runtime,
)
from invocations.engine.sandbox.launch import (
    LAMBDA_DIR,
    LAUNCHER_DIR,
    MB,
    RUNTIME_DIR,
    TASK_ROOT,
    LaunchPlan,
    Layout,
    lambda_environment,
    launcher_argv,
    launcher_environment,
    prologue,
    runtime_argv,
)
from invocations.engine.sandbox.slots import Slot
from invocations.engine.types import FunctionSpec, RuntimeInfo

GVISOR_OVERHEAD_MB = 64  # measured: an idle Sentry and Gofer hold ≈ 30–40 MB
TOP_LEVEL = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
RUNSC_FLAGS = ("--ignore-cgroups", "--oci-seccomp")  # cgroups are the prologue's, as for bwrap


class GvisorSandbox(Sandbox):
    name = "gvisor"
    memory_overhead_mb = GVISOR_OVERHEAD_MB
    code_in_subdirectory = True  # /var/task is a link to /var/lambda/task in a ready environment

    def _prepare(self) -> None:
        self._runsc = require("runsc")
        self._profile = seccomp.oci_profile()
        self._bundles = os.path.join(self._work_dir, f"{os.getpid()}-gvisor")
        os.makedirs(self._bundles, mode=0o700, exist_ok=True)

    def _smoke_test(self) -> None:
        """Start ``true`` in a gVisor sandbox: proves that runsc works on this kernel and accepts
        our seccomp profile and mounts."""
        spec = self._oci(args=["/usr/bin/true"], env={"PATH": "/usr/bin:/bin"}, cwd="/", mounts=[])
        bundle = self._write_bundle("smoke", spec)
        argv = [self._nsenter, f"--mount=/proc/self/fd/{self.staging.mnt_fd}", "--", self._runsc,
                "--root", os.path.join(bundle, "state"), "--network=none", *RUNSC_FLAGS,
                "run", "--bundle", bundle, f"smoke-{self._token}"]
        try:
            result = subprocess.run(argv, pass_fds=(self.staging.mnt_fd,), capture_output=True, text=True,
                                    stdin=subprocess.DEVNULL, timeout=60)
        finally:
            shutil.rmtree(bundle, ignore_errors=True)
        if result.returncode != 0:
            self.close()
            raise SandboxUnavailable(f"runsc could not start a test sandbox: {result.stderr.strip()[-500:] or result.returncode}")

    # ----- launching ------------------------------------------------------------------------------
    def launch_plan(self, *, spec: FunctionSpec, runtime: RuntimeInfo, slot: Slot, groups: EnvironmentGroups,
                    log_stream: str, ready: bool = False) -> LaunchPlan:
        if slot.netns is None:
            raise ValueError("a sandboxed slot has a network namespace")
        layout = Layout(TASK_ROOT, RUNTIME_DIR, "/tmp")
        mounts = self._function_mounts(spec, runtime, slot, ready=ready)
        if ready:
            config = self._oci(args=launcher_argv(runtime), env=launcher_environment(runtime, slot.api_address),
                               cwd="/", mounts=mounts, fsize=spec.ephemeral_storage_mb * MB)
        else:
            config = self._oci(args=runtime_argv(spec, runtime, layout),
                               env=lambda_environment(spec, runtime, slot.api_address, layout, log_stream),
                               cwd=TASK_ROOT, mounts=mounts, fsize=spec.ephemeral_storage_mb * MB)
        bundle = self._write_bundle(slot.name, config, task_link=ready)
        pid = os.getpid()
        argv = (prologue(groups, spec, address_space="unlimited", seccomp=None, limit_files=False)
                + [self._nsenter, f"--net=/proc/{pid}/fd/{slot.netns}", f"--mount=/proc/{pid}/fd/{self.staging.mnt_fd}",
                   "--", self._runsc, "--root", os.path.join(bundle, "state"), "--network=host", *RUNSC_FLAGS,
                   "run", "--bundle", bundle, slot.name])
        return LaunchPlan(argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, "/")

    def release(self, slot: Slot) -> None:
        super().release(slot)
        shutil.rmtree(os.path.join(self._bundles, slot.name), ignore_errors=True)

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._bundles, ignore_errors=True)

    # ----- the OCI bundle -----------------------------------------------------------------------
    def _function_mounts(self, spec: FunctionSpec, runtime: RuntimeInfo, slot: Slot, *, ready: bool) -> list[dict[str, Any]]:
        """A ready environment sees its slot's code directory at /var/lambda (the code appears in its
        task/ at claim, through the staging area's shared mount) and /var/task is a link to it."""
        mounts = [_bind(self.staged.etc(name), f"/etc/{name}") for name in GENERATED_ETC]
        if spec.runtime in PYTHON_RUNTIMES and runtime.executable:
            prefix = python_prefix(runtime.executable)
            if not prefix.startswith("/usr/"):
                mounts.append(_bind(self.staged.prefix(spec.runtime), prefix))
        staged_dir = staged_runtime(spec)
        if staged_dir:
            mounts.append(_bind(self.staged.runtime_dir(staged_dir), RUNTIME_DIR))
        if ready:
            mounts += [_bind(slot.lambda_dir, LAMBDA_DIR), _bind(self.staged.runtime_dir("launcher"), LAUNCHER_DIR)]
        else:
            mounts.append(_bind(slot.code_dir, TASK_ROOT))
        mounts.append(_bind(slot.tmp_dir, "/tmp", read_only=False))
        return mounts

    def _oci(self, *, args: list[str], env: dict[str, str], cwd: str, mounts: list[dict[str, Any]],
             fsize: int = 512 * MB) -> dict[str, Any]:
        system = [{"destination": "/proc", "type": "proc", "source": "proc"}]
        system += [_bind(top, top) for top in TOP_LEVEL if os.path.isdir(top) and not os.path.islink(top)]
        system += [_bind(f"/etc/{entry}", f"/etc/{entry}") for entry in ETC_ENTRIES
                   if os.path.exists(f"/etc/{entry}") and entry not in GENERATED_ETC]
        return {
            "ociVersion": "1.0.2",
            "process": {
                "terminal": False,
                "user": {"uid": SANDBOX_UID, "gid": SANDBOX_UID},
                "args": args,
                "env": [f"{name}={value}" for name, value in env.items()],
                "cwd": cwd,
                "noNewPrivileges": True,
                "capabilities": {kind: [] for kind in ("bounding", "effective", "inheritable", "permitted", "ambient")},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": NOFILE, "soft": NOFILE},
                            {"type": "RLIMIT_FSIZE", "hard": fsize, "soft": fsize}],
            },
            "root": {"path": "rootfs", "readonly": True},
            "hostname": "localhost",
            "mounts": system + mounts,
            "linux": {
                "namespaces": [{"type": kind} for kind in ("pid", "ipc", "uts", "mount")],
                "seccomp": self._profile,
            },
        }

    def _write_bundle(self, name: str, config: dict[str, Any], *, task_link: bool = False) -> str:
        """The bundle directory: config.json and a root with the mount points and the symlinks
        (/bin → usr/bin …) the host has, like bwrap's --symlink."""
        bundle = os.path.join(self._bundles, name)
        rootfs = os.path.join(bundle, "rootfs")
        os.makedirs(rootfs, mode=0o755)
        os.mkdir(os.path.join(bundle, "state"), 0o700)
        for top in TOP_LEVEL:
            if os.path.islink(top):
                os.symlink(os.readlink(top), rootfs + top)
        if task_link:
            os.makedirs(os.path.dirname(rootfs + TASK_ROOT), mode=0o755, exist_ok=True)
            os.symlink("lambda/task", rootfs + TASK_ROOT)
        for mount in config["mounts"]:
            target = rootfs + mount["destination"]
            if _is_file(mount["destination"]):
                os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
                open(target, "a").close()
            else:
                os.makedirs(target, mode=0o755, exist_ok=True)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(config, f)
        return bundle


def _is_file(destination: str) -> bool:
    """Whether a mount point is a file: the generated /etc files, and the host's /etc files (staged
    sources are not visible from here, outside the staging namespace)."""
    if destination.startswith("/etc/"):
        name = destination[len("/etc/"):]
        return name in GENERATED_ETC or os.path.isfile(destination)
    return False


def _bind(source: str, destination: str, *, read_only: bool = True) -> dict[str, Any]:
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["rbind", "ro" if read_only else "rw", "nosuid", "nodev"]}
