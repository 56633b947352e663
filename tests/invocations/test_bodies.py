"""Payloads, responses, logs and client contexts live in InvocationBody, apart from the hot
``Invocation`` rows (issue 16, item 3): written with their rows on every path, read only when a
record itself is shown, gone with their rows, and moved there by migration 0019."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from invocations import recorder
from invocations.models import BODY_FIELDS, Invocation, InvocationBody

BEFORE = [("invocations", "0018_codeblob")]


def texts(request_id: str) -> dict[str, str]:
    return InvocationBody.objects.filter(invocation_id=request_id).values(*BODY_FIELDS).get()


@pytest.mark.django_db
def test_the_hot_table_has_no_text_column() -> None:
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "invocations_invocation")}
    assert not columns & set(BODY_FIELDS) and {"request_id", "status", "created_at"} <= columns


@pytest.mark.django_db
def test_recorded_texts_go_to_the_body_and_a_record_without_text_has_none() -> None:
    writer = recorder.Recorder(flush_seconds=0.01, mode="sync")
    writer.record(Invocation(request_id="full", function_name="fn", payload='{"a": 1}', response='"ok"',
                             logs="START …\nEND", client_context='{"custom": {}}'))  # fmt: skip
    writer.record(Invocation(request_id="empty", function_name="fn"))
    assert texts("full") == {"payload": '{"a": 1}', "response": '"ok"', "logs": "START …\nEND", "client_context": '{"custom": {}}'}
    assert not InvocationBody.objects.filter(invocation_id="empty").exists()
    stored = Invocation.objects.get(request_id="empty")
    assert (stored.payload, stored.response, stored.logs) == ("", "", "")
    assert Invocation.objects.get(request_id="full").logs == "START …\nEND"


@pytest.mark.django_db
def test_save_writes_the_body_and_update_fields_may_name_texts() -> None:
    invocation = Invocation.objects.create(request_id="r", function_name="fn", payload="p")
    assert texts("r")["payload"] == "p"
    stored = Invocation.objects.get(request_id="r")
    stored.response, stored.status = "answer", Invocation.Status.SUCCEEDED
    stored.save(update_fields=["status", "response"])
    assert texts("r") == {"payload": "p", "response": "answer", "logs": "", "client_context": ""}
    assert Invocation.objects.get(pk=invocation.pk).status == Invocation.Status.SUCCEEDED
    Invocation.objects.filter(pk=invocation.pk).delete()
    assert not InvocationBody.objects.exists()


@pytest.mark.django_db
def test_a_read_record_reads_its_body_once_and_select_related_reads_none_more() -> None:
    from django.test.utils import CaptureQueriesContext

    Invocation.objects.create(request_id="r", function_name="fn", payload="p", logs="l")
    Invocation.objects.create(request_id="bare", function_name="fn")
    with CaptureQueriesContext(connection) as queries:
        rows = list(Invocation.objects.select_related("body").order_by("request_id"))
        assert [(r.payload, r.logs) for r in rows] == [("", ""), ("p", "l")]
    assert len(queries.captured_queries) == 1


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_migration_0019_moves_the_texts_out_and_back(transactional_db: Any) -> None:
    old = migrate(BEFORE).get_model("invocations", "Invocation")
    old.objects.create(request_id="with-texts", function_name="fn", payload='{"k": "v"}', response="r" * 5000,
                       logs="START\nEND", client_context="")  # fmt: skip
    old.objects.create(request_id="without", function_name="fn")
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert texts("with-texts") == {"payload": '{"k": "v"}', "response": "r" * 5000, "logs": "START\nEND", "client_context": ""}
    assert not InvocationBody.objects.filter(invocation_id="without").exists()
    assert Invocation.objects.get(request_id="with-texts").response == "r" * 5000

    back = migrate(BEFORE).get_model("invocations", "Invocation")
    assert back.objects.get(request_id="with-texts").response == "r" * 5000
    assert back.objects.get(request_id="without").payload == ""
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
