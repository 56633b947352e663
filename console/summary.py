"""The function page header's Monitor-style summary: the last 24 hours' invocations, errors and
p50/p99 duration, read from the rollups (``invocations/rollups.py``): the fewest buckets of one function that cover
the 24 hours (about 50 rows: hours, and five-minute and minute buckets at the ends) in one query
through their unique index, however many invocations the table holds.

Counted as the header always counted them: every record (throttled ones included) is an
invocation, and errors are failures, timeouts and throttles. The 24 hours are whole minutes (the
current one included). Percentiles come from the duration buckets (nearest rank placed inside its
bucket, never above the slowest run seen; ``rollups.percentile``), so they are within one bucket of
the exact value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from console import monitor
from invocations import rollups
from invocations.models import Function

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Summary:
    invocations: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None


def function_summary(function: Function) -> Summary:
    end = rollups.minute_of(timezone.now()) + 1
    totals = monitor.totals(account_id=function.team.account_id, start=end - int(WINDOW.total_seconds() // 60), end=end,
                            function_name=function.name)  # fmt: skip
    return Summary(
        invocations=int(totals["invocations"] + totals["throttles"]),
        errors=int(totals["errors"] + totals["throttles"]),
        p50_ms=totals["p50"],
        p99_ms=totals["p99"],
    )
