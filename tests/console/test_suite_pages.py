"""Run all, the suite run's live table, the runs list, compare, run on deploy, the functions list's
Suite column, and the team rules on every suite route. Runs are real: the worker's side is
``suites.run_suite`` on the engine, called as the worker would (``transaction=True``: its threads
have their own connections and must see the rows)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from console.models import SuiteResult, SuiteRun, SuiteSettings
from console.services import events as event_service
from console.services import functions as console_functions
from console.services import suites
from invocations.access import user_caller
from invocations.models import Activity, Function, Membership, Team
from tests.console.conftest import SUITE_SOURCE as SOURCE

HX = {"HTTP_HX_REQUEST": "true"}



@pytest.fixture
def shop(owner: Any, team: Team) -> Function:
    caller = user_caller(user=owner, team=team, via="console")
    function = console_functions.create_function(caller=caller, name="shop", runtime="python3.11", zip_data=None, source=SOURCE)
    add = event_service.create_event
    add(caller=caller, function=function, name="ok", scope="shared", body='{"n": 1}',
        expect={"Outcome": "Succeeded", "Response": {"Equals": {"statusCode": 200, "body": "ok 1"}}})  # fmt: skip
    add(caller=caller, function=function, name="wrong", scope="shared", body='{"n": 2}',
        expect={"Response": {"Equals": {"statusCode": 200, "body": "ok 3"}}})  # fmt: skip
    add(caller=caller, function=function, name="plain", scope="shared", body="{}")
    return function


@pytest.fixture
def sent(monkeypatch: Any) -> list[tuple[str, list[int]]]:
    calls: list[tuple[str, list[int]]] = []
    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: calls.append((name, args)))
    return calls


def fake_run(function: Function, results: dict[str, tuple[str, str]], **fields: Any) -> SuiteRun:
    """A finished suite run as the worker leaves it: {event: (status, response)}."""
    failed = sum(1 for status, _ in results.values() if status != "passed")
    suite = SuiteRun.objects.create(function=function, status="failed" if failed else "passed", total=len(results),
                                    passed=len(results) - failed, failed=failed, finished_at=timezone.now(), **fields)  # fmt: skip
    for name, (status, response) in results.items():
        SuiteResult.objects.create(suite=suite, event_name=name, body="{}", status=status, response=response)
    return suite


@pytest.mark.django_db(transaction=True)
def test_run_all_queues_the_suite_and_its_table_fills_in_with_the_failures_expected_vs_actual(
    client: Client, owner: Any, shop: Function, sent: list[Any]
) -> None:
    client.force_login(owner)
    response = client.post("/functions/shop/suites/run/", {"qualifier": "$LATEST"}, **HX)
    suite = SuiteRun.objects.get()
    assert sent == [("console.run_suite", [suite.pk])] and suite.total == 2 and suite.trigger == "console"
    body = response.content.decode()
    assert 'hx-trigger="every 500ms"' in body and "Running: 0 of 2 done" in body

    suites.run_suite(suite_id=suite.pk)  # what the worker does

    poll = client.get(f"/functions/shop/suites/{suite.pk}/", **HX)
    body = poll.content.decode()
    assert poll.status_code == 286  # htmx stops polling
    assert "Failed: 1 passed, 1 failed of 2" in body and 'class="status status-passed"' in body
    assert "<code>Response.Equals</code>" in body and "<th>Expected</th><th>Actual</th>" in body
    # The differing characters are marked: "ok 3" expected, "ok 2" came back.
    assert '&quot;ok <mark>3</mark>&quot;' in body and '&quot;ok <mark>2</mark>&quot;' in body
    wrong = suite.results.get(event_name="wrong")
    assert f'href="/invocations/{wrong.request_id}/"' in body
    page = client.get(f"/functions/shop/suites/{suite.pk}/").content.decode()
    assert "<html" in page and 'hx-trigger="every' not in page


@pytest.mark.django_db(transaction=True)
def test_run_all_runs_the_chosen_events_on_the_chosen_qualifier(client: Client, owner: Any, shop: Function, sent: list[Any]) -> None:
    from invocations.services import versions

    versions.publish(shop)
    client.force_login(owner)
    page = client.get("/functions/shop/test/").content.decode()
    assert 'id="run-all-button"' in page and '<option value="1">1</option>' in page
    client.post("/functions/shop/suites/run/", {"qualifier": "1", "events": ["plain", "ok"]}, **HX)
    suite = SuiteRun.objects.get()
    assert suite.qualifier == "1" and suite.executed_version == "1"
    assert sorted(suite.results.values_list("event_name", flat=True)) == ["ok", "plain"]
    suites.run_suite(suite_id=suite.pk)
    suite.refresh_from_db()
    assert suite.status == "passed" and suite.passed == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [({"qualifier": "nope"}, "Unknown qualifier"), ({"events": ["missing"]}, "No saved event named &#x27;missing&#x27;")],
)
def test_a_suite_that_cannot_start_says_why(client: Client, owner: Any, shop: Function, data: dict[str, Any], message: str) -> None:
    client.force_login(owner)
    response = client.post("/functions/shop/suites/run/", data, **HX)
    assert response.status_code == 422 and message in response.content.decode() and not SuiteRun.objects.exists()


@pytest.mark.django_db
def test_without_expectations_run_all_says_to_add_some(client: Client, owner: Any, hello: Function) -> None:
    client.force_login(owner)
    response = client.post("/functions/hello/suites/run/", {}, **HX)
    assert response.status_code == 422 and "add expectations to an event first" in response.content.decode()
    plain = client.post("/functions/hello/suites/run/", {})
    assert plain.status_code == 302 and plain["Location"] == "/functions/hello/test/"


@pytest.mark.django_db
def test_the_runs_list_shows_who_when_qualifier_code_and_counts_and_compare_shows_what_changed(
    client: Client, owner: Any, shop: Function
) -> None:
    first = fake_run(shop, {"ok": ("passed", '{"body": "ok 1"}'), "wrong": ("failed", '{"body": "ok 2"}'), "gone": ("passed", "1")},
                     started_by=owner, code_sha256="A" * 44)  # fmt: skip
    second = fake_run(shop, {"ok": ("failed", '{"body": "ok 9"}'), "wrong": ("failed", '{"body": "ok 2"}')},
                      trigger="deploy", code_sha256="B" * 44)  # fmt: skip
    client.force_login(owner)
    page = client.get("/functions/shop/suites/").content.decode()
    assert page.index(f">#{second.pk}<") < page.index(f">#{first.pk}<")  # newest first
    assert "alice" in page and "Deploy" in page and "AAAAAAAAAAAA…" in page and "2/3" in page
    assert f'name="a" value="{first.pk}" aria-label="Run {first.pk} as A" checked' in page

    compare = client.get(f"/functions/shop/suites/compare/?a={first.pk}&b={second.pk}").content.decode()
    assert "2 events changed outcome." in compare  # ok: passed → failed; gone: only in A
    ok_row = compare.split("<th>ok</th>")[1].split("</tr>")[0]
    assert "outcome changed" in ok_row and "response differs" in ok_row
    assert "&quot;ok <mark>1</mark>&quot;" in compare and "&quot;ok <mark>9</mark>&quot;" in compare
    wrong_row = compare.split("<th>wrong</th>")[1].split("</tr>")[0]
    assert "same" in wrong_row and "not in B" in compare
    assert client.get("/functions/shop/suites/compare/?a=x&b=1").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_run_on_deploy_starts_the_suite_after_a_code_tab_deploy_which_links_to_it(
    client: Client, owner: Any, shop: Function, sent: list[Any]
) -> None:
    client.force_login(owner)
    assert "Run on deploy is <strong id=\"run-on-deploy-state\">off</strong>" in client.get("/functions/shop/suites/").content.decode()
    assert client.post("/functions/shop/suites/run-on-deploy/", {"run_on_deploy": "on"}).status_code == 302
    assert SuiteSettings.objects.get(function=shop).run_on_deploy
    assert "Turn run on deploy off" in client.get("/functions/shop/suites/").content.decode()

    response = client.post("/functions/shop/", {"filename": "lambda_function.py", "source": SOURCE.replace('"ok "', '"ko "')}, **HX)
    suite = SuiteRun.objects.get()
    assert suite.trigger == "deploy" and sent == [("console.run_suite", [suite.pk])]
    assert f'href="/functions/shop/suites/{suite.pk}/" id="deploy-suite"' in response.content.decode()
    suites.run_suite(suite_id=suite.pk)
    code_tab = client.get("/functions/shop/").content.decode()
    assert f">run #{suite.pk}</a> <span class=\"status status-failed\">" in code_tab
    assert Activity.objects.filter(function=shop, action=suites.SUITE_ACTION).get().changes["status"] == "failed"
    assert "workbench:RunTestSuite" in client.get("/functions/shop/activity/").content.decode()

    config = client.post("/functions/shop/configuration/", {"handler": "lambda_function.lambda_handler", "timeout": 5, "memory_size": 128}, **HX)
    second = SuiteRun.objects.first()
    assert second is not None and second.pk != suite.pk and f'id="deploy-suite"' in config.content.decode()


@pytest.mark.django_db
def test_the_functions_list_shows_each_functions_last_suite_status(client: Client, owner: Any, shop: Function, hello: Function) -> None:
    fake_run(shop, {"ok": ("passed", "")})
    fake_run(shop, {"ok": ("failed", "")})
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert "<th>Suite</th>" in body and 'aria-label="Last test suite run of shop: failed"' in body
    assert body.count('class="suite-status"') == 1  # hello has no runs


# --- team rules ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_teams_user_gets_404_on_every_suite_route(client: Client, outsider: Any, other_team: Team, shop: Function) -> None:
    suite = fake_run(shop, {"ok": ("passed", "")})
    event = shop.test_events.get(name="ok")
    client.force_login(outsider)
    for path in ("/functions/shop/suites/", f"/functions/shop/suites/{suite.pk}/", f"/functions/shop/suites/compare/?a={suite.pk}&b={suite.pk}"):
        assert client.get(path).status_code == 404, path
    for path, data in (("/functions/shop/suites/run/", {}), ("/functions/shop/suites/run-on-deploy/", {"run_on_deploy": "on"}),
                       (f"/functions/shop/events/{event.pk}/approve/", {"request_id": "x"})):  # fmt: skip
        assert client.post(path, data).status_code == 404, path
    assert not SuiteSettings.objects.exists() and SuiteRun.objects.count() == 1


@pytest.mark.django_db
def test_a_suite_run_of_another_function_is_not_found_here(client: Client, owner: Any, shop: Function, hello: Function) -> None:
    suite = fake_run(shop, {"ok": ("passed", "")})
    client.force_login(owner)
    assert client.get(f"/functions/hello/suites/{suite.pk}/").status_code == 404
    assert client.get(f"/functions/hello/suites/compare/?a={suite.pk}&b={suite.pk}").status_code == 404


@pytest.mark.django_db
def test_a_viewer_reads_suites_but_cannot_run_approve_or_switch(client: Client, teammate: Any, team: Team, shop: Function, sent: list[Any]) -> None:
    suite = fake_run(shop, {"ok": ("passed", "")})
    event = shop.test_events.get(name="ok")
    Membership.objects.filter(team=team, user=teammate).update(role="viewer")
    client.force_login(teammate)
    assert client.get(f"/functions/shop/suites/{suite.pk}/").status_code == 200
    listing = client.get("/functions/shop/suites/").content.decode()
    assert 'id="run-on-deploy-button"' not in listing and 'id="run-on-deploy-denied"' in listing
    assert 'id="run-all-button" disabled' in client.get("/functions/shop/test/").content.decode()
    assert client.post("/functions/shop/suites/run/", {}).status_code == 403
    assert client.post("/functions/shop/suites/run-on-deploy/", {"run_on_deploy": "on"}).status_code == 403
    assert client.post(f"/functions/shop/events/{event.pk}/approve/", {"request_id": "x"}).status_code == 403
    assert SuiteRun.objects.count() == 1 and not SuiteSettings.objects.exists() and not sent


@pytest.mark.django_db
def test_a_tester_runs_the_suite_but_cannot_switch_run_on_deploy(client: Client, teammate: Any, team: Team, shop: Function, sent: list[Any]) -> None:
    Membership.objects.filter(team=team, user=teammate).update(role="tester")
    client.force_login(teammate)
    assert 'id="run-all-button">' in client.get("/functions/shop/test/").content.decode()
    page = client.get("/functions/shop/suites/").content.decode()
    assert 'id="suites-run-form"' in page and "Run all</button>" in page
    started = client.post("/functions/shop/suites/run/", {"qualifier": "$LATEST"})
    suite = SuiteRun.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/functions/shop/suites/{suite.pk}/"
    assert suite.started_by == teammate
    assert 'id="run-on-deploy-denied"' in client.get("/functions/shop/suites/").content.decode()
    assert client.post("/functions/shop/suites/run-on-deploy/", {"run_on_deploy": "on"}).status_code == 403
    assert not SuiteSettings.objects.exists()
