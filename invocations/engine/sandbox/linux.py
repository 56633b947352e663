"""The few Linux calls the sandbox's root-side set-up needs, through ctypes (Python 3.11 has no
``os.unshare``/``os.setns``; 3.12 does).

Namespace calls act on the calling *thread*: ``unshare(CLONE_NEWNET)`` or ``setns`` moves only it.
That is what lets one platform thread step into an environment's network namespace, bind a
socket there and step back out while every other thread stays where it was. ``CLONE_NEWNS``
implies ``CLONE_FS`` (the thread stops sharing root/cwd with the others), after which the thread
may ``setns`` into a mount namespace — the builder threads live in the staging namespace that way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Iterator

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_MOVE = 8192
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SHARED = 1 << 20
MNT_DETACH = 2

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LO_FLAGS_AUTOCLEAR = 4


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
                       flags, data.encode() if data else None), f"mount {target}")


def bind_read_only(source: str, target: str) -> None:
    """A recursive bind mount, then remounted read-only (the bind itself ignores MS_RDONLY)."""
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def umount(target: str) -> None:
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def own_namespace(kind: str) -> int:
    """An fd of the calling thread's namespace of ``kind`` ("net", "mnt")."""
    return os.open(f"/proc/thread-self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)


@contextlib.contextmanager
def entered_netns(netns_fd: int) -> Iterator[None]:
    """Run the block in another network namespace, then come back (this thread only)."""
    home = own_namespace("net")
    try:
        setns(netns_fd, CLONE_NEWNET)
        try:
            yield
        finally:
            setns(home, CLONE_NEWNET)
    finally:
        os.close(home)


def new_netns() -> int:
    """A new network namespace with its loopback up; the calling thread comes back to its own."""
    home = own_namespace("net")
    try:
        unshare(CLONE_NEWNET)
        try:
            netns = own_namespace("net")
            _loopback_up()
        finally:
            setns(home, CLONE_NEWNET)
    finally:
        os.close(home)
    return netns


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def mount_loop(image: str, target: str, fstype: str, flags: int) -> None:
    """Mount a file system image through a free loop device that detaches itself when unmounted.

    The device is configured with autoclear and mounted before its fd is closed: autoclear frees
    a device at its last close, and the mount is what holds it from then on.
    """
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(32):  # another process may take the free device between the two calls
            device = f"/dev/loop{fcntl.ioctl(control, LOOP_CTL_GET_FREE)}"
            loop = os.open(device, os.O_RDWR | os.O_CLOEXEC)
            try:
                # struct loop_config { u32 fd; u32 block_size; struct loop_info64 info; u64 reserved[8]; },
                # loop_info64.lo_flags at offset 52 of its 232 bytes.
                info = bytearray(232)
                struct.pack_into("I", info, 52, LO_FLAGS_AUTOCLEAR)
                try:
                    fcntl.ioctl(loop, LOOP_CONFIGURE, struct.pack("II", backing, 0) + bytes(info) + bytes(64))
                except OSError as error:
                    if error.errno == errno.EBUSY:
                        continue
                    raise
                mount(device, target, fstype, flags)
                return
            finally:
                os.close(loop)
        raise OSError(errno.EBUSY, "no free loop device")
    finally:
        os.close(control)
        os.close(backing)
