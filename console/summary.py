"""The function page header's Monitor-style summary: the last 24 hours' invocations, errors and
p50/p99 duration, read with one aggregate query over the invocation table.

Percentiles are nearest-rank (the ceil(p × n)-th duration in ascending order, as CloudWatch's
``p50``/``p99`` statistics are for small samples), numbered by a window function that SQLite and
PostgreSQL both have. Another issue replaces this with rollups; until then the query reads one
function's rows of one day through the (function, created_at) index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from console.selectors import ERROR_STATUSES
from invocations.models import Function, Invocation

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Summary:
    invocations: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None


def nearest_rank(n: int, percent: int) -> int:
    """The 1-based rank of the ``percent``-th percentile among ``n`` values: ceil(percent × n / 100)."""
    return (n * percent + 99) // 100


def function_summary(function: Function) -> Summary:
    table = Invocation._meta.db_table
    placeholders = ", ".join(["%s"] * len(ERROR_STATUSES))
    # Durations rank 1..nd ascending (unfinished rows, with no duration, rank after them and are
    # never picked); the outer query counts every row and picks the two ranks.
    sql = f"""
        WITH d AS (
            SELECT duration_ms,
                   CASE WHEN status IN ({placeholders}) THEN 1 ELSE 0 END AS failed,
                   ROW_NUMBER() OVER (ORDER BY CASE WHEN duration_ms IS NULL THEN 1 ELSE 0 END, duration_ms) AS rn,
                   COUNT(duration_ms) OVER () AS nd
            FROM {table}
            WHERE function_id = %s AND created_at >= %s
        )
        SELECT COUNT(*), COALESCE(SUM(failed), 0),
               MAX(CASE WHEN rn = (nd * 50 + 99) / 100 THEN duration_ms END),
               MAX(CASE WHEN rn = (nd * 99 + 99) / 100 THEN duration_ms END)
        FROM d
    """  # noqa: S608  (the table name is the model's, every value a parameter)
    with connection.cursor() as cursor:
        since = connection.ops.adapt_datetimefield_value(timezone.now() - WINDOW)
        cursor.execute(sql, [*(str(s) for s in ERROR_STATUSES), function.pk, since])
        total, failed, p50, p99 = cursor.fetchone()
    return Summary(invocations=int(total), errors=int(failed), p50_ms=p50, p99_ms=p99)
