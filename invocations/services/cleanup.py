"""What a deleted or changed function leaves behind: its environments and its code.

An environment runs one revision of one version (``FunctionSpec.revision_id``); once that revision
is gone — the function or version was deleted, or its code or configuration updated — its
environments must end (an update never reaches an old environment, and a deleted function must not
keep running). The node that made the change retires its own at once (``forget_versions``); every
other node notices within ``LAMBDA_RECONCILE_SECONDS`` (``reconcile_environments``, run by each
node's background thread, ``invocations/node.py``).

Code is content-addressed and shared by every version with the same zip (``services/code.py``), so
it is removed only when no version references it any more — the files on this node and the zip
kept in the database for the other nodes (``CodeBlob``). A directory that was stored or reused
in the last ``LAMBDA_CODE_GRACE_SECONDS`` is kept: between storing a zip and committing the version that
references it there is no row to see, and a create must not lose its code to a concurrent delete of
another function with the same zip. The node's periodic ``prune_code`` removes what that spared.

Invocation records are not among what a deletion removes: they outlive their function (its team
reads them by name) until ``LAMBDA_HISTORY_RETENTION_DAYS`` passes; a function keeps at most its newest
``LAMBDA_HISTORY_MAX_PER_FUNCTION``. ``prune_history`` runs in the workers' sweep, in small batches.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from invocations.models import CodeBlob, DestinationDelivery, Function, FunctionVersion, Invocation
from invocations.services import code as code_service

logger = logging.getLogger(__name__)

_DIGEST = re.compile(r"[0-9a-f]{64}")


def forget_versions(versions: Iterable[FunctionVersion]) -> None:
    """Call in the transaction that deletes these versions or replaces their revision: once it
    commits, this node's environments of them end and their code goes if nothing else uses it."""
    revisions = {version.revision_id for version in versions}
    digests = {version.code_digest for version in versions}
    transaction.on_commit(lambda: _forget(revisions, digests))


def _forget(revisions: set[str], digests: set[str]) -> None:
    from invocations.node import current_pool

    pool = current_pool()
    if pool is not None:
        pool.retire(revisions)
    prune_code(digests)


def reconcile_environments() -> int:
    """End this node's environments whose revision no longer exists; return how many revisions."""
    from invocations.node import current_pool

    pool = current_pool()
    if pool is None:
        return 0
    live = pool.live_revisions()
    if not live:
        return 0
    current = set(FunctionVersion.objects.filter(revision_id__in=live).values_list("revision_id", flat=True))
    stale = live - current
    pool.retire(stale)
    return len(stale)


def prune_code(digests: Iterable[str] | None = None, *, grace_s: float | None = None) -> list[str]:
    """Remove stored code no version references (all of LAMBDA_CODE_DIR when ``digests`` is None)."""
    root = settings.LAMBDA_CODE_DIR
    grace_s = settings.LAMBDA_CODE_GRACE_SECONDS if grace_s is None else grace_s
    if digests is None:
        try:
            names = os.listdir(root)
        except FileNotFoundError:
            names = []
        candidates = {name.removesuffix(".zip") for name in names if _DIGEST.fullmatch(name.removesuffix(".zip"))}
    else:
        candidates = {digest for digest in digests if _DIGEST.fullmatch(digest)}
    if digests is None:
        _prune_blobs(grace_s)
    if not candidates:
        return []
    referenced = set(FunctionVersion.objects.filter(code_digest__in=candidates).values_list("code_digest", flat=True))
    removed = []
    now = time.time()
    for digest in sorted(candidates - referenced):
        directory, archive = code_service.code_dir(digest), code_service.zip_path(digest)
        try:
            if now - max(p.stat().st_mtime for p in (directory, archive) if p.exists()) < grace_s:
                continue
        except ValueError:  # neither exists on this node: its blob may still go
            _prune_blobs(grace_s, [digest])
            continue
        shutil.rmtree(directory, ignore_errors=True)
        archive.unlink(missing_ok=True)
        _prune_blobs(grace_s, [digest])
        removed.append(digest)
    if removed:
        logger.info("removed the code of %d deleted function version(s)", len(removed))
    return removed


def _prune_blobs(grace_s: float, digests: list[str] | None = None) -> int:
    """Delete the database's copies (``CodeBlob``) of zips no version references, stored or reused
    more than ``grace_s`` ago: ``digests`` only, or all of them. Other nodes' copies on disk go at
    their own next prune."""
    cutoff = timezone.now() - timedelta(seconds=grace_s)
    blobs = CodeBlob.objects.filter(stored_at__lt=cutoff)
    if digests is not None:
        blobs = blobs.filter(digest__in=digests)
    # One statement: a blob referenced or stored again by then stays.
    return blobs.exclude(digest__in=FunctionVersion.objects.values("code_digest")).delete()[0]



