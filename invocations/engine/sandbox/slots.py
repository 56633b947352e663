"""Slots: what an environment needs around its process, built ahead of demand.

A slot is a network namespace with its loopback up, the Runtime API's listening socket bound inside
it at ``127.0.0.1:9001``, the relays to the host's loopback services (``forward.py``), the egress
rules and user-mode stack (``egress.py``, slirp4netns), and a ``/tmp`` file system of the function's
``EphemeralStorage`` size: an ext4 image on a loop device, so that ``/tmp`` is capped in total and is
disk, not memory (a tmpfs would be charged to the function's memory cgroup and could not hold
10 GB). None of it depends on the function, so the pool keeps a few slots built (``Sandbox``) and a
cold start takes one instead of paying for it.

Every function here runs on a builder thread (``staging.py``): they switch the calling thread's
network namespace, and the mounts and the processes they start belong in the staging namespace.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from invocations.engine.sandbox import linux
from invocations.engine.sandbox.egress import RUNTIME_API_PORT, EgressPolicy, Internal, Listener, ruleset

if TYPE_CHECKING:
    import asyncio

logger = logging.getLogger(__name__)

MB = 1024 * 1024
EGRESS_READY_TIMEOUT_S = 5.0


@dataclass(eq=False)
class Slot:
    name: str
    storage_mb: int
    listener: socket.socket  # the Runtime API's, listening
    api_address: str  # what AWS_LAMBDA_RUNTIME_API says
    tmp_dir: str  # mounted at /tmp (a staging path when sandboxed, a host directory when not)
    netns: int | None = None
    lambda_dir: str = ""  # staging directory shown at /var/lambda; the code is bound at its task/
    code_dir: str = ""  # the function's code once attached (lambda_dir/task)
    image: str | None = None
    relays: dict[Listener, socket.socket] = field(default_factory=dict)  # listening, not yet served
    servers: dict[Listener, asyncio.AbstractServer] = field(default_factory=dict)  # served (on the loop)
    egress: subprocess.Popen[bytes] | None = None
    egress_exit: int | None = None  # closing it ends slirp4netns


@dataclass
class SlotFactory:
    """What every slot of one pool shares."""

    work_dir: str  # host directory for the /tmp images
    staging_tmp: str  # staging directory under which each slot's /tmp is mounted
    staging_lambda: str  # staging directory (a shared mount) under which each slot's code is bound
    staging_scratch: str  # a private staging directory, where a bind is made read-only before it is moved
    host_uid: int
    policy: EgressPolicy
    internal: Internal
    nsenter: str
    unshare: str
    nft: str | None  # None: no rules (egress off: the namespace has nothing but its loopback)
    slirp4netns: str | None
    _templates: dict[int, str] = field(default_factory=dict)
    _template_lock: threading.Lock = field(default_factory=threading.Lock)
    # slirp4netns processes told to exit, reaped later: one takes 10–20 ms to go (its tap device
    # and mount namespace are torn down as it exits), which a builder thread need not wait for.
    _exiting: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _exiting_lock: threading.Lock = field(default_factory=threading.Lock)

    def build(self, name: str, storage_mb: int, relayed: Iterable[Listener]) -> Slot:
        netns = linux.new_netns()
        slot = None
        try:
            with linux.entered_netns(netns):
                listener = _listen(socket.AF_INET, RUNTIME_API_PORT)
                slot = Slot(name, storage_mb, listener, f"127.0.0.1:{RUNTIME_API_PORT}", "", netns=netns)
                slot.relays = _bind_relays(relayed)
            if self.nft is not None:
                apply_ruleset(nsenter=self.nsenter, nft=self.nft, netns=netns, text=ruleset(self.policy, self.internal))
            if self.policy.needs_network:
                self._start_egress(slot)
            self._mount_tmp(slot)
            slot.lambda_dir = os.path.join(self.staging_lambda, name)
            os.mkdir(slot.lambda_dir, 0o755)
            return slot
        except BaseException:
            if slot is not None:
                slot.listener.close()
                self.teardown(slot)
            else:
                os.close(netns)
            raise

    def attach_code(self, slot: Slot, code_dir: str, in_subdirectory: bool) -> None:
        """Bind the function's code where the sandbox's builder (bwrap as the sandbox user, runsc)
        can reach it — the code itself may sit under a directory only root may enter, like a private
        DATA_DIR — and where a sandbox already running sees it appear (a ready environment): on the
        slot's directory itself (bwrap shows that directory at /var/task, and the mount propagates
        onto it), or on task/ inside it (gVisor's Gofer holds the directory it serves open, so only
        what appears below it is seen)."""
        target = os.path.join(slot.lambda_dir, "task") if in_subdirectory else slot.lambda_dir
        if in_subdirectory:
            os.mkdir(target, 0o755)
        slot.code_dir = target
        # Made read-only in a private place, then moved: a bind propagates as it is made, and the
        # remount that makes it read-only would not follow it into a running sandbox.
        scratch = os.path.join(self.staging_scratch, slot.name)
        os.mkdir(scratch, 0o755)
        try:
            linux.bind_read_only(code_dir, scratch)
            linux.mount(scratch, target, None, linux.MS_MOVE)
        finally:
            os.rmdir(scratch)

    def bind_relays(self, slot: Slot, listeners: Iterable[Listener]) -> dict[Listener, socket.socket]:
        if slot.netns is None:
            return {}
        with linux.entered_netns(slot.netns):
            return _bind_relays(listeners)

    def teardown(self, slot: Slot) -> None:
        """Undo a slot. The Runtime API socket and served relays are the loop's to close."""
        if slot.egress_exit is not None:
            os.close(slot.egress_exit)
            slot.egress_exit = None
        if slot.egress is not None:
            slot.egress.kill()
            with self._exiting_lock:
                self._exiting = [p for p in self._exiting if p.poll() is None] + [slot.egress]
            slot.egress = None
        for sock in slot.relays.values():
            sock.close()
        slot.relays.clear()
        if slot.code_dir and slot.code_dir != slot.lambda_dir:
            _unmount(slot.code_dir)
        for mount_point in (slot.tmp_dir, slot.lambda_dir):
            if mount_point:
                _unmount(mount_point)
        slot.code_dir = slot.tmp_dir = slot.lambda_dir = ""
        if slot.image is not None:
            try:
                os.unlink(slot.image)
            except FileNotFoundError:
                pass
        if slot.netns is not None:
            os.close(slot.netns)
            slot.netns = None

    # ----- egress ------------------------------------------------------------------------------
    def _start_egress(self, slot: Slot) -> None:
        if self.slirp4netns is None or slot.netns is None:
            raise RuntimeError("slirp4netns is needed for egress")
        ready_read, ready_write = os.pipe()
        exit_read, exit_write = os.pipe()
        try:
            # In a mount namespace of its own with private propagation: slirp4netns's own sandbox makes
            # only "/" private before it unmounts the old root, and that unmount would otherwise reach
            # the staging area's shared mounts — the code of running environments.
            slot.egress = subprocess.Popen(
                [self.unshare, "--mount", "--propagation", "private", "--",
                 self.slirp4netns, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
                 "--enable-seccomp", f"--ready-fd={ready_write}", f"--exit-fd={exit_read}",
                 "--netns-type=path", f"/proc/self/fd/{slot.netns}", "tap0"],
                pass_fds=(slot.netns, ready_write, exit_read), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            slot.egress_exit = exit_write
            exit_write = -1
            os.close(ready_write)
            ready_write = -1
            poller = select.poll()  # not select(): fd numbers pass 1023 in a busy platform process
            poller.register(ready_read, select.POLLIN)
            if not poller.poll(EGRESS_READY_TIMEOUT_S * 1000) or not os.read(ready_read, 1):
                raise RuntimeError("slirp4netns did not configure the namespace's network")
        finally:
            for fd in (ready_read, ready_write, exit_read, exit_write):
                if fd >= 0:
                    os.close(fd)

    # ----- /tmp ---------------------------------------------------------------------------------
    def _mount_tmp(self, slot: Slot) -> None:
        image = os.path.join(self.work_dir, f"{slot.name}.img")
        _copy_sparse(self._template(slot.storage_mb), image)
        slot.image = image
        target = os.path.join(self.staging_tmp, slot.name)
        os.mkdir(target, 0o755)
        slot.tmp_dir = target
        linux.mount_loop(image, target, "ext4", linux.MS_NOSUID | linux.MS_NODEV)
        os.rmdir(os.path.join(target, "lost+found"))
        os.chown(target, self.host_uid, self.host_uid)
        os.chmod(target, 0o1777)

    def _template(self, storage_mb: int) -> str:
        """An empty ext4 image of ``storage_mb`` (sparse: a few hundred KB on disk), made once."""
        with self._template_lock:
            path = self._templates.get(storage_mb)
            if path is None:
                path = os.path.join(self.work_dir, f"{os.getpid()}-template-{storage_mb}.img")
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb") as f:
                    f.truncate(storage_mb * MB)
                # No journal (nothing here must survive a crash), no reserved blocks, lazy tables.
                subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal",
                                "-E", "lazy_itable_init=1,nodiscard", "-L", "lambda-tmp", path],
                               check=True, stdin=subprocess.DEVNULL, capture_output=True)
                self._templates[storage_mb] = path
            return path

    def close(self) -> None:
        for process in self._exiting:
            process.wait()
        for path in self._templates.values():
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self._templates.clear()


