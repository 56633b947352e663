"""Log streams (engine/logs.py, environment.py): one per execution environment, named as Lambda
names them, and the name a function reads from its context is the one recorded."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable

import pytest

from invocations.engine import Pool
from invocations.engine.logs import log_stream_name
from tests.invocations.engine.conftest import invoke, payload
from tests.invocations.engine.test_ready import wait_for_ready

STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[(\$LATEST|\d+)\][0-9a-f]{32}$")
PROBE = {"app.py": """
    import os
    def handler(event, context):
        return {"stream": context.log_stream_name, "group": context.log_group_name,
                "env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
"""}


def test_a_stream_is_named_by_its_start_day_version_and_32_hex_digits() -> None:
    name = log_stream_name("$LATEST", started_at=1_767_225_599.9)  # 2025-12-31 23:59:59.9 UTC
    assert name.startswith("2025/12/31/[$LATEST]") and STREAM.match(name)
    assert log_stream_name("7").split("]")[0] == time.strftime("%Y/%m/%d/[7", time.gmtime())
    assert log_stream_name("1") != log_stream_name("1")


def test_the_function_reads_the_stream_its_invocations_are_recorded_under(pool: Pool, function) -> None:
    spec = function(PROBE, function_name="streamer")
    first, second = invoke(pool, spec), invoke(pool, spec)
    body = payload(first)
    assert STREAM.match(first.log_stream) and first.log_stream.split("]")[0].endswith("[$LATEST")
    assert body["stream"] == body["env"] == first.log_stream
    assert body["group"] == "/aws/lambda/streamer"
    assert second.log_stream == first.log_stream  # warm: the same environment, the same stream


def test_another_environment_has_another_stream(pool: Pool, function) -> None:
    one, two = function(PROBE), function(PROBE)
    assert invoke(pool, one).log_stream != invoke(pool, two).log_stream


@pytest.mark.parametrize("sandbox", ["bwrap"])
def test_a_claimed_ready_environment_gets_its_stream_when_claimed(make_pool: Callable[..., Pool], function,
                                                                  sandbox: str) -> None:
    pool = make_pool(sandbox=sandbox, ready_environments=1)
    wait_for_ready(pool)
    spec = dataclasses.replace(function(PROBE, function_name="claimed"), version="3")
    result = invoke(pool, spec)
    assert pool.stats()["ready_claims"] == 1
    assert payload(result)["stream"] == result.log_stream and "[3]" in result.log_stream
