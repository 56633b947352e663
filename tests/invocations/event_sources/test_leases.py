"""Poller leases: one holder per unit, expiry, takeover from dead processes, renewal, release."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from invocations.event_sources import leases
from invocations.models import PollerLease

pytestmark = pytest.mark.django_db

HOST = socket.gethostname()
ALIVE = f"worker:{HOST}:1/a"  # pid 1 always runs
DEAD = f"worker:{HOST}:999999999/b"


def test_a_free_unit_is_taken_and_then_refused_to_others() -> None:
    assert leases.acquire("m/q", ALIVE, ttl=30)
    assert not leases.acquire("m/q", "worker:other-host:5/c", ttl=30)
    assert leases.holder_of("m/q") == ALIVE
    assert leases.acquire("m/q", ALIVE, ttl=30)  # the holder may take it again


def test_an_expired_lease_is_taken_over() -> None:
    PollerLease.objects.create(key="m/q", holder="worker:other-host:5/c", expires_at=timezone.now() - timedelta(seconds=1))
    assert leases.acquire("m/q", ALIVE, ttl=30)
    assert leases.holder_of("m/q") == ALIVE


def test_a_dead_holder_on_this_host_is_replaced_before_expiry() -> None:
    PollerLease.objects.create(key="m/q", holder=DEAD, expires_at=timezone.now() + timedelta(seconds=60))
    assert leases.acquire("m/q", ALIVE, ttl=30)


def test_renewal_extends_and_reports_lost_leases() -> None:
    leases.acquire("m/1", ALIVE, ttl=1)
    leases.acquire("m/2", ALIVE, ttl=1)
    PollerLease.objects.filter(key="m/2").update(holder="worker:other-host:5/c")
    assert leases.renew(["m/1", "m/2"], ALIVE, ttl=60) == {"m/2"}
    expires = PollerLease.objects.get(key="m/1").expires_at
    assert expires > timezone.now() + timedelta(seconds=50)


def test_release_only_deletes_ones_own_lease() -> None:
    leases.acquire("m/q", ALIVE, ttl=30)
    leases.release("m/q", "worker:other-host:5/c")
    assert leases.holder_of("m/q") == ALIVE
    leases.release("m/q", ALIVE)
    assert leases.holder_of("m/q") is None
