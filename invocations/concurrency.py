"""Concurrency limits that hold across the cluster: every web node and worker together.

AWS semantics (GetAccountSettings, PutFunctionConcurrency): an account (here a team) may run
``LAMBDA_ACCOUNT_CONCURRENCY`` executions at once (1,000 by default). A function with reserved
concurrency runs at most its reservation, out of capacity set aside for it; every other function
shares what is left, ``UnreservedConcurrentExecutions`` = the account limit − the sum of the
reservations. So each invocation counts against exactly one counter: ``fn:<function>`` (limit: its
reservation) or ``acct:<team>`` (limit: the unreserved pool). A refusal is AWS's 429
``TooManyRequestsException`` with Reason ``ReservedFunctionConcurrentInvocationLimitExceeded`` or
``ConcurrentInvocationLimitExceeded`` (raised as the engine's ``TooManyRequests``, so every caller's
existing throttle path applies: sync → 429, Event → retried later, event sources → back off).

The counter is a set of **leases**, one per unit of concurrency, each with an expiry:

* Redis (when ``CELERY_BROKER_URL`` is ``redis://``): a sorted set per counter, members the lease
  tokens, scores their expiry (Redis's own clock, ``TIME``). One Lua script drops expired members,
  counts the rest and adds the new ones only below the limit — atomic, one round trip.
* The database otherwise (``ConcurrencyLease`` rows, ``ConcurrencyCounter`` one row per counter):
  in one transaction the counter's row is locked by an UPDATE (PostgreSQL: a row lock, like
  SELECT … FOR UPDATE; SQLite: the database write lock, which ``transaction_mode=IMMEDIATE`` takes
  at BEGIN anyway), expired leases of that counter are deleted, live ones counted, and a new one
  inserted only below the limit.

A lease lives ``LAMBDA_CONCURRENCY_LEASE_TTL`` seconds (30) and is renewed by this process's
keeper thread every third of that, for as long as the process holds it (so an invocation may run
its full 900 s); a node that crashed stops renewing and its leases expire by themselves. Releasing
is idempotent (a token removed twice, or already expired, is simply gone).

**Cost on the hot path.** A round trip per invoke (≈ 0.1 ms to Redis, ≈ 0.3–1 ms of SQLite write
lock and commit) plus another to release would be paid by every warm invoke. Instead a process
keeps a lease it has finished with for ``LAMBDA_CONCURRENCY_LINGER`` seconds (0.2) as a *spare*
of its counter: the next invocation of that counter in this process takes the spare without asking
anybody (a lock and a list pop, microseconds), and the keeper returns spares older than the linger
in one batch per counter. Under steady load a node thus cycles the units it needs and meets the
shared counter only when its concurrency grows; the units it holds are always ≤ the limit, since
each was granted by the shared counter. A spare never lets a process exceed a limit that shrank:
the fast path is taken only while the process's units in use are below the current limit.
Nor does a busy node keep its units for ever while others are refused: a lease granted more than
``MAX_REUSE_S`` (1 s) ago goes back to the shared counter when its invocation ends, so under
saturation every node asks again about once a second (one round trip per unit per second). That
gives others a chance, not a turn: the node whose threads are already waiting usually asks first,
and a saturated node can keep a counter for seconds (tests saw one process take all of 2.5 s).
Fairness between nodes is not promised (AWS promises none either); the limit is.

The price of spares is that another node may be refused a unit that is idle here for up to the
linger. So a refusal is not final at once: the caller waits one linger (plus a margin) and asks
again before it throttles — a true throttle comes ≈ 0.25 s late, a false one does not happen.

If the shared counter cannot be reached (Redis down, database error) an invocation is admitted
(the node's own pool still caps it) and the failure is logged: availability over strictness.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings

from invocations.engine.types import TooManyRequests

logger = logging.getLogger(__name__)

RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
CONCURRENT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
RESERVATIONS_CACHE_S = 2.0  # the sum of a team's reservations, read on the slow path only
RETRY_MARGIN_S = 0.05
MAX_REUSE_S = 1.0  # a lease granted longer ago than this goes back to the counter when it is finished


def account_limit() -> int:
    return settings.LAMBDA_ACCOUNT_CONCURRENCY


def function_key(function_id: int) -> str:
    return f"fn:{function_id}"


def account_key(team_id: int) -> str:
    return f"acct:{team_id}"


# ----- backends -------------------------------------------------------------------------------------


class Backend(Protocol):
    name: str

    def acquire(self, key: str, limit: int, tokens: list[str], *, holder: str, ttl: float,
                team_id: int, function_id: int | None) -> list[str]:
        """Grant as many of ``tokens`` as fit under ``limit`` (in order); the granted ones."""

    def release(self, key: str, tokens: list[str]) -> None: ...

    def renew(self, held: dict[str, list[str]], ttl: float) -> None: ...

    def usage(self, keys: list[str]) -> dict[str, int]: ...


_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local granted = 0
for i = 3, #ARGV do
  if granted >= free then break end
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
  granted = granted + 1
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return granted
"""