def _unmount(mount_point: str) -> None:
    try:
        linux.umount(mount_point)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOENT):  # never mounted, or not in this namespace
            logger.warning("could not unmount %s: %s", mount_point, error)
    try:
        os.rmdir(mount_point)
    except OSError:
        pass


def _listen(family: int, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_relays(listeners: Iterable[Listener]) -> dict[Listener, socket.socket]:
    bound = {}
    for listener in listeners:
        try:
            bound[listener] = _listen(listener.family, listener.port)
        except OSError:
            continue  # the namespace already uses that port
    return bound


def _copy_sparse(source: str, target: str) -> None:
    """Copy only the data extents of ``source``; the rest stays a hole."""
    # 0600: the image holds what the function writes to /tmp.
    with open(source, "rb") as src, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError as error:
                if error.errno == errno.ENXIO:  # no data after offset
                    break
                raise
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            copied = 0
            while copied < end - start:
                copied += os.copy_file_range(src.fileno(), dst.fileno(), end - start - copied,
                                             start + copied, start + copied)
            offset = end
        os.ftruncate(dst.fileno(), size)


def apply_ruleset(*, nsenter: str, nft: str, netns: int, text: str) -> None:
    """Load an nftables ruleset into a network namespace.

    ``nft`` in a process of its own rather than libnftables in ours: libnftables waits on its netlink
    socket with select(), which aborts the whole process (glibc's fortify check) once that socket's
    fd number passes 1023 — as it does in a busy platform process.
    """
    result = subprocess.run([nsenter, f"--net=/proc/self/fd/{netns}", nft, "-f", "-"], input=text.encode(),
                            capture_output=True, pass_fds=(netns,))
    if result.returncode != 0:
        raise OSError(f"nftables refused the egress rules: {result.stderr.decode(errors='replace').strip()}")
