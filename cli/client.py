"""Talking to the server: the AWS Lambda API through botocore, the workbench JSON API through
SigV4-signed stdlib HTTP — both with the credentials the AWS CLI would use (env, ~/.aws profiles).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from cli import __version__

DEFAULT_ENDPOINT = "http://127.0.0.1:8000"
DEFAULT_REGION = "us-east-1"
USER_AGENT = f"workbench-cli/{__version__}"


class CliError(Exception):
    """A failure to report on stderr (exit status 1)."""


def endpoint_url(explicit: str | None) -> str:
    return (explicit or os.environ.get("WORKBENCH_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_LAMBDA")
            or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT).rstrip("/")


@dataclass
class Server:
    endpoint: str
    profile: str | None
    region: str | None = None

    def __post_init__(self) -> None:
        import botocore.session

        self._session = botocore.session.Session(profile=self.profile)
        self.region = self.region or self._session.get_config_variable("region") or DEFAULT_REGION
        self._credentials = self._session.get_credentials()
        if self._credentials is None:
            raise CliError("no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use "
                           "~/.aws/credentials and --profile)")
        self._lambda: Any = None

    @property
    def aws(self) -> Any:
        """A botocore Lambda client for this server (retries off: an invoke must not run twice)."""
        if self._lambda is None:
            from botocore.config import Config

            self._lambda = self._session.create_client(
                "lambda", endpoint_url=self.endpoint, region_name=self.region,
                config=Config(user_agent_extra=USER_AGENT, retries={"max_attempts": 1}, read_timeout=960,
                              connect_timeout=10),
            )  # fmt: skip
        return self._lambda

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """A signed request to the workbench API (``/_workbench/api/…``); its JSON answer."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        quoted = "/".join(quote(part, safe="") for part in path.split("/"))
        url = f"{self.endpoint}/_workbench/api/{quoted}"
        params = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        if params:
            url += "?" + urlencode(params)
        data = json.dumps(body).encode() if body is not None else b""
        request = AWSRequest(method=method, url=url, data=data,
                             headers={"Content-Type": "application/json"} if body is not None else {})
        SigV4Auth(self._credentials.get_frozen_credentials(), "lambda", self.region).add_auth(request)
        prepared = urllib.request.Request(url, data=data or None, method=method,
                                          headers={**dict(request.headers.items()), "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(prepared, timeout=960) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise CliError(_error_text(error.code, error.headers.get("x-amzn-ErrorType"), error.read())) from None
        except urllib.error.URLError as error:
            raise CliError(f"cannot reach {self.endpoint}: {error.reason}") from None
        return json.loads(text) if text else None


def _error_text(status: int, code: str | None, body: bytes) -> str:
    try:
        data = json.loads(body)
        message = data.get("message") or data.get("Message") or ""
    except ValueError:
        message = body.decode("utf-8", "replace")[:200]
    return f"{code or status}: {message}".rstrip(": ")


class UsageError(CliError):
    """A command line that cannot work as given (exit status 2, as argparse's own usage errors)."""


def bare_name(name: str) -> str:
    """The function name without a :qualifier (the workbench API addresses functions by name)."""
    return name.split(":function:")[-1].split(":")[0]