_RENEW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 0
"""

_USAGE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""


class RedisBackend:
    name = "redis"

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = f"lwb:concurrency:{namespace}:"
        self._acquire = self._client.register_script(_ACQUIRE_LUA)
        self._renew = self._client.register_script(_RENEW_LUA)
        self._usage = self._client.register_script(_USAGE_LUA)

    def acquire(self, key: str, limit: int, tokens: list[str], *, holder: str, ttl: float,
                team_id: int, function_id: int | None) -> list[str]:
        granted = int(self._acquire(keys=[self._prefix + key], args=[limit, int(ttl * 1000), *tokens]))
        return tokens[:granted]

    def release(self, key: str, tokens: list[str]) -> None:
        if tokens:
            self._client.zrem(self._prefix + key, *tokens)

    def renew(self, held: dict[str, list[str]], ttl: float) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, tokens in held.items():
            if tokens:
                self._renew(keys=[self._prefix + key], args=[int(ttl * 1000), *tokens], client=pipe)
        pipe.execute()

    def usage(self, keys: list[str]) -> dict[str, int]:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            self._usage(keys=[self._prefix + key], client=pipe)
        return {key: int(count) for key, count in zip(keys, pipe.execute())}


class DatabaseBackend:
    name = "database"

    def acquire(self, key: str, limit: int, tokens: list[str], *, holder: str, ttl: float,
                team_id: int, function_id: int | None) -> list[str]:
        from django.db import transaction
        from django.utils import timezone

        from invocations.models import ConcurrencyCounter, ConcurrencyLease

        ConcurrencyCounter.objects.bulk_create([ConcurrencyCounter(key=key)], ignore_conflicts=True)
        with transaction.atomic():
            # The lock: the counter's row (PostgreSQL) / the write lock (SQLite), held to commit.
            ConcurrencyCounter.objects.filter(key=key).update(key=key)
            now = timezone.now()
            leases = ConcurrencyLease.objects.filter(key=key)
            leases.filter(expires_at__lte=now).delete()
            free = limit - leases.count()
            granted = tokens[:max(0, free)]
            if granted:
                expires = now + timedelta(seconds=ttl)
                ConcurrencyLease.objects.bulk_create([
                    ConcurrencyLease(token=token, key=key, team_id=team_id, function_id=function_id,
                                     holder=holder, expires_at=expires)
                    for token in granted
                ])  # fmt: skip
        return granted

    def release(self, key: str, tokens: list[str]) -> None:
        from invocations.models import ConcurrencyLease

        if tokens:
            ConcurrencyLease.objects.filter(token__in=tokens).delete()

    def renew(self, held: dict[str, list[str]], ttl: float) -> None:
        from django.utils import timezone

        from invocations.models import ConcurrencyLease

        tokens = [token for group in held.values() for token in group]
        for start in range(0, len(tokens), 500):
            ConcurrencyLease.objects.filter(token__in=tokens[start:start + 500]).update(
                expires_at=timezone.now() + timedelta(seconds=ttl))

    def usage(self, keys: list[str]) -> dict[str, int]:
        from django.db.models import Count
        from django.utils import timezone

        from invocations.models import ConcurrencyLease

        rows = (ConcurrencyLease.objects.filter(key__in=keys, expires_at__gt=timezone.now())
                .values("key").annotate(n=Count("id")))  # fmt: skip
        counts = {row["key"]: row["n"] for row in rows}
        return {key: counts.get(key, 0) for key in keys}


def cluster_namespace() -> str:
    """Nodes of one cluster share one database; Redis keys are scoped to it, so unrelated stacks
    on one Redis (tests, staging next to production) never share counters."""
    db = settings.DATABASES["default"]
    ident = f"{db.get('ENGINE')}|{db.get('HOST')}|{db.get('PORT')}|{db.get('NAME')}"
    return hashlib.sha1(ident.encode()).hexdigest()[:12]


def make_backend() -> Backend:
    choice = settings.LAMBDA_CONCURRENCY_BACKEND
    url = settings.CELERY_BROKER_URL
    if choice == "redis" or (choice == "auto" and url.startswith(("redis://", "rediss://"))):
        return RedisBackend(settings.LAMBDA_CONCURRENCY_REDIS_URL or url, cluster_namespace())
    return DatabaseBackend()


# ----- this process's holdings -------------------------------------------------------------------


@dataclass
class Lease:
    key: str
    token: str
    released: bool = False


@dataclass
class _Counter:
    in_use: dict[str, float] = field(default_factory=dict)  # token → when the counter granted it
    spares: list[tuple[str, float, float]] = field(default_factory=list)  # (token, released, granted), newest last
    returning: list[str] = field(default_factory=list)  # finished, too old to reuse: the keeper gives them back


class Limiter:
    """One process's view of the shared counters (thread-safe)."""

    def __init__(self, backend: Backend, *, ttl: float = 30.0, linger: float = 0.2, keeper: bool = True,
                 max_reuse: float = MAX_REUSE_S) -> None:
        self.backend = backend
        self.max_reuse = max_reuse
        self.keeper = keeper  # False: no thread, the owner calls tick() (tests)
        self.ttl = ttl
        self.linger = linger
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._counters: dict[str, _Counter] = {}
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._last_renew = time.monotonic()

    # -- the hot path --
    def acquire(self, key: str, limit: int, *, reason: str, team_id: int, function_id: int | None,
                wait_once: bool = True) -> Lease:
        if limit <= 0:
            raise TooManyRequests(reason)
        lease = self._take_spare(key, limit)
        if lease is not None:
            return lease
        token = f"{self.holder}:{next(self._seq)}"
        for attempt in (0, 1):
            try:
                granted = self.backend.acquire(key, limit, [token], holder=self.holder, ttl=self.ttl,
                                               team_id=team_id, function_id=function_id)
            except Exception:
                logger.exception("the shared concurrency counter (%s) is unreachable; admitting", self.backend.name)
                return Lease(key, "", released=True)  # nothing to release
            if granted:
                with self._lock:
                    self._counters.setdefault(key, _Counter()).in_use[token] = time.monotonic()
                self._ensure_thread()
                return Lease(key, token)
            if attempt == 0 and wait_once:
                time.sleep(self.linger + RETRY_MARGIN_S)  # another node's spare comes back by then
                lease = self._take_spare(key, limit)
                if lease is not None:
                    return lease
                continue
            break
        raise TooManyRequests(reason)

    def _take_spare(self, key: str, limit: int) -> Lease | None:
        with self._lock:
            counter = self._counters.get(key)
            if counter is None or not counter.spares or len(counter.in_use) >= limit:
                return None
            token, _, granted = counter.spares.pop()
            counter.in_use[token] = granted
            return Lease(key, token)

    def release(self, lease: Lease) -> None:
        """Idempotent: a lease is given back once, however often this is called."""
        with self._lock:
            if lease.released:
                return
            lease.released = True
            counter = self._counters.get(lease.key)
            if counter is None or lease.token not in counter.in_use:
                return
            granted = counter.in_use.pop(lease.token)
            now = time.monotonic()
            if now - granted < self.max_reuse:
                counter.spares.append((lease.token, now, granted))
            else:  # back to the shared counter, so other nodes get their turn under saturation
                counter.returning.append(lease.token)
        self._ensure_thread()

    # -- the keeper --
    def _ensure_thread(self) -> None:
        if self._thread is None and self.keeper:
            with self._lock:
                if self._thread is None and not self._stopped:
                    self._thread = threading.Thread(target=self._keep, name="lambda-concurrency", daemon=True)
                    self._thread.start()

    def _keep(self) -> None:
        while not self._stopped:
            self._wake.wait(max(0.02, self.linger / 2))
            try:
                self.tick()
            except Exception:
                logger.exception("returning or renewing concurrency leases failed")
            finally:
                try:
                    from invocations.pooled import release_idle_connection

                    release_idle_connection()
                except Exception:  # pragma: no cover
                    pass

    def tick(self, *, now: float | None = None, force_renew: bool = False) -> None:
        """Return spares older than the linger; renew everything held every third of the TTL."""
        now = time.monotonic() if now is None else now
        returns: dict[str, list[str]] = {}
        with self._lock:
            for key, counter in list(self._counters.items()):
                old = [token for token, at, _ in counter.spares if now - at >= self.linger] + counter.returning
                if old:
                    counter.spares = [spare for spare in counter.spares if now - spare[1] < self.linger]
                    counter.returning = []
                    returns[key] = old
                if not counter.spares and not counter.in_use:
                    del self._counters[key]
            renew = force_renew or now - self._last_renew >= self.ttl / 3
            held = {k: [*c.in_use, *(t for t, _, _ in c.spares)] for k, c in self._counters.items()} if renew else {}
        for key, tokens in returns.items():
            self.backend.release(key, tokens)
        if renew:
            self._last_renew = now
            if any(held.values()):
                self.backend.renew(held, self.ttl)

    def return_all(self) -> None:
        """Give every spare back now (process exit, tests)."""
        with self._lock:
            returns = {k: [t for t, _, _ in c.spares] + c.returning for k, c in self._counters.items()}
            for counter in self._counters.values():
                counter.spares, counter.returning = [], []
        for key, tokens in returns.items():
            if tokens:
                self.backend.release(key, tokens)

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        try:
            self.return_all()
        except Exception:
            logger.debug("returning spare concurrency leases at exit failed", exc_info=True)

    def held(self) -> dict[str, tuple[int, int]]:
        """(in use, spare) per counter, this process."""
        with self._lock:
            return {k: (len(c.in_use), len(c.spares)) for k, c in self._counters.items()}


