"""Saved events with expectations and test suites over the workbench API (console/api.py), Django
tier: SigV4-signed requests through Django's test client; the cast of tests/conftest.py."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone

from console.models import SuiteResult, SuiteRun, SuiteSettings, TestEvent
from console.services import events as event_service
from console.services import functions as console_functions
from console.services import suites
from invocations.access import user_caller
from invocations.access_keys import NewAccessKey, create_access_key
from invocations.models import Activity, Function, Invocation, Membership, Team
from tests.cli.test_server_api import call
from tests.conftest import make_lambda_client, zip_bytes
from tests.console.conftest import SUITE_SOURCE as SOURCE

OK_EXPECT = {"Outcome": "Succeeded", "Response": {"Contains": {"statusCode": 200}},
             "JsonPath": [{"Path": "$.body", "Matches": "^ok"}], "Logs": {"Contains": ["processing"]}}


def answer(response: Any) -> Any:
    return json.loads(response.content) if response.content else None


def error(response: Any) -> tuple[int, str, str]:
    data = answer(response)
    return response.status_code, response["x-amzn-ErrorType"], data.get("message") or data.get("Message")


@pytest.fixture
def shop(owner: Any, team: Team) -> Function:
    caller = user_caller(user=owner, team=team, via="console")
    function = console_functions.create_function(caller=caller, name="shop", runtime="python3.11", zip_data=None,
                                                 source=SOURCE)  # fmt: skip
    event_service.create_event(caller=caller, function=function, name="ok", scope="shared", body='{"n": 1}',
                               expect=OK_EXPECT)  # fmt: skip
    event_service.create_event(caller=caller, function=function, name="wrong", scope="shared", body='{"n": 2}',
                               expect={"Response": {"Equals": {"statusCode": 200, "body": "ok 3"}}})  # fmt: skip
    event_service.create_event(caller=caller, function=function, name="plain", scope="shared", body="{}")
    return function


def key_with_role(django_user_model: Any, team: Team, name: str, role: str) -> NewAccessKey:
    user = django_user_model.objects.create_user(name, password="password")
    Membership.objects.create(team=team, user=user, role=role)
    return create_access_key(user=user, team=team)


# --- events with expectations ----------------------------------------------------------------------


@pytest.mark.django_db
def test_events_carry_their_expectations_on_read_and_write(access_key: NewAccessKey, shop: Function) -> None:
    listed = answer(call(access_key, "GET", "functions/shop/events"))["Events"]
    assert {e["Name"]: e["Expect"] for e in listed}["ok"] == OK_EXPECT
    assert {e["Name"]: e["Expect"] for e in listed}["plain"] is None

    created = call(access_key, "PUT", "functions/shop/events/new", {"Body": {"n": 5}, "Scope": "shared",
                                                                    "Expect": {"ErrorType": "ValueError"}})
    assert created.status_code == 201 and answer(created)["Result"] == "created"
    assert answer(created)["Expect"] == {"Outcome": "Failed", "ErrorType": "ValueError"}  # stored normalised

    # The same content again, formatted otherwise: unchanged, and no new version of the shared event.
    again = call(access_key, "PUT", "functions/shop/events/new", {"Body": '{ "n" : 5 }', "Scope": "shared",
                                                                  "Expect": {"ErrorType": "ValueError"}})
    assert (again.status_code, answer(again)["Result"]) == (200, "unchanged")
    assert TestEvent.objects.get(name="new").versions.count() == 1

    updated = call(access_key, "PUT", "functions/shop/events/new", {"Expect": {"Outcome": "Succeeded"}})
    assert (updated.status_code, answer(updated)["Result"]) == (200, "updated")
    assert answer(call(access_key, "GET", "functions/shop/events/new"))["Body"] == {"n": 5}  # body kept
    cleared = call(access_key, "PUT", "functions/shop/events/new", {"Expect": None})
    assert answer(cleared)["Expect"] is None and TestEvent.objects.get(name="new").expect is None

    imported = call(access_key, "POST", "functions/shop/events",
                    {"Events": [{"Name": "new", "Scope": "shared", "Body": {"n": 6}}], "Overwrite": True})
    assert imported.status_code == 201 and answer(imported)["Events"][0]["Expect"] is None  # kept (none)

    assert call(access_key, "DELETE", "functions/shop/events/new?Scope=shared").status_code == 204
    assert call(access_key, "GET", "functions/shop/events/new").status_code == 404
    assert call(access_key, "DELETE", "functions/shop/events/new").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [("PUT", "functions/shop/events/x", {"Body": {}, "Expect": {"JsonPath": [{"Path": "$.body", "Matches": "("}]}},
      "Expect: JsonPath[0].Matches: is not a valid regular expression"),
     ("PUT", "functions/shop/events/x", {"Body": {}, "Expect": {"Outcome": "Maybe"}},
      "Expect: Outcome: must be Succeeded or Failed"),
     ("PUT", "functions/shop/events/x", {"Body": {}, "Expect": {"Colour": "red"}}, "Expect: unknown key 'Colour'"),
     ("PUT", "functions/shop/events/x", {"Body": {}, "Expect": ["Succeeded"]}, "Expect: must be an object"),
     ("PUT", "functions/shop/events/x", {"Body": "{nope"}, "Body: The event is not valid JSON"),
     ("PUT", "functions/shop/events/x", {"Expect": {}}, "Body: A new event needs a body."),
     ("PUT", "functions/shop/events/x", {"Body": {}, "Scope": "team"}, "Scope: must be private or shared."),
     ("PUT", "functions/shop/events/x", {"Body": {}, "Name": "y"}, "Name: must be the event's name in the path"),
     ("POST", "functions/shop/events", {"Events": [{"Name": "a", "Body": {}},
                                                  {"Name": "b", "Body": {}, "Expect": {"MaxDurationMs": -1}}]},
      "Events[1].Expect: MaxDurationMs: must be a positive number"),
     ("POST", "functions/shop/suites", {"Events": "ok"}, "Events: must be a list of saved event names."),
     ("POST", "functions/shop/suites", {"Events": ["ok", "ghost"]}, "No saved event named 'ghost'"),
     ("POST", "functions/shop/suites", {"Qualifier": "7"}, "Unknown qualifier '7'"),
     ("GET", "functions/shop/suites?limit=0", None, "Invalid query: limit"),
     ("GET", "functions/shop/suites/compare?a=1", None, "Give both a and b"),
     ("PUT", "functions/shop/suite-settings", {"RunOnDeploy": "yes"}, "RunOnDeploy: must be true or false.")],
)
def test_bad_input_is_a_400_naming_the_place(access_key: NewAccessKey, shop: Function, method: str, path: str,
                                             body: Any, message: str) -> None:  # fmt: skip
    status, code, text = error(call(access_key, method, path, body))
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message in text, text
    assert not TestEvent.objects.filter(name__in=["x", "a", "b"]).exists()  # all or nothing
    assert not SuiteRun.objects.exists()


@pytest.mark.django_db
def test_a_function_without_expectations_has_no_suite(access_key: NewAccessKey, owner: Any, team: Team) -> None:
    console_functions.create_function(caller=user_caller(user=owner, team=team, via="console"), name="bare",
                                      runtime="python3.11", zip_data=None, source=SOURCE)  # fmt: skip
    status, code, text = error(call(access_key, "POST", "functions/bare/suites", {}))
    assert (status, code) == (400, "InvalidParameterValueException") and "no saved events with expectations" in text
    status, code, _ = error(call(access_key, "GET", "functions/bare/suites/compare"))
    assert (status, code) == (404, "ResourceNotFoundException")


# --- suites ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_suite_starts_and_is_listed_newest_first_in_pages(access_key: NewAccessKey, shop: Function) -> None:
    started = call(access_key, "POST", "functions/shop/suites", {"Qualifier": "$LATEST"})
    assert started.status_code == 202, started.content
    run = answer(started)
    assert (run["Status"], run["Trigger"], run["Total"], run["Pending"], run["StartedBy"]) == ("running", "api", 2, 2, "alice")
    assert run["CodeSha256"] == shop.versions.get(version="$LATEST").code_sha256
    assert [(r["EventName"], r["Status"], r["RequestId"]) for r in run["Results"]] == [("ok", "pending", None),
                                                                                      ("wrong", "pending", None)]
    chosen = answer(call(access_key, "POST", "functions/shop/suites", {"Events": ["plain"]}))
    assert [r["EventName"] for r in chosen["Results"]] == ["plain"]

    first = answer(call(access_key, "GET", "functions/shop/suites?limit=1"))
    rest = answer(call(access_key, "GET", f"functions/shop/suites?limit=1&Marker={first['NextMarker']}"))
    assert [r["Id"] for r in first["SuiteRuns"] + rest["SuiteRuns"]] == [chosen["Id"], run["Id"]]
    assert "NextMarker" not in rest and "Results" not in first["SuiteRuns"][0]
    assert answer(call(access_key, "GET", f"functions/shop/suites/{run['Id']}"))["Id"] == run["Id"]
    status, code, text = error(call(access_key, "GET", "functions/shop/suites/999999"))
    assert (status, code, text) == (404, "ResourceNotFoundException", "Suite run not found: 999999")


@pytest.mark.django_db
def test_run_on_deploy_is_a_switch_and_a_deploy_through_the_aws_api_starts_a_run(
    access_key: NewAccessKey, lambda_client: Any, shop: Function, monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    sent: list[Any] = []
    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: sent.append((name, args)))
    assert answer(call(access_key, "GET", "functions/shop/suite-settings")) == {"RunOnDeploy": False}
    turned = call(access_key, "PUT", "functions/shop/suite-settings", {"RunOnDeploy": True})
    assert answer(turned) == {"RunOnDeploy": True} and SuiteSettings.objects.get(function=shop).run_on_deploy
    assert Activity.objects.filter(function=shop, changes__suite_run_on_deploy=True).exists()

    with django_capture_on_commit_callbacks(execute=True):
        lambda_client.update_function_code(FunctionName="shop",
                                           ZipFile=zip_bytes({"lambda_function.py": SOURCE + "\n"}))  # fmt: skip
    runs = answer(call(access_key, "GET", "functions/shop/suites"))["SuiteRuns"]
    assert [(r["Trigger"], r["Qualifier"], r["Status"]) for r in runs] == [("deploy", "$LATEST", "running")]
    assert sent == [(suites.RUN_SUITE, [runs[0]["Id"]])]

    call(access_key, "PUT", "functions/shop/suite-settings", {"RunOnDeploy": False})
    with django_capture_on_commit_callbacks(execute=True):
        lambda_client.update_function_code(FunctionName="shop", ZipFile=zip_bytes({"lambda_function.py": SOURCE}))
    assert SuiteRun.objects.count() == 1


@pytest.mark.django_db
def test_each_role_does_what_its_actions_allow(django_user_model: Any, team: Team, shop: Function) -> None:
    viewer = key_with_role(django_user_model, team, "vera", "viewer")
    tester = key_with_role(django_user_model, team, "tess", "tester")
    assert call(viewer, "GET", "functions/shop/suites").status_code == 200
    assert error(call(viewer, "POST", "functions/shop/suites", {}))[:2] == (403, "AccessDeniedException")
    assert error(call(viewer, "PUT", "functions/shop/events/mine", {"Body": {}}))[:2] == (403, "AccessDeniedException")
    assert call(tester, "POST", "functions/shop/suites", {}).status_code == 202
    assert call(tester, "PUT", "functions/shop/events/mine", {"Body": {}, "Expect": {}}).status_code == 201  # private
    assert error(call(tester, "PUT", "functions/shop/events/ok", {"Scope": "shared", "Expect": {}}))[:2] == \
        (403, "AccessDeniedException")  # shared events are the developers'
    assert error(call(tester, "DELETE", "functions/shop/events/ok"))[:2] == (403, "AccessDeniedException")
    assert error(call(tester, "PUT", "functions/shop/suite-settings", {"RunOnDeploy": True}))[:2] == \
        (403, "AccessDeniedException")
    assert call(tester, "GET", "functions/shop/suite-settings").status_code == 200
    assert TestEvent.objects.get(name="ok").expect == OK_EXPECT


FN = quote("arn:aws:lambda:us-east-1:111111111111:function:shop", safe="")
ATTACKS = [
    ("GET", "functions/{fn}/events/ok", None),
    ("PUT", "functions/{fn}/events/ok", {"Scope": "shared", "Body": {"v": 666}, "Expect": None}),
    ("DELETE", "functions/{fn}/events/ok?Scope=shared", None),
    ("POST", "functions/{fn}/suites", {}),
    ("GET", "functions/{fn}/suites", None),
    ("GET", "functions/{fn}/suites/{run}", None),
    ("GET", "functions/{fn}/suites/compare?a={run}&b={run}", None),
    ("GET", "functions/{fn}/suites/compare", None),
    ("GET", "functions/{fn}/suite-settings", None),
    ("PUT", "functions/{fn}/suite-settings", {"RunOnDeploy": True}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body"), ATTACKS, ids=[f"{a[0]} {a[1]}" for a in ATTACKS])
def test_another_teams_key_gets_aws_403_from_every_suite_route(
    outsider_key: NewAccessKey, access_key: NewAccessKey, shop: Function, method: str, path: str, body: Any
) -> None:
    run = answer(call(access_key, "POST", "functions/shop/suites", {}))["Id"]
    response = call(outsider_key, method, path.format(fn=FN, run=run), body)
    status, code, text = error(response)
    assert (status, code) == (403, "AccessDeniedException")
    assert text.startswith("User: arn:aws:iam::222222222222:user/charlie is not authorized to perform: lambda:")
    assert b"processing" not in response.content and b"statusCode" not in response.content
    assert TestEvent.objects.get(name="ok", scope="shared").expect == OK_EXPECT
    assert SuiteRun.objects.count() == 1 and not SuiteSettings.objects.exists()
    # By a bare name, the outsider's own account has no "shop": a 404, as for any AWS call.
    bare = call(outsider_key, method, path.format(fn="shop", run=run), body)
    assert error(bare)[:2] == (404, "ResourceNotFoundException")


# --- a real run, read and compared -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_shows_failures_with_expected_and_actual_and_compares_with_the_next(
    access_key: NewAccessKey, shop: Function, owner: Any, team: Team, monkeypatch: Any
) -> None:
    monkeypatch.setattr("config.celery.app.send_task", lambda name, args: None)
    before = answer(call(access_key, "POST", "functions/shop/suites", {}))["Id"]
    suites.run_suite(suite_id=before)  # what the worker does
    run = answer(call(access_key, "GET", f"functions/shop/suites/{before}"))
    assert (run["Status"], run["Passed"], run["Failed"], run["Pending"], run["Errors"]) == ("failed", 1, 1, 0, 0)
    assert run["FinishedAt"] and run["ExecutedVersion"] == "$LATEST"
    results = {r["EventName"]: r for r in run["Results"]}
    assert results["ok"]["Status"] == "passed" and results["ok"]["Failures"] == []
    (failure,) = results["wrong"]["Failures"]
    assert failure["Where"] == "Response.Equals" and '"ok 3"' in failure["Expected"] and '"ok 2"' in failure["Actual"]
    assert {"Where", "Message", "Expected", "Actual"} == set(failure)
    for result in results.values():
        record = Invocation.objects.get(request_id=result["RequestId"])
        assert record.source == "suite" and json.loads(record.response) == json.loads(result["Response"])

    caller = user_caller(user=owner, team=team, via="console")
    console_functions.deploy_file(caller=caller, version=shop.versions.get(version="$LATEST"),
                                  filename="lambda_function.py", source=SOURCE.replace('"ok "', '"ok  "'))  # fmt: skip
    after = answer(call(access_key, "POST", "functions/shop/suites", {}))["Id"]
    suites.run_suite(suite_id=after)

    compared = answer(call(access_key, "GET", f"functions/shop/suites/compare?a={before}&b={after}"))
    assert (compared["A"]["Id"], compared["B"]["Id"]) == (before, after)
    assert compared["A"]["CodeSha256"] != compared["B"]["CodeSha256"]
    rows = {row["EventName"]: row for row in compared["Events"]}
    assert compared["Changed"] == [] and not rows["ok"]["OutcomeChanged"]  # ^ok still matches "ok  1"
    assert rows["wrong"]["ResponseChanged"]
    assert '-  "body": "ok 2",' in rows["wrong"]["ResponseDiff"] and '+  "body": "ok  2",' in rows["wrong"]["ResponseDiff"]
    assert rows["wrong"]["ResponseDiff"].startswith(f"--- suite {before}\n+++ suite {after}")

    # Fix "wrong"'s expectation: the next run passes it, and the newest pair shows what changed.
    call(access_key, "PUT", "functions/shop/events/wrong", {"Expect": {"JsonPath": [{"Path": "$.body", "Equals": "ok  2"}]}})
    fixed = answer(call(access_key, "POST", "functions/shop/suites", {}))["Id"]
    suites.run_suite(suite_id=fixed)
    latest = answer(call(access_key, "GET", "functions/shop/suites/compare"))
    assert (latest["A"]["Id"], latest["B"]["Id"], latest["Changed"]) == (after, fixed, ["wrong"])
    wrong = {row["EventName"]: row for row in latest["Events"]}["wrong"]
    assert (wrong["A"]["Status"], wrong["B"]["Status"], wrong["ResponseDiff"]) == ("failed", "passed", "")


def test_the_response_diff_ignores_key_order_and_spacing() -> None:
    assert suites.response_diff('{"a": 1, "b": 2}', '{"b":2,"a":1}') == ""
    diff = suites.response_diff('{"a": 1}', '{"a": 2}', left_label="x", right_label="y").splitlines()
    assert diff == ["--- x", "+++ y", "@@ -1,3 +1,3 @@", " {", '-  "a": 1', '+  "a": 2', " }"]
    assert suites.response_diff("plain text", "other text").endswith("-plain text\n+other text")
    long = suites.response_diff(json.dumps([n * 2 for n in range(500)]), json.dumps([n * 3 for n in range(500)]))
    assert len(long.splitlines()) == suites.MAX_DIFF_LINES + 1 and long.endswith("more lines")


@pytest.mark.django_db
def test_a_result_shows_a_long_response_cut_with_a_flag(access_key: NewAccessKey, shop: Function) -> None:
    run = answer(call(access_key, "POST", "functions/shop/suites", {}))["Id"]
    SuiteResult.objects.filter(suite_id=run, event_name="ok").update(status="passed", response="x" * 5000,
                                                                     finished_at=timezone.now())  # fmt: skip
    result = answer(call(access_key, "GET", f"functions/shop/suites/{run}"))["Results"][0]
    assert len(result["Response"]) == 4096 and result["ResponseTruncated"] is True


@pytest.mark.django_db
@pytest.mark.parametrize(("stored", "pushed", "result"), [('{"a": 1, "b": [true]}', '{"b":[true],"a":1}', "unchanged"),
                                                          ('{"a": 1}', '{"a": 1.0}', "updated"),
                                                          ('{"a": 1}', '{"a": true}', "updated"),
                                                          ('{"id": {{random_int}}}', '{"id": {{random_int}}}', "unchanged")])
def test_a_pushed_body_is_unchanged_only_when_it_is_the_same_json(
    access_key: NewAccessKey, shop: Function, owner: Any, team: Team, stored: str, pushed: str, result: str
) -> None:
    event_service.create_event(caller=user_caller(user=owner, team=team, via="api"), function=shop, name="e",
                               scope="shared", body=stored)  # fmt: skip
    answer_ = answer(call(access_key, "PUT", "functions/shop/events/e", {"Body": pushed, "Scope": "shared"}))
    assert answer_["Result"] == result
    assert TestEvent.objects.get(name="e").body == (stored if result == "unchanged" else pushed)
