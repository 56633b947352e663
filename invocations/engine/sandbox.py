"""Launching one OS process per execution environment.

With bwrap the runtime sees a read-only view of only what it needs, laid out like Lambda's
(/var/task = code, read-only; /var/runtime = runtime client; /tmp = its own writable dir) and
nothing of the platform (/work, the database, /root beyond the interpreter prefix). Without bwrap
it is a plain subprocess in the code directory, with a warning logged at start-up.

The process gets exactly Lambda's environment variables (spec §9.6) plus the function's own; none
of the platform's (no DJANGO_*, SECRET_KEY, DATABASE_URL, CELERY_*, HOME…).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from invocations.engine.interpreters import NODE_BOOTSTRAP_DIR, PYTHON_RUNTIMES, python_prefix, python_runtime_dir
from invocations.engine.limits import FSIZE_BYTES, NOFILE, EnvironmentGroups
from invocations.engine.types import FunctionSpec, RuntimeInfo

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"

# The parts of /etc a runtime needs (name resolution, TLS roots, users, time zone, the loader
# cache). Not all of /etc: it holds /etc/shadow, readable by root.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "resolv.conf", "hosts", "host.conf",
               "nsswitch.conf", "gai.conf", "passwd", "group", "ssl", "ca-certificates",
               "ca-certificates.conf", "localtime", "alternatives", "os-release", "mime.types",
               "protocols", "services", "pki", "crypto-policies")

# Reserved variables a function cannot override (Lambda rejects them in Environment).
RESERVED = {"_HANDLER", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_MAX_CONCURRENCY"}

# A tiny POSIX-sh prologue, run before exec'ing the sandbox: joins the environment's cgroups and
# sets rlimits race-free (a preexec_fn would force fork() in a multi-threaded parent). Arguments:
# cgroup.procs files, "--", then RLIMIT_NOFILE, RLIMIT_FSIZE (512-byte blocks, POSIX), RLIMIT_AS
# (KiB or "unlimited"), then the command.
PROLOGUE = ('while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; '
            'ulimit -n "$1"; ulimit -f "$2"; ulimit -v "$3"; shift 3; exec "$@"')


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


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def runtime_dir_for(spec: FunctionSpec, runtimes_dir: str) -> str | None:
    if spec.runtime in PYTHON_RUNTIMES:
        return python_runtime_dir(runtimes_dir, PYTHON_RUNTIMES[spec.runtime])
    if spec.runtime.startswith("nodejs"):
        return str(NODE_BOOTSTRAP_DIR)
    return None


def log_stream_name(spec: FunctionSpec, env_id: str) -> str:
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{spec.version}]{env_id}"


def lambda_environment(spec: FunctionSpec, runtime: RuntimeInfo, api_address: str, layout: Layout,
                       env_id: str) -> dict[str, str]:
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
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(spec, env_id),
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


def bwrap_argv(bwrap: str, spec: FunctionSpec, runtime: RuntimeInfo, runtime_dir: str | None,
               tmp_dir: str) -> list[str]:
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--hostname", "localhost", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/var"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for entry in ETC_ENTRIES:
        if os.path.lexists(f"/etc/{entry}"):
            argv += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    if runtime.executable:
        prefix = python_prefix(runtime.executable) if spec.runtime in PYTHON_RUNTIMES else ""
        if prefix and not prefix.startswith("/usr"):
            argv += ["--ro-bind", prefix, prefix]
    if runtime_dir:
        argv += ["--ro-bind", runtime_dir, RUNTIME_DIR]
    argv += ["--ro-bind", spec.code_dir, TASK_ROOT, "--bind", tmp_dir, "/tmp", "--chdir", TASK_ROOT, "--"]
    return argv


def launch_plan(*, spec: FunctionSpec, runtime: RuntimeInfo, runtimes_dir: str, api_address: str,
                tmp_dir: str, env_id: str, bwrap: str | None, groups: EnvironmentGroups) -> LaunchPlan:
    runtime_dir = runtime_dir_for(spec, runtimes_dir)
    if bwrap:
        layout = Layout(TASK_ROOT, RUNTIME_DIR, "/tmp")
        command = bwrap_argv(bwrap, spec, runtime, runtime_dir, tmp_dir) + runtime_argv(spec, runtime, layout)
    else:
        layout = Layout(spec.code_dir, runtime_dir or spec.code_dir, tmp_dir)
        command = runtime_argv(spec, runtime, layout)
    env = lambda_environment(spec, runtime, api_address, layout, env_id)
    address_space = "unlimited"
    if groups.memory is None and spec.runtime in PYTHON_RUNTIMES:
        # Fallback cap: the interpreter maps ~100 MB more than it touches.
        address_space = str((spec.memory_mb + 128) * 1024)
    argv = ["/bin/sh", "-c", PROLOGUE, "sh", *groups.procs_files(), "--",
            str(NOFILE), str(FSIZE_BYTES // 512), address_space, *command]
    return LaunchPlan(argv, env, spec.code_dir)
