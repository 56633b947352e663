"""Hostile packages are refused with AWS's errors and leave nothing behind: no files, no rows."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from invocations.models import Function, FunctionVersion
from invocations.services import code as code_service
from tests.conftest import ECHO_PY, zip_bytes
from tests.invocations.api.control_plane import code_dir, create, error_of, runtimes_on_offer  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("code_dir", "runtimes_on_offer")]

UNZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, content in entries:
            archive.writestr(info, content)
    return buffer.getvalue()


def _symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (0o120777) << 16
    return info, target.encode()


def _left_behind(code_dir: Path) -> list[Path]:
    return list(code_dir.iterdir()) if code_dir.exists() else []


def _refused(client: Any, package: bytes) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        create(client, code=package)
    return error_of(caught)


@pytest.mark.parametrize(
    "package",
    [b"this is not a zip", zip_bytes({"app.py": ECHO_PY})[:-30], b"PK\x03\x04" + b"\x00" * 100],
    ids=["not-a-zip", "truncated", "bad-header"],
)
def test_a_file_that_is_not_a_readable_zip_is_refused(lambda_client: Any, code_dir: Path, package: bytes) -> None:
    assert _refused(lambda_client, package) == (400, "InvalidParameterValueException", UNZIP)
    assert _left_behind(code_dir) == []
    assert not Function.objects.exists()


def test_corrupt_compressed_data_is_refused_midway_and_cleaned_up(lambda_client: Any, code_dir: Path) -> None:
    package = bytearray(_zip([("a.py", b"A" * 1000), ("b.py", b"import os\n" * 500)]))
    start = package.find(b"b.py") + 4  # inside b.py's compressed data
    package[start + 5 : start + 25] = b"\xff" * 20
    status, code, _ = _refused(lambda_client, bytes(package))
    assert (status, code) == (400, "InvalidParameterValueException")
    assert _left_behind(code_dir) == []


@pytest.mark.parametrize("name", ["../evil.py", "lib/../../evil.py", "/etc/evil.py", "..\\evil.py", "C:/evil.py"])
def test_entries_escaping_the_code_dir_are_refused(lambda_client: Any, code_dir: Path, name: str) -> None:
    status, code, message = _refused(lambda_client, _zip([("app.py", ECHO_PY.encode()), (name, b"x")]))
    assert (status, code) == (400, "InvalidParameterValueException")
    assert name in message and "outside the code directory" in message
    assert _left_behind(code_dir) == []
    assert not (code_dir.parent / "evil.py").exists()
    assert not FunctionVersion.objects.exists()


def test_symbolic_links_are_refused(lambda_client: Any, code_dir: Path) -> None:
    status, code, message = _refused(lambda_client, _zip([("app.py", ECHO_PY.encode()), _symlink("db", "/etc/passwd")]))
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "'db' is a symbolic link" in message
    assert _left_behind(code_dir) == []


def test_a_zip_over_50_mb_is_413(lambda_client: Any, code_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_service, "MAX_ZIPPED_BYTES", 1000)
    package = _zip([("data.bin", os.urandom(2000))])
    assert len(package) > 1000
    status, code, message = _refused(lambda_client, package)
    assert (status, code, message) == (413, "RequestEntityTooLargeException", "Zipped size must be smaller than 1000 bytes")
    assert _left_behind(code_dir) == []


def test_declared_unzipped_size_over_the_limit_is_refused(
    lambda_client: Any, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code_service, "MAX_UNZIPPED_BYTES", 10_000)
    package = _zip([("zeros.bin", b"\x00" * 20_000)])
    assert _refused(lambda_client, package) == (
        400, "InvalidParameterValueException", "Unzipped size must be smaller than 10000 bytes"
    )  # fmt: skip
    assert _left_behind(code_dir) == []


def test_a_bomb_that_lies_about_its_size_is_stopped_while_extracting(
    lambda_client: Any, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code_service, "MAX_UNZIPPED_BYTES", 10_000)
    package = bytearray(_zip([("bomb.bin", b"\x00" * 50_000)]))
    # Rewrite the declared uncompressed size (local header and central directory) to 10 bytes.
    local = package.find(b"PK\x03\x04")
    package[local + 22 : local + 26] = (10).to_bytes(4, "little")
    central = package.find(b"PK\x01\x02")
    package[central + 24 : central + 28] = (10).to_bytes(4, "little")
    extracted: list[int] = []
    real_open = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, name, *args, **kwargs)
        handle._left = 10**9  # let zipfile believe the lie and keep inflating, as a naive reader would
        extracted.append(1)
        return handle

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    status, code, message = _refused(lambda_client, bytes(package))
    assert extracted, "extraction was reached: the declared sizes passed"
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "Unzipped size must be smaller than 10000 bytes"
    assert _left_behind(code_dir) == []


def test_too_many_entries_are_refused(lambda_client: Any, code_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_service, "MAX_ENTRIES", 5)
    package = _zip([(f"f{i}.py", b"") for i in range(6)])
    status, code, message = _refused(lambda_client, package)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "6 entries; at most 5" in message
    assert _left_behind(code_dir) == []


def test_a_refused_code_update_keeps_the_old_code(lambda_client: Any, code_dir: Path) -> None:
    created = create(lambda_client)
    before = sorted(code_dir.iterdir())
    with pytest.raises(ClientError):
        lambda_client.update_function_code(FunctionName="hello", ZipFile=_zip([("../x", b"")]))
    assert sorted(code_dir.iterdir()) == before
    assert FunctionVersion.objects.get().code_sha256 == created["CodeSha256"]
