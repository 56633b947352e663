"""The Celery app. Workers run queued work: Event invocations, console tests, pollers, deliveries."""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The embedded broker's URLs (sqla+…) name their transport in the URL itself, so it is chosen by
# alias, not by broker_transport: ours deletes delivered messages (config/sqla_transport.py).
TRANSPORT_ALIASES["sqla"] = TRANSPORT_ALIASES["sqlalchemy"] = "config.sqla_transport:Transport"


def transport_for(broker_url: str) -> str | None:
    """Our Redis transport (config/redis_transport.py) for ``redis://``; kombu's choice otherwise
    (``rediss://`` too: kombu checks its TLS settings by that transport name)."""
    return "config.redis_transport:Transport" if broker_url.startswith("redis://") else None


app = Celery("workbench")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
)
if app.conf.broker_url.startswith(("redis://", "rediss://")):
    # An unacknowledged message (acks_late) comes back after this long: keep it above the 900 s
    # maximum function timeout (settings.LAMBDA_ASYNC_VISIBILITY_TIMEOUT_SECONDS). Lost work is
    # recovered much sooner by the sweep (invocations/services/async_events.py). Not for the
    # SQLAlchemy transport, whose transport options reach create_engine (MACHINE-FACTS.md).
    from django.conf import settings

    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "visibility_timeout": settings.LAMBDA_ASYNC_VISIBILITY_TIMEOUT_SECONDS,
    }
    app.conf.broker_transport = transport_for(app.conf.broker_url)
# Celery's Django fixup closes every database connection before and after each task unless
# CELERY_DB_REUSE_MAX is set; with the threads pool that reopened a SQLite connection (and ran its
# PRAGMAs) for every event, a tenth of the worker's time. Tasks get Django's request-cycle rule
# instead (invocations/tasks.py: close_old_connections around each task, which honours
# CONN_MAX_AGE, drops broken connections and returns PostgreSQL's to the pool).
app.conf["CELERY_DB_REUSE_MAX"] = 1_000_000
app.autodiscover_tasks(["invocations", "console"])

from django.conf import settings as _settings  # noqa: E402

if _settings.LAMBDA_LOG_FORMAT == "json":
    # Celery installs its own handlers and format on the root logger unless someone handles this
    # signal: then the worker logs as Django's LOGGING says (one JSON object per line).
    from celery.signals import setup_logging

    @setup_logging.connect
    def _django_logging(**kwargs: object) -> None:
        import logging.config

        logging.config.dictConfig(_settings.LOGGING)
