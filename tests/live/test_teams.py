"""Two teams on the real stack: a second team's key, through boto3, the AWS CLI and plain SigV4 HTTP,
against the first team's function — denied on every path, allowed what AddPermission grants, denied
again after RemovePermission. The attacks are the issue's, one by one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.live.conftest import REGION, ROLE, Live
from tests.live.functions import ECHO_HANDLER, make_zip

pytestmark = pytest.mark.live

NAME = "vault"
RIVALS = "444455556666"


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret_access_key: str


@pytest.fixture(scope="module")
def rival(live: Live) -> Key:
    """mallory, admin of team "rivals" (its own account), made the operator's way."""
    lines = live.stack.manage("createuser", "mallory", "--team", "rivals", "--role", "admin", "--account-id", RIVALS)
    values = dict(line.split("=", 1) for line in lines.splitlines())
    return Key(values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"])


def client(live: Live, key: Key) -> Any:
    return boto3.client("lambda", endpoint_url=live.endpoint, region_name=REGION, aws_access_key_id=key.access_key_id,
                        aws_secret_access_key=key.secret_access_key,
                        config=Config(retries={"max_attempts": 1}, read_timeout=60))  # fmt: skip


@pytest.fixture(scope="module")
def vault(live: Live, live_lambda: Any) -> dict[str, Any]:
    """The first team's function: a password in its environment, an AWS_IAM URL, one invocation."""
    live_lambda.create_function(FunctionName=NAME, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                Code={"ZipFile": make_zip({"app.py": ECHO_HANDLER})},
                                Environment={"Variables": {"DB_PASSWORD": "hunter2"}})  # fmt: skip
    live_lambda.get_waiter("function_active_v2").wait(FunctionName=NAME, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    url = live_lambda.create_function_url_config(FunctionName=NAME, AuthType="AWS_IAM")
    invoked = live_lambda.invoke(FunctionName=NAME, Payload=b'{"card": "4111"}')
    arn = live_lambda.get_function(FunctionName=NAME)["Configuration"]["FunctionArn"]
    return {"arn": arn, "url": url["FunctionUrl"], "request_id": invoked["ResponseMetadata"]["RequestId"]}


def code_of(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def signed(live: Live, key: Key, method: str, url: str, body: bytes = b"") -> tuple[int, bytes]:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "lambda", REGION).add_auth(request)
    prepared = urllib.request.Request(url, data=body or None, method=method, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_another_teams_key_can_do_nothing_to_the_function(live: Live, live_lambda: Any, rival: Key,
                                                           vault: dict[str, Any]) -> None:  # fmt: skip
    mallory, arn = client(live, rival), vault["arn"]
    assert NAME not in [f["FunctionName"] for f in mallory.list_functions()["Functions"]]
    denied = {
        "GetFunction": lambda: mallory.get_function(FunctionName=arn),
        "InvokeFunction": lambda: mallory.invoke(FunctionName=arn, Payload=b"{}"),
        "UpdateFunctionCode": lambda: mallory.update_function_code(
            FunctionName=arn, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'pwned'\n"})),
        "UpdateFunctionConfiguration": lambda: mallory.update_function_configuration(FunctionName=arn, Timeout=9),
        "PutFunctionConcurrency": lambda: mallory.put_function_concurrency(FunctionName=arn, ReservedConcurrentExecutions=0),
        "UpdateFunctionUrlConfig": lambda: mallory.update_function_url_config(FunctionName=arn, AuthType="NONE"),
        "AddPermission": lambda: mallory.add_permission(FunctionName=arn, StatementId="me", Action="lambda:*",
                                                        Principal=RIVALS),
        "DeleteFunction": lambda: mallory.delete_function(FunctionName=arn),
    }  # fmt: skip
    for action, attack in denied.items():
        status, code, message = code_of(attack)
        assert (status, code) == (403, "AccessDeniedException"), action
        assert message == (
            f"User: arn:aws:iam::{RIVALS}:user/mallory is not authorized to perform: lambda:{action} on resource: "
            f"{arn} because no resource-based policy allows the lambda:{action} action"
        )
    # Nothing changed: the owner's next invoke runs the owner's code, with its configuration and URL.
    config = live_lambda.get_function(FunctionName=NAME)
    assert config["Configuration"]["Timeout"] == 3 and "Concurrency" not in config
    assert json.loads(live_lambda.invoke(FunctionName=NAME, Payload=b'{"x": 1}')["Payload"].read()) == {"x": 1}
    assert live_lambda.get_function_url_config(FunctionName=NAME)["AuthType"] == "AWS_IAM"


def test_the_workbench_api_and_the_url_refuse_another_teams_key(live: Live, rival: Key, vault: dict[str, Any]) -> None:
    api = f"{live.endpoint}/_workbench/api"
    status, body = signed(live, rival, "GET", f"{api}/functions/{quote(vault['arn'], safe='')}/invocations")
    assert status == 403 and b"4111" not in body
    for method, path in (("GET", f"invocations/{vault['request_id']}"), ("POST", f"invocations/{vault['request_id']}/replay")):
        status, body = signed(live, rival, method, f"{api}/{path}", b"{}" if method == "POST" else b"")
        assert status == 404 and b"4111" not in body
    url_id = urlsplit(vault["url"]).hostname.split(".")[0]  # type: ignore[union-attr]
    status, body = signed(live, rival, "POST", f"{live.endpoint}/lambda-url/{url_id}/", b"{}")
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})


def aws(live: Live, tmp_path: Path, key: Key, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=key.access_key_id, AWS_SECRET_ACCESS_KEY=key.secret_access_key,
               AWS_DEFAULT_REGION=REGION, AWS_MAX_ATTEMPTS="1",
               AWS_CONFIG_FILE=str(home / "config"), AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"))  # fmt: skip
    return subprocess.run([sys.executable, "-m", "awscli", "lambda", *args, "--endpoint-url", live.endpoint],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_add_permission_through_the_aws_cli_lets_the_other_team_invoke_until_removed(
    live: Live, tmp_path: Path, rival: Key, vault: dict[str, Any]
) -> None:
    owner = Key(live.access_key_id, live.secret_access_key)
    arn = vault["arn"]

    before = aws(live, tmp_path, rival, "invoke", "--function-name", arn, "--payload", '{"k": "v"}', "out.json")
    assert before.returncode != 0 and "AccessDeniedException" in before.stderr
    added = aws(live, tmp_path, owner, "add-permission", "--function-name", NAME, "--statement-id", "rivals-invoke",
                "--action", "lambda:InvokeFunction", "--principal", RIVALS)
    assert added.returncode == 0, added.stderr
    assert json.loads(json.loads(added.stdout)["Statement"])["Principal"] == {"AWS": f"arn:aws:iam::{RIVALS}:root"}
    policy = aws(live, tmp_path, owner, "get-policy", "--function-name", NAME)
    assert [s["Sid"] for s in json.loads(json.loads(policy.stdout)["Policy"])["Statement"]] == ["rivals-invoke"]

    allowed = aws(live, tmp_path, rival, "invoke", "--function-name", arn, "--payload", '{"k": "v"}', "out.json")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == {"k": "v"}
    still = aws(live, tmp_path, rival, "get-function", "--function-name", arn)
    assert still.returncode != 0 and "AccessDeniedException" in still.stderr  # invoke only, nothing else

    removed = aws(live, tmp_path, owner, "remove-permission", "--function-name", NAME, "--statement-id", "rivals-invoke")
    assert removed.returncode == 0, removed.stderr
    again = aws(live, tmp_path, rival, "invoke", "--function-name", arn, "out.json")
    assert again.returncode != 0 and "AccessDeniedException" in again.stderr


def test_boto3_and_a_signed_url_after_add_permission_then_remove_permission(
    live: Live, live_lambda: Any, rival: Key, vault: dict[str, Any]
) -> None:
    mallory, arn = client(live, rival), vault["arn"]
    url_id = urlsplit(vault["url"]).hostname.split(".")[0]  # type: ignore[union-attr]
    url = f"{live.endpoint}/lambda-url/{url_id}/"
    live_lambda.add_permission(FunctionName=NAME, StatementId="rivals-url", Action="lambda:InvokeFunctionUrl",
                               Principal=RIVALS, FunctionUrlAuthType="AWS_IAM")  # fmt: skip
    live_lambda.add_permission(FunctionName=NAME, StatementId="rivals-via-url", Action="lambda:InvokeFunction",
                               Principal=RIVALS, InvokedViaFunctionUrl=True)  # fmt: skip
    live_lambda.add_permission(FunctionName=NAME, StatementId="rivals-records", Action="lambda:GetInvocation",
                               Principal=RIVALS)  # fmt: skip
    status, body = signed(live, rival, "POST", url, b'{"via": "url"}')
    assert status == 200 and json.loads(json.loads(body)["body"]) == {"via": "url"}
    status, body = signed(live, rival, "GET", f"{live.endpoint}/_workbench/api/invocations/{vault['request_id']}")
    assert status == 200 and json.loads(body)["Payload"] == '{"card": "4111"}'
    assert code_of(lambda: mallory.invoke(FunctionName=arn, Payload=b"{}"))[1] == "AccessDeniedException"  # not via a URL
    for sid in ("rivals-url", "rivals-via-url", "rivals-records"):
        live_lambda.remove_permission(FunctionName=NAME, StatementId=sid)
    assert signed(live, rival, "POST", url, b"{}")[0] == 403
    assert signed(live, rival, "GET", f"{live.endpoint}/_workbench/api/invocations/{vault['request_id']}")[0] == 404
