"""Saved test events: scopes, unique names, versions of shared edits, restore, rename, duplicate, delete, import/export."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from console.models import TestEvent
from invocations.models import Activity, Function, Membership

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


# --- scope changes (issue 15) ------------------------------------------------------------------


def resave(client: Client, event: TestEvent, **data: Any) -> Any:
    return client.post("/functions/hello/events/", {"event_id": event.pk, "name": event.name, "body": event.body, **data}, **HX)


def test_the_owner_shares_a_private_event_and_takes_it_back(client: Client, owner: Any, teammate: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="mine", body='{"v": 1}')
    event = TestEvent.objects.get()
    response = resave(client, event, scope="shared")
    assert response.status_code == 200 and "now shared with the team" in response.content.decode()
    event.refresh_from_db()
    assert event.scope == "shared" and event.versions.count() == 1
    client.force_login(teammate)
    assert "mine" in client.get("/functions/hello/test/").content.decode()
    client.force_login(owner)
    response = resave(client, event, scope="private")
    assert "now private" in response.content.decode()
    event.refresh_from_db()
    assert event.scope == "private"
    client.force_login(teammate)
    assert client.get(f"/functions/hello/test/?event={event.pk}").status_code == 404
    logged = Activity.objects.filter(function=hello, action="lambda:PutSharedTestEvent").order_by("pk")
    changes = [c["change"] for c in logged.values_list("changes", flat=True)]
    assert changes == ["shared", "unshared"]


def test_only_the_owner_may_unshare_and_the_refusal_changes_nothing(client: Client, owner: Any, teammate: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="team", scope="shared", body='{"v": 1}')
    event = TestEvent.objects.get()
    client.force_login(teammate)
    page = client.get(f"/functions/hello/test/?event={event.pk}").content.decode()
    assert 'id="scope-help"' in page and "Only alice" in page
    response = resave(client, event, scope="private", body='{"v": 2}')
    assert response.status_code == 422 and 'id="scope-error"' in response.content.decode()
    event.refresh_from_db()
    assert event.scope == "shared" and json.loads(event.body) == {"v": 1} and event.versions.count() == 1


def test_a_tester_may_neither_share_nor_create_shared_events_by_posting(client: Client, owner: Any, teammate: Any, team: Any, hello: Function) -> None:
    Membership.objects.filter(team=team, user=teammate).update(role="tester")
    client.force_login(teammate)
    save(client, name="mine")
    event = TestEvent.objects.get()
    response = resave(client, event, scope="shared")
    assert response.status_code == 422 and "may not share" in response.content.decode()
    response = save(client, name="other", scope="shared")
    assert response.status_code == 422 and "may not share" in response.content.decode()
    event.refresh_from_db()
    assert event.scope == "private" and TestEvent.objects.count() == 1


def test_a_viewer_cannot_save_or_change_scope_by_posting(client: Client, owner: Any, teammate: Any, team: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="team", scope="shared")
    event = TestEvent.objects.get()
    Membership.objects.filter(team=team, user=teammate).update(role="viewer")
    client.force_login(teammate)
    assert resave(client, event, scope="private").status_code == 403
    assert save(client, name="x", scope="private").status_code == 403
    event.refresh_from_db()
    assert event.scope == "shared" and TestEvent.objects.count() == 1


def test_sharing_refuses_a_name_already_taken_among_shared_events(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="same", scope="shared")
    save(client, name="same", scope="private")
    private = TestEvent.objects.get(scope="private")
    response = resave(client, private, scope="shared")
    assert response.status_code == 422 and "already exists" in response.content.decode()
    private.refresh_from_db()
    assert private.scope == "private"


def test_save_as_new_from_a_private_event_uses_the_chosen_scope(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    save(client, name="draft", body='{"v": 1}')
    draft = TestEvent.objects.get()
    response = resave(client, draft, name="for the team", scope="shared", save_as_new="1")
    assert response.status_code == 200 and "Saved as a new shared event" in response.content.decode()
    copy = TestEvent.objects.get(name="for the team")
    assert copy.scope == "shared" and copy.pk != draft.pk
    draft.refresh_from_db()
    assert draft.scope == "private"


def test_save_rename_and_restore_say_what_happened_in_a_live_region(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    body = save(client, name="e", scope="shared", body='{"v": 1}').content.decode()
    assert 'id="editor-status" role="status" aria-live="polite">Saved the new shared event “e”.' in body
    event = TestEvent.objects.get()
    resave(client, event, body='{"v": 2}')
    body = client.post(f"/functions/hello/events/{event.pk}/versions/1/restore/", **HX).content.decode()
    assert "Restored version 1 of “e”" in body
    response = client.post(f"/functions/hello/events/{event.pk}/versions/1/restore/")
    assert response.status_code == 302
    assert "Restored version 1" in client.get(response["Location"]).content.decode()
