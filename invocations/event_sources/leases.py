"""Poller leases: at most one poller per unit (a queue slot, a shard) across all workers.

A lease is a ``PollerLease`` row ``key → holder, expires_at``. Taking one is a conditional write,
so two workers racing for a unit cannot both win:

* a free unit: INSERT (the unique key makes the loser's insert fail);
* a unit whose lease expired (its holder stopped renewing: the machine is gone, the process hung),
  or whose holder is a dead process on this host (``kill -9``: no need to wait for expiry):
  ``UPDATE … WHERE key = k AND holder = <the holder we saw>`` — one winner.

The holder renews its leases well before they expire (the supervisor does it every tick, from its
own thread, so a long invocation inside ``run_slice`` never lets a lease lapse); a renewal that
updates nothing means the lease was lost, and the poller stops. A clean stop deletes the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from invocations.models import PollerLease


def lease_key(mapping_uuid: str, unit: str) -> str:
    return f"{mapping_uuid}/{unit}"


def holder_alive(holder: str, *, now: datetime | None = None) -> bool:
    """Whether the process named in ``holder`` ("worker:HOST:PID/ID") still runs (see async_events)."""
    from invocations.services.async_events import worker_alive

    return worker_alive(holder.partition("/")[0], now=now)


def acquire(key: str, holder: str, *, ttl: float, now: datetime | None = None) -> bool:
    """Take the lease on ``key`` for ``ttl`` seconds; False when another live holder has it."""
    now = now or timezone.now()
    expires = now + timedelta(seconds=ttl)
    current = PollerLease.objects.filter(key=key).values("holder", "expires_at").first()
    if current is None:
        try:
            with transaction.atomic():
                PollerLease.objects.create(key=key, holder=holder, expires_at=expires)
            return True
        except IntegrityError:
            return False
    if current["holder"] != holder and current["expires_at"] > now and holder_alive(current["holder"], now=now):
        return False
    taken = PollerLease.objects.filter(key=key, holder=current["holder"]).update(holder=holder, expires_at=expires)
    return taken == 1


def renew(keys: list[str], holder: str, *, ttl: float, now: datetime | None = None) -> set[str]:
    """Extend ``holder``'s leases; returns the keys it no longer holds (lost to another worker)."""
    if not keys:
        return set()
    now = now or timezone.now()
    PollerLease.objects.filter(key__in=keys, holder=holder).update(expires_at=now + timedelta(seconds=ttl))
    held = set(PollerLease.objects.filter(key__in=keys, holder=holder).values_list("key", flat=True))
    return set(keys) - held


def release(key: str, holder: str) -> None:
    PollerLease.objects.filter(key=key, holder=holder).delete()


def holder_of(key: str) -> str | None:
    return PollerLease.objects.filter(key=key).values_list("holder", flat=True).first()
