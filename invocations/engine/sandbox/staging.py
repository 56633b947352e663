"""The staging area: a private mount namespace from which every sandbox is built, and the threads
that work in it.

Environments run as an unprivileged host user (``SandboxConfig.host_uid``), and bwrap, which builds
their file system view, runs as that user too. It must therefore be able to reach every path it
binds — but the Python interpreters may live under root's home (pyenv: ``/root/.pyenv``, mode
0700), and ``DATA_DIR`` is kept private. So the pool, as root, makes a mount namespace of its own
(private propagation: nothing leaks to the host's mount table), mounts a small tmpfs on a directory
under ``/run`` and binds, read-only, each source there: interpreter prefixes, the runtimes
directory, the code root, generated ``/etc`` files. Each environment's launch enters this namespace
(``nsenter --mount``) before dropping to the sandbox user, and bwrap binds from these paths.

Everything mounted here dies with the namespace: if the platform is killed, the ``/tmp`` file
systems of its environments are unmounted and their loop devices freed by the kernel.

The builder threads enter the namespace once (``unshare(CLONE_FS)`` + ``setns``) and stay: slot
builds (``slots.py``) mount and run ``mkfs``/``nft``/``slirp4netns`` from them, so those children
start in the staging namespace too.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from invocations.engine.sandbox import linux

logger = logging.getLogger(__name__)

T = TypeVar("T")

RUN_DIR = "/run/lambda-workbench"


class Staging:
    """``binds`` maps a name to a host path bound read-only at ``path(name)``; ``files`` maps a
    relative path to the bytes of a generated file."""

    def __init__(self, *, binds: dict[str, str], files: dict[str, bytes], threads: int, token: str) -> None:
        self.root = os.path.join(RUN_DIR, f"{os.getpid()}-{token}")
        self._binds = binds
        self._files = files
        self.mnt_fd = -1
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._thread_count = threads

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def start(self) -> None:
        os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
        _remove_stale(RUN_DIR)
        os.makedirs(self.root, mode=0o755)
        made: list[int | BaseException] = []
        setup = threading.Thread(target=self._make_namespace, args=(made,), name="sandbox-staging")
        setup.start()
        setup.join()
        if isinstance(made[0], BaseException):
            os.rmdir(self.root)
            raise made[0]
        self.mnt_fd = made[0]
        # Daemon threads of our own, not a ThreadPoolExecutor: at interpreter exit those are shut
        # down before atexit handlers run, and the pool's shutdown (an atexit handler) still needs
        # builders to tear its slots down.
        for number in range(self._thread_count):
            thread = threading.Thread(target=self._work, name=f"sandbox-builder-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _make_namespace(self, made: list[int | BaseException]) -> None:
        """Runs once, on a thread of its own that ends afterwards (the namespace lives on by its fd)."""
        try:
            linux.unshare(linux.CLONE_NEWNS)
            linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
            linux.mount("lambda-staging", self.root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=0755,size=16m")
            for name, source in self._binds.items():
                target = self.path(name)
                if os.path.isdir(source):
                    os.makedirs(target, mode=0o755)
                else:
                    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
                    open(target, "w").close()
                linux.bind_read_only(source, target)
            for name, data in self._files.items():
                target = self.path(name)
                os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
                with open(target, "wb") as f:
                    f.write(data)
                os.chmod(target, 0o644)
            os.makedirs(self.path("tmp"), mode=0o755)  # mount points of the environments' /tmp
            os.makedirs(self.path("scratch"), mode=0o700)
            # Each environment's code is bound under lambda/<slot>/task. A shared mount: a bind made
            # there after a sandbox started still reaches it (a ready environment gets its code so).
            os.makedirs(self.path("lambda"), mode=0o755)
            linux.mount("lambda-code", self.path("lambda"), "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=0755,size=1m")
            linux.mount(None, self.path("lambda"), None, linux.MS_SHARED)
            made.append(linux.own_namespace("mnt"))
        except BaseException as error:  # handed to start(), which raises it on the caller's thread
            made.append(error)

    def _work(self) -> None:
        entered: BaseException | None = None
        try:
            linux.unshare(linux.CLONE_FS)  # a thread must own its fs_struct to change mount namespace
            linux.setns(self.mnt_fd, linux.CLONE_NEWNS)
        except OSError as error:
            logger.error("a sandbox builder could not enter the staging namespace: %s", error)
            entered = error
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if future.set_running_or_notify_cancel():
                try:
                    if entered is not None:
                        raise entered
                    future.set_result(fn(*args))
                except BaseException as error:
                    future.set_exception(error)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a builder thread (in the staging namespace)."""
        if not self._threads:
            raise RuntimeError("the staging area is not running")
        future: Future[T] = Future()
        self._queue.put((future, fn, args))
        return future

    def close(self) -> None:
        """Finish the queued work, then stop the builders."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        if self.mnt_fd >= 0:
            os.close(self.mnt_fd)
            self.mnt_fd = -1
        try:
            os.rmdir(self.root)
        except OSError:
            pass


def _remove_stale(directory: str) -> None:
    """Mount points left by pools whose process died (their namespace went with them)."""
    for name in os.listdir(directory):
        pid = name.split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
