"""The background recorder: batching, retries, flush on exit, no loss under concurrent writers.

These tests use ``transactional_db``: the writer thread has its own connection and sees only
committed rows (inside a test transaction the recorder writes synchronously instead, tested last).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, connection

from invocations import recorder
from invocations.models import Function, Invocation

ROOT = Path(__file__).resolve().parents[2]


def row(n: int, prefix: str = "r") -> Invocation:
    return Invocation(request_id=f"{prefix}-{n}", function_name="fn", status=Invocation.Status.SUCCEEDED)


@pytest.fixture
def bulk_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = Invocation.objects.bulk_create

    def counting(rows: list[Invocation], **kwargs: Any) -> Any:
        calls.append(len(rows))
        return original(rows, **kwargs)

    monkeypatch.setattr(Invocation.objects, "bulk_create", counting)
    return calls


@pytest.mark.django_db(transaction=True)
def test_it_writes_in_batches(bulk_calls: list[int]) -> None:
    writer = recorder.Recorder(flush_seconds=0.5, batch_size=100, mode="thread")
    for n in range(450):
        writer.record(row(n))
    assert writer.flush()
    writer.close()
    assert Invocation.objects.count() == 450
    assert len(bulk_calls) <= 10
    assert max(bulk_calls) <= 100


@pytest.mark.django_db(transaction=True)
def test_it_flushes_after_the_interval_without_being_asked() -> None:
    writer = recorder.Recorder(flush_seconds=0.05, mode="thread")
    writer.record(row(1))
    for _ in range(100):
        if Invocation.objects.exists():
            break
        threading.Event().wait(0.02)
    writer.close()
    assert Invocation.objects.filter(request_id="r-1").exists()


@pytest.mark.django_db(transaction=True)
def test_close_writes_what_is_still_queued() -> None:
    writer = recorder.Recorder(flush_seconds=60, batch_size=1000, mode="thread")
    for n in range(30):
        writer.record(row(n))
    writer.close()
    assert Invocation.objects.count() == 30
    writer.record(row(99))  # after close: written at once, in the caller's thread
    assert Invocation.objects.filter(request_id="r-99").exists()


@pytest.mark.django_db(transaction=True)
def test_no_record_is_lost_under_concurrent_writers() -> None:
    writer = recorder.Recorder(flush_seconds=0.01, batch_size=50, mode="thread")

    def produce(thread: int) -> None:
        for n in range(100):
            writer.record(row(n, prefix=f"t{thread}"))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.flush()
    writer.close()
    assert Invocation.objects.count() == 800
    assert writer.dropped == 0


@pytest.mark.django_db(transaction=True)
def test_a_locked_database_is_retried_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Invocation.objects.bulk_create
    failures = iter([True, True, True])

    def flaky(rows: list[Invocation], **kwargs: Any) -> Any:
        if next(failures, False):
            raise OperationalError("database is locked")
        return original(rows, **kwargs)

    monkeypatch.setattr(Invocation.objects, "bulk_create", flaky)
    writer = recorder.Recorder(flush_seconds=0.01, mode="thread", retry_base_s=0.01)
    for n in range(5):
        writer.record(row(n))
    assert writer.flush()
    writer.close()
    assert Invocation.objects.count() == 5
    assert writer.dropped == 0


@pytest.mark.django_db(transaction=True)
def test_a_retried_batch_does_not_trip_over_rows_already_written() -> None:
    Invocation.objects.create(request_id="r-1", function_name="fn")
    writer = recorder.Recorder(flush_seconds=0.01, mode="thread")
    writer.record(row(1))
    writer.record(row(2))
    assert writer.flush()
    writer.close()
    assert sorted(Invocation.objects.values_list("request_id", flat=True)) == ["r-1", "r-2"]


def _database_url() -> str:
    """The test database as a URL, for a subprocess (SQLite file or PostgreSQL)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_sigterm_exits_through_atexit_and_loses_nothing(tmp_path: Path) -> None:
    """A process that got records and then SIGTERM (default action) writes them all before dying."""
    script = textwrap.dedent(
        """
        import os, signal, time
        import django
        django.setup()
        from invocations import node, recorder
        from invocations.models import Function, Invocation
        node.install_sigterm_exit()
        for n in range(50):
            recorder.record(Invocation(request_id=f"exit-{n}", function_name="fn"))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        """
    )
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=_database_url(),
        LAMBDA_RECORD_FLUSH_SECONDS="60",  # nothing is written before the exit
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == 128 + 15, result.stderr.decode()
    assert Invocation.objects.filter(request_id__startswith="exit-").count() == 50


