"""Invocation records written off the hot path.

A synchronous invoke must not wait for a database insert (≈ 0.3 ms on SQLite, ≈ 1.2 ms on
PostgreSQL, MACHINE-FACTS.md), so the request thread hands an *unsaved* ``Invocation`` to
``record()`` and returns; one writer thread per process ``bulk_create``s what has piled up, every
``LAMBDA_RECORD_FLUSH_SECONDS`` or as soon as ``BATCH_SIZE`` rows wait.

Durability rules:

* A batch that fails for the database's sake (``database is locked``, a dropped PostgreSQL
  connection: ``OperationalError``/``InterfaceError``) is kept and retried with back-off until it is
  written — never dropped (ERROR every ``LOG_EVERY`` attempts while it lasts).
* A process killed outright (SIGKILL, the OOM killer) loses no record it handed over: each is
  appended to the process's journal file before the caller gets its answer, and a starting node
  writes the journals of dead processes (``invocations/journal.py``, ``recover_orphans``).
* A batch that fails because of a row (``IntegrityError``/``DataError``: the function or user it
  points to was deleted while it was in flight, a value too long for its column) is never held
  back by that row: references to rows that no longer exist are cleared (the record keeps the
  function's name and account, so its history outlives the function) and the batch is written
  again at once; if it still fails, each row is written on its own, and a row that cannot be
  written even with its references cleared and its text cut to its columns is the only one lost
  (logged at ERROR with its request id).
* ``bulk_create(ignore_conflicts=True)``: a retry after a commit whose acknowledgement was lost
  does not fail on the unique ``request_id``.
* ``close()`` drains the queue; it runs at exit (``invocations.node.at_exit``: atexit, and
  multiprocessing's finalizers for granian's worker process, which never runs atexit; a
  default-action SIGTERM becomes ``SystemExit``), so a clean shutdown leaves no journal behind.

Where rows are written synchronously instead (mode ``LAMBDA_RECORD_MODE``, default ``"auto"``):
when the recording thread is inside a transaction (``ATOMIC_REQUESTS``, Django's test cases), a
background thread could not see that transaction's rows (the function it points to) and would block
on its write lock, so ``auto`` writes in the caller's transaction. ``"sync"`` always does;
``"thread"`` never does.

Stored sizes (limits): payload and response are stored whole — both are capped at 6 MB by the
Invoke API and the Runtime API (6291556 bytes). A response that is not valid UTF-8 (or that contains
NUL, which PostgreSQL text cannot hold) is stored as ``BINARY_PREFIX`` + base64 of the bytes. Logs keep
their **last** ``LAMBDA_MAX_LOG_BYTES`` bytes (the END/REPORT lines are at the end), cut on a
character boundary.
"""

from __future__ import annotations

import base64
import functools
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, DataError, IntegrityError, connection, models, transaction

from invocations import journal as journal_files
from invocations import metrics, rollups
from invocations.models import BODY_FIELDS, Function, Invocation
from invocations.node import at_exit, current, current_node_name
from invocations.pooled import release_idle_connection

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 200
LOG_EVERY: Final = 30  # attempts between ERROR lines while the database stays unavailable (≈ 30 s)
BINARY_PREFIX: Final = "base64:"


def text_of_response(data: bytes) -> str:
    """The response bytes as storable text: UTF-8 as is, anything else as BINARY_PREFIX + base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return BINARY_PREFIX + base64.b64encode(data).decode("ascii")
    if "\x00" in text or text.startswith(BINARY_PREFIX):
        return BINARY_PREFIX + base64.b64encode(data).decode("ascii")
    return text


def tail_of_logs(logs: str, limit: int | None = None) -> str:
    """The last ``limit`` bytes (UTF-8) of the logs, cut on a character boundary, without NULs."""
    limit = settings.LAMBDA_MAX_LOG_BYTES if limit is None else limit
    if len(logs) * 4 > limit:  # cheap test first: only encode when it could be too long
        encoded = logs.encode("utf-8", "replace")
        if len(encoded) > limit:
            logs = encoded[-limit:].decode("utf-8", "ignore")
    return logs.replace("\x00", "\ufffd")


class _Flush:
    """A marker put on the queue: set once everything queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP: Final = object()


