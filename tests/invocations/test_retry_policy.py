"""retry_policy.decide, table-driven (pure: no Django)."""

from __future__ import annotations

import pytest

from invocations.retry_policy import (
    Condition,
    Decision,
    Outcome,
    RetryConfig,
    decide,
    delivery_delay,
    expired,
    throttle_delay,
)

DEFAULT = RetryConfig()
NO_RETRIES = RetryConfig(maximum_retry_attempts=0)
ONE_RETRY = RetryConfig(maximum_retry_attempts=1)
FAST = RetryConfig(base_delay_seconds=1)
SHORT_AGE = RetryConfig(maximum_event_age_seconds=100)

RETRY, EXHAUSTED, AGED = Condition.RETRY, Condition.RETRIES_EXHAUSTED, Condition.EVENT_AGE_EXCEEDED
F, T, P = Outcome.FUNCTION_ERROR, Outcome.THROTTLED, Outcome.PLATFORM_ERROR


@pytest.mark.parametrize(
    ("attempt", "age", "config", "outcome", "failures", "expected"),
    [
        # success is final whatever the counts
        (1, 0, DEFAULT, Outcome.SUCCEEDED, 0, Decision(False, 0.0, Condition.SUCCESS)),
        (3, 21000, DEFAULT, Outcome.SUCCEEDED, 0, Decision(False, 0.0, Condition.SUCCESS)),
        # function errors: 2 retries by default, ≈ 1 then 2 minutes apart
        (1, 0, DEFAULT, F, 0, Decision(True, 60.0, RETRY)),
        (2, 61, DEFAULT, F, 0, Decision(True, 120.0, RETRY)),
        (3, 181, DEFAULT, F, 0, Decision(False, 0.0, EXHAUSTED)),
        # MaximumRetryAttempts 0 and 1
        (1, 0, NO_RETRIES, F, 0, Decision(False, 0.0, EXHAUSTED)),
        (1, 0, ONE_RETRY, F, 0, Decision(True, 60.0, RETRY)),
        (2, 60, ONE_RETRY, F, 0, Decision(False, 0.0, EXHAUSTED)),
        # the base delay scales function-error retries
        (1, 0, FAST, F, 0, Decision(True, 1.0, RETRY)),
        (2, 1, FAST, F, 0, Decision(True, 2.0, RETRY)),
        # a retry that would come after the maximum age is EventAgeExceeded instead
        (1, 50, SHORT_AGE, F, 0, Decision(False, 0.0, AGED)),
        (1, 40, SHORT_AGE, F, 0, Decision(True, 60.0, RETRY)),
        (2, 21500, DEFAULT, F, 0, Decision(False, 0.0, AGED)),
        # throttles / platform errors: 1, 2, 4 … s capped at 300 s, no retry budget consumed
        (0, 0, DEFAULT, T, 1, Decision(True, 1.0, RETRY)),
        (0, 0, DEFAULT, T, 2, Decision(True, 2.0, RETRY)),
        (0, 0, DEFAULT, P, 4, Decision(True, 8.0, RETRY)),
        (3, 0, DEFAULT, T, 1, Decision(True, 1.0, RETRY)),
        (0, 0, DEFAULT, T, 20, Decision(True, 300.0, RETRY)),
        (0, 21599, DEFAULT, T, 3, Decision(False, 0.0, AGED)),
        (0, 0, FAST, T, 20, Decision(True, 5.0, RETRY)),
        # reserved concurrency 0: straight to failure
        (0, 0, DEFAULT, Outcome.ZERO_RESERVED_CONCURRENCY, 1, Decision(False, 0.0, Condition.ZERO_RESERVED_CONCURRENCY)),
    ],
)
def test_decide(attempt: int, age: float, config: RetryConfig, outcome: Outcome, failures: int, expected: Decision) -> None:
    assert decide(attempt=attempt, age_seconds=age, config=config, outcome=outcome, platform_failures=failures) == expected


@pytest.mark.parametrize(("age", "maximum", "result"), [(59, 60, False), (60, 60, False), (60.1, 60, True)])
def test_expired(age: float, maximum: int, result: bool) -> None:
    assert expired(age_seconds=age, config=RetryConfig(maximum_event_age_seconds=maximum)) is result


@pytest.mark.parametrize(
    ("failures", "base", "delay"), [(1, 60, 1.0), (3, 60, 4.0), (9, 60, 256.0), (10, 60, 300.0), (10, 6, 30.0)]
)
def test_throttle_back_off(failures: int, base: float, delay: float) -> None:
    assert throttle_delay(failures=failures, config=RetryConfig(base_delay_seconds=base)) == delay


@pytest.mark.parametrize(("attempts", "base", "delay"), [(1, 60, 5.0), (2, 60, 10.0), (7, 60, 300.0), (2, 0.6, 0.1)])
def test_delivery_back_off(attempts: int, base: float, delay: float) -> None:
    assert delivery_delay(attempts=attempts, base_delay_seconds=base) == pytest.approx(delay)
