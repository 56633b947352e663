from __future__ import annotations

import os
import re

import pytest

from invocations.engine import Pool
from tests.invocations.engine.conftest import invoke, payload

ECHO = {"app.py": """
    import os, sys
    print("init output")
    def handler(event, context):
        print("handling", event)
        return {"event": event, "request_id": context.aws_request_id, "function_name": context.function_name,
                "memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
                "remaining": context.get_remaining_time_in_millis(), "env": dict(os.environ), "path": sys.path}
"""}


def test_it_echoes_the_payload_with_context_and_a_clean_environment(pool: Pool, function, monkeypatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "platform-secret")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///db.sqlite3")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://x")
    spec = function(ECHO, environment=(("GREETING", "hi"),), function_name="echo")
    result = invoke(pool, spec, {"k": "v"})
    assert result.status == "succeeded" and result.function_error is None
    body = payload(result)
    assert body["event"] == {"k": "v"}
    assert body["request_id"] == result.request_id
    assert body["function_name"] == "echo" and body["memory"] == "128"
    assert body["arn"] == spec.function_arn
    assert 0 < body["remaining"] <= 3000
    env = body["env"]
    assert env["GREETING"] == "hi"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["_HANDLER"] == "app.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11" and env["TZ"] == ":UTC"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert "AWS_LAMBDA_MAX_CONCURRENCY" not in env and "HOME" not in env
    leaked = [k for k in env if k.startswith(("DJANGO_", "CELERY_")) or k in ("SECRET_KEY", "DATABASE_URL")]
    assert leaked == []
    assert body["path"][:2] == ["/var/task", "/var/runtime"]
    assert not any("site-packages" in p for p in body["path"])


def test_the_second_invoke_is_warm_in_the_same_environment(pool: Pool, function) -> None:
    spec = function(ECHO)
    first, second = invoke(pool, spec), invoke(pool, spec)
    assert first.cold_start and first.init_duration_ms is not None and first.init_duration_ms > 0
    assert not second.cold_start and second.init_duration_ms is None
    assert first.environment_id == second.environment_id


