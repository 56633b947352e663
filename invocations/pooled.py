"""Handing this thread's pooled PostgreSQL connection back while it has nothing to do."""

from __future__ import annotations

from django.db import connection


def release_idle_connection() -> None:
    """Return this thread's connection to the pool, if it came from one and no transaction is open.

    With ``DATABASES["default"]["OPTIONS"]["pool"]`` (PostgreSQL, ``config/settings.py``), a thread
    keeps the connection it used until it closes it; a thread that then waits (for user code, or
    for work) keeps one of the pool's few connections from everybody else. SQLite connections are
    per-thread files, cheap to keep and costly to reopen, and an unpooled PostgreSQL connection is
    kept for ``CONN_MAX_AGE``: both stay.
    """
    if (
        connection.vendor == "postgresql"
        and connection.settings_dict.get("OPTIONS", {}).get("pool")
        and not connection.in_atomic_block
    ):
        connection.close()
