"""The recorder's journal: a process killed outright loses no record it handed over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from invocations import journal, recorder
from invocations.models import Invocation
from tests.invocations.test_recorder import ROOT, _database_url


def files(directory: Path) -> list[Path]:
    return sorted(directory.glob("records-*.jsonl"))


def test_committed_records_leave_the_file_and_a_rotated_file_goes_when_done(tmp_path: Path) -> None:
    log = journal.Journal(tmp_path, "k", rotate_bytes=160)
    first = [log.append(b'{"a":1}\n') for _ in range(20)]  # 160 bytes: the next line opens a new file
    second = log.append(b'{"b":2}\n')
    assert first == [1] * 20 and second == 2 and len(files(tmp_path)) == 2
    log.committed(first[:10])
    assert len(files(tmp_path)) == 2
    log.committed(first[10:])
    assert len(files(tmp_path)) == 1  # generation 1 removed, generation 2 still pending
    log.committed([second])
    (current,) = files(tmp_path)
    assert current.stat().st_size == 0  # truncated, kept open for the next record
    log.close()
    assert files(tmp_path) == []


def test_a_live_writers_file_is_not_an_orphan_and_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    log = journal.Journal(tmp_path, "k")
    log.append(b'{"request_id":"a"}\n')
    with journal.orphans(tmp_path, "k") as found:
        assert found == []  # this process holds the lock
    (tmp_path / "records-k-1-dead-1.jsonl").write_bytes(b'{"request_id":"b"}\n{"request_id":"c"')
    (tmp_path / "records-other-1-dead-1.jsonl").write_bytes(b'{"request_id":"x"}\n')
    with journal.orphans(tmp_path, "k") as found:
        assert [lines for _, lines in found] == [[{"request_id": "b"}]]
    assert not (tmp_path / "records-k-1-dead-1.jsonl").exists()
    assert (tmp_path / "records-other-1-dead-1.jsonl").exists()  # another database's


def test_a_record_round_trips_through_its_journal_line() -> None:
    from django.utils import timezone

    original = Invocation(request_id="r", function_name="fn", account_id="123456789012", payload='{"é": 1}',
                          duration_ms=1.5, cold_start=True, created_at=timezone.now(), status="succeeded")  # fmt: skip
    import json

    copy = recorder.from_values(json.loads(journal.encode(recorder.values_of(original))))
    assert recorder.values_of(copy) == recorder.values_of(original)


@pytest.mark.django_db(transaction=True)
def test_a_process_killed_with_sigkill_leaves_its_records_for_the_next_node(settings: Any, tmp_path: Path) -> None:
    """50 records handed over, none written yet (flush every 60 s), then SIGKILL: the next node's
    start writes all 50 from the journal and removes it."""
    directory = tmp_path / "journal"
    script = textwrap.dedent(
        """
        import os, signal
        import django
        django.setup()
        from invocations import recorder
        from invocations.models import Invocation
        for n in range(50):
            recorder.record(Invocation(request_id=f"killed-{n}", function_name="fn", status="succeeded"))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=_database_url(),
               LAMBDA_RECORD_FLUSH_SECONDS="60", LAMBDA_RECORD_MODE="thread", LAMBDA_RECORD_JOURNAL_DIR=str(directory))  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert not Invocation.objects.filter(request_id__startswith="killed-").exists()
    assert len(files(directory)) == 1

    settings.LAMBDA_RECORD_JOURNAL_DIR = str(directory)
    assert recorder.recover_orphans() == 50
    assert Invocation.objects.filter(request_id__startswith="killed-", status="succeeded").count() == 50
    assert files(directory) == []
    assert recorder.recover_orphans() == 0


@pytest.mark.django_db(transaction=True)
def test_records_already_written_are_not_written_twice(settings: Any, tmp_path: Path) -> None:
    Invocation.objects.create(request_id="dup-0", function_name="fn")
    from django.db import connection

    key = journal.database_key(connection.settings_dict)
    lines = b"".join(journal.encode({"request_id": f"dup-{n}", "function_name": "fn"}) for n in range(3))
    (tmp_path / f"records-{key}-1-dead-1.jsonl").write_bytes(lines)
    settings.LAMBDA_RECORD_JOURNAL_DIR = str(tmp_path)
    assert recorder.recover_orphans() == 3
    assert sorted(Invocation.objects.values_list("request_id", flat=True)) == ["dup-0", "dup-1", "dup-2"]