def test_logs_have_start_end_report_and_init_output_before_start(pool: Pool, function) -> None:
    spec = function(ECHO)
    result = invoke(pool, spec, {"n": 1})
    lines = result.logs.splitlines()
    rid = result.request_id
    assert lines[0] == "init output"
    assert lines[1] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[2] == "handling {'n': 1}"
    assert lines[-2] == f"END RequestId: {rid}"
    assert re.fullmatch(rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t", lines[-1])
    warm = invoke(pool, spec, {"n": 2})
    assert warm.logs.splitlines()[1] == "handling {'n': 2}"
    assert "Init Duration" not in warm.logs and "init output" not in warm.logs


def test_a_handler_exception_is_passed_through_as_unhandled(pool: Pool, function) -> None:
    spec = function({"app.py": """
        def handler(event, context):
            raise ValueError("boom")
    """})
    result = invoke(pool, spec)
    body = payload(result)
    assert result.function_error == "Unhandled" and result.status == "failed"
    assert result.error_type == "ValueError"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom"
    assert 'File "/var/task/app.py"' in body["stackTrace"][0]
    assert "[ERROR] ValueError: boom" in result.logs
    assert not invoke(pool, spec).cold_start  # a handled error keeps the environment


def test_an_import_error_is_runtime_import_module_error(pool: Pool, function) -> None:
    spec = function({"app.py": "import not_a_module\n"})
    result = invoke(pool, spec)
    assert result.function_error == "Unhandled" and result.error_type == "Runtime.ImportModuleError"
    assert payload(result)["errorMessage"] == "Unable to import module 'app': No module named 'not_a_module'"
    assert result.cold_start and result.init_duration_ms is not None
    assert invoke(pool, spec).cold_start  # the failed environment was discarded


def test_a_missing_handler_is_runtime_handler_not_found(pool: Pool, function) -> None:
    spec = function({"app.py": "x = 1\n"}, handler="app.nothere")
    result = invoke(pool, spec)
    assert result.error_type == "Runtime.HandlerNotFound"
    assert payload(result)["errorMessage"] == "Handler 'nothere' missing on module 'app'"


def test_a_timeout_kills_the_environment_and_the_next_invoke_is_cold(pool: Pool, function) -> None:
    spec = function({"app.py": """
        import time
        def handler(event, context):
            print("sleeping")
            if event.get("sleep"):
                time.sleep(30)
            return "ok"
    """}, timeout_s=1)
    assert invoke(pool, spec).status == "succeeded"
    result = invoke(pool, spec, {"sleep": True})
    rid = result.request_id
    assert result.status == "timed-out" and result.function_error == "Unhandled"
    assert payload(result) == {"errorType": "Sandbox.Timedout",
                               "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    assert 1000 <= result.duration_ms < 1500 and result.billed_duration_ms == 1000
    lines = result.logs.splitlines()
    assert lines[1] == "sleeping"
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 1.00 seconds", lines[2])
    assert lines[3] == f"END RequestId: {rid}"
    after = invoke(pool, spec)
    assert after.cold_start and after.status == "succeeded" and after.environment_id != result.environment_id


def test_a_crash_is_runtime_exit_error(pool: Pool, function) -> None:
    spec = function({"app.py": """
        import os
        def handler(event, context):
            print("about to die", flush=True)
            os._exit(1)
    """})
    result = invoke(pool, spec)
    rid = result.request_id
    assert result.error_type == "Runtime.ExitError" and result.function_error == "Unhandled"
    assert payload(result)["errorMessage"] == f"RequestId: {rid} Error: Runtime exited with error: exit status 1"
    assert "about to die" in result.logs
    assert invoke(pool, spec).cold_start


def test_memory_is_capped_and_measured(pool: Pool, function) -> None:
    spec = function({"app.py": """
        def handler(event, context):
            blocks = [bytearray(16 * 1024 * 1024) for _ in range(event["mb"] // 16)]
            for b in blocks:
                b[::4096] = b"x" * len(b[::4096])
            return len(blocks)
    """}, memory_mb=128)
    small = invoke(pool, spec, {"mb": 32})
    assert small.status == "succeeded" and small.max_memory_used_mb >= 32
    big = invoke(pool, spec, {"mb": 256})
    assert big.error_type == "Runtime.OutOfMemory" and payload(big)["errorType"] == "Runtime.OutOfMemory"
    assert payload(big)["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert "Runtime exited with error: signal: killed\nRuntime.OutOfMemory\n" in big.logs
    assert big.max_memory_used_mb >= 100
    assert invoke(pool, spec, {"mb": 16}).cold_start  # a new environment, not the killed one


def test_the_sandbox_hides_the_platform(pool: Pool, function) -> None:
    spec = function({"app.py": """
        import os
        def probe(path):
            try:
                return sorted(os.listdir(path)) if os.path.isdir(path) else open(path, "rb").read(10).decode()
            except OSError as e:
                return type(e).__name__
        def handler(event, context):
            return {p: probe(p) for p in event["paths"]}
    """})
    db = os.path.join(str(pool.config.runtimes_dir), "..", "db.sqlite3")
    paths = ["/work", "/work/main", "/root", "/etc/shadow", os.path.normpath(db), "/", "/tmp", "/var/task"]
    seen = payload(invoke(pool, spec, {"paths": paths}))
    assert seen["/work"] == "FileNotFoundError" and seen["/work/main"] == "FileNotFoundError"
    assert seen["/root"] == [".pyenv"] and seen["/etc/shadow"] == "FileNotFoundError"
    assert seen[os.path.normpath(db)] == "FileNotFoundError"
    assert "work" not in seen["/"] and seen["/tmp"] == [] and seen["/var/task"] == ["app.py"]


def test_django_is_not_importable_but_boto3_is(pool: Pool, function) -> None:
    spec = function({"app.py": """
        import importlib.util
        def handler(event, context):
            import boto3
            return {m: importlib.util.find_spec(m) is not None for m in ("django", "celery", "moto", "boto3")}
    """})
    assert payload(invoke(pool, spec)) == {"django": False, "celery": False, "moto": False, "boto3": True}


def test_the_task_root_is_read_only_and_tmp_is_writable(pool: Pool, function) -> None:
    spec = function({"app.py": """
        def handler(event, context):
            open("/tmp/x", "w").write("ok")
            try:
                open("/var/task/y", "w")
                return "task root writable"
            except OSError as e:
                return type(e).__name__
    """})
    assert payload(invoke(pool, spec)) == "OSError"


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13"])
def test_other_python_versions_run(pool: Pool, function, runtime: str) -> None:
    if not pool.runtimes()[runtime].available:
        pytest.fail(pool.runtimes()[runtime].reason)
    spec = function({"app.py": "import sys\ndef handler(e, c):\n    return sys.version_info[:2]\n"}, runtime=runtime)
    assert payload(invoke(pool, spec)) == [3, int(runtime.split(".")[1])]
