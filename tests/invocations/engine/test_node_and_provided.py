from __future__ import annotations

from invocations.engine import Pool
from tests.invocations.engine.conftest import invoke, payload

NODE = {"index.js": """
    console.log("node init");
    exports.handler = async (event, context) => {
      console.log("got", JSON.stringify(event));
      return {event, id: context.awsRequestId, name: context.functionName, left: context.getRemainingTimeInMillis()};
    };
    exports.callback = (event, context, callback) => { setTimeout(() => callback(null, "cb:" + event.x), 10); };
    exports.fails = async () => { throw new TypeError("bad thing"); };
"""}


def test_node_runs_async_handlers(pool: Pool, function) -> None:
    spec = function(NODE, runtime="nodejs20.x", handler="index.handler", function_name="nodefn")
    result = invoke(pool, spec, {"a": 1})
    body = payload(result)
    assert result.status == "succeeded"
    assert body["event"] == {"a": 1} and body["id"] == result.request_id and body["name"] == "nodefn"
    assert 0 < body["left"] <= 3000
    lines = result.logs.splitlines()
    assert lines[0].endswith("\tundefined\tINFO\tnode init")
    assert lines[2].split("\t")[1:] == [result.request_id, "INFO", 'got {"a":1}']
    assert not invoke(pool, spec).cold_start


def test_node_runs_callback_handlers_and_esm(pool: Pool, function) -> None:
    spec = function(NODE, runtime="nodejs20.x", handler="index.callback")
    assert payload(invoke(pool, spec, {"x": 5})) == "cb:5"
    esm = function({"app.mjs": "export const handler = async (e) => ({esm: e.v});\n"},
                   runtime="nodejs20.x", handler="app.handler")
    assert payload(invoke(pool, esm, {"v": 2})) == {"esm": 2}


def test_node_errors_are_unhandled(pool: Pool, function) -> None:
    spec = function(NODE, runtime="nodejs20.x", handler="index.fails")
    result = invoke(pool, spec)
    body = payload(result)
    assert result.function_error == "Unhandled" and result.error_type == "TypeError"
    assert body["errorType"] == "TypeError" and body["errorMessage"] == "bad thing"
    assert body["trace"][0] == "TypeError: bad thing"


def test_node_init_errors(pool: Pool, function) -> None:
    missing = function(NODE, runtime="nodejs20.x", handler="index.nothere")
    assert invoke(pool, missing).error_type == "Runtime.HandlerNotFound"
    no_module = function(NODE, runtime="nodejs20.x", handler="nomodule.handler")
    result = invoke(pool, no_module)
    assert result.error_type == "Runtime.ImportModuleError" and result.function_error == "Unhandled"
    throws = function({"index.js": "throw new Error('at load');\n"}, runtime="nodejs20.x", handler="index.handler")
    assert "at load" in payload(invoke(pool, throws))["errorMessage"]


CURL_BOOTSTRAP = """\
#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "bootstrap init"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  RID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "handling $RID"
  curl -sS -X POST "$API/invocation/$RID/response" -d "{\\"echo\\":$EVENT,\\"exec_env\\":\\"${AWS_EXECUTION_ENV:-none}\\"}" >/dev/null
done
"""

PYTHON_BOOTSTRAP = """\
#!/usr/bin/python3
import json, os, urllib.request
api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(f"{api}/invocation/next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
    body = json.dumps({"errorType": "Custom.Failure", "errorMessage": str(event)}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{api}/invocation/{rid}/error", data=body, method="POST")).read()
"""


def test_provided_runs_a_shell_bootstrap_with_curl(pool: Pool, function) -> None:
    spec = function({"bootstrap": CURL_BOOTSTRAP}, runtime="provided.al2023", handler="ignored")
    result = invoke(pool, spec, {"q": 1})
    assert payload(result) == {"echo": {"q": 1}, "exec_env": "none"}
    assert result.logs.startswith("bootstrap init\nSTART")
    assert f"handling {result.request_id}" in result.logs
    assert payload(invoke(pool, spec, {"q": 2}))["echo"] == {"q": 2}


def test_provided_python_bootstrap_error(pool: Pool, function) -> None:
    spec = function({"bootstrap": PYTHON_BOOTSTRAP}, runtime="provided.al2", handler="x")
    result = invoke(pool, spec, {"q": 1})
    assert result.error_type == "Custom.Failure" and payload(result)["errorMessage"] == "{'q': 1}"


def test_provided_without_bootstrap_is_invalid_entrypoint(pool: Pool, function) -> None:
    spec = function({"README": "no bootstrap"}, runtime="provided.al2023", handler="x")
    result = invoke(pool, spec)
    assert result.error_type == "Runtime.InvalidEntrypoint" and result.function_error == "Unhandled"
    assert "Couldn't find valid bootstrap(s)" in payload(result)["errorMessage"]