@pytest.mark.django_db
def test_inside_a_transaction_it_writes_in_that_transaction() -> None:
    writer = recorder.Recorder(flush_seconds=60, mode="auto")
    writer.record(row(7))
    assert Invocation.objects.filter(request_id="r-7").exists()


def test_logs_keep_their_tail_within_the_limit() -> None:
    logs = "START\n" + "é" * 3000 + "\nEND RequestId: x\n"
    kept = recorder.tail_of_logs(logs, limit=1000)
    assert len(kept.encode()) <= 1000
    assert kept.endswith("\nEND RequestId: x\n")
    assert recorder.tail_of_logs("short\x00log", limit=1000) == "short\ufffdlog"


@pytest.mark.django_db(transaction=True)
def test_a_function_deleted_in_flight_costs_no_other_record(settings: Any, tmp_path: Path) -> None:
    """The batch that holds a deleted function's record is written at once, that record included
    (without its function, with its name and account); nothing is held back or dropped."""
    from tests.invocations.services.test_invoke import make_function

    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    kept = make_function("kept", code_dir=settings.LAMBDA_CODE_DIR)
    doomed = make_function("doomed", code_dir=settings.LAMBDA_CODE_DIR)
    writer = recorder.Recorder(flush_seconds=60, batch_size=1000, mode="thread")
    for n in range(100):
        writer.record(Invocation(request_id=f"kept-{n}", function=kept, function_name="kept"))
    writer.record(Invocation(request_id="doomed-0", function=doomed, function_name="doomed", account_id="123456789012"))
    Function.objects.filter(pk=doomed.pk).delete()  # as another process would: the row goes, the object stays
    assert writer.flush(timeout=10)
    writer.close()
    assert Invocation.objects.filter(function=kept).count() == 100
    orphan = Invocation.objects.get(request_id="doomed-0")
    assert orphan.function_id is None and orphan.function_name == "doomed" and orphan.account_id == "123456789012"
    assert writer.dropped == 0


@pytest.mark.django_db(transaction=True)
def test_a_row_that_cannot_be_stored_is_the_only_one_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    # A row no repair makes storable (the database refuses it whatever is cleared or cut): stood in
    # for here, as SQLite's INSERT OR IGNORE skips CHECK failures instead of raising them.
    original = Invocation.objects.bulk_create

    def refusing(rows: list[Invocation], **kwargs: Any) -> Any:
        if any(r.request_id == "bad" for r in rows):
            raise IntegrityError("CHECK constraint failed: attempt")
        return original(rows, **kwargs)

    monkeypatch.setattr(Invocation.objects, "bulk_create", refusing)
    writer = recorder.Recorder(flush_seconds=60, batch_size=1000, mode="thread")
    for n in range(20):
        writer.record(row(n))
    writer.record(Invocation(request_id="bad", function_name="fn"))
    assert writer.flush(timeout=10)
    writer.close()
    assert Invocation.objects.count() == 20 and not Invocation.objects.filter(request_id="bad").exists()
    assert writer.dropped == 1


@pytest.mark.django_db(transaction=True)
def test_an_unavailable_database_is_waited_out_however_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """More failures in a row than the old limit of 60 attempts: still written, nothing dropped."""
    original = Invocation.objects.bulk_create
    failures = iter([True] * 75)

    def down(rows: list[Invocation], **kwargs: Any) -> Any:
        if next(failures, False):
            raise OperationalError("could not connect to server")
        return original(rows, **kwargs)

    monkeypatch.setattr(Invocation.objects, "bulk_create", down)
    writer = recorder.Recorder(flush_seconds=0.01, mode="thread", retry_base_s=0.00001)
    for n in range(5):
        writer.record(row(n))
    assert writer.flush(timeout=30)
    writer.close()
    assert Invocation.objects.count() == 5 and writer.dropped == 0
