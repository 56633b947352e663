"""What an environment's process is started with, whatever sandbox holds it.

The process gets exactly Lambda's environment variables (spec §9.6) plus the function's own; none
of the platform's (no DJANGO_*, SECRET_KEY, DATABASE_URL, CELERY_*, HOME…). Its command line is the
runtime's (awslambdaric, the Node.js bootstrap, or ``/var/task/bootstrap``) behind a tiny shell
prologue that puts it in its cgroups with its rlimits; the sandbox backends (``bwrap.py``, ``host.py``)
put their own launcher between the two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from invocations.engine.interpreters import NODE_BOOTSTRAP_DIR, PYTHON_RUNTIMES, python_runtime_dir
from invocations.engine.limits import NOFILE, EnvironmentGroups
from invocations.engine.types import FunctionSpec, RuntimeInfo

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
LAUNCHER_DIR = "/var/rapid"  # a ready environment's launcher (runtimes/python/launcher.py)
LAMBDA_DIR = "/var/lambda"  # a ready environment's view of its slot: task/ appears there when claimed

# Reserved variables a function cannot override (Lambda rejects them in Environment).
RESERVED = {"_HANDLER", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_MAX_CONCURRENCY"}

# A tiny POSIX-sh prologue, run as the platform's user before exec'ing the sandbox: joins the
# environment's cgroups and sets rlimits race-free (a preexec_fn would force fork() in a
# multi-threaded parent), and opens the seccomp program on fd 3 for bwrap (read here, as root, so
# that the program's file stays private). Arguments: cgroup.procs files, "--", then RLIMIT_NOFILE,
# RLIMIT_FSIZE (512-byte blocks, POSIX), RLIMIT_AS (KiB or "unlimited"), the seccomp program's path
# or "-", then the command.
PROLOGUE = ('while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; '
            'ulimit -n "$1"; ulimit -f "$2"; ulimit -v "$3"; [ "$4" = - ] || exec 3<"$4" || exit 126; '
            'shift 4; exec "$@"')
SECCOMP_FD = 3
MB = 1024 * 1024


@dataclass(frozen=True)
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]
    cwd: str


@dataclass(frozen=True)
class Layout:
    """Where the runtime sees its paths: Lambda's (under bwrap) or the real ones."""

    task_root: str
    runtime_dir: str
    tmp_dir: str


def runtime_dir_for(spec: FunctionSpec, runtimes_dir: str) -> str | None:
    if spec.runtime in PYTHON_RUNTIMES:
        return python_runtime_dir(runtimes_dir, PYTHON_RUNTIMES[spec.runtime])
    if spec.runtime.startswith("nodejs"):
        return str(NODE_BOOTSTRAP_DIR)
    return None


def lambda_environment(spec: FunctionSpec, runtime: RuntimeInfo, api_address: str, layout: Layout,
                       log_stream: str) -> dict[str, str]:
    interpreter_bin = os.path.dirname(runtime.executable) if runtime.executable else ""
    interpreter_lib = os.path.join(os.path.dirname(interpreter_bin), "lib") if interpreter_bin else ""
    path = ":".join(p for p in ["/var/lang/bin", "/usr/local/bin", "/usr/bin/", "/bin", "/opt/bin", interpreter_bin] if p)
    ld_path = ":".join(p for p in ["/var/lang/lib", "/lib64", "/usr/lib64", layout.runtime_dir,
                                   f"{layout.runtime_dir}/lib", layout.task_root, f"{layout.task_root}/lib",
                                   "/opt/lib", interpreter_lib] if p)
    env = {
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": layout.task_root,
        "LAMBDA_RUNTIME_DIR": layout.runtime_dir,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group or f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_LOG_FORMAT": spec.log_format,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": path,
        "LD_LIBRARY_PATH": ld_path,
    }
    if not spec.runtime.startswith("provided"):
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    if spec.runtime in PYTHON_RUNTIMES:
        env["PYTHONPATH"] = layout.runtime_dir  # as on Lambda; the task root comes from the cwd (-m)
    if spec.runtime.startswith("nodejs"):
        env["NODE_PATH"] = f"{layout.runtime_dir}/node_modules:{layout.runtime_dir}:{layout.task_root}"
    if layout.tmp_dir != "/tmp":
        env["TMPDIR"] = layout.tmp_dir
    for name, value in spec.environment:
        # Lambda drops customer variables starting with "_" and refuses reserved ones (spec §9.6).
        if name.startswith("_") or name in RESERVED:
            continue
        env[name] = value
    return env


def runtime_argv(spec: FunctionSpec, runtime: RuntimeInfo, layout: Layout) -> list[str]:
    if spec.runtime in PYTHON_RUNTIMES:
        # -S: the interpreter's own site-packages (boto3, moto, awscli… on this node) stay off
        # sys.path, which is then /var/task, /var/runtime, stdlib — as on Lambda.
        return [runtime.executable, "-S", "-m", "awslambdaric", spec.handler]
    if spec.runtime.startswith("nodejs"):
        return [runtime.executable, f"{layout.runtime_dir}/bootstrap.js"]
    return [f"{layout.task_root}/bootstrap"]


def prologue(groups: EnvironmentGroups, spec: FunctionSpec, *, address_space: str, seccomp: str | None,
             limit_files: bool = True) -> list[str]:
    """The shell prologue's argv; the launcher and the runtime's command follow it. A single file
    may fill all of /tmp (RLIMIT_FSIZE = EphemeralStorage), as on Lambda. Without ``limit_files``
    the limits are the launcher's to set (gVisor's Sentry needs huge files of its own)."""
    file_size = str(spec.ephemeral_storage_mb * MB // 512) if limit_files else "unlimited"
    return ["/bin/sh", "-c", PROLOGUE, "sh", *groups.procs_files(), "--", str(NOFILE), file_size, address_space,
            seccomp or "-"]


def address_space_limit(spec: FunctionSpec, groups: EnvironmentGroups) -> str:
    """RLIMIT_AS in KiB, only where no memory cgroup caps the environment (Python only: V8
    reserves far more address space than it uses). The interpreter maps ~100 MB more than it touches."""
    if groups.memory is None and spec.runtime in PYTHON_RUNTIMES:
        return str((spec.memory_mb + 128) * 1024)
    return "unlimited"


def launcher_argv(runtime: RuntimeInfo) -> list[str]:
    """A ready environment's command: the launcher, which imports the runtime client and waits."""
    return [runtime.executable, "-S", f"{LAUNCHER_DIR}/launcher.py"]


def launcher_environment(runtime: RuntimeInfo, api_address: str) -> dict[str, str]:
    """What the launcher starts with; the function's variables replace it at claim."""
    interpreter_bin = os.path.dirname(runtime.executable)
    return {"AWS_LAMBDA_RUNTIME_API": api_address, "PYTHONPATH": RUNTIME_DIR, "LANG": "en_US.UTF-8", "TZ": ":UTC",
            "PATH": f"/usr/local/bin:/usr/bin/:/bin:{interpreter_bin}"}
