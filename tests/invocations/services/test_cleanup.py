"""A deleted or changed function leaves nothing behind: its environments end, its code goes
(issue 11, items 4 and 8), through the AWS API as a user would do it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from invocations.models import CodeBlob, FunctionVersion
from invocations.node import current_pool
from invocations.services import cleanup
from tests.conftest import zip_bytes
from tests.invocations.api.control_plane import code_dir, create, runtimes_on_offer  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("code_dir", "runtimes_on_offer")]

SOURCE = "def handler(event, context):\n    return {'version': %d}\n"


@pytest.fixture(autouse=True)
def no_grace(settings: Any) -> None:
    settings.LAMBDA_CODE_GRACE_SECONDS = 0


def invoke(client: Any, name: str) -> Any:
    return client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()


def revision(name: str) -> str:
    return FunctionVersion.objects.get(function__name=name, version="$LATEST").revision_id


def test_deleting_a_function_ends_its_environments_and_removes_its_code(
    lambda_client: Any, code_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    create(lambda_client, "gone", code=zip_bytes({"app.py": SOURCE % 1}))
    assert invoke(lambda_client, "gone") == b'{"version": 1}'
    old = revision("gone")
    pool = current_pool()
    assert pool is not None and old in pool.live_revisions()
    assert any(code_dir.iterdir())
    with django_capture_on_commit_callbacks(execute=True):
        lambda_client.delete_function(FunctionName="gone")
    assert old not in pool.live_revisions()
    assert list(code_dir.iterdir()) == []
    assert not CodeBlob.objects.exists()  # the other nodes' source goes too


def test_code_shared_with_another_function_stays_until_the_last_one_goes(
    lambda_client: Any, code_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    package = zip_bytes({"app.py": SOURCE % 2})
    create(lambda_client, "first", code=package)
    create(lambda_client, "second", code=package)
    with django_capture_on_commit_callbacks(execute=True):
        lambda_client.delete_function(FunctionName="first")
    assert invoke(lambda_client, "second") == b'{"version": 2}'
    with django_capture_on_commit_callbacks(execute=True):
        lambda_client.delete_function(FunctionName="second")
    assert list(code_dir.iterdir()) == []


def test_updating_code_ends_the_old_environments_and_removes_the_old_code(
    lambda_client: Any, code_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    create(lambda_client, "changing", code=zip_bytes({"app.py": SOURCE % 1}))
    assert invoke(lambda_client, "changing") == b'{"version": 1}'
    old = revision("changing")
    with django_capture_on_commit_callbacks(execute=True):
        lambda_client.update_function_code(FunctionName="changing", ZipFile=zip_bytes({"app.py": SOURCE % 2}))
    pool = current_pool()
    assert pool is not None and old not in pool.live_revisions()
    assert invoke(lambda_client, "changing") == b'{"version": 2}'
    assert len([p for p in code_dir.iterdir() if p.is_dir()]) == 1


def test_updating_configuration_ends_the_old_environments(
    lambda_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    create(lambda_client, "tuned")
    invoke(lambda_client, "tuned")
    old = revision("tuned")
    with django_capture_on_commit_callbacks(execute=True):
        lambda_client.update_function_configuration(FunctionName="tuned", MemorySize=256)
    pool = current_pool()
    assert pool is not None and old not in pool.live_revisions()


def test_other_nodes_end_environments_of_revisions_that_are_gone(lambda_client: Any) -> None:
    create(lambda_client, "elsewhere")
    invoke(lambda_client, "elsewhere")
    old = revision("elsewhere")
    FunctionVersion.objects.filter(revision_id=old).update(revision_id="changed-by-another-node")
    assert cleanup.reconcile_environments() >= 1  # and those of earlier tests, whose rows are rolled back
    pool = current_pool()
    assert pool is not None and old not in pool.live_revisions()


def test_code_stored_moments_ago_is_spared(settings: Any, code_dir: Path) -> None:
    digest = "ab" * 32
    (code_dir / digest).mkdir(parents=True)
    settings.LAMBDA_CODE_GRACE_SECONDS = 60
    assert cleanup.prune_code() == []  # a version being created may be about to reference it
    old = time.time() - 120
    os.utime(code_dir / digest, (old, old))
    assert cleanup.prune_code() == [digest]
    assert not (code_dir / digest).exists()


def test_a_node_without_the_code_fetches_it_from_the_database_before_running(lambda_client: Any, code_dir: Path) -> None:
    """Another node stored the zip: this node's code directory is empty, the database has the blob."""
    import shutil

    create(lambda_client, "elsewhere", code=zip_bytes({"app.py": SOURCE % 7}))
    digest = FunctionVersion.objects.get(function__name="elsewhere").code_digest
    assert CodeBlob.objects.filter(digest=digest).exists()
    shutil.rmtree(code_dir)  # as on a node that never saw the upload
    assert invoke(lambda_client, "elsewhere") == b'{"version": 7}'
    assert (code_dir / digest / "app.py").is_file() and (code_dir / f"{digest}.zip").is_file()
    assert [p.name for p in code_dir.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_unreferenced_blobs_go_after_the_grace_period(settings: Any, code_dir: Path) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from invocations.services import code as code_service

    stored = code_service.store_zip(zip_bytes({"app.py": "x = 1\n"}))  # a create that then failed
    settings.LAMBDA_CODE_GRACE_SECONDS = 60
    assert cleanup.prune_code() == [] and CodeBlob.objects.filter(digest=stored.digest).exists()
    CodeBlob.objects.update(stored_at=timezone.now() - timedelta(minutes=2))
    old = time.time() - 120
    for path in (code_dir / stored.digest, code_dir / f"{stored.digest}.zip"):
        os.utime(path, (old, old))
    assert cleanup.prune_code() == [stored.digest]
    assert not CodeBlob.objects.exists()
