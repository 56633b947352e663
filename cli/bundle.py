"""A function's folder as the server sees it: the deployment zip (``workbench deploy``, ``test
--watch``) and the state of its files (what ``--watch`` polls)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

SKIPPED = {"__pycache__", ".git", ".venv", "node_modules/.cache", ".DS_Store"}


def _files(folder: Path) -> Iterator[tuple[Path, Path]]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in SKIPPED for part in relative.parts) or not path.is_file():
            continue
        yield path, relative


def zip_folder(folder: Path) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, relative in _files(folder):
            info = zipfile.ZipInfo(relative.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16  # keep bootstrap executable
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            count += 1
    return buffer.getvalue(), count


def code_sha256(data: bytes) -> str:
    """Lambda's ``CodeSha256`` of a zip: the base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Each deployed file's modification time (ns) and size: two snapshots differ when a file changed,
    appeared or went away. Polling this needs no file-watching library and works on every file system."""
    state: dict[str, tuple[int, int]] = {}
    for path, relative in _files(folder):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed between the listing and the stat: the next poll sees it
            continue
        state[relative.as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return state


def changed_files(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
