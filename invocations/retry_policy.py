"""What happens to an asynchronous event after an attempt (spec §5.2) — a pure function.

AWS's rules, as ``decide`` applies them:

* A **function error** (an error result, a timeout, a runtime crash) consumes the retry budget:
  ``MaximumRetryAttempts`` (0–2, default 2) retries after the first run, about one base delay
  before the 2nd run and two before the 3rd (AWS: ~1 min, ~2 min; base =
  ``LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS``, default 60).
* A **throttle** (no concurrency available) or a **platform error** (the worker died, the runtime
  could not be started) happens before the function ran: it does not consume the retry budget; the
  event goes back to the queue with exponential back-off from 1 s up to 5 min (both scaled by
  base/60, so a base of 1 s turns them into 1/60 s … 5 s), for as long as the event is younger than
  ``MaximumEventAgeInSeconds`` (60–21600, default 21600).
* An event whose next attempt would come after its maximum age is dropped to the failure
  destination with condition ``EventAgeExceeded`` (so it is checked after every attempt, and before
  an attempt starts, see ``expired``).
* Reserved concurrency 0: straight to the failure destination without retries, condition
  ``ZeroReservedConcurrency`` — the condition LocalStack uses (spec §5.2; AWS's own is unverified).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

DEFAULT_MAXIMUM_RETRY_ATTEMPTS: Final = 2
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS: Final = 21600
THROTTLE_FIRST_DELAY_SECONDS: Final = 1.0  # at base 60
THROTTLE_MAX_DELAY_SECONDS: Final = 300.0  # at base 60
REFERENCE_BASE_SECONDS: Final = 60.0


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FUNCTION_ERROR = "function-error"  # includes timeouts and runtime crashes
    THROTTLED = "throttled"
    PLATFORM_ERROR = "platform-error"  # the event never reached the function (worker lost …)
    ZERO_RESERVED_CONCURRENCY = "zero-reserved-concurrency"


class Condition(str, enum.Enum):
    """``requestContext.condition`` of the invocation record; RETRY when the event goes back."""

    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"
    ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"
    RETRY = "Retry"


@dataclass(frozen=True)
class RetryConfig:
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_seconds: int = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS
    base_delay_seconds: float = REFERENCE_BASE_SECONDS


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay_seconds: float
    condition: Condition


def expired(*, age_seconds: float, config: RetryConfig) -> bool:
    """True when the event is too old to be attempted again."""
    return age_seconds > config.maximum_event_age_seconds


def throttle_delay(*, failures: int, config: RetryConfig) -> float:
    """Back-off after the ``failures``-th consecutive throttle/platform error: 1, 2, 4 … 300 s at base 60."""
    scale = config.base_delay_seconds / REFERENCE_BASE_SECONDS
    delay = THROTTLE_FIRST_DELAY_SECONDS * 2 ** max(0, failures - 1)
    return min(delay, THROTTLE_MAX_DELAY_SECONDS) * scale


def decide(
    *,
    attempt: int,
    age_seconds: float,
    config: RetryConfig,
    outcome: Outcome,
    platform_failures: int = 0,
) -> Decision:
    """The fate of an event after an attempt.

    ``attempt``: how many times the function has run for this event, this attempt included (the
    retry budget counts those). ``platform_failures``: consecutive throttles/platform errors so far,
    this one included (their back-off exponent). ``age_seconds``: now − the time the event was
    accepted.
    """
    if outcome is Outcome.SUCCEEDED:
        return Decision(retry=False, delay_seconds=0.0, condition=Condition.SUCCESS)
    if outcome is Outcome.ZERO_RESERVED_CONCURRENCY:
        return Decision(retry=False, delay_seconds=0.0, condition=Condition.ZERO_RESERVED_CONCURRENCY)
    if outcome is Outcome.FUNCTION_ERROR:
        if attempt > config.maximum_retry_attempts:
            return Decision(retry=False, delay_seconds=0.0, condition=Condition.RETRIES_EXHAUSTED)
        delay = config.base_delay_seconds * attempt
    else:
        delay = throttle_delay(failures=platform_failures, config=config)
    if expired(age_seconds=age_seconds + delay, config=config):
        return Decision(retry=False, delay_seconds=0.0, condition=Condition.EVENT_AGE_EXCEEDED)
    return Decision(retry=True, delay_seconds=delay, condition=Condition.RETRY)


def delivery_delay(*, attempts: int, base_delay_seconds: float) -> float:
    """Back-off between tries of a destination delivery: 5, 10, 20 … 300 s at base 60."""
    delay = min(5.0 * 2 ** max(0, attempts - 1), THROTTLE_MAX_DELAY_SECONDS)
    return delay * base_delay_seconds / REFERENCE_BASE_SECONDS
