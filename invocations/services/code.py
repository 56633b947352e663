"""Storing uploaded code: content-addressed zips, unpacked once, hostile archives refused.

Layout (other parts of the platform read it): the zip as uploaded at
``LAMBDA_CODE_DIR/<hex sha256>.zip`` and its contents at ``LAMBDA_CODE_DIR/<hex sha256>/``. A code
directory is never modified once it exists: it is unpacked into a temporary directory beside it and
renamed into place, so a reader sees either nothing or the whole tree. File modes from the zip are
kept (an executable ``bootstrap`` stays executable).

Several nodes (README "Operations") each have their own ``LAMBDA_CODE_DIR``: the zip is also kept in
the database (``CodeBlob``, keyed by the same digest), and a node that lacks ``<digest>/`` fetches
it and unpacks it through the same checked, atomic path (``ensure_code``) before an environment
starts — two processes racing to do so both end with the one directory.

Limits are AWS's (spec §6.2): 50 MB zipped for a direct upload, 250 MB unzipped. The unzipped size is
checked twice — on the sizes the archive declares, and on the bytes actually written — so a zip bomb
that lies about its sizes is stopped while it is being extracted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from invocations.errors import InvalidParameterValueException, RequestEntityTooLargeException

MAX_ZIPPED_BYTES = 52_428_800
MAX_UNZIPPED_BYTES = 262_144_000
# AWS documents no entry limit; this one is ours, far above any real package (a full node_modules
# tree of a large app is ≈ 30 000 files), and stops archives built to exhaust inodes.
MAX_ENTRIES = 100_000
_CHUNK = 1024 * 1024

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True)
class StoredCode:
    digest: str  # hex SHA-256 of the zip; names the files on disk
    sha256: str  # base64 of the same digest, as AWS reports CodeSha256
    size: int  # bytes of the zip (CodeSize)


class _Refused(Exception):
    """Internal: extraction must stop; carries the AWS error to raise once the temp dir is gone."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def decode_zip_file(value: object) -> bytes:
    """`Code.ZipFile` arrives base64-encoded inside the JSON body (botocore encodes blobs)."""
    if not isinstance(value, str) or not value:
        raise InvalidParameterValueException(UNZIP_FAILED)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterValueException(UNZIP_FAILED) from None


def code_dir(digest: str) -> Path:
    return Path(settings.LAMBDA_CODE_DIR) / digest


def zip_path(digest: str) -> Path:
    return Path(settings.LAMBDA_CODE_DIR) / f"{digest}.zip"