def new_limiter() -> Limiter:
    """A limiter on the configured backend (``invocations.node.Node.limiter`` keeps this process's)."""
    return Limiter(make_backend(), ttl=settings.LAMBDA_CONCURRENCY_LEASE_TTL, linger=settings.LAMBDA_CONCURRENCY_LINGER)


def get_limiter() -> Limiter:
    """This process's limiter, owned by its node (a forked child builds its own)."""
    from invocations.node import current

    return current().limiter


def reset_limiter() -> None:
    """Forget this process's limiter (tests that switch backends)."""
    from invocations.node import current

    current().reset_limiter()


# ----- the rules: which counter, which limit ----------------------------------------------------

_reservations: dict[int, tuple[float, int]] = {}


def reserved_total(team_id: int, *, fresh: bool = False) -> int:
    """The sum of the team's reservations (cached a moment: read only when a node asks the counter)."""
    cached = _reservations.get(team_id)
    if not fresh and cached is not None and time.monotonic() - cached[0] < RESERVATIONS_CACHE_S:
        return cached[1]
    from django.db.models import Sum

    from invocations.models import Function

    total = Function.objects.filter(team_id=team_id).aggregate(total=Sum("reserved_concurrency"))["total"] or 0
    _reservations[team_id] = (time.monotonic(), int(total))
    return int(total)


