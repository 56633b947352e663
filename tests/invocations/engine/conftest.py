"""Engine tier: real subprocesses, real sandboxes. The runtimes dir is the one
scripts/install_runtimes.py fills (LAMBDA_RUNTIMES_DIR or <repo>/var/runtimes)."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from invocations.engine import FunctionSpec, InvokeRequest, InvokeResult, Pool, PoolConfig
from invocations.engine.interpreters import default_runtimes_dir, python_runtime_dir, runtime_installed


def requires_runtime_dir() -> None:
    if not runtime_installed(python_runtime_dir(default_runtimes_dir(), "3.11")):
        pytest.fail("run scripts/install_runtimes.py first (awslambdaric missing in the runtimes dir)")


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    requires_runtime_dir()
    pool = Pool(PoolConfig(work_dir=str(tmp_path_factory.mktemp("environments")), queue_timeout_s=5))
    assert pool.unavailable is None, pool.unavailable
    yield pool
    pool.shutdown()


@pytest.fixture
def make_pool(tmp_path: Path) -> Iterator[Callable[..., Pool]]:
    requires_runtime_dir()
    pools: list[Pool] = []

    def make(**options: object) -> Pool:
        options.setdefault("work_dir", str(tmp_path / "environments"))
        created = Pool(PoolConfig(**options))  # type: ignore[arg-type]
        pools.append(created)
        return created

    yield make
    for created in pools:
        created.shutdown()


@pytest.fixture
def function(tmp_path: Path) -> Callable[..., FunctionSpec]:
    """Write files into a fresh code dir and return a spec with its own revision (no shared envs)."""

    def make(files: dict[str, str], *, runtime: str = "python3.11", handler: str = "app.handler",
             **fields: object) -> FunctionSpec:
        code = tmp_path / f"code-{uuid.uuid4().hex[:8]}"
        code.mkdir()
        for name, text in files.items():
            path = code / name
            path.write_text(textwrap.dedent(text))
            if name == "bootstrap":
                path.chmod(0o755)
        name = str(fields.pop("function_name", "fn"))
        return FunctionSpec(function_name=name, function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                            version="$LATEST", revision_id=uuid.uuid4().hex, code_dir=str(code),
                            code_sha256="x", runtime=runtime, handler=handler, **fields)  # type: ignore[arg-type]

    return make


def invoke(pool: Pool, spec: FunctionSpec, payload: object = None, **options: object) -> InvokeResult:
    body = json.dumps({} if payload is None else payload).encode()
    request = InvokeRequest(request_id=str(uuid.uuid4()), payload=body, invoked_function_arn=spec.function_arn)
    return pool.invoke(spec, request, **options)  # type: ignore[arg-type]


def payload(result: InvokeResult) -> object:
    return json.loads(result.payload)

