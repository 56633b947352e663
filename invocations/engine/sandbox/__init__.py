"""Sandboxes for execution environments (ARCHITECTURE.md, "Trust boundaries").

``make_sandbox`` picks the backend for ``LAMBDA_SANDBOX``: ``bwrap`` (the default: namespaces, an
unprivileged user, seccomp, egress rules, a capped /tmp — ``bwrap.BwrapSandbox``), ``gvisor`` (the
same slots, with gVisor's user-space kernel between the function and the host's —
``gvisor.GvisorSandbox``) or ``off`` (``host.Unsandboxed``). Imports nothing from Django.
"""

from __future__ import annotations

import asyncio

from invocations.engine.sandbox.bwrap import BwrapSandbox
from invocations.engine.sandbox.gvisor import GvisorSandbox
from invocations.engine.sandbox.host import Sandbox, SandboxConfig, SandboxUnavailable, Unsandboxed
from invocations.engine.sandbox.slots import Slot
from invocations.engine.types import RuntimeInfo

MODES = ("bwrap", "gvisor", "off")

Backend = Sandbox | Unsandboxed


def make_sandbox(config: SandboxConfig, *, runtimes: dict[str, RuntimeInfo], runtimes_dir: str, work_dir: str,
                 loop: asyncio.AbstractEventLoop) -> Backend:
    if config.mode == "off":
        return Unsandboxed(runtimes_dir=runtimes_dir, work_dir=work_dir)
    if config.mode == "bwrap":
        return BwrapSandbox(config, runtimes=runtimes, runtimes_dir=runtimes_dir, work_dir=work_dir, loop=loop)
    if config.mode == "gvisor":
        return GvisorSandbox(config, runtimes=runtimes, runtimes_dir=runtimes_dir, work_dir=work_dir, loop=loop)
    raise SandboxUnavailable(f"LAMBDA_SANDBOX must be one of {', '.join(MODES)}, not {config.mode!r}")


def describe(config: SandboxConfig, *, runtimes: dict[str, RuntimeInfo], runtimes_dir: str, work_dir: str) -> str:
    """One line for start-up: what isolates functions here, or why they will not run."""
    loop = asyncio.new_event_loop()
    try:
        sandbox = make_sandbox(config, runtimes=runtimes, runtimes_dir=runtimes_dir, work_dir=work_dir, loop=loop)
    except SandboxUnavailable as error:
        return f"FUNCTIONS WILL NOT RUN: {error}"
    finally:
        loop.close()
    sandbox.close()
    if isinstance(sandbox, Unsandboxed):
        return "WARNING: LAMBDA_SANDBOX=off: functions run unsandboxed, as this platform's user"
    if isinstance(sandbox, GvisorSandbox):
        return (f"sandbox: gVisor, each environment in a gVisor sandbox of its own (uid 993 inside, no capabilities, "
                f"seccomp), its own network namespace; egress {sandbox.policy.mode}")
    return (f"sandbox: bwrap, each environment as uid {config.host_uid} (993 inside) with no capabilities, "
            f"seccomp, its own network namespace; egress {sandbox.policy.mode}")


__all__ = ["describe", "Backend", "MODES", "Sandbox", "SandboxConfig", "SandboxUnavailable", "Slot", "Unsandboxed", "make_sandbox"]
