"""The Code tab's file tree: a deployment package listed file by file, and a new package built from
the edited tree (new, renamed, edited and deleted files) — deployed through UpdateFunctionCode like
any other package, so versions, the SHA-256, cleanup and ready environments follow the API's rules.

The tree form only lists what the page could show (``MAX_FILES_SHOWN`` files, text up to
``MAX_TEXT_BYTES`` each): every file it does not mention is copied into the new package as it was.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from invocations.models import FunctionVersion
from invocations.services import code as code_service

MAX_FILES_SHOWN = 100
MAX_TEXT_BYTES = 512 * 1024  # larger files are listed, not shown
MAX_PATH = 255
REGULAR_FILE = 0o100000
# A path segment: no control characters, no backslash (a Windows separator in a zip is a trap).
_BAD_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True)
class PackageFile:
    path: str
    size: int
    text: str | None  # None: binary or too large to edit inline

    @property
    def editable(self) -> bool:
        return self.text is not None


@dataclass(frozen=True)
class Listing:
    files: list[PackageFile]  # the ones shown (at most MAX_FILES_SHOWN)
    total: int  # how many files the package has

    @property
    def capped(self) -> bool:
        return self.total > len(self.files)


@dataclass(frozen=True)
class Entry:
    """One row of the tree form: ``original`` is the package path it was shown as ("" for a new
    file), ``path`` where it goes, ``text`` its new content (ignored for a binary file)."""

    original: str
    path: str
    text: str
    delete: bool = False


@dataclass
class TreeErrors(Exception):
    """Per-row field errors ({row index: {field: [messages]}}) and errors about the whole tree."""

    rows: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    tree: list[str] = field(default_factory=list)

    def add(self, row: int, name: str, message: str) -> None:
        self.rows.setdefault(row, {}).setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.rows or self.tree)


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def listing(version: FunctionVersion) -> Listing:
    """The package's files in path order, the first ``MAX_FILES_SHOWN`` with their text."""
    path = code_service.local_zip(version.code_digest)
    if not path.is_file():
        return Listing(files=[], total=0)
    with zipfile.ZipFile(path) as archive:
        infos = sorted((i for i in archive.infolist() if not i.is_dir()), key=lambda i: i.filename)
        shown = []
        for info in infos[:MAX_FILES_SHOWN]:
            text = _decode(archive.read(info)) if info.file_size <= MAX_TEXT_BYTES else None
            shown.append(PackageFile(path=info.filename, size=info.file_size, text=text))
    return Listing(files=shown, total=len(infos))


def lf(text: str) -> str:
    """A textarea's text with Unix line ends: browsers submit CRLF, and "#!/bin/sh\r" is no
    interpreter (a custom runtime's bootstrap would fail with "No such file or directory")."""
    return text.replace("\r\n", "\n")


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a file in a package (None when it can)."""
    if not path:
        return "Enter a file path."
    if len(path) > MAX_PATH:
        return f"A path has at most {MAX_PATH} characters."
    if _BAD_CHARACTERS.search(path):
        return "A path cannot contain a backslash or control characters."
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "Use a path relative to the package root (no leading / or drive)."
    parts = path.split("/")
    if ".." in parts:
        return "A path cannot contain '..'."
    if any(part in ("", ".") for part in parts):
        return "Write the path without empty or '.' segments (like src/app.py)."
    return None


def new_file_mode(text: str, path: str) -> int:
    """A new file's Unix mode: executable when it is a script (a shebang, or a custom runtime's
    ``bootstrap``, which Lambda execs directly)."""
    executable = text.startswith("#!") or PurePosixPath(path).name == "bootstrap"
    return 0o755 if executable else 0o644


def build(version: FunctionVersion, entries: list[Entry]) -> bytes:
    """The new package: the deployed one with ``entries`` applied. Raises TreeErrors, naming the
    row and field, when a path is unsafe, taken twice, or no longer in the package."""
    source = code_service.local_zip(version.code_digest)
    errors = TreeErrors()
    archive = zipfile.ZipFile(source) if source.is_file() else None
    try:
        infos = {i.filename: i for i in archive.infolist() if not i.is_dir()} if archive else {}
        mentioned: set[str] = set()
        taken: dict[str, int] = {}
        plan: list[tuple[int, Entry]] = []
        for index, entry in enumerate(entries):
            if entry.original:
                if entry.original not in infos:
                    errors.add(index, "path", f"{entry.original} is no longer in the deployed package: reload the page.")
                    continue
                if entry.original in mentioned:
                    errors.add(index, "path", f"{entry.original} is listed twice.")
                    continue
                mentioned.add(entry.original)
            if entry.delete:
                continue
            problem = path_problem(entry.path)
            if problem:
                errors.add(index, "path", problem)
                continue
            if entry.path in taken:
                errors.add(index, "path", f"Another file already has the path {entry.path}.")
                continue
            taken[entry.path] = index
            plan.append((index, entry))
        kept = [name for name in infos if name not in mentioned]
        for name in kept:
            if name in taken:
                errors.add(taken[name], "path", f"Another file already has the path {name}.")
        every = set(taken) | set(kept)
        for path, index in taken.items():
            # A file and a directory cannot share a name ("lib" and "lib/x.py").
            parents = {str(p) for p in PurePosixPath(path).parents if str(p) != "."}
            if parents & every:
                errors.add(index, "path", f"{path} would be inside a file ({sorted(parents & every)[0]}).")
        for name in kept:
            for parent in (str(p) for p in PurePosixPath(name).parents if str(p) in taken):
                errors.add(taken[parent], "path", f"{parent} is a folder of the package ({name}).")
        if errors:
            raise errors
        if not plan and not kept:
            errors.tree.append("The package would have no files: keep at least one.")
            raise errors
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            for name in kept:
                assert archive is not None
                out.writestr(infos[name], archive.read(infos[name]))
            for _, entry in plan:
                original = infos.get(entry.original)
                data = archive.read(original) if archive is not None and original is not None else None
                current = _decode(data) if data is not None and original is not None and original.file_size <= MAX_TEXT_BYTES else None
                if data is None or current is not None:
                    text = lf(entry.text)
                    if current is None or lf(current) != text:
                        data = text.encode("utf-8")  # a text file: the edited content
                    # else unchanged: the original bytes stay (CRLF line ends included)
                # else a binary (or too large) file: its bytes are kept, perhaps under a new path
                info = zipfile.ZipInfo(entry.path, date_time=original.date_time if original else (1980, 1, 1, 0, 0, 0))
                info.create_system = 3
                mode = (original.external_attr >> 16) & 0o7777 if original is not None and original.create_system == 3 else 0
                info.external_attr = ((mode or new_file_mode(entry.text, entry.path)) | REGULAR_FILE) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                assert data is not None
                out.writestr(info, data)
        return buffer.getvalue()
    finally:
        if archive is not None:
            archive.close()
