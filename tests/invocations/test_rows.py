"""The fixed statements of the asynchronous hot path store and read exactly what the ORM does."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any

import pytest
from django.utils import timezone

from invocations import rows
from invocations.services.teams import default_team
from invocations.models import EventInvokeConfig, Function, FunctionVersion, Invocation

pytestmark = pytest.mark.django_db


def new_invocation(function: Function, **fields: Any) -> Invocation:
    return Invocation(
        request_id=str(uuid.uuid4()),
        function=function,
        function_name=function.name,
        invocation_type=Invocation.Type.EVENT,
        **fields,
    )


def test_an_inserted_row_reads_back_through_the_orm_with_every_default() -> None:
    function = Function.objects.create(name="f", team=default_team())
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt_timezone.utc)
    invocation = new_invocation(function, payload='{"k": "v"}', dispatched_at=moment, cold_start=True, duration_ms=1.5)
    rows.insert(invocation)
    rows.insert(invocation.body_for_insert())  # its texts, apart (a key that is not generated)
    assert invocation.pk is not None and not invocation._state.adding
    stored = Invocation.objects.get(pk=invocation.pk)
    assert stored.function_id == function.pk
    assert stored.payload == '{"k": "v"}'
    assert stored.dispatched_at == moment
    assert stored.cold_start is True and stored.duration_ms == 1.5
    assert stored.status == Invocation.Status.QUEUED and stored.attempt == 1 and stored.response == ""
    assert stored.created_at == invocation.created_at


def test_update_changes_only_the_named_fields_and_honours_its_guard() -> None:
    function = Function.objects.create(name="f", team=default_team())
    invocation = new_invocation(function, response="kept")
    rows.insert(invocation)
    rows.insert(invocation.body_for_insert())
    later = timezone.now() + timedelta(minutes=1)
    assert rows.update(Invocation, invocation.pk, {"status": "running"}, where={"status": "succeeded"}) == 0
    assert rows.update(Invocation, invocation.pk, {"status": "running", "next_attempt_at": later}, where={"status": "queued"}) == 1
    stored = Invocation.objects.get(pk=invocation.pk)
    assert (stored.status, stored.next_attempt_at, stored.response) == ("running", later, "kept")


def test_an_instance_from_a_raw_row_has_converted_values_and_defers_the_rest() -> None:
    function = Function.objects.create(name="f", team=default_team())
    config = EventInvokeConfig.objects.create(function=function, maximum_retry_attempts=1)
    version = FunctionVersion.objects.create(function=function, version="1", environment={"A": "1"}, runtime="python3.11")
    names = ("id", "function", "maximum_retry_attempts", "last_modified")
    sql = f"SELECT {rows.columns(EventInvokeConfig, names)} FROM {rows.table(EventInvokeConfig)} WHERE id = %s"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, [config.pk])
        loaded = rows.instance(EventInvokeConfig, names, cursor.fetchone())
    assert loaded.function_id == function.pk and loaded.maximum_retry_attempts == 1
    assert loaded.last_modified == config.last_modified and timezone.is_aware(loaded.last_modified)
    assert loaded.get_deferred_fields() == {"qualifier", "maximum_event_age_in_seconds", "on_success_destination", "on_failure_destination"}
    loaded.maximum_retry_attempts = 0
    EventInvokeConfig.objects.filter(pk=config.pk).update(on_success_destination="arn:aws:sqs:us-east-1:0:q")
    loaded.save()  # deferred fields are not written back: the destination set meanwhile survives
    config.refresh_from_db()
    assert (config.maximum_retry_attempts, config.on_success_destination) == (0, "arn:aws:sqs:us-east-1:0:q")

    json_names = ("id", "environment")
    sql = f"SELECT {rows.columns(FunctionVersion, json_names)} FROM {rows.table(FunctionVersion)} WHERE id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [version.pk])
        assert rows.instance(FunctionVersion, json_names, cursor.fetchone()).environment == {"A": "1"}


def test_writes_inside_a_transaction_do_not_wait_for_the_process_writer_lock() -> None:
    from django.db import transaction

    function = Function.objects.create(name="f", team=default_team())
    invocation = new_invocation(function)
    rows.insert(invocation)
    assert rows._sqlite_writer.acquire(timeout=1)  # as if another thread were writing
    try:
        with transaction.atomic():  # holds SQLite's own lock already: must not wait here too
            assert rows.update(Invocation, invocation.pk, {"status": "running"}) == 1
    finally:
        rows._sqlite_writer.release()
    assert Invocation.objects.get(pk=invocation.pk).status == "running"


def test_insert_many_stores_every_row_and_gives_each_instance_its_own_key() -> None:
    from django.db import connection

    function = Function.objects.create(name="f", team=default_team())
    batch = [new_invocation(function, payload=f'{{"n": {n}}}') for n in range(3)]
    rows.insert_many(batch)
    rows.insert_many([i.body_for_insert() for i in batch])
    assert len({i.pk for i in batch}) == 3 and not any(i._state.adding for i in batch)
    for n, invocation in enumerate(batch):  # each key is its own row's, in order
        assert Invocation.objects.get(pk=invocation.pk).payload == f'{{"n": {n}}}'
    # More rows than one statement takes (999 parameters on SQLite) go in several, all stored.
    size = connection.ops.bulk_batch_size(list(rows._insert_fields(Invocation)), [])
    many = [new_invocation(function, payload=str(n)) for n in range(min(size, 200) + 5)]
    rows.insert_many(many)
    rows.insert_many([i.body_for_insert() for i in many])
    assert sorted(Invocation.objects.filter(pk__in=[i.pk for i in many]).values_list("body__payload", flat=True)) == sorted(
        str(n) for n in range(len(many))
    )
    rows.insert_many([])  # nothing to do