class Recorder:
    def __init__(
        self, *, flush_seconds: float, batch_size: int = BATCH_SIZE, mode: str = "auto", retry_base_s: float = 0.05,
        journal: journal_files.Journal | None = None,
    ) -> None:
        self.journal = journal
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self.mode = mode
        self.retry_base_s = retry_base_s
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.written = 0  # rows handed to the database (for tests and diagnostics)
        self.dropped = 0

    # --- the caller's side -------------------------------------------------------------------------

    def record(self, invocation: Invocation) -> None:
        """Store ``invocation`` (unsaved) soon; returns at once unless writing synchronously."""
        if self.mode == "sync" or (self.mode == "auto" and connection.in_atomic_block) or self._closed:
            self._write([invocation], in_caller=True)
            return
        self._ensure_thread()
        if self.journal is not None:
            invocation._journal_generation = self.journal.append(journal_files.encode(values_of(invocation)))  # type: ignore[attr-defined]
        self._queue.put(invocation)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything recorded so far is written; False on timeout."""
        if self._thread is None or not self._thread.is_alive():
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued and stop the writer (atexit)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)
            if thread.is_alive():
                logger.error("invocation recorder did not finish writing within %.0f s; the journal keeps the rest", timeout)
                return
        if self.journal is not None:
            self.journal.close()

    # --- the writer thread -------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # Daemon: the interpreter's shutdown does not wait for it; close() (atexit) drains it.
                self._thread = threading.Thread(target=self._run, name="invocation-recorder", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        pending: list[Invocation] = []
        markers: list[_Flush] = []
        stop = False
        try:
            while not stop:
                item = self._queue.get()
                deadline = time.monotonic() + self.flush_seconds
                while True:
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, _Flush):
                        markers.append(item)
                    else:
                        pending.append(item)  # type: ignore[arg-type]
                    if stop or markers or len(pending) >= self.batch_size:
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                # Everything already queued goes into this batch too (no waiting for it).
                while not stop and len(pending) < self.batch_size:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, _Flush):
                        markers.append(item)
                    else:
                        pending.append(item)  # type: ignore[arg-type]
                if pending:
                    self._write(pending)
                    pending = []
                    if self._queue.empty():
                        release_idle_connection()  # idle: give a pooled connection back
                if markers and self._queue.empty():
                    for marker in markers:
                        marker.done.set()
                    markers = []
                elif markers:
                    continue
            # _STOP: drain whatever arrived after it was queued.
            rest: list[Invocation] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Flush):
                    markers.append(item)
                elif item is not _STOP:
                    rest.append(item)  # type: ignore[arg-type]
            for start in range(0, len(rest), self.batch_size):
                self._write(rest[start : start + self.batch_size])
        finally:
            for marker in markers:
                marker.done.set()
            connection.close()

    def _write(self, rows: list[Invocation], *, in_caller: bool = False) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                self._insert(rows)
                self.written += len(rows)
                self._done(rows)
                return
            except (IntegrityError, DataError):
                # A row's fault, not the database's: write the others now, that one as it can be.
                self._write_apart(rows)
                self._done(rows)
                return
            except DatabaseError:
                if in_caller:
                    raise
                log = logger.error if attempt % LOG_EVERY == 0 else logger.warning
                log("writing %d invocation records failed (attempt %d); retrying", len(rows), attempt,
                    exc_info=attempt % LOG_EVERY == 0)  # fmt: skip
                # A broken connection (server restart) is replaced on the next query.
                connection.close()
                time.sleep(min(1.0, self.retry_base_s * 2 ** min(attempt - 1, 10)))

    def _done(self, rows: list[Invocation]) -> None:
        """Written (or refused for good): out of the journal."""
        if self.journal is not None:
            self.journal.committed(
                generation for row in rows if (generation := getattr(row, "_journal_generation", None)) is not None
            )

    def _insert(self, rows: list[Invocation]) -> None:
        # One transaction: on PostgreSQL a foreign key is checked at its commit (deferred).
        with transaction.atomic():
            rollups.count_recorded(rows)  # the Monitor's per-minute metrics, with the rows (rollups.py)
            # Their texts too, apart (InvocationBody): the manager writes both.
            Invocation.objects.bulk_create(rows, batch_size=self.batch_size, ignore_conflicts=True)

    def _write_apart(self, rows: list[Invocation]) -> None:
        """Write ``rows`` after a row-level failure: without dangling references in one batch,
        else one by one, each cut to fit when it must; only a row that still fails is lost."""
        detach_missing_references(rows)
        try:
            self._insert(rows)
            self.written += len(rows)
            return
        except (IntegrityError, DataError):
            pass
        for row in rows:
            for repair in (None, fit_to_columns):
                if repair is not None:
                    repair(row)
                try:
                    self._insert([row])
                except (IntegrityError, DataError):
                    continue
                self.written += 1
                break
            else:
                self.dropped += 1
                logger.exception("invocation record %s cannot be stored; it alone is dropped", row.request_id)


_FIELDS: Final = tuple(field for field in Invocation._meta.concrete_fields if not field.primary_key)
_FIELDS_BY_NAME: Final = {field.attname: field for field in _FIELDS}


def values_of(invocation: Invocation) -> dict[str, Any]:
    """An unsaved record as journal data (its columns by attribute name, and its texts)."""
    values = {field.attname: getattr(invocation, field.attname) for field in _FIELDS}
    body = invocation.body_to_write()
    values.update({name: getattr(body, name) if body is not None else "" for name in BODY_FIELDS})
    return values


def from_values(values: dict[str, Any]) -> Invocation:
    invocation = Invocation(**{name: _FIELDS_BY_NAME[name].to_python(value) for name, value in values.items()
                               if name in _FIELDS_BY_NAME})  # fmt: skip
    for name in BODY_FIELDS:
        if values.get(name):
            setattr(invocation, name, str(values[name]))
    return invocation


def detach_missing_references(rows: list[Invocation]) -> None:
    """Clear each row's function and caller when that row no longer exists (deleted in flight)."""
    user_model = get_user_model()
    for attribute, model in (("function_id", Function), ("caller_id", user_model)):
        wanted = {getattr(row, attribute) for row in rows} - {None}
        if not wanted:
            continue
        existing = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for row in rows:
            if getattr(row, attribute) not in existing:
                setattr(row, attribute, None)


