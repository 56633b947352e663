"""The console's read side: the functions list with 24-hour counts, and invocation history.

History pages by keyset on (created_at, id), newest first: the query for page 1000 costs what page 1
costs (an index range scan of PAGE_SIZE + 1 rows), unlike OFFSET, which reads every row it skips.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Func, IntegerField, Q, QuerySet
from django.utils import timezone

from console.access import visible_functions
from invocations.access import Caller
from invocations.models import LATEST, Alias, Function, FunctionVersion, Invocation

PAGE_SIZE = 50
ERROR_STATUSES = (Invocation.Status.FAILED, Invocation.Status.TIMED_OUT, Invocation.Status.THROTTLED)
# Payloads, responses and logs can be megabytes each: lists never load them.
LIST_FIELDS = (
    "id", "request_id", "function_id", "function_name", "qualifier", "executed_version", "source",
    "invocation_type", "status", "function_error", "error_type", "duration_ms", "cold_start", "created_at",
)  # fmt: skip


@dataclass(frozen=True)
class FunctionRow:
    function: Function
    latest: FunctionVersion
    invocations: int
    errors: int
    suite_status: str = ""  # the latest suite run's (console/services/suites.last_status)


FUNCTIONS_PER_PAGE = 25


@dataclass(frozen=True)
class FunctionPage:
    rows: list[FunctionRow]
    number: int
    pages: int
    total: int


def _latest_versions(caller: Caller, search: str = "") -> QuerySet[FunctionVersion]:
    functions = visible_functions(caller)
    if search:
        functions = functions.filter(name__icontains=search)
    return (
        FunctionVersion.objects.filter(version=LATEST, function__in=functions.values("id"))
        .select_related("function", "function__team")
        .only("runtime", "last_modified", "function__name", "function__team__name")
        .order_by("function__name")
    )


def _with_counts(latest: list[FunctionVersion]) -> list[FunctionRow]:
    """The rows of these $LATESTs with their last-24-hour counts (one grouped query)."""
    counts: dict[int, dict[str, int]] = {}
    if latest:
        since = timezone.now() - timedelta(hours=24)
        for row in (
            Invocation.objects.filter(created_at__gte=since, function_id__in=[v.function_id for v in latest])
            .values("function_id")
            .annotate(total=Count("id"), errors=Count("id", filter=Q(status__in=ERROR_STATUSES)))
            .order_by()
        ):
            counts[row["function_id"]] = row
    return [
        FunctionRow(
            function=v.function,
            latest=v,
            invocations=counts.get(v.function_id, {}).get("total", 0),
            errors=counts.get(v.function_id, {}).get("errors", 0),
        )
        for v in latest
    ]


def function_rows(*, caller: Caller) -> list[FunctionRow]:
    """Every function of the caller's team with its $LATEST and its last-24-hour counts: two queries."""
    return _with_counts(list(_latest_versions(caller)))


def function_page(*, caller: Caller, search: str = "", page: int = 1, per_page: int = FUNCTIONS_PER_PAGE) -> FunctionPage:
    """One page of the functions list, names containing ``search`` (any case): three queries.
    A page past the end is the last page."""
    latest = _latest_versions(caller, search)
    total = latest.count()
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    start = (number - 1) * per_page
    return FunctionPage(rows=_with_counts(list(latest[start : start + per_page])), number=number, pages=pages, total=total)


def qualifiers(function: Function) -> list[str]:
    """$LATEST, the published versions (newest first) and the aliases: what the Test tab can target."""
    versions = list(
        FunctionVersion.objects.filter(function=function).exclude(version=LATEST).values_list("version", flat=True)
    )
    versions.sort(key=int, reverse=True)
    aliases = list(Alias.objects.filter(function=function).order_by("name").values_list("name", flat=True))
    return [LATEST, *versions, *aliases]


# --- history --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    status: str = ""
    source: str = ""
    invocation_type: str = ""
    version: str = ""
    since: datetime | None = None
    until: datetime | None = None
    function_name: str = ""
    state: str = ""  # "" every record, "live" of existing functions, "deleted" of deleted ones
    request_id: str = ""


@dataclass(frozen=True)
class HistoryPage:
    rows: list[Invocation]
    next_cursor: str | None


def encode_cursor(invocation: Invocation) -> str:
    raw = f"{invocation.created_at.isoformat()}|{invocation.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (created_at, id) a cursor carries; None when it is not one of ours (the form says so)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, pk = raw.partition("|")
        return datetime.fromisoformat(moment), int(pk)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def history(
    *, caller: Caller, function: Function | None, filters: HistoryFilters, cursor: tuple[datetime, int] | None
) -> HistoryPage:
    """One function's history, or (``function`` None) every function's of the caller's team."""
    if function is not None:
        rows: QuerySet[Invocation] = Invocation.objects.filter(function=function)
    else:
        # `+function_id` (unary plus) keeps the planner off the function index: with it, SQLite
        # fetched every visible row and sorted them (≈ 120 ms at 100,000 rows); without it, it
        # walks the created_at index newest first and stops after a page (≈ 15 ms).
        rows = Invocation.objects.alias(
            unindexed_function_id=Func(F("function_id"), template="+%(expressions)s", output_field=IntegerField())
        )
        live = Q(unindexed_function_id__in=visible_functions(caller).values("id"))
        # A deleted function's records stay its team's (Invocation.account_id).
        deleted = Q(unindexed_function_id=None, account_id=caller.account_id) if caller.account_id else Q(pk__in=[])
        if filters.state == "live":
            rows = rows.filter(live)
        elif filters.state == "deleted":
            rows = rows.filter(deleted)
        else:
            rows = rows.filter(live | deleted)
        if filters.function_name:
            rows = rows.filter(function_name=filters.function_name)
    if filters.request_id:
        rows = rows.filter(request_id=filters.request_id)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.source:
        rows = rows.filter(source=filters.source)
    if filters.invocation_type:
        rows = rows.filter(invocation_type=filters.invocation_type)
    if filters.version:
        rows = rows.filter(executed_version=filters.version)
    if filters.since:
        rows = rows.filter(created_at__gte=filters.since)
    if filters.until:
        rows = rows.filter(created_at__lt=filters.until)
    if cursor:
        moment, pk = cursor
        # Written as a range plus an exclusion (not an OR) so the planner keeps the index range scan.
        rows = rows.filter(created_at__lte=moment).exclude(created_at=moment, id__gte=pk)
    page = list(rows.only(*LIST_FIELDS).order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return HistoryPage(rows=page, next_cursor=encode_cursor(page[-1]) if more and page else None)


def function_names(caller: Caller) -> list[str]:
    """The team's functions by name: the global history's function filter."""
    return list(visible_functions(caller).order_by("name").values_list("name", flat=True))


def recent_invocations(*, function: Function, exclude: Invocation, limit: int = 20) -> list[Invocation]:
    """The function's latest invocations but ``exclude``: what an invocation page offers to compare with."""
    rows = Invocation.objects.filter(function=function).exclude(pk=exclude.pk).only(*LIST_FIELDS)
    return list(rows.order_by("-created_at", "-id")[:limit])
