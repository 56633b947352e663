"""The launcher of a ready Python environment (mounted at /var/rapid inside the sandbox).

A ready environment is started before it has a function: this script imports the runtime client
(awslambdaric, the slow part of a cold start — ≈ 200 ms under gVisor, whose file system calls go
through its Gofer), then asks the platform which function it is to run (``GET /workbench/launch`` on
its Runtime API; the answer comes when the pool gives it a function) and becomes, from then on,
exactly what ``python -S -m awslambdaric HANDLER`` in the code's directory would be: the function's
environment variables, its directory first on sys.path, the runtime client's modules that read the
environment when imported re-read it.
"""

from __future__ import annotations

import http.client
import importlib
import json
import os
import sys
import time

import awslambdaric.__main__ as runtime_client  # noqa: E402 (the point of this script)
from awslambdaric import bootstrap, lambda_runtime_marshaller


def launch_config() -> dict[str, object]:
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port))  # no timeout: it waits for a function
    connection.request("GET", "/workbench/launch")
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"launch refused: {response.status} {body!r}")
    config: dict[str, object] = json.loads(body)
    return config


def main() -> None:
    config = launch_config()
    environment = config["environment"]
    assert isinstance(environment, dict)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in environment.items()})
    time.tzset()
    task_root = str(config["task_root"])
    os.chdir(task_root)
    sys.path[0] = task_root  # as `python -m` puts its working directory first
    # They read AWS_EXECUTION_ENV, AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL when imported.
    importlib.reload(lambda_runtime_marshaller)
    importlib.reload(bootstrap)
    runtime_client.main(["awslambdaric", str(config["handler"])])


if __name__ == "__main__":
    main()