def unreserved_limit(team_id: int) -> int:
    return max(0, account_limit() - reserved_total(team_id))


def admit(*, function_id: int, team_id: int, reserved: int | None, wait_once: bool = True) -> Lease:
    """A unit of the cluster's concurrency for one invocation of this function, or TooManyRequests."""
    limiter = get_limiter()
    if reserved is not None:
        return limiter.acquire(function_key(function_id), reserved, reason=RESERVED_LIMIT_EXCEEDED,
                               team_id=team_id, function_id=function_id, wait_once=wait_once)
    key = account_key(team_id)
    limit = _limit_for_account(limiter, key, team_id)
    return limiter.acquire(key, limit, reason=CONCURRENT_LIMIT_EXCEEDED, team_id=team_id, function_id=None,
                           wait_once=wait_once)


def _limit_for_account(limiter: Limiter, key: str, team_id: int) -> int:
    # The fast path needs the limit only to check it is not below this process's units in use;
    # the cached sum is read from the database at most every RESERVATIONS_CACHE_S.
    return unreserved_limit(team_id)


def release(lease: Lease | None) -> None:
    if lease is not None and lease.token:
        get_limiter().release(lease)


def account_usage(team_id: int, function_ids: Iterable[int]) -> int:
    """Concurrent executions of the team now, cluster-wide (its unreserved pool and every reservation)."""
    keys = [account_key(team_id), *(function_key(f) for f in function_ids)]
    try:
        return sum(get_limiter().backend.usage(keys).values())
    except Exception:
        logger.exception("reading the shared concurrency counter failed")
        return 0


def usage_by_key(keys: list[str]) -> dict[str, int]:
    return get_limiter().backend.usage(keys)


def describe() -> dict[str, Any]:
    limiter = get_limiter()
    return {"backend": limiter.backend.name, "holder": limiter.holder, "held": limiter.held()}
