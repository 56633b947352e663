"""The sandbox one pool runs its environments in: a ``Sandbox`` backend (bwrap, the default, or gVisor)
or ``Unsandboxed`` (``LAMBDA_SANDBOX=off``, said loudly at every start).

Both hand out slots (``slots.py``) and launch plans; the environment does not know which one it has.
``Sandbox`` checks what it needs when it is made and raises ``SandboxUnavailable`` with the reason
when something is missing: the pool then refuses to run functions rather than run them unprotected.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from invocations.engine.interpreters import (
    NODE_BOOTSTRAP_DIR,
    PYTHON_LAUNCHER_DIR,
    PYTHON_RUNTIMES,
    python_prefix,
    python_runtime_dir,
)
from invocations.engine.limits import EnvironmentGroups
from invocations.engine.sandbox import forward
from invocations.engine.sandbox.egress import (
    EgressError,
    EgressPolicy,
    Listener,
    host_addresses,
    internal_services,
    listening_ports,
    parse_policy,
    read_proc,
)
from invocations.engine.sandbox.launch import (
    RUNTIME_DIR,
    TASK_ROOT,
    LaunchPlan,
    Layout,
    address_space_limit,
    lambda_environment,
    prologue,
    runtime_argv,
    runtime_dir_for,
)
from invocations.engine.sandbox.slots import Slot, SlotFactory
from invocations.engine.sandbox.staging import Staging
from invocations.engine.types import FunctionSpec, RuntimeInfo

logger = logging.getLogger(__name__)

DEFAULT_STORAGE_MB = 512
RELAY_REFRESH_S = 1.0
# A spare is rebuilt this long after one is taken, not at once: on two cores, building it while the
# taken one's runtime starts would slow that cold start by the build's CPU (≈ 8 ms, measured).
REFILL_DELAY_S = 0.25


SANDBOX_UID = 993  # sbx_user1051 on Lambda

# World-readable parts of /etc a runtime needs (the loader cache, TLS roots, time zone, name service
# switch). Not all of /etc: it holds /etc/shadow. passwd, group, hosts and resolv.conf are generated.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "host.conf", "nsswitch.conf", "gai.conf", "ssl",
               "ca-certificates", "ca-certificates.conf", "localtime", "alternatives", "os-release",
               "mime.types", "protocols", "services", "pki", "crypto-policies")
GENERATED_ETC = ("passwd", "group", "hosts", "resolv.conf")


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
    """Where the staging area shows each source (see ``Sandbox._binds``)."""

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


class SandboxUnavailable(Exception):
    """The sandbox cannot be built here; the message says why and what to do."""


@dataclass(frozen=True)
class SandboxConfig:
    mode: str = "bwrap"  # "bwrap" | "off"
    host_uid: int = 65993  # the unprivileged host user environments run as
    egress: str = "on"  # LAMBDA_EGRESS: on | off | an allow-list (egress.py)
    internal_endpoints: tuple[tuple[str, int], ...] = ()  # the platform's database, broker, results
    spares: int = 2  # slots kept built ahead of demand
    builders: int = 3  # threads that build and tear down slots


# The Debian package of each tool the sandboxes use, for the message when one is missing.
PACKAGES = {"bwrap": "bubblewrap", "nsenter": "util-linux", "unshare": "util-linux", "mkfs.ext4": "e2fsprogs",
            "slirp4netns": "slirp4netns", "nft": "nftables", "runsc": "runsc"}


def require(program: str) -> str:
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if found is None:
        raise SandboxUnavailable(f"{program} is not installed (make installs it; Debian: apt-get install "
                                 f"{PACKAGES.get(program, program)})")
    return found


_OWNED_BY_PID = re.compile(r"(\d+)-")


def remove_leftovers(work_dir: str) -> list[str]:
    """Remove what nodes that died without cleaning up (SIGKILL, OOM) left in ``work_dir``: every
    entry is named after its process (``<pid>-…``: /tmp images, templates, seccomp programs, gVisor
    bundles); those of live processes — this node's neighbours sharing DATA_DIR — stay."""
    removed: list[str] = []
    try:
        names = os.listdir(work_dir)
    except FileNotFoundError:
        return removed
    for name in names:
        match = _OWNED_BY_PID.match(name)
        if match is None or pid_alive(int(match.group(1))):
            continue
        path = os.path.join(work_dir, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                # Never through a mount point: a bundle whose mounts outlived its node stays.
                if any(os.path.ismount(os.path.join(top, d)) for top, dirs, _ in os.walk(path) for d in dirs):
                    continue
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            continue
        removed.append(name)
    if removed:
        logger.info("removed %d sandbox files left by stopped nodes in %s", len(removed), work_dir)
    return removed


def pid_alive(pid: int) -> bool:
    """A process of this host with that pid exists (another user's too) and still runs.

    A zombie — killed (SIGKILL, OOM) but not yet reaped by its parent — answers ``kill(pid, 0)``
    like a live process, yet it will never finish what it had claimed: it counts as dead. Its
    parent may take any time to reap it (a supervisor busy elsewhere, a test holding the handle),
    and until then the async sweep must be able to requeue its events.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:  # no /proc (not Linux), or the process ended just now
        return False
    # "pid (comm) S …": comm may hold spaces and parentheses, the state follows the last ")".
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state in (b"Z", b"X")


class Sandbox:
    """What every strict backend shares: the checks, the staging area, slots built ahead of demand
    and the relays to the host's loopback. A backend (``bwrap.BwrapSandbox``, ``gvisor.GvisorSandbox``)
    adds how a process is put in a slot: ``_prepare`` (its tools), ``_smoke_test`` and ``launch_plan``."""

    name = ""
    memory_overhead_mb = 0  # added to MemorySize for the environment's memory cgroup (the backend's own)
    code_in_subdirectory = False  # where a slot's code is bound (slots.SlotFactory.attach_code)

    def __init__(self, config: SandboxConfig, *, runtimes: dict[str, RuntimeInfo], runtimes_dir: str,
                 work_dir: str, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self._loop = loop
        self._work_dir = work_dir
        try:
            self.policy = parse_policy(config.egress)
        except EgressError as error:
            raise SandboxUnavailable(str(error)) from None
        self._check_host(config)
        self._nsenter = require("nsenter")
        require("mkfs.ext4")
        slirp = require("slirp4netns") if self.policy.needs_network else None
        nft = require("nft") if self.policy.mode != "off" else None
        remove_leftovers(work_dir)
        self._prepare()
        self._token = uuid.uuid4().hex[:8]
        self.staging = Staging(binds=self._binds(runtimes, runtimes_dir), token=self._token, threads=config.builders,
                               files=generated_files(egress=self.policy.needs_network))
        try:
            self.staging.start()
        except OSError as error:
            raise SandboxUnavailable(f"cannot make the staging mount namespace: {error}") from None
        self.staged = StagedPaths(self.staging.root)
        internal = internal_services(config.internal_endpoints,
                                     host_addresses(read_proc("/proc/net/fib_trie"), read_proc("/proc/net/if_inet6")))
        self._internal_ports = internal.loopback_ports
        self.factory = SlotFactory(work_dir=work_dir, staging_tmp=self.staging.path("tmp"),
                                   staging_lambda=self.staging.path("lambda"),
                                   staging_scratch=self.staging.path("scratch"), host_uid=config.host_uid,
                                   policy=self.policy, internal=internal, nsenter=self._nsenter,
                                   unshare=require("unshare"), nft=nft,
                                   slirp4netns=slirp)
        self._names = itertools.count(1)
        self._spares: deque[Slot] = deque()
        self._spares_building = 0
        self._in_use: set[Slot] = set()
        self._relayed: frozenset[Listener] = self._host_listeners()
        self._closed = False
        self._refresher: asyncio.TimerHandle | None = None
        self._smoke_test()

    # ----- checks ------------------------------------------------------------------------------
    @staticmethod
    def _check_host(config: SandboxConfig) -> None:
        if os.geteuid() != 0:
            raise SandboxUnavailable(
                "the sandbox needs root: it makes a network and a mount namespace per environment and runs "
                "each as an unprivileged user. Start the platform as root, or set LAMBDA_SANDBOX=off to run "
                "functions without isolation (never with code you do not trust)")
        if config.host_uid <= 0:
            raise SandboxUnavailable("LAMBDA_SANDBOX_UID must be an unprivileged uid, not root")
        if read_proc("/proc/sys/user/max_user_namespaces").strip() in ("", "0"):
            raise SandboxUnavailable("user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)")
        if not os.path.exists("/dev/loop-control"):
            raise SandboxUnavailable("no loop devices (/dev/loop-control): /tmp cannot be capped")

    def _prepare(self) -> None:
        """Check and set up what this backend needs (raise SandboxUnavailable)."""
        raise NotImplementedError

    def _smoke_test(self) -> None:
        """Start a trivial sandboxed process the way environments start (raise SandboxUnavailable)."""
        raise NotImplementedError

    def _binds(self, runtimes: dict[str, RuntimeInfo], runtimes_dir: str) -> dict[str, str]:
        binds = {"runtimes/node": str(NODE_BOOTSTRAP_DIR), "runtimes/launcher": str(PYTHON_LAUNCHER_DIR)}
        for name, version in PYTHON_RUNTIMES.items():
            info = runtimes.get(name)
            if info is None or not info.available:
                continue
            binds[f"runtimes/python{version}"] = python_runtime_dir(runtimes_dir, version)
            prefix = python_prefix(info.executable)
            if not prefix.startswith("/usr/"):
                binds[f"prefix/{name}"] = prefix
        return binds

    # ----- slots -------------------------------------------------------------------------------
    async def take(self, storage_mb: int, code_dir: str | None) -> Slot:
        """A slot for a new environment of the code in ``code_dir`` (None: a ready environment, whose
        code comes later through ``attach_code``): a spare when one is ready, else one built now."""
        if storage_mb == DEFAULT_STORAGE_MB and self._spares:
            slot = self._spares.popleft()
        else:
            slot = await asyncio.wrap_future(self._build(storage_mb))
        if code_dir is not None:
            try:
                await self.attach_code(slot, code_dir)
            except BaseException:
                slot.listener.close()
                self.staging.submit(self.factory.teardown, slot)
                raise
        self._in_use.add(slot)
        self._loop.call_later(REFILL_DELAY_S, self._refill)
        await self._serve_relays(slot)
        return slot

    async def attach_code(self, slot: Slot, code_dir: str) -> None:
        await asyncio.wrap_future(self.staging.submit(self.factory.attach_code, slot, code_dir,
                                                      self.code_in_subdirectory))

    def release(self, slot: Slot) -> None:
        """Tear a slot down once its environment is gone (its Runtime API server already closed)."""
        self._in_use.discard(slot)
        for server in slot.servers.values():
            server.close()
        slot.servers.clear()
        if self._closed:  # the staging namespace is going: its mounts go with it
            self.factory.teardown(slot)
        else:
            self.staging.submit(self.factory.teardown, slot)

    def _build(self, storage_mb: int) -> Future[Slot]:
        name = f"{os.getpid()}-{self._token}-{next(self._names)}"
        return self.staging.submit(self.factory.build, name, storage_mb, self._relayed)

    def start(self) -> None:
        """Begin keeping spares and following the host's listening ports (on the pool's loop)."""
        self._refill()
        self._refresher = self._loop.call_later(RELAY_REFRESH_S, self._refresh_relays)

    def _refill(self) -> None:
        while not self._closed and len(self._spares) + self._spares_building < self.config.spares:
            self._spares_building += 1
            self._build(DEFAULT_STORAGE_MB).add_done_callback(
                lambda done: self._loop.call_soon_threadsafe(self._spare_built, done))

    def _spare_built(self, done: Future[Slot]) -> None:
        self._spares_building -= 1
        if done.exception() is not None:
            logger.error("building a sandbox slot failed: %s", done.exception())
            return
        slot = done.result()
        if self._closed:
            slot.listener.close()
            self.staging.submit(self.factory.teardown, slot)
            return
        self._spares.append(slot)

    # ----- relays to the host's loopback ---------------------------------------------------------
    def _host_listeners(self) -> frozenset[Listener]:
        found = listening_ports(read_proc("/proc/self/net/tcp"), read_proc("/proc/self/net/tcp6"))
        return frozenset(l for l in found if self.policy.loopback_port_allowed(l.family, l.port, self._internal_ports))

    async def _serve_relays(self, slot: Slot) -> None:
        missing = self._relayed - slot.relays.keys() - slot.servers.keys()
        if missing:  # ports that appeared while the slot was built or kept
            slot.relays.update(await asyncio.wrap_future(self.staging.submit(self.factory.bind_relays, slot, missing)))
        for listener, sock in list(slot.relays.items()):
            slot.servers[listener] = await forward.serve(sock, listener.family, listener.port)
        slot.relays.clear()

    def _refresh_relays(self) -> None:
        if self._closed:
            return
        current = self._host_listeners()
        gone, new = self._relayed - current, current - self._relayed
        self._relayed = current
        for slot in [*self._in_use, *self._spares]:
            for listener in gone:
                server = slot.servers.pop(listener, None)
                if server is not None:
                    server.close()
                sock = slot.relays.pop(listener, None)
                if sock is not None:
                    sock.close()
            if new:
                future = self.staging.submit(self.factory.bind_relays, slot, new)
                future.add_done_callback(functools.partial(self._relays_bound_threadsafe, slot))
        self._refresher = self._loop.call_later(RELAY_REFRESH_S, self._refresh_relays)

    def _relays_bound_threadsafe(self, slot: Slot, done: Future[dict[Listener, socket.socket]]) -> None:
        self._loop.call_soon_threadsafe(self._relays_bound, slot, done)

    def _relays_bound(self, slot: Slot, done: Future[dict[Listener, socket.socket]]) -> None:
        if done.exception() is not None:
            return
        bound = done.result()
        if slot in self._in_use:
            for listener, sock in bound.items():
                self._loop.create_task(self._serve_one(slot, listener, sock))
        elif slot in self._spares:
            slot.relays.update(bound)
        else:  # released meanwhile
            for sock in bound.values():
                sock.close()

    async def _serve_one(self, slot: Slot, listener: Listener, sock: socket.socket) -> None:
        slot.servers[listener] = await forward.serve(sock, listener.family, listener.port)

    # ----- launching ------------------------------------------------------------------------------
    def launch_plan(self, *, spec: FunctionSpec, runtime: RuntimeInfo, slot: Slot, groups: EnvironmentGroups,
                    log_stream: str, ready: bool = False) -> LaunchPlan:
        """How to start an environment's process; ``ready``: its launcher, not yet its function."""
        raise NotImplementedError

    def launch_config(self, *, spec: FunctionSpec, runtime: RuntimeInfo, slot: Slot, log_stream: str) -> dict[str, Any]:
        """What a ready environment's launcher gets when it is claimed for ``spec``."""
        layout = Layout(TASK_ROOT, RUNTIME_DIR, "/tmp")
        return {"environment": lambda_environment(spec, runtime, slot.api_address, layout, log_stream),
                "handler": spec.handler, "task_root": TASK_ROOT}

    @staticmethod
    def ready_runtime(runtime: str) -> bool:
        """Whether environments of this runtime can be started ahead of their function."""
        return runtime in PYTHON_RUNTIMES

    def stats(self) -> dict[str, Any]:
        return {"sandbox": self.name, "egress": self.policy.mode, "spare_slots": len(self._spares),
                "relayed_ports": sorted(l.port for l in self._relayed)}

    def close(self) -> None:
        """Tear down spares and stop the builders (environments are gone by now)."""
        self._closed = True
        if self._refresher is not None:
            self._refresher.cancel()
        while self._spares:
            slot = self._spares.popleft()
            slot.listener.close()
            self.staging.submit(self.factory.teardown, slot)
        self.staging.close()
        self.factory.close()


