"""Saved test events: scopes, unique names, versions of shared edits, restore, rename, duplicate, delete, import/export."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from console.models import TestEvent
from invocations.models import Function

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def save(client: Client, **data: Any) -> Any:
    return client.post("/functions/hello/events/", {"scope": "private", "body": "{}", **data}, **HX)


def test_private_events_are_seen_by_their_creator_only(client: Client, owner: Any, teammate: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="mine", body='{"k": 1}')
    assert "mine" in client.get("/functions/hello/test/").content.decode()
    event = TestEvent.objects.get()
    client.force_login(teammate)
    assert "mine" not in client.get("/functions/hello/test/").content.decode()
    assert client.get(f"/functions/hello/test/?event={event.pk}").status_code == 404
    assert client.post(f"/functions/hello/events/{event.pk}/delete/").status_code == 404


def test_shared_events_are_seen_and_edited_by_the_team_with_a_version_per_edit(
    client: Client, owner: Any, teammate: Any, hello: Function
) -> None:
    client.force_login(owner)
    save(client, name="team-event", scope="shared", body='{"v": 1}')
    event = TestEvent.objects.get()
    client.force_login(teammate)
    response = client.post("/functions/hello/events/", {"event_id": event.pk, "name": "team-event", "body": '{"v": 2}'}, **HX)
    assert response.status_code == 200 and "eventsChanged" in response["HX-Trigger"]
    event.refresh_from_db()
    assert json.loads(event.body) == {"v": 2} and event.updated_by == teammate
    versions = list(event.versions.order_by("number"))
    assert [(v.number, json.loads(v.body)["v"], v.saved_by) for v in versions] == [(1, 1, owner), (2, 2, teammate)]
    page = client.get(f"/functions/hello/events/{event.pk}/versions/?v=1", **HX).content.decode()
    assert "bob" in page and "alice" in page and 'id="version-body"' in page


def test_a_shared_event_version_can_be_restored(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="e", scope="shared", body='{"v": 1}')
    event = TestEvent.objects.get()
    client.post("/functions/hello/events/", {"event_id": event.pk, "name": "e", "body": '{"v": 2}'}, **HX)
    client.post(f"/functions/hello/events/{event.pk}/versions/1/restore/", **HX)
    event.refresh_from_db()
    assert json.loads(event.body) == {"v": 1}
    assert event.versions.count() == 3  # the restore is itself a version


def test_names_are_unique_per_function_and_scope(client: Client, owner: Any, teammate: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="same", scope="shared")
    response = save(client, name="same", scope="shared")
    assert response.status_code == 422 and "already exists" in response.content.decode()
    assert save(client, name="same", scope="private").status_code == 200  # another scope
    client.force_login(teammate)
    assert save(client, name="same", scope="private").status_code == 200  # another user's private namespace
    assert TestEvent.objects.count() == 3


def test_there_is_no_limit_of_ten_events(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    for i in range(15):
        save(client, name=f"e{i}")
    assert TestEvent.objects.count() == 15


def test_rename_duplicate_and_delete(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="orig", body='{"a": 1}')
    event = TestEvent.objects.get()
    client.post(f"/functions/hello/events/{event.pk}/rename/", {"name": "renamed"}, **HX)
    event.refresh_from_db()
    assert event.name == "renamed"
    client.post(f"/functions/hello/events/{event.pk}/duplicate/", **HX)
    client.post(f"/functions/hello/events/{event.pk}/duplicate/", **HX)
    assert sorted(TestEvent.objects.values_list("name", flat=True)) == ["renamed", "renamed (copy 2)", "renamed (copy)"]
    client.post(f"/functions/hello/events/{event.pk}/delete/", **HX)
    assert not TestEvent.objects.filter(pk=event.pk).exists()


def test_invalid_json_is_refused_with_line_and_column(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = save(client, name="bad", body='{"a": }')
    assert "line 1, column 7" in response.content.decode()
    assert not TestEvent.objects.exists()


def test_event_names_and_bodies_with_html_are_escaped(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="<img src=x onerror=alert(1)>", body='{"x": "</textarea><script>alert(2)</script>"}')
    body = client.get(f"/functions/hello/test/?event={TestEvent.objects.get().pk}").content.decode()
    assert "<img src=x" not in body and "<script>alert(2)" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_without_javascript_saving_redirects_to_the_saved_event(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/hello/events/", {"name": "nojs", "scope": "private", "body": "{}"})
    assert response.status_code == 302 and response["Location"].endswith(f"?event={TestEvent.objects.get().pk}")


def test_export_writes_the_aws_shareable_schema_and_import_reads_it_back(client: Client, owner: Any, teammate: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="one", scope="shared", body='{"n": 1}')
    save(client, name="two", scope="shared", body='{"n": 2}')
    response = client.get("/functions/hello/events/export/?scope=shared")
    document = json.loads(response.content)
    assert response["Content-Disposition"] == 'attachment; filename="_hello-schema.json"'
    assert document["openapi"].startswith("3") and document["components"]["examples"]["two"] == {"value": {"n": 2}}
    client.force_login(teammate)
    upload = SimpleUploadedFile("_hello-schema.json", response.content)
    reply = client.post("/functions/hello/events/import/", {"file": upload, "scope": "private"}, follow=True)
    assert "Imported 2 event(s)" in reply.content.decode()
    assert TestEvent.objects.filter(owner=teammate, scope="private").count() == 2


def test_import_reads_a_sam_event_file_and_plain_json(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    client.post("/functions/hello/events/import/", {"file": SimpleUploadedFile("s3-put.json", b'{"Records": []}'), "scope": "shared"})
    plain = json.dumps([{"name": "a", "event": {"x": 1}}, {"name": "b", "event": {"x": 2}}]).encode()
    client.post("/functions/hello/events/import/", {"file": SimpleUploadedFile("events.json", plain), "scope": "private"})
    assert sorted(TestEvent.objects.values_list("name", "scope")) == [("a", "private"), ("b", "private"), ("s3-put", "shared")]
    reply = client.post("/functions/hello/events/import/", {"file": SimpleUploadedFile("x.json", b"not json"), "scope": "private"}, follow=True)
    assert "Nothing imported" in reply.content.decode()


def test_one_event_downloads_as_plain_json(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="dl me", body='{"d": 1}')
    response = client.get(f"/functions/hello/events/{TestEvent.objects.get().pk}/export/")
    assert json.loads(response.content) == {"d": 1} and 'filename="dl-me.json"' in response["Content-Disposition"]
