"""The recorder's journal: records handed over but not yet committed, on disk, so that a process
killed outright (SIGKILL, OOM killer) loses none of the invocations it already answered.

The recorder writes records to the database off the hot path (``recorder.py``), so between a
caller's answer and its batch's commit (≤ ``LAMBDA_RECORD_FLUSH_SECONDS``) the record lived only in
the process's memory. Each record is now also appended to this process's journal file *before*
the answer is sent: one ``write(2)``, ≈ 10 µs, with no ``fsync`` — data written to a file
survives the death of the process that wrote it (it is the kernel's), though not a power cut.
Once every record in a file is committed, the file is truncated (or, when it has been rotated,
removed).

Ownership is an ``flock``: a live process holds an exclusive lock on its files; the kernel drops it
when the process dies, however it dies. A starting node (``recover_orphans``) takes the files whose
lock it can get — their writer is gone — writes their records (``ignore_conflicts``: those already
committed are skipped) and removes them. File names carry a key of the database they belong to, so
a journal is never replayed into another database.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

logger = logging.getLogger(__name__)

ROTATE_BYTES: Final = 64 * 1024 * 1024
PREFIX: Final = "records-"


def database_key(settings_dict: dict[str, Any]) -> str:
    """A short, stable name of one database (vendor, host, port, name)."""
    text = "|".join(str(settings_dict.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Journal:
    """One process's journal files in ``directory`` for the database ``key``. Thread-safe."""

    def __init__(self, directory: Path, key: str, *, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.directory = directory
        self.key = key
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._generation = 0
        self._fd: int | None = None
        self._size = 0
        self._files: dict[int, tuple[int, Path]] = {}  # generation → (fd, path), while it has pending lines
        self._pending: dict[int, int] = {}

    def append(self, line: bytes) -> int:
        """Write one record's line; returns its generation (hand it back to ``committed``)."""
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: files of its own
                self._files, self._pending, self._fd = {}, {}, None
                self._pid = os.getpid()
            if self._fd is None or self._size >= self.rotate_bytes:
                self._open()
            assert self._fd is not None
            _write_all(self._fd, line)
            self._size += len(line)
            self._pending[self._generation] += 1
            return self._generation

    def committed(self, generations: Iterable[int]) -> None:
        """These records are in the database (or will never be): forget them."""
        with self._lock:
            if self._pid != os.getpid():
                return
            for generation in generations:
                if generation in self._pending:
                    self._pending[generation] -= 1
            for generation, count in list(self._pending.items()):
                if count > 0:
                    continue
                if generation != self._generation:
                    self._forget(generation)
                elif self._size:
                    os.ftruncate(self._files[generation][0], 0)
                    self._size = 0

    def close(self) -> None:
        """Remove this process's files that hold nothing uncommitted (at a clean exit); a file that
        still does stays, for the next node to write."""
        with self._lock:
            if self._pid != os.getpid():
                return
            for generation in list(self._files):
                if self._pending.get(generation, 0) == 0:
                    self._forget(generation)
            if self._generation not in self._files:
                self._fd = None

    def _forget(self, generation: int) -> None:
        fd, path = self._files.pop(generation)
        self._pending.pop(generation, None)
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)

    def _open(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._generation += 1
        path = self.directory / f"{PREFIX}{self.key}-{os.getpid()}-{secrets.token_hex(4)}-{self._generation}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._files[self._generation] = (fd, path)
        self._pending[self._generation] = 0
        self._fd, self._size = fd, 0


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()  # to the microsecond (Django's JSON encoder keeps milliseconds)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not journalled")


def encode(values: dict[str, Any]) -> bytes:
    return json.dumps(values, default=_default, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@contextlib.contextmanager
def orphans(directory: Path, key: str) -> Iterator[list[tuple[Path, list[dict[str, Any]]]]]:
    """The journal files of ``key`` whose writer is gone, with their complete lines; they are
    locked while the caller writes them and removed when it leaves without an exception."""
    taken: list[tuple[int, Path]] = []
    found: list[tuple[Path, list[dict[str, Any]]]] = []
    try:
        for path in sorted(directory.glob(f"{PREFIX}{key}-*.jsonl")) if directory.is_dir() else []:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # its writer is alive
                os.close(fd)
                continue
            taken.append((fd, path))
            found.append((path, list(_lines(path))))
        yield found
        for fd, path in taken:
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        for fd, _ in taken:
            os.close(fd)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as file:
        for raw in file:
            if not raw.endswith(b"\n"):  # the writer died in the middle of this one
                break
            try:
                yield json.loads(raw)
            except ValueError:
                logger.error("unreadable line in %s skipped", path)
