"""Execution environments and the Lambda Runtime API. Imports nothing from Django."""

from invocations.engine.pool import Pool, PoolConfig
from invocations.engine.types import (
    EngineError,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    RuntimeInfo,
    RuntimeUnavailable,
    TooManyRequests,
)

__all__ = ["EngineError", "FunctionSpec", "InvokeRequest", "InvokeResult", "Pool", "PoolConfig", "RuntimeInfo",
           "RuntimeUnavailable", "TooManyRequests"]
