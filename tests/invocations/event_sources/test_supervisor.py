"""The supervisor with real threads, real leases, moto SQS and the real engine (a transactional test:
poller threads have their own database connections)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from invocations.event_sources import supervisor
from invocations.event_sources.supervisor import Supervisor
from invocations.models import EventSourceMapping, PollerLease
from invocations.services import event_source_mappings as service
from tests.invocations.aws_emulator import Moto, moto_environment, moto_server
from tests.invocations.event_sources.test_sqs import NOOP_PY, batches, depth, function, queue, send
from invocations.services.teams import operator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture(autouse=True)
def environment(moto: Moto, settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.LAMBDA_CODE_DIR = tmp_path / "code"
    settings.LAMBDA_ESM_SLICE_SECONDS = 0.5
    settings.LAMBDA_ESM_LEASE_SECONDS = 10
    with moto_environment(moto):
        yield


@pytest.fixture
def sup() -> Iterator[Supervisor]:
    started = Supervisor()
    yield started
    started.stop(timeout=10)


def eventually(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_pollers_start_scale_and_stop_with_the_mapping(moto: Moto, settings: Any, sup: Supervisor) -> None:
    fn = function(settings, NOOP_PY)
    url, arn = queue(moto, visibility=5)
    uuid = service.create_event_source_mapping(
        caller=operator(fn.team), body={"EventSourceArn": arn, "FunctionName": fn.name, "ScalingConfig": {"MaximumConcurrency": 2}}
    ).uuid
    sup.tick()
    assert EventSourceMapping.objects.get(uuid=uuid).state == "Enabled"
    assert sorted(sup.running()) == [f"{uuid}/poller-0", f"{uuid}/poller-1"]
    assert set(PollerLease.objects.values_list("holder", flat=True)) == {sup.holder}

    send(moto, url, [f"m{i}" for i in range(12)])
    eventually(lambda: depth(moto, url) == (0, 0))
    eventually(lambda: sum(len(b) for b in batches(fn)) == 12)
    assert EventSourceMapping.objects.get(uuid=uuid).last_processing_result == "OK"

    # Another worker's supervisor finds every unit taken.
    other = Supervisor()
    other.tick()
    assert other.running() == {}

    service.update_event_source_mapping(caller=operator(fn.team), mapping_uuid=uuid, body={"ScalingConfig": {"MaximumConcurrency": 3}})
    sup.tick()
    assert len(sup.running()) == 3

    service.update_event_source_mapping(caller=operator(fn.team), mapping_uuid=uuid, body={"Enabled": False})
    sup.tick()
    assert EventSourceMapping.objects.get(uuid=uuid).state == "Disabled"
    eventually(lambda: sup.running() == {}, timeout=5)
    eventually(lambda: not PollerLease.objects.exists(), timeout=5)

    service.update_event_source_mapping(caller=operator(fn.team), mapping_uuid=uuid, body={"Enabled": True})
    sup.tick()
    assert len(sup.running()) == 3
    service.delete_event_source_mapping(caller=operator(fn.team), mapping_uuid=uuid)
    sup.tick()
    assert not EventSourceMapping.objects.filter(uuid=uuid).exists()
    eventually(lambda: sup.running() == {}, timeout=5)


def test_a_source_that_cannot_load_does_not_break_the_others(monkeypatch: pytest.MonkeyPatch, sup: Supervisor) -> None:
    monkeypatch.setitem(supervisor.SOURCES, "nothing", "invocations.event_sources.does_not_exist")
    monkeypatch.delitem(supervisor._loaded, "nothing", raising=False)
    assert supervisor.load_source("nothing") is None
    assert supervisor.load_source("sqs") is not None
