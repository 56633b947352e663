"""The Code tab's file tree: listing, path guards, deploying the edited tree through
UpdateFunctionCode, the bootstrap template of custom runtimes, and the header's summary."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from console.services import package_tree
from console.services.functions import blank_for, zip_of
from console.summary import function_summary
from invocations import rollups
from invocations.models import Function, FunctionVersion, Invocation, Membership, Team, WorkerHeartbeat
from invocations.selectors import get_latest
from invocations.services import code as code_service

pytestmark = pytest.mark.django_db


def package(function: Function) -> dict[str, bytes]:
    with zipfile.ZipFile(code_service.zip_path(get_latest(function).code_digest)) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


def modes(function: Function) -> dict[str, int]:
    with zipfile.ZipFile(code_service.zip_path(get_latest(function).code_digest)) as archive:
        return {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}


def tree_post(function: Function, rows: list[dict[str, str]], **extra: str) -> dict[str, str]:
    data = {"file-TOTAL_FORMS": str(len(rows)), "file-INITIAL_FORMS": "0", "revision_id": get_latest(function).revision_id, **extra}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"file-{i}-{key}"] = value
    return data


def with_files(client: Client, owner: Any, files: dict[str, str | bytes]) -> Function:
    from tests.conftest import zip_bytes

    client.force_login(owner)
    client.post("/functions/new/", {"name": "tree", "runtime": "python3.11", "source": ""})
    function = Function.objects.get(name="tree")
    client.post("/functions/tree/code/upload/", {"package": io.BytesIO(zip_bytes(files))})
    return function


@pytest.mark.parametrize(
    "path, problem",
    [
        ("", "Enter a file path."),
        ("../etc/passwd", "'..'"),
        ("a/../../b", "'..'"),
        ("/abs.py", "relative to the package root"),
        ("C:/x.py", "relative to the package root"),
        ("a//b.py", "empty or '.' segments"),
        ("./a.py", "empty or '.' segments"),
        ("dir/", "empty or '.' segments"),
        ("a\\b.py", "backslash"),
        ("x" * 256, "at most 255"),
        ("src/app.py", None),
        ("bootstrap", None),
    ],
)
def test_path_guards(path: str, problem: str | None) -> None:
    found = package_tree.path_problem(path)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_the_code_tab_lists_every_file_text_editable_and_binary_listed(client: Client, owner: Any, team: Team) -> None:
    with_files(client, owner, {"lambda_function.py": "def lambda_handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n", "data.bin": b"\x00\x01\x02"})
    body = client.get("/functions/tree/").content.decode()
    assert 'name="file-1-content"' in body and "X = 1" in body  # lib/util.py is editable
    assert "data.bin" in body and "Binary or larger than 512 KB (3 bytes)" in body
    assert 'name="file-0-content"' not in body  # data.bin sorts first and has no editor
    assert 'class="file-pane selected" id="file-pane-1"' in body or 'id="file-pane-1"' in body


def test_a_large_package_is_capped_and_says_so(client: Client, owner: Any, team: Team, monkeypatch: Any) -> None:
    monkeypatch.setattr(package_tree, "MAX_FILES_SHOWN", 2)
    function = with_files(client, owner, {"a.py": "a", "b.py": "b", "c.py": "c", "lambda_function.py": "x"})
    body = client.get("/functions/tree/").content.decode()
    assert "Showing the first 2 of 4 files" in body
    # Deploying the shown rows keeps the two that were not shown.
    response = client.post("/functions/tree/", tree_post(function, [
        {"original": "a.py", "path": "a.py", "content": "a2"}, {"original": "b.py", "path": "b.py", "content": "b"},
    ]))
    assert response.status_code == 302
    assert package(function) == {"a.py": b"a2", "b.py": b"b", "c.py": b"c", "lambda_function.py": b"x"}


def test_deploy_from_the_tree_edits_renames_deletes_and_adds_through_update_function_code(
    client: Client, owner: Any, team: Team
) -> None:
    function = with_files(client, owner, {"lambda_function.py": "v1", "old.py": "old", "gone.py": "g", "data.bin": b"\x00\xff"})
    before = get_latest(function)
    response = client.post("/functions/tree/", tree_post(function, [
        {"original": "data.bin", "path": "assets/data.bin", "content": "ignored for binaries"},
        {"original": "gone.py", "path": "gone.py", "content": "g", "delete": "on"},
        {"original": "lambda_function.py", "path": "lambda_function.py", "content": "v2"},
        {"original": "old.py", "path": "new.py", "content": "old"},
        {"original": "", "path": "run.sh", "content": "#!/bin/sh\necho hi\n"},
        {"original": "", "path": "", "content": ""},  # the blank new-file row
    ], selected="lambda_function.py"))
    assert response.status_code == 302 and response["Location"] == "/functions/tree/?file=lambda_function.py"
    latest = get_latest(function)
    assert latest.code_sha256 != before.code_sha256 and latest.revision_id != before.revision_id
    assert package(function) == {
        "assets/data.bin": b"\x00\xff", "lambda_function.py": b"v2", "new.py": b"old", "run.sh": b"#!/bin/sh\necho hi\n",
    }
    assert modes(function)["run.sh"] == 0o755 and modes(function)["new.py"] == 0o644
    page = client.get(response["Location"]).content.decode()
    assert latest.code_sha256 in page and "Deployed. Code SHA-256" in page


@pytest.mark.parametrize(
    "rows, field_error",
    [
        ([{"original": "a.py", "path": "../a.py", "content": "x"}], "'..'"),
        ([{"original": "a.py", "path": "/a.py", "content": "x"}], "relative to the package root"),
        ([{"original": "", "path": "b.py", "content": "x"}], "Another file already has the path b.py."),
        ([{"original": "a.py", "path": "c.py", "content": "x"}, {"original": "", "path": "c.py", "content": "y"}], "Another file already has the path c.py."),
        ([{"original": "", "path": "b.py/x.py", "content": "x"}], "would be inside a file"),
        ([{"original": "nothere.py", "path": "nothere.py", "content": "x"}], "no longer in the deployed package"),
    ],
)
def test_bad_paths_get_a_message_on_their_row_and_change_nothing(
    client: Client, owner: Any, team: Team, rows: list[dict[str, str]], field_error: str
) -> None:
    function = with_files(client, owner, {"a.py": "a", "b.py": "b"})
    before = get_latest(function).code_sha256
    response = client.post("/functions/tree/", tree_post(function, rows))
    assert response.status_code == 422
    body = response.content.decode()
    assert field_error.replace("'", "&#x27;") in body and 'aria-invalid="true"' in body
    assert get_latest(function).code_sha256 == before


def test_deleting_every_file_is_refused(client: Client, owner: Any, team: Team) -> None:
    function = with_files(client, owner, {"a.py": "a"})
    response = client.post("/functions/tree/", tree_post(function, [{"original": "a.py", "path": "a.py", "content": "a", "delete": "on"}]))
    assert response.status_code == 422 and "keep at least one" in response.content.decode()


def test_a_deploy_over_newer_code_is_refused(client: Client, owner: Any, team: Team) -> None:
    function = with_files(client, owner, {"a.py": "a"})
    stale = tree_post(function, [{"original": "a.py", "path": "a.py", "content": "mine"}])
    client.post("/functions/tree/", tree_post(function, [{"original": "a.py", "path": "a.py", "content": "theirs"}]))
    response = client.post("/functions/tree/", stale)
    assert response.status_code == 422 and "The code changed since this page was opened" in response.content.decode()
    assert package(function) == {"a.py": b"theirs"}


def test_after_deploy_the_code_tab_can_run_a_test(client: Client, owner: Any, team: Team) -> None:
    function = with_files(client, owner, {"lambda_function.py": "x"})
    response = client.post("/functions/tree/", tree_post(function, [{"original": "lambda_function.py", "path": "lambda_function.py", "content": "y"}], then_test="empty"))
    assert response["Location"] == "/functions/tree/?test=empty"
    assert 'data-autotest="empty"' in client.get(response["Location"]).content.decode()
    bad = client.post("/functions/tree/", tree_post(function, [], then_test="<script>"))
    assert bad.status_code == 422


def test_a_viewer_sees_the_code_but_cannot_deploy_by_posting(client: Client, owner: Any, team: Team) -> None:
    function = with_files(client, owner, {"a.py": "a"})
    viewer = get_user_model().objects.create_user("vera", password="password")
    Membership.objects.create(team=team, user=viewer, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    page = client.get("/functions/tree/").content.decode()
    assert 'id="deploy"' not in page and "readonly" in page and 'id="code-test-button"' not in page
    response = client.post("/functions/tree/", tree_post(function, [{"original": "a.py", "path": "a.py", "content": "evil"}]))
    assert response.status_code == 403
    assert package(function) == {"a.py": b"a"}


def test_custom_runtimes_start_from_an_executable_bootstrap(client: Client, owner: Any, team: Team) -> None:
    WorkerHeartbeat.objects.create(name="provided-node", kind="worker", runtimes=["provided.al2023"])
    client.force_login(owner)
    create = client.get("/functions/new/").content.decode()
    assert "provided.al2023" in create and "AWS_LAMBDA_RUNTIME_API" in create  # the blanks offered
    response = client.post("/functions/new/", {"name": "custom", "runtime": "provided.al2023", "source": ""})
    assert response.status_code == 302
    function = Function.objects.get(name="custom")
    assert package(function)["bootstrap"] == blank_for("provided.al2023").source.encode()  # type: ignore[union-attr]
    assert modes(function)["bootstrap"] == 0o755


def test_a_custom_runtime_without_bootstrap_is_offered_the_template_on_the_code_tab(client: Client, owner: Any, team: Team) -> None:
    WorkerHeartbeat.objects.create(name="provided-node", kind="worker", runtimes=["provided.al2"])
    from tests.conftest import zip_bytes

    client.force_login(owner)
    client.post("/functions/new/", {"name": "nobs", "runtime": "provided.al2", "package": io.BytesIO(zip_bytes({"README": "hi"}))})
    body = client.get("/functions/nobs/").content.decode()
    assert "The package has none yet" in body and 'value="bootstrap"' in body and "AWS_LAMBDA_RUNTIME_API" in body


def test_zip_of_marks_scripts_executable() -> None:
    with zipfile.ZipFile(io.BytesIO(zip_of({"bootstrap": "x", "a.py": "y", "s": "#!/bin/sh\n"}))) as archive:
        assert {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()} == {"bootstrap": 0o755, "a.py": 0o644, "s": 0o755}


# --- the header ----------------------------------------------------------------------------------


def test_the_summary_counts_the_last_24_hours_from_the_rollups_with_one_query(hello: Function, django_assert_num_queries: Any) -> None:
    now = timezone.now()
    account = hello.team.account_id
    batch = [Invocation(request_id=f"d{i}", function=hello, function_name="hello", account_id=account, created_at=now,
                        status="failed" if i % 10 == 0 else "succeeded", duration_ms=float(d))
             for i, d in enumerate(range(1, 101))]  # fmt: skip
    batch.append(Invocation(request_id="t", function=hello, function_name="hello", account_id=account, created_at=now, status="throttled"))
    batch.append(Invocation(request_id="old", function=hello, function_name="hello", account_id=account, status="failed",
                            duration_ms=9999, created_at=now - timedelta(days=2)))  # fmt: skip
    rollups.add(rollups.tally_records(batch))
    with django_assert_num_queries(1):
        summary = function_summary(hello)
    # Throttles count as invocations and errors here, as the header always counted them.
    assert (summary.invocations, summary.errors) == (101, 11)
    assert summary.p50_ms is not None and 30 < summary.p50_ms <= 50 and summary.p99_ms == pytest.approx(99.0, abs=1.0)


def test_every_function_page_shows_the_arn_with_a_copy_button_and_the_summary(client: Client, owner: Any, hello: Function) -> None:
    rollups.add(rollups.tally_records([Invocation(request_id="x", function=hello, function_name="hello", account_id=hello.team.account_id,
                                                  created_at=timezone.now(), status="succeeded", duration_ms=12.5)]))  # fmt: skip
    client.force_login(owner)
    for path in ["/functions/hello/", "/functions/hello/test/", "/functions/hello/configuration/", "/functions/hello/history/"]:
        body = client.get(path).content.decode()
        assert f'<code id="function-arn">arn:aws:lambda:us-east-1:{hello.team.account_id}:function:hello</code>' in body, path
        assert 'id="copy-arn"' in body and ">Copy ARN</button>" in body
        assert '<dd id="summary-invocations">1</dd>' in body and "12.5 ms" in body


def test_browser_crlf_line_ends_are_stored_as_lf_and_untouched_files_keep_their_bytes(client: Client, owner: Any, team: Team) -> None:
    function = with_files(client, owner, {"dos.txt": "a\r\nb\r\n", "run.sh": "x"})
    response = client.post("/functions/tree/", tree_post(function, [
        {"original": "dos.txt", "path": "dos.txt", "content": "a\r\nb\r\n"},
        {"original": "run.sh", "path": "run.sh", "content": "#!/bin/sh\r\necho hi\r\n"},
    ]))
    assert response.status_code == 302
    assert package(function) == {"dos.txt": b"a\r\nb\r\n", "run.sh": b"#!/bin/sh\necho hi\n"}
