"""The Versions tab: publishing, aliases with weighted routing, and who may change them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from invocations.models import Alias, Function, FunctionVersion, Membership, Team

pytestmark = pytest.mark.django_db

BASE = "/functions/hello"


@pytest.fixture
def dev(client: Client, teammate: Any, hello: Function) -> Client:
    client.force_login(teammate)
    return client


def publish(client: Client, description: str = "") -> Any:
    return client.post(f"{BASE}/versions/publish/", {"description": description})


def make_versions(hello: Function, count: int) -> None:
    """Published versions 1..count (each a copy of $LATEST with a different description)."""
    latest = FunctionVersion.objects.get(function=hello, version="$LATEST")
    for n in range(1, count + 1):
        latest.pk, latest.version, latest.description = None, str(n), f"v{n}"
        latest.save()
    hello.next_version = count + 1
    hello.save(update_fields=["next_version"])


def alias_post(client: Client, **fields: Any) -> Any:
    data = {"name": "live", "function_version": "1", "description": "", "additional_version": "", "weight": ""}
    return client.post(f"{BASE}/aliases/", {**data, **fields})


def test_the_tab_lists_versions_with_their_arn_and_code_sha(dev: Client, hello: Function) -> None:
    make_versions(hello, 2)
    body = dev.get(f"{BASE}/versions/").content.decode()
    assert "arn:aws:lambda:us-east-1:111111111111:function:hello:2" in body
    assert "arn:aws:lambda:us-east-1:111111111111:function:hello:$LATEST" in body
    assert hello.versions.get(version="1").code_sha256[:10] in body
    assert "<title>Versions · hello · Lambda Workbench</title>" in body


def test_publishing_makes_a_version_with_its_description_and_a_second_publish_of_the_same_code_says_so(dev: Client, hello: Function) -> None:
    response = publish(dev, "first release")
    assert response.status_code == 302
    assert FunctionVersion.objects.get(function=hello, version="1").description == "first release"
    page = dev.get(response["Location"]).content.decode()
    assert "Version 1 published." in page
    publish(dev, "again")
    assert FunctionVersion.objects.filter(function=hello).exclude(version="$LATEST").count() == 1
    assert "no new version was published" in dev.get(f"{BASE}/versions/").content.decode()


def test_a_too_long_description_is_refused_next_to_its_field(dev: Client, hello: Function) -> None:
    response = publish(dev, "x" * 257)
    assert response.status_code == 400
    assert 'id="publish-description-error"' in response.content.decode()
    assert not FunctionVersion.objects.filter(function=hello, version="1").exists()


def test_an_alias_with_weighted_routing_is_stored_as_aws_stores_it(dev: Client, hello: Function) -> None:
    make_versions(hello, 2)
    response = alias_post(dev, name="live", function_version="2", additional_version="1", weight="0.25", description="prod")
    assert response.status_code == 302
    alias = Alias.objects.get(function=hello, name="live")
    assert (alias.function_version, alias.description) == ("2", "prod")
    assert alias.routing_config == {"AdditionalVersionWeights": {"1": 0.25}}
    body = dev.get(f"{BASE}/versions/").content.decode()
    assert "arn:aws:lambda:us-east-1:111111111111:function:hello:live" in body
    assert "version 1: 0.25" in body and "version 2: 0.75" in body


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "123"}, "name", "Not a valid alias name"),
        ({"name": "bad name"}, "name", "Not a valid alias name"),
        ({"function_version": "9"}, "function_version", "Select a valid choice"),
        ({"additional_version": "1"}, "additional_version", "other than the alias"),
        ({"additional_version": "2"}, "weight", "Give the additional version"),
        ({"additional_version": "2", "weight": "1.5"}, "weight", "less than or equal to 1"),
        ({"additional_version": "2", "weight": "-0.1"}, "weight", "greater than or equal to 0"),
        ({"weight": "0.5"}, "additional_version", "Choose the version"),
        ({"function_version": "$LATEST", "additional_version": "2", "weight": "0.5"}, "function_version", "not $LATEST"),
        ({"description": "d" * 257}, "description", "at most 256"),
    ],
)
def test_a_bad_alias_is_refused_next_to_the_field_and_nothing_is_created(dev: Client, hello: Function, fields: dict[str, str], field: str, message: str) -> None:
    make_versions(hello, 2)
    response = alias_post(dev, **fields)
    assert response.status_code == 400
    body = response.content.decode()
    error_at = body.index(f'id="{field}-error"')
    assert message in body[error_at : error_at + 300]
    assert not Alias.objects.filter(function=hello).exists()


def test_an_alias_name_taken_is_refused_at_the_name_field(dev: Client, hello: Function) -> None:
    make_versions(hello, 1)
    alias_post(dev)
    response = alias_post(dev, function_version="$LATEST")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Alias already exists" in body[body.index('id="name-error"') :][:300]
    assert Alias.objects.get(function=hello, name="live").function_version == "1"


def test_editing_an_alias_changes_its_version_and_routing_and_can_clear_the_routing(dev: Client, hello: Function) -> None:
    make_versions(hello, 3)
    alias_post(dev, function_version="2", additional_version="1", weight="0.1")
    page = dev.get(f"{BASE}/aliases/live/")
    assert page.status_code == 200 and 'value="0.1' in page.content.decode()
    response = dev.post(f"{BASE}/aliases/live/", {"function_version": "3", "description": "moved", "additional_version": "2", "weight": "0.5"})
    assert response.status_code == 302
    alias = Alias.objects.get(function=hello, name="live")
    assert (alias.function_version, alias.description, alias.routing_config) == ("3", "moved", {"AdditionalVersionWeights": {"2": 0.5}})
    dev.post(f"{BASE}/aliases/live/", {"function_version": "3", "description": "moved", "additional_version": "", "weight": ""})
    assert Alias.objects.get(function=hello, name="live").routing_config == {}


def test_an_edit_from_a_stale_page_is_refused(dev: Client, hello: Function) -> None:
    make_versions(hello, 2)
    alias_post(dev)
    response = dev.post(f"{BASE}/aliases/live/", {"function_version": "2", "revision_id": "stale", "additional_version": "", "weight": ""})
    assert response.status_code == 400 and "Revision Id" in response.content.decode()
    assert Alias.objects.get(function=hello, name="live").function_version == "1"


def test_deleting_an_alias_removes_it(dev: Client, hello: Function) -> None:
    make_versions(hello, 1)
    alias_post(dev)
    response = dev.post(f"{BASE}/aliases/live/delete/")
    assert response.status_code == 302
    assert not Alias.objects.filter(function=hello).exists()
    assert "Alias live deleted." in dev.get(response["Location"]).content.decode()


def test_a_viewer_sees_the_tab_without_forms_and_cannot_change_anything_by_posting(client: Client, teammate: Any, team: Team, hello: Function) -> None:
    make_versions(hello, 2)
    Alias.objects.create(function=hello, name="live", function_version="1")
    Membership.objects.filter(team=team, user=teammate).update(role="viewer")
    client.force_login(teammate)
    page = client.get(f"{BASE}/versions/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "function:hello:live" in body
    assert 'id="publish-form"' not in body and 'id="alias-form"' not in body and "delete/" not in body
    denied = [
        publish(client, "sneaky"),
        alias_post(client, name="other"),
        client.get(f"{BASE}/aliases/live/"),
        client.post(f"{BASE}/aliases/live/", {"function_version": "2", "additional_version": "", "weight": ""}),
        client.post(f"{BASE}/aliases/live/delete/"),
    ]
    assert [r.status_code for r in denied] == [403] * 5
    assert "Not allowed" in denied[0].content.decode()
    assert hello.versions.count() == 3
    assert list(Alias.objects.filter(function=hello).values_list("name", "function_version")) == [("live", "1")]


def test_an_outsider_gets_404_on_the_tab_and_its_posts(client: Client, outsider: Any, hello: Function) -> None:
    client.force_login(outsider)
    assert client.get(f"{BASE}/versions/").status_code == 404
    assert publish(client).status_code == 404
    assert alias_post(client, function_version="$LATEST").status_code == 404
    assert not Alias.objects.exists() and hello.versions.count() == 1