def fit_to_columns(row: Invocation) -> None:
    """Cut every text value to its column's length and clear every reference (last resort)."""
    for field in _FIELDS:
        value = getattr(row, field.attname)
        if isinstance(field, models.ForeignKey):
            if field.null:
                setattr(row, field.attname, None)
        elif isinstance(field, models.CharField) and isinstance(value, str) and field.max_length:
            setattr(row, field.attname, value[: field.max_length])
        if isinstance(value, str) and "\x00" in value:
            setattr(row, field.attname, getattr(row, field.attname).replace("\x00", "\ufffd"))
    body = row.body_to_write()
    for name in BODY_FIELDS if body is not None else ():
        setattr(body, name, getattr(body, name).replace("\x00", "\ufffd"))


def new_recorder() -> Recorder:
    """A recorder as settings say, drained at exit; the node keeps one per process (``Node.recorder``)."""
    recorder = Recorder(
        flush_seconds=settings.LAMBDA_RECORD_FLUSH_SECONDS,
        mode=settings.LAMBDA_RECORD_MODE,
        journal=_journal(),
    )
    # Last (after the pool and the heartbeat); within granian's worker kill timeout (grace + 15 s).
    at_exit(functools.partial(recorder.close, 8.0), priority=10)
    return recorder


def get_recorder() -> Recorder:
    """This process's recorder (created on first use, drained at exit)."""
    return current().recorder


def _journal_location() -> tuple[Path, str] | None:
    """The journal directory and this database's key, or None when journalling is off."""
    directory = settings.LAMBDA_RECORD_JOURNAL_DIR
    return (Path(directory), journal_files.database_key(connection.settings_dict)) if directory else None


def _journal() -> journal_files.Journal | None:
    location = _journal_location()
    return journal_files.Journal(*location) if location else None


def recover_orphans() -> int:
    """Write the records that processes which died left in their journals; return how many.
    Run by a starting node (``invocations.node.Node.start``)."""
    location = _journal_location()
    if location is None:
        return 0
    with journal_files.orphans(*location) as found:
        rows = [from_values(values) for _, lines in found for values in lines]
        if not rows:
            return 0
        writer = Recorder(flush_seconds=0, mode="thread")
        for start in range(0, len(rows), BATCH_SIZE):
            writer._write(rows[start : start + BATCH_SIZE])
    logger.warning("wrote %d invocation records left in the journals of %d stopped processes", len(rows), len(found))
    return len(rows)


def record(invocation: Invocation) -> None:
    # Which node ran it: synchronous records name their web node (or worker) as events name theirs,
    # so a cluster's records tell where each environment was warm (tests/live/test_scale_out.py).
    if not invocation.worker:
        invocation.worker = current_node_name()
    metrics.observe_invocation(invocation)  # Prometheus counters, in this process (invocations/metrics.py)
    get_recorder().record(invocation)


def flush(timeout: float = 30.0) -> bool:
    """Wait until every record handed over so far is in the database (tests, shutdown)."""
    return get_recorder().flush(timeout)