def store_zip(data: bytes) -> StoredCode:
    """Check, unpack and keep `data`; raise AWS's error and leave nothing behind when it is refused."""
    if len(data) > MAX_ZIPPED_BYTES:
        raise RequestEntityTooLargeException(f"Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes")
    raw = hashlib.sha256(data).digest()
    stored = StoredCode(digest=raw.hex(), sha256=base64.b64encode(raw).decode(), size=len(data))
    root = Path(settings.LAMBDA_CODE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    target = code_dir(stored.digest)
    if target.is_dir():
        os.utime(target)  # in use again: spared by a concurrent prune (services/cleanup.py)
    else:
        _unpack_into_place(data, target)
    if not zip_path(stored.digest).is_file():
        _write_atomically(zip_path(stored.digest), data)
    _keep_blob(stored.digest, data)
    return stored


class CodeMissing(RuntimeError):
    """Neither this node's code directory nor the database holds the code (``ensure_code``)."""


def _keep_blob(digest: str, data: bytes) -> None:
    """The zip in the database for the other nodes (``stored_at`` refreshed when it is there)."""
    from invocations.models import CodeBlob

    if CodeBlob.objects.filter(digest=digest).update(stored_at=timezone.now()):
        return
    try:
        with transaction.atomic():  # a savepoint: a racing insert must not spoil the caller's transaction
            CodeBlob.objects.create(digest=digest, data=data, size=len(data))
    except IntegrityError:  # another request stored the same zip meanwhile
        pass


def ensure_code(digest: str) -> Path:
    """``LAMBDA_CODE_DIR/<digest>/`` (and its zip), fetched from the database and unpacked when this
    node does not have it yet. Raises ``CodeMissing`` when the database has no such zip either."""
    target = code_dir(digest)
    if target.is_dir() and zip_path(digest).is_file():
        return target
    from invocations.models import CodeBlob

    data = CodeBlob.objects.filter(digest=digest).values_list("data", flat=True).first()
    if data is None:
        if target.is_dir():  # stored before blobs existed, and kept on this node
            return target
        raise CodeMissing(f"the code {digest} is neither in {settings.LAMBDA_CODE_DIR} nor in the database")
    data = bytes(data)  # PostgreSQL returns a memoryview
    if hashlib.sha256(data).hexdigest() != digest:
        raise CodeMissing(f"the stored code {digest} does not match its digest")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_dir():
        _unpack_into_place(data, target)
    if not zip_path(digest).is_file():
        _write_atomically(zip_path(digest), data)
    return target


def local_zip(digest: str) -> Path:
    """This node's copy of the zip (fetched like ``ensure_code``); the path may not exist when the
    code is nowhere."""
    path = zip_path(digest)
    if not path.is_file():
        try:
            ensure_code(digest)
        except CodeMissing:
            pass
    return path


def _unpack_into_place(data: bytes, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _extract(data, staging)
        staging.chmod(0o755)
        try:
            os.rename(staging, target)
        except OSError:
            # Another request stored the same code meanwhile: content-addressed, so theirs is ours.
            if not target.is_dir():
                raise
    except _Refused as refused:
        raise refused.error from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _safe_relative_path(name: str) -> PurePosixPath:
    """The entry's path inside the code dir; refuse absolute paths and `..` (zip slip)."""
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    drive_letter = len(normalised) >= 2 and normalised[1] == ":"
    if not normalised or path.is_absolute() or drive_letter or ".." in path.parts or "\x00" in normalised:
        raise _Refused(
            InvalidParameterValueException(
                f"Could not unzip uploaded file. The entry '{name}' is an absolute path or points outside "
                "the code directory; such entries are not allowed."
            )
        )
    return path


def _file_type(info: zipfile.ZipInfo) -> int:
    # Unix mode bits live in the high 16 bits of external_attr when the zip was made on Unix.
    return stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0


def _extract(data: bytes, staging: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise _Refused(InvalidParameterValueException(UNZIP_FAILED)) from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise _Refused(
                InvalidParameterValueException(
                    f"Could not unzip uploaded file. The archive has {len(entries)} entries; at most "
                    f"{MAX_ENTRIES} are allowed."
                )
            )
        too_big = InvalidParameterValueException(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
        if sum(info.file_size for info in entries) > MAX_UNZIPPED_BYTES:
            raise _Refused(too_big)
        written = 0
        for info in entries:
            relative = _safe_relative_path(info.filename)
            kind = _file_type(info)
            if kind == stat.S_IFLNK:
                raise _Refused(
                    InvalidParameterValueException(
                        f"Could not unzip uploaded file. The entry '{info.filename}' is a symbolic link; "
                        "symbolic links are not allowed."
                    )
                )
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise _Refused(
                    InvalidParameterValueException(
                        f"Could not unzip uploaded file. The entry '{info.filename}' is not a regular file "
                        "or directory."
                    )
                )
            destination = staging.joinpath(*relative.parts) if relative.parts else staging
            try:
                if info.is_dir() or kind == stat.S_IFDIR:
                    destination.mkdir(mode=0o755, parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                with archive.open(info) as source, open(destination, "wb") as sink:
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        if written > MAX_UNZIPPED_BYTES:
                            raise _Refused(too_big)
                        sink.write(chunk)
            except _Refused:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError):
                # Corrupt data, bad CRC, encrypted entries, unsupported compression, a file where a
                # directory should be: all "could not unzip" to AWS.
                raise _Refused(InvalidParameterValueException(UNZIP_FAILED)) from None
            destination.chmod(_file_mode(info))


def _file_mode(info: zipfile.ZipInfo) -> int:
    """Permission bits from the zip (without setuid/setgid/sticky), always readable by everyone:
    functions run as the sandbox's own user, not as the platform's user who owns the files. (AWS
    refuses to run a file its runtime user cannot read; here a zip made with Python's ``writestr``,
    whose files are 0600, still works.)"""
    mode = (info.external_attr >> 16) & 0o777 if info.create_system == 3 else 0
    if not mode:
        return 0o644
    return mode | 0o444
