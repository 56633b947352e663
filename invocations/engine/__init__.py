"""Execution environments and the Lambda Runtime API. Imports nothing from Django."""

from invocations.engine.pool import Pool, PoolConfig
from invocations.engine.types import (
    EngineError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    ResponseStream,
    RuntimeInfo,
    RuntimeUnavailable,
    TooManyRequests,
)

__all__ = ["EngineError", "FunctionSpec", "InvokeRequest", "InvokeResult", "Pool", "PoolConfig", "ResponseStream",
           "RuntimeInfo",
           "RuntimeUnavailable", "TooManyRequests"]
