"""The poller framework: which units need polling, who polls them, and for how long.

One ``Supervisor`` runs in each Celery worker process (owned and started by the worker's node,
``invocations/node.py``, like the asynchronous-event sweep), as a periodic thread that ticks every
``LAMBDA_ESM_TICK_SECONDS`` (1 s). A tick:

1. settles API state transitions: Creating/Enabling/Updating → Enabled, Disabling → Disabled
   (by ``enabled``), and removes Deleting mappings;
2. asks each enabled mapping's source for its units (``Source.units``; cached for
   ``LAMBDA_ESM_UNITS_REFRESH_SECONDS`` unless the mapping changed) — the desired set of
   ``"<uuid>/<unit>"`` lease keys;
3. stops local pollers whose key is no longer desired (mapping disabled, deleted, scaled down);
4. renews the leases of its running pollers (``leases.renew``; a lost lease stops its poller);
5. takes the lease of every desired key nobody live holds (``leases.acquire``) and starts a poller
   thread for it, up to ``LAMBDA_ESM_MAX_POLLERS`` threads per worker process (0 disables polling
   in that process). Units beyond the cap are left for other workers.

A poller thread loops: reload its mapping (so an update — batch size, filters, function — applies at
the next slice), then ``source.run_slice(mapping, unit, deadline=…, invoke=…)`` with a deadline
``max(LAMBDA_ESM_SLICE_SECONDS, window + 1)`` seconds ahead (so a batching window always fits in
one slice). An exception from ``run_slice`` is logged, recorded as the mapping's
``LastProcessingResult``, and retried after a back-off (1 s doubling to 30 s). It exits when told
to stop, when its lease is lost, or when its mapping is gone or disabled; a clean exit releases its
lease and closes its database connection.

A worker killed with SIGKILL leaves its leases behind: a worker on the same host takes them over at
its next tick (the holder's pid is gone), others when they expire (``LAMBDA_ESM_LEASE_SECONDS``).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from django.conf import settings
from django.db import connection

from invocations import node
from invocations.event_sources import leases
from invocations.event_sources.base import BatchResult, Source, invoke_batch
from invocations.models import EventSourceMapping
from invocations.periodic import Periodic

logger = logging.getLogger(__name__)

STATE = EventSourceMapping.State
# kind → module exposing ``SOURCE`` (an object implementing base.Source). Imported on first use,
# so a source whose module (or client library) is missing only disables mappings of that kind.
SOURCES: Final[dict[str, str]] = {
    "sqs": "invocations.event_sources.sqs",
    "kinesis": "invocations.event_sources.kinesis",
    "rabbitmq": "invocations.event_sources.rabbitmq",
}
OK: Final = "OK"
FUNCTION_FAILED: Final = "PROBLEM: Function call failed"
THROTTLED: Final = "PROBLEM: Function call throttled"
_loaded: dict[str, Source | None] = {}
_loaded_lock = threading.Lock()


def load_source(kind: str) -> Source | None:
    """The source for ``kind``, or None when it is unknown or its module cannot be imported."""
    if kind not in _loaded:
        with _loaded_lock:
            if kind not in _loaded:
                source: Source | None = None
                module_name = SOURCES.get(kind)
                if module_name is None:
                    logger.error("no event source registered for kind %r", kind)
                else:
                    try:
                        source = importlib.import_module(module_name).SOURCE
                    except Exception:
                        logger.exception("event source %r (%s) is unavailable", kind, module_name)
                _loaded[kind] = source
    return _loaded[kind]


def set_processing_result(mapping_id: int, result: str) -> None:
    EventSourceMapping.objects.filter(pk=mapping_id).exclude(last_processing_result=result).update(
        last_processing_result=result[:64]
    )


def settle_states() -> int:
    """Finish API transitions; returns how many Deleting mappings were removed."""
    moving = (STATE.CREATING, STATE.ENABLING, STATE.UPDATING, STATE.DISABLING)
    EventSourceMapping.objects.filter(state__in=moving, enabled=True).update(state=STATE.ENABLED)
    EventSourceMapping.objects.filter(state__in=moving, enabled=False).update(state=STATE.DISABLED)
    deleted, _ = EventSourceMapping.objects.filter(state=STATE.DELETING).delete()
    return deleted


@dataclass
class _Poller:
    key: str
    mapping_uuid: str
    unit: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    lost: bool = False
    renewed_at: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, *, holder: str | None = None) -> None:
        self.holder = holder or f"{node.node_name('worker')}/{uuid.uuid4().hex[:8]}"
        self.tick_seconds = settings.LAMBDA_ESM_TICK_SECONDS
        self.slice_seconds = settings.LAMBDA_ESM_SLICE_SECONDS
        self.lease_seconds = settings.LAMBDA_ESM_LEASE_SECONDS
        self.units_refresh_seconds = settings.LAMBDA_ESM_UNITS_REFRESH_SECONDS
        self.max_pollers = settings.LAMBDA_ESM_MAX_POLLERS
        self._pollers: dict[str, _Poller] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()  # the supervisor is stopping: its pollers end too
        self._ticker = Periodic("esm-supervisor", self.tick_seconds, self.tick)
        self._units: dict[str, tuple[float, float, list[str]]] = {}  # uuid → (modified, fetched, units)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._ticker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop ticking and every poller; release the leases of the pollers that finished."""
        self._stop.set()
        self._ticker.stop()
        self._ticker.join(timeout)
        with self._lock:
            pollers = list(self._pollers.values())
        for poller in pollers:
            poller.stop.set()
        deadline = time.monotonic() + timeout
        for poller in pollers:
            if poller.thread is not None:
                poller.thread.join(max(0.0, deadline - time.monotonic()))

    def running(self) -> dict[str, str]:
        """Local pollers: lease key → thread name (for tests and diagnostics)."""
        with self._lock:
            return {k: p.thread.name for k, p in self._pollers.items() if p.thread and p.thread.is_alive()}

    # --- one tick -----------------------------------------------------------------------------

    def tick(self) -> None:
        settle_states()
        desired = self._desired()
        with self._lock:
            for key, poller in list(self._pollers.items()):
                if poller.thread is not None and not poller.thread.is_alive():
                    del self._pollers[key]
                elif key not in desired:
                    poller.stop.set()
            self._renew()
            if self._stop.is_set():
                return
            for key, (mapping_uuid, unit) in desired.items():
                if key in self._pollers or len(self._pollers) >= self.max_pollers:
                    continue
                if leases.acquire(key, self.holder, ttl=self.lease_seconds):
                    self._start_poller(_Poller(key=key, mapping_uuid=mapping_uuid, unit=unit))

    def _desired(self) -> dict[str, tuple[str, str]]:
        desired: dict[str, tuple[str, str]] = {}
        rows = EventSourceMapping.objects.select_related("function__team", "team").filter(
            enabled=True, state__in=(STATE.ENABLED, STATE.ENABLING, STATE.CREATING, STATE.UPDATING)
        )
        seen = set()
        now = time.monotonic()
        for mapping in rows:
            seen.add(mapping.uuid)
            source = load_source(mapping.source_kind)
            if source is None:
                continue
            modified = mapping.last_modified.timestamp()
            cached = self._units.get(mapping.uuid)
            if cached is None or cached[0] != modified or now - cached[1] > self.units_refresh_seconds:
                try:
                    units = list(source.units(mapping))
                except Exception as error:
                    logger.exception("listing the units of mapping %s failed", mapping.uuid)
                    set_processing_result(mapping.pk, f"PROBLEM: {type(error).__name__}")
                    units = cached[2] if cached else []
                self._units[mapping.uuid] = (modified, now, units)
            for unit in self._units[mapping.uuid][2]:
                desired[leases.lease_key(mapping.uuid, unit)] = (mapping.uuid, unit)
        for gone in set(self._units) - seen:
            del self._units[gone]
        return desired

    def _renew(self) -> None:
        now = time.monotonic()
        due = [k for k, p in self._pollers.items() if now - p.renewed_at >= self.lease_seconds / 3]
        if not due:
            return
        lost = leases.renew(due, self.holder, ttl=self.lease_seconds)
        for key in due:
            poller = self._pollers[key]
            poller.renewed_at = now
            if key in lost:
                logger.warning("lease %s was lost; stopping its poller", key)
                poller.lost = True
                poller.stop.set()

    def _start_poller(self, poller: _Poller) -> None:
        poller.thread = threading.Thread(target=self._run, args=(poller,), name=f"esm-poller:{poller.key}", daemon=True)
        self._pollers[poller.key] = poller
        poller.thread.start()

    # --- a poller thread ----------------------------------------------------------------------

    def _run(self, poller: _Poller) -> None:
        backoff = 1.0
        last_result: list[str | None] = [None]
        try:
            while not poller.stop.is_set() and not self._stop.is_set():
                mapping = (
                    EventSourceMapping.objects.select_related("function__team", "team").filter(uuid=poller.mapping_uuid).first()
                )
                if mapping is None or not mapping.enabled or mapping.state in (STATE.DELETING, STATE.DISABLING):
                    break
                source = load_source(mapping.source_kind)
                if source is None:
                    break
                span = max(self.slice_seconds, mapping.maximum_batching_window_in_seconds + 1.0)
                try:
                    source.run_slice(
                        mapping, poller.unit, deadline=time.monotonic() + span, invoke=self._invoker(mapping, last_result)
                    )
                    backoff = 1.0
                except Exception as error:
                    logger.exception("poller %s failed; retrying in %.0f s", poller.key, backoff)
                    set_processing_result(mapping.pk, f"PROBLEM: {type(error).__name__}: {error}")
                    last_result[0] = None
                    poller.stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
        finally:
            if not poller.lost:
                try:
                    leases.release(poller.key, self.holder)
                except Exception:
                    logger.exception("releasing lease %s failed", poller.key)
            connection.close()

    @staticmethod
    def _invoker(mapping: EventSourceMapping, last_result: list[str | None]) -> Any:
        def invoke(event: dict[str, Any]) -> BatchResult:
            result = invoke_batch(mapping, event)
            outcome = THROTTLED if result.throttled else FUNCTION_FAILED if result.function_error else OK
            if outcome != last_result[0]:
                set_processing_result(mapping.pk, outcome)
                last_result[0] = outcome
            return result

        return invoke
