"""The content-addressed code store (the layout the engine reads)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from invocations.errors import InvalidParameterValueException
from invocations.services import code as code_service
from tests.conftest import zip_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def code_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    return settings.LAMBDA_CODE_DIR


def test_it_names_code_by_the_zips_sha256(code_dir: Path) -> None:
    package = zip_bytes({"app.py": "x = 1\n"})
    stored = code_service.store_zip(package)
    digest = hashlib.sha256(package).digest()
    assert stored.digest == digest.hex()
    assert stored.sha256 == base64.b64encode(digest).decode()
    assert stored.size == len(package)
    assert (code_dir / f"{stored.digest}.zip").read_bytes() == package
    assert (code_dir / stored.digest / "app.py").read_text() == "x = 1\n"


def test_it_never_modifies_an_existing_code_dir(code_dir: Path) -> None:
    package = zip_bytes({"app.py": "x = 1\n"})
    stored = code_service.store_zip(package)
    marker = code_dir / stored.digest / "app.py"
    marker.write_text("touched by the engine test\n")
    code_service.store_zip(package)
    assert marker.read_text() == "touched by the engine test\n"


def test_it_leaves_no_staging_directories_behind(code_dir: Path) -> None:
    code_service.store_zip(zip_bytes({"a.py": ""}))
    with pytest.raises(InvalidParameterValueException):
        code_service.store_zip(zip_bytes({"../b.py": ""}))
    assert sorted(p.name for p in code_dir.iterdir() if p.name.startswith(".")) == []
    assert len(list(code_dir.iterdir())) == 2


def test_it_keeps_file_modes_but_drops_setuid_and_lets_the_sandbox_user_read(code_dir: Path) -> None:
    package = zip_bytes({"bootstrap": "#!/bin/sh\n", "data.txt": "d", "suid": "s"},
                        modes={"bootstrap": 0o755, "data.txt": 0o600, "suid": 0o4755})  # fmt: skip
    stored = code_service.store_zip(package)
    root = code_dir / stored.digest
    assert (root / "bootstrap").stat().st_mode & 0o7777 == 0o755
    assert (root / "data.txt").stat().st_mode & 0o7777 == 0o644  # functions run as another user than the owner
    assert (root / "suid").stat().st_mode & 0o7777 == 0o755


def test_zips_without_unix_modes_get_readable_files(code_dir: Path) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("win.py")
        info.create_system = 0
        archive.writestr(info, "x = 1\n")
    stored = code_service.store_zip(buffer.getvalue())
    assert (code_dir / stored.digest / "win.py").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("value", ["!!not base64!!", "", 42])
def test_a_zip_file_that_is_not_base64_is_refused(value: Any) -> None:
    with pytest.raises(InvalidParameterValueException):
        code_service.decode_zip_file(value)


def test_a_node_without_the_code_unpacks_the_database_copy(settings: Any, code_dir: Path, tmp_path: Path) -> None:
    from invocations.models import CodeBlob

    package = zip_bytes({"app.py": "x = 1\n"})
    stored = code_service.store_zip(package)
    assert bytes(CodeBlob.objects.get(digest=stored.digest).data) == package
    settings.LAMBDA_CODE_DIR = tmp_path / "other-node"  # another node: nothing on its disk
    target = code_service.ensure_code(stored.digest)
    assert target == tmp_path / "other-node" / stored.digest
    assert (target / "app.py").read_text() == "x = 1\n"
    assert (tmp_path / "other-node" / f"{stored.digest}.zip").read_bytes() == package
    assert code_service.ensure_code(stored.digest) == target  # present now: nothing fetched again


def test_storing_the_same_zip_again_keeps_one_blob_and_refreshes_it(code_dir: Path) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from invocations.models import CodeBlob

    package = zip_bytes({"app.py": "x = 2\n"})
    stored = code_service.store_zip(package)
    CodeBlob.objects.update(stored_at=timezone.now() - timedelta(hours=1))
    code_service.store_zip(package)
    blob = CodeBlob.objects.get()
    assert blob.digest == stored.digest and timezone.now() - blob.stored_at < timedelta(minutes=1)


def test_code_that_is_nowhere_is_a_clear_error(code_dir: Path) -> None:
    with pytest.raises(code_service.CodeMissing, match="neither in"):
        code_service.ensure_code("cd" * 32)