@dataclass
class PruneReport:
    by_age: int = 0
    by_count: int = 0
    batches: int = 0

    @property
    def removed(self) -> int:
        return self.by_age + self.by_count


def prunable() -> QuerySet[Invocation]:
    """Records retention may remove: finished ones, and none a delivery still waits to send (its
    row would cascade away with the record, and the record is what it sends)."""
    open_states = (Invocation.Status.QUEUED, Invocation.Status.RUNNING)
    pending = DestinationDelivery.objects.filter(status=DestinationDelivery.Status.PENDING)
    return Invocation.objects.exclude(status__in=open_states).exclude(pk__in=pending.values("invocation_id"))


def _delete_in_batches(rows: QuerySet[Invocation], report: PruneReport, *, batch: int, pause_s: float) -> int:
    """Delete ``rows`` oldest first, ``batch`` ids per statement, each statement its own transaction
    (autocommit), pausing between them: a writer waits at most one short DELETE for the table."""
    removed = 0
    while True:
        count = delete_batch(rows, batch=batch)
        if not count:
            return removed
        removed += count
        report.batches += 1
        if count < batch:
            return removed
        if pause_s > 0:
            time.sleep(pause_s)


def delete_batch(rows: QuerySet[Invocation], *, batch: int) -> int:
    """Delete the oldest ``batch`` of ``rows`` in one transaction; return how many."""
    ids = list(rows.order_by("created_at", "id").values_list("id", flat=True)[:batch])
    if not ids:
        return 0
    with transaction.atomic():
        # Attempts and deliveries cascade (the ORM deletes them first, in the same transaction);
        # a delivery that *caused* one of these records only loses its link (SET_NULL).
        # Bodies cascade the same way (by request id). only(): the collector loads the rows it
        # deletes, and needs their request ids for the bodies, nothing else.
        Invocation.objects.filter(id__in=ids).only("id", "request_id").delete()
    return len(ids)


def prune_history(
    *, now: datetime | None = None, days: float | None = None, max_per_function: int | None = None,
    batch: int | None = None, pause_s: float | None = None, report: PruneReport | None = None,
) -> int:
    """Delete records past the retention; return how many.

    By age: created more than ``LAMBDA_HISTORY_RETENTION_DAYS`` ago (0: no age limit). By count:
    beyond the newest ``LAMBDA_HISTORY_MAX_PER_FUNCTION`` of each existing function (0: no limit;
    a deleted function's records are kept by age only — they have no function to count by).
    Events still queued or running are kept whatever their age (their outcome is not written yet),
    and so is a record a destination delivery still has to send. Deletes run in batches of
    ``LAMBDA_HISTORY_PRUNE_BATCH`` rows, each committed on its own, with a short pause between.
    """
    days = settings.LAMBDA_HISTORY_RETENTION_DAYS if days is None else days
    limit = settings.LAMBDA_HISTORY_MAX_PER_FUNCTION if max_per_function is None else max_per_function
    batch = settings.LAMBDA_HISTORY_PRUNE_BATCH if batch is None else batch
    pause_s = settings.LAMBDA_HISTORY_PRUNE_PAUSE_SECONDS if pause_s is None else pause_s
    report = PruneReport() if report is None else report
    if days > 0:
        cutoff = (now or timezone.now()) - timedelta(days=days)
        report.by_age += _delete_in_batches(prunable().filter(created_at__lt=cutoff), report, batch=batch, pause_s=pause_s)
    if limit > 0:
        for function_id in Function.objects.order_by("id").values_list("id", flat=True):
            # The limit-th newest record's place (inv_function_counts, read newest first): only
            # functions with more than ``limit`` records have one.
            boundary = (
                Invocation.objects.filter(function_id=function_id).order_by("-created_at", "-id")
                .values_list("created_at", "id")[limit : limit + 1]
            )  # fmt: skip
            found = list(boundary)
            if not found:
                continue
            moment, pk = found[0]
            # A range plus an exclusion (not an OR): the planner keeps the index range scan.
            older = prunable().filter(function_id=function_id, created_at__lte=moment).exclude(
                created_at=moment, id__gt=pk
            )
            report.by_count += _delete_in_batches(older, report, batch=batch, pause_s=pause_s)
    return report.removed