class Unsandboxed:
    """``LAMBDA_SANDBOX=off``: the runtime is a plain subprocess of the platform's user, in its code
    directory, with a private temporary directory as /tmp and the Runtime API on a host port."""

    name = "off"
    memory_overhead_mb = 0

    def __init__(self, *, runtimes_dir: str, work_dir: str) -> None:
        self._runtimes_dir = runtimes_dir
        self._work_dir = work_dir
        logger.warning("LAMBDA_SANDBOX=off: functions run as plain subprocesses of the platform's user, "
                       "with its privileges and its network. Never use it with code you do not trust.")

    def start(self) -> None:
        pass

    async def take(self, storage_mb: int, code_dir: str | None) -> Slot:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        tmp_dir = tempfile.mkdtemp(prefix="env-", dir=self._work_dir)
        return Slot(f"unsandboxed-{port}", storage_mb, listener, f"127.0.0.1:{port}", tmp_dir)

    def release(self, slot: Slot) -> None:
        shutil.rmtree(slot.tmp_dir, ignore_errors=True)

    async def attach_code(self, slot: Slot, code_dir: str) -> None:
        raise RuntimeError("unsandboxed environments are never started ahead of their function")

    def launch_config(self, *, spec: FunctionSpec, runtime: RuntimeInfo, slot: Slot, log_stream: str) -> dict[str, Any]:
        raise RuntimeError("unsandboxed environments are never started ahead of their function")

    @staticmethod
    def ready_runtime(runtime: str) -> bool:
        return False

    def launch_plan(self, *, spec: FunctionSpec, runtime: RuntimeInfo, slot: Slot, groups: EnvironmentGroups,
                    log_stream: str, ready: bool = False) -> LaunchPlan:
        runtime_dir = runtime_dir_for(spec, self._runtimes_dir)
        layout = Layout(spec.code_dir, runtime_dir or spec.code_dir, slot.tmp_dir)
        env = lambda_environment(spec, runtime, slot.api_address, layout, log_stream)
        argv = (prologue(groups, spec, address_space=address_space_limit(spec, groups), seccomp=None)
                + runtime_argv(spec, runtime, layout))
        return LaunchPlan(argv, env, spec.code_dir)

    def stats(self) -> dict[str, Any]:
        return {"sandbox": self.name, "egress": "host", "spare_slots": 0, "relayed_ports": []}

    def close(self) -> None:
        pass
