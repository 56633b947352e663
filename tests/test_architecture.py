"""The import directions ARCHITECTURE.md decides, as import-linter contracts (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold(monkeypatch: object) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)  # type: ignore[attr-defined]
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def settings_read_with_getattr(source: str) -> list[int]:
    """Lines of ``source`` that call ``getattr(settings, …)``."""
    import ast

    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
        and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "settings"
    ]


def test_settings_are_read_as_attributes_with_their_default_in_config_settings() -> None:
    # STYLE.md: a local getattr(settings, NAME, default) repeats the default of config/settings.py,
    # and the two drift apart.
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "invocations").rglob("*.py"))
        if (lines := settings_read_with_getattr(path.read_text()))
    }
    assert found == {}


def test_the_settings_check_finds_a_getattr() -> None:
    assert settings_read_with_getattr("x = getattr(settings, 'A', 1)\ny = settings.B\n") == [1]


def raw_status_writes(source: str) -> list[int]:
    """Lines of ``source`` that change an Invocation's status without ``invocations/lifecycle.py``:
    ``<x>.status = …`` on an invocation or to an ``Invocation.Status``, and ``.update(status=…)``
    on Invocation rows or to an ``Invocation.Status``."""
    import ast

    def invocation_like(node: ast.AST) -> bool:
        text = ast.unparse(node)
        return "Invocation.Status" in text or "invocation" in text.lower().replace("invocationattempt", "")

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status" and node.value is not None and (
                    invocation_like(target.value) or "Invocation.Status" in ast.unparse(node.value)
                ):
                    found.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
            status = [keyword.value for keyword in node.keywords if keyword.arg == "status"]
            if status and (invocation_like(node.func.value) or "Invocation.Status" in ast.unparse(status[0])):
                found.append(node.lineno)
    return found


def test_invocation_status_changes_only_through_the_lifecycle() -> None:
    # STYLE.md habit 4: one guarded transition per state change (transition / advance).
    found = {
        str(path.relative_to(ROOT)): lines
        for package in ("invocations", "console")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name != "lifecycle.py" and "migrations" not in path.parts
        if (lines := raw_status_writes(path.read_text()))
    }
    assert found == {}


def test_the_status_check_finds_raw_writes() -> None:
    source = (
        "invocation.status = Invocation.Status.FAILED\n"
        "event.status = Invocation.Status.QUEUED\n"
        "Invocation.objects.filter(pk=1).update(status='failed')\n"
        "rows.update(status=Invocation.Status.FAILED)\n"
        "delivery.status = DestinationDelivery.Status.FAILED\n"
        "TestRun.objects.filter(pk=1).update(status=TestRun.Status.DONE)\n"
    )
    assert raw_status_writes(source) == [1, 2, 3, 4]


def _callee(call: object) -> str:
    """The called name as written: ``invoke``, ``pipeline.invoke``, ``models.Invocation``."""
    import ast

    assert isinstance(call, ast.Call)
    return ast.unparse(call.func)


def new_invocation_records(source: str) -> list[int]:
    """Lines of ``source`` that construct an ``invocations.models.Invocation`` (the engine's own
    ``Invocation`` class is another thing, and is not imported from the models)."""
    import ast

    tree = ast.parse(source)
    imported = any(
        isinstance(node, ast.ImportFrom) and node.module == "invocations.models"
        and any(alias.name == "Invocation" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )  # fmt: skip
    names = {"models.Invocation", *(["Invocation"] if imported else [])}
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and _callee(node) in names]


def invoke_calls_not_through_one_request(source: str) -> list[int]:
    """Lines of ``source`` that invoke without one ``InvocationRequest``: a call of the pipeline's
    ``invoke`` or ``streaming.start`` with anything but one positional argument, or any call but
    ``InvocationRequest(...)`` spelling the request as keywords (``caller=…, function_name=…,
    payload=…, request_id=…``)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee(node)
        keywords = {keyword.arg for keyword in node.keywords}
        if callee in ("invoke", "pipeline.invoke", "streaming.start") and (len(node.args) != 1 or node.keywords):
            found.append(node.lineno)
        elif {"caller", "function_name", "payload", "request_id"} <= keywords and not callee.endswith("InvocationRequest"):
            found.append(node.lineno)
    return found


def _sources() -> list[Path]:
    return [
        path
        for package in ("invocations", "console")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_only_the_pipeline_builds_a_new_invocation_record() -> None:
    # STYLE.md: "Compose one pipeline; do not copy it." The recorder rebuilds records from its
    # journal (a replay, not a new invocation).
    allowed = {"invocations/pipeline.py", "invocations/recorder.py"}
    found = {
        name: lines
        for path in _sources()
        if (name := str(path.relative_to(ROOT))) not in allowed
        if (lines := new_invocation_records(path.read_text()))
    }
    assert found == {}


def test_every_path_invokes_through_one_invocation_request() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in _sources()
        if (lines := invoke_calls_not_through_one_request(path.read_text()))
    }
    assert found == {}


def test_the_pipeline_checks_find_what_they_look_for() -> None:
    source = (
        "from invocations.models import Invocation\n"
        "Invocation(request_id='r')\n"
        "invoke(caller=c, function_name='f', payload=b'', request_id='r')\n"
        "pipeline.invoke(InvocationRequest(caller=c, function_name='f', payload=b'', request_id='r'))\n"
        "streaming.start(request, wait=1)\n"
    )
    assert new_invocation_records(source) == [2]
    assert invoke_calls_not_through_one_request(source) == [3, 5]
    assert new_invocation_records("Invocation(request, future)\n") == []  # the engine's own class
