"""Suite runs end to end on the real engine: events with expectations invoked in parallel, judged,
kept with their records; run on deploy; team rules. ``transaction=True``: the worker's threads each
have their own connection and must see the rows."""

from __future__ import annotations

from typing import Any

import pytest

from console.models import SuiteResult, SuiteRun
from console.services import events as event_service
from console.services import functions as console_functions
from console.services import suites
from invocations.access import user_caller
from invocations.errors import AccessDeniedException
from invocations.models import Activity, Function, Invocation, Team
from tests.console.conftest import SUITE_SOURCE as SOURCE

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def caller(owner: Any, team: Team) -> Any:
    return user_caller(user=owner, team=team, via="console")


@pytest.fixture
def shop(caller: Any) -> Function:
    function = console_functions.create_function(caller=caller, name="shop", runtime="python3.11", zip_data=None, source=SOURCE)
    add = event_service.create_event
    add(caller=caller, function=function, name="ok", scope="shared", body='{"n": 1}',
        expect={"Outcome": "Succeeded", "Response": {"Contains": {"statusCode": 200}},
                "JsonPath": [{"Path": "$.body", "Matches": "^ok 1$"}], "Logs": {"Contains": ["processing"],
                "NotContains": ["Traceback"]}, "MaxDurationMs": 5000, "MaxMemoryMb": 512})  # fmt: skip
    add(caller=caller, function=function, name="fails as it should", scope="shared", body='{"fail": true}',
        expect={"ErrorType": "ValueError"})  # fmt: skip
    add(caller=caller, function=function, name="wrong", scope="shared", body='{"n": 2}',
        expect={"Response": {"Equals": {"statusCode": 200, "body": "ok 3"}}})  # fmt: skip
    add(caller=caller, function=function, name="no expectations", scope="shared", body="{}")
    return function


def test_a_suite_runs_every_event_with_expectations_and_judges_each(caller: Any, shop: Function, monkeypatch: Any) -> None:
    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: None)
    suite = suites.start_suite(caller=caller, function=shop)
    assert suite.total == 3 and suite.status == SuiteRun.Status.RUNNING
    suites.run_suite(suite_id=suite.pk)  # what the worker does
    suite.refresh_from_db()
    results = {result.event_name: result for result in suite.results.all()}
    assert set(results) == {"ok", "fails as it should", "wrong"}
    assert results["ok"].status == "passed", results["ok"].failures
    assert results["fails as it should"].status == "passed", results["fails as it should"].failures
    wrong = results["wrong"]
    assert wrong.status == "failed"
    assert wrong.failures[0]["Where"] == "Response.Equals"
    assert '"ok 3"' in wrong.failures[0]["Expected"] and '"ok 2"' in wrong.failures[0]["Actual"]
    assert (suite.status, suite.passed, suite.failed) == ("failed", 2, 1)
    assert suite.code_sha256 == shop.versions.get(version="$LATEST").code_sha256 and suite.finished_at
    records = Invocation.objects.filter(request_id__in=[r.request_id for r in results.values()])
    assert records.count() == 3 and set(records.values_list("source", flat=True)) == {"suite"}


def test_a_chosen_set_runs_even_without_expectations_and_unknown_names_are_refused(caller: Any, shop: Function, monkeypatch: Any) -> None:
    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: None)
    suite = suites.start_suite(caller=caller, function=shop, names=["no expectations"])
    suites.run_suite(suite_id=suite.pk)
    suite.refresh_from_db()
    assert suite.status == "passed" and suite.total == 1
    with pytest.raises(suites.SuiteError, match="'nope'"):
        suites.start_suite(caller=caller, function=shop, names=["nope"])


def test_another_team_cannot_run_or_read_the_suite(outsider: Any, other_team: Team, shop: Function) -> None:
    stranger = user_caller(user=outsider, team=other_team, via="console")
    with pytest.raises(AccessDeniedException):
        suites.start_suite(caller=stranger, function=shop)
    with pytest.raises(AccessDeniedException):
        suites.suite_runs(caller=stranger, function=shop)


def test_a_deploy_runs_the_suite_when_the_function_asks_and_logs_the_outcome(
    caller: Any, shop: Function, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: sent.append((name, args)))
    version = shop.versions.get(version="$LATEST")
    console_functions.deploy_file(caller=caller, version=version, filename="lambda_function.py", source=SOURCE + "\n")
    assert not SuiteRun.objects.exists()  # not asked to

    suites.set_run_on_deploy(caller=caller, function=shop, enabled=True)
    console_functions.deploy_file(caller=caller, version=version, filename="lambda_function.py",
                                  source=SOURCE.replace('"ok "', '"ko "'))  # fmt: skip
    suite = SuiteRun.objects.get()
    assert suite.trigger == "deploy" and sent == [(suites.RUN_SUITE, [suite.pk])]
    suites.run_suite(suite_id=suite.pk)
    suite.refresh_from_db()
    assert suite.status == "failed" and SuiteResult.objects.get(suite=suite, event_name="ok").status == "failed"
    logged = Activity.objects.filter(function=shop, action=suites.SUITE_ACTION).get()
    assert logged.changes["status"] == "failed" and logged.changes["suite"] == suite.pk


def test_parallelism_stays_within_reserved_concurrency(shop: Function, settings: Any) -> None:
    settings.LAMBDA_SUITE_PARALLELISM = 4
    assert suites.parallelism(shop, 10) == 4
    shop.reserved_concurrency = 2
    assert suites.parallelism(shop, 10) == 2
    assert suites.parallelism(shop, 1) == 1


def test_another_team_granted_invoke_and_read_runs_the_suite_as_itself(
    caller: Any, outsider: Any, other_team: Team, shop: Function, monkeypatch: Any
) -> None:
    from invocations.arns import FunctionRef
    from invocations.services import permissions

    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: None)
    for sid, action in (("qa-invoke", "lambda:InvokeFunction"), ("qa-read", "lambda:GetTestEvent")):
        permissions.add_permission(caller=caller, ref=FunctionRef(name="shop", qualifier=None),
                                   body={"StatementId": sid, "Action": action, "Principal": other_team.account_id})  # fmt: skip
    stranger = user_caller(user=outsider, team=other_team, via="api")
    suite = suites.start_suite(caller=stranger, function=shop, names=["ok"])
    suites.run_suite(suite_id=suite.pk)
    suite.refresh_from_db()
    assert suite.started_in_id == other_team.pk
    assert suite.status == "passed", list(suite.results.values_list("failures", flat=True))
