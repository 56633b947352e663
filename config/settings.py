"""Settings, read from environment variables (see README, "Configuration").

Everything has a default that works from a fresh checkout: SQLite and an embedded broker under
``DATA_DIR``. ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def envfloat(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    # Generated once per data directory, so a second `make run` keeps sessions and access keys.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "*").split(",")
# Behind a TLS-terminating proxy (deploy/nginx/): trust its X-Forwarded-Proto, so HTTPS requests are
# known as such (CSRF origin checks, secure redirects). Only when nothing else can reach the nodes.
TRUST_PROXY_HEADERS = envbool("TRUST_PROXY_HEADERS", False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "invocations",
    "console",
]

MIDDLEWARE = [
    "invocations.api.middleware.AwsApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.AccessDeniedMiddleware",
]

ROOT_URLCONF = "config.urls"
# The AWS API has paths without trailing slashes; never redirect them.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.team",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

_default_db = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE avoids "database is locked" on read-then-write transactions under threads
    # (MACHINE-FACTS.md); WAL and synchronous=NORMAL make single inserts ≈ 0.3 ms.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Persistent per-thread connections: opening a SQLite connection (and its PRAGMAs) per request
    # was a third of the web process's CPU per warm invoke.
    DATABASES["default"]["CONN_MAX_AGE"] = envint("DB_CONN_MAX_AGE", 600)
    if "TEST" not in DATABASES["default"]:
        # A file (not :memory:) so test threads and subprocesses share it; one per test process.
        DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    # The web process serves waiting callers from up to 256 threads: a bounded psycopg pool keeps
    # PostgreSQL's connection count in check (threads queue for a connection, briefly).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": envint("DB_POOL_MIN_SIZE", 2),
        "max_size": envint("DB_POOL_MAX_SIZE", 20),
        "timeout": envfloat("DB_POOL_TIMEOUT_SECONDS", 30),
    }
    # Server-side prepared statements after a statement's 2nd run on a pooled connection: the hot
    # paths run a few fixed statements (invocations/rows.py) thousands of times. Django turns them
    # off for PgBouncer's transaction mode; set DB_PREPARE_THRESHOLD= (empty) behind such a pooler.
    _prepare = os.environ.get("DB_PREPARE_THRESHOLD", "2")
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = int(_prepare) if _prepare else None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

DATA_UPLOAD_MAX_MEMORY_SIZE = None  # the API enforces AWS's own limits with AWS's errors
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # Celery's "Task … received" / "succeeded in" lines, two per task: at 200 events/s they are
        # noise, and formatting them was 5 % of the worker's time. The console's history has each run.
        "celery.app.trace": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
        "celery.worker.strategy": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
    },
}

# --- Celery -------------------------------------------------------------------------------------
_default_broker = f"sqla+sqlite:///{DATA_DIR / 'broker.sqlite3'}"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", _default_broker)


def _result_backend(broker: str) -> str:
    if os.environ.get("CELERY_RESULT_BACKEND"):
        return os.environ["CELERY_RESULT_BACKEND"]
    if broker.startswith(("redis://", "rediss://")):
        return broker
    return f"db+sqlite:///{DATA_DIR / 'results.sqlite3'}"


CELERY_RESULT_BACKEND = _result_backend(CELERY_BROKER_URL)
# The queue that web nodes publish to and workers consume; separate stacks sharing one broker (as
# the live tests do) each use their own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")

# --- Lambda -------------------------------------------------------------------------------------
LAMBDA_REGION = os.environ.get("LAMBDA_REGION", "us-east-1")
LAMBDA_ACCOUNT_ID = os.environ.get("LAMBDA_ACCOUNT_ID", "000000000000")
# Where unpacked function code, uploaded zips and per-environment /tmp directories live.
# Each node has its own: code another node stored is fetched from the database (CodeBlob) on first use.
LAMBDA_CODE_DIR = Path(os.environ.get("LAMBDA_CODE_DIR", DATA_DIR / "code"))
# Runtime clients per interpreter (scripts/install_runtimes.py puts them in var/runtimes).
LAMBDA_RUNTIMES_DIR = Path(os.environ.get("LAMBDA_RUNTIMES_DIR", BASE_DIR / "var" / "runtimes"))
# Execution environments: how many a node (web process or worker) may keep, and how long idle
# ones live before they are reaped.
LAMBDA_MAX_ENVIRONMENTS = envint("LAMBDA_MAX_ENVIRONMENTS", 128)
LAMBDA_KEEP_ALIVE_SECONDS = envfloat("LAMBDA_KEEP_ALIVE_SECONDS", 300)
# "bwrap" (the default, needs root): each environment in its own namespaces as an unprivileged user,
# with seccomp, egress rules and a capped /tmp (invocations/engine/sandbox/). "off" runs them as
# plain subprocesses and says so at every start. A node that cannot build its sandbox refuses to run
# functions rather than run them without one. ("auto", the old default, now means "bwrap".)
LAMBDA_SANDBOX = os.environ.get("LAMBDA_SANDBOX", "bwrap").replace("auto", "bwrap")
# What functions may reach: "on" (the internet through a user-mode stack, and the host's loopback
# services at 127.0.0.1:PORT, never the platform's database or broker), "off", or an allow-list of
# ADDRESS[/PREFIX][:PORT] and NAME[:PORT] entries, comma-separated (sandbox/egress.py).
LAMBDA_EGRESS = os.environ.get("LAMBDA_EGRESS", "on")
# The unprivileged host uid environments run as (uid 993, sbx_user1051, inside).
LAMBDA_SANDBOX_UID = envint("LAMBDA_SANDBOX_UID", 65993)
# Sandbox slots (network namespace, egress, /tmp file system) kept built ahead of cold starts.
LAMBDA_SANDBOX_SPARES = envint("LAMBDA_SANDBOX_SPARES", 2)
# Environments started ahead of their function, per Python runtime in use: the sandbox up and the
# runtime client imported, waiting; a cold start claims one (invocations/engine/pool.py).
LAMBDA_READY_ENVIRONMENTS = envint("LAMBDA_READY_ENVIRONMENTS", 1)
# How often each node ends its environments of deleted or updated functions (services/cleanup.py);
# the node that made the change ends its own at once.
LAMBDA_RECONCILE_SECONDS = envfloat("LAMBDA_RECONCILE_SECONDS", 2.0)
# Code no version references is removed, unless it was stored in the last this-many seconds (a
# version being created may be about to reference it).
LAMBDA_CODE_GRACE_SECONDS = envfloat("LAMBDA_CODE_GRACE_SECONDS", 30.0)
# Invocation records older than this many days are removed by the workers (0: kept for ever, as a
# CloudWatch log group that never expires). Records outlive their function until then. 30 days: a
# month of history to compare with, which bounds the table by time on a busy platform.
LAMBDA_HISTORY_RETENTION_DAYS = envfloat("LAMBDA_HISTORY_RETENTION_DAYS", 30.0)
# And at most this many of each function's newest records (0: no limit): a function called in a loop
# cannot crowd the table (10,000 records ≈ 50 console pages; with payload and logs of a few KB each
# ≈ 50 MB per function). Records of deleted functions are kept by age only.
LAMBDA_HISTORY_MAX_PER_FUNCTION = envint("LAMBDA_HISTORY_MAX_PER_FUNCTION", 10_000)
# Records deleted per statement, each batch committed on its own, with this pause between batches:
# at a million records a batch of 100 holds SQLite's write lock ≈ 25 ms, 500 ≈ 100 ms
# (bench/history_scale.py), so invocations recorded meanwhile wait at most ≈ 50 ms with 200.
LAMBDA_HISTORY_PRUNE_BATCH = envint("LAMBDA_HISTORY_PRUNE_BATCH", 200)
LAMBDA_HISTORY_PRUNE_PAUSE_SECONDS = envfloat("LAMBDA_HISTORY_PRUNE_PAUSE_SECONDS", 0.05)
# Where each process journals the records it answered but has not committed yet (recorder.py);
# "" turns the journal off (a SIGKILL then loses up to LAMBDA_RECORD_FLUSH_SECONDS of records).
LAMBDA_RECORD_JOURNAL_DIR = os.environ.get("LAMBDA_RECORD_JOURNAL_DIR", str(DATA_DIR / "journal"))
# Events of one test-suite run invoked at once, when the function has no reserved concurrency.
LAMBDA_SUITE_PARALLELISM = envint("LAMBDA_SUITE_PARALLELISM", 4)
# Invocation records of synchronous calls are written in batches off the hot path.
LAMBDA_RECORD_FLUSH_SECONDS = envfloat("LAMBDA_RECORD_FLUSH_SECONDS", 0.05)
# "auto": batched by a writer thread, but inline when the caller is inside a transaction (tests);
# "sync": always inline; "thread": always batched.
LAMBDA_RECORD_MODE = os.environ.get("LAMBDA_RECORD_MODE", "auto")
# Logs kept per invocation (the tail is kept when longer).
LAMBDA_MAX_LOG_BYTES = envint("LAMBDA_MAX_LOG_BYTES", 1024 * 1024)
# After SIGTERM, how long a web node lets synchronous calls still running finish before it ends
# their environments (invocations/node.py); scripts/stack.py waits as long (same default) before
# SIGKILL, plus the time a clean exit needs.
LAMBDA_SHUTDOWN_GRACE_SECONDS = envfloat("LAMBDA_SHUTDOWN_GRACE_SECONDS", 30.0)
LAMBDA_SIGV4_MAX_SKEW_SECONDS = 300

# --- Concurrency across the cluster (invocations/concurrency.py) --------------------------------
# An account's (team's) concurrent executions, all nodes together (AWS default 1,000); functions
# with reserved concurrency take theirs out of it, the rest share the remainder.
LAMBDA_ACCOUNT_CONCURRENCY = envint("LAMBDA_ACCOUNT_CONCURRENCY", 1000)
# Where the shared counter lives: auto (Redis when the broker is redis://, else the database),
# redis, or database. LAMBDA_CONCURRENCY_REDIS_URL overrides the broker's URL.
LAMBDA_CONCURRENCY_BACKEND = os.environ.get("LAMBDA_CONCURRENCY_BACKEND", "auto")
LAMBDA_CONCURRENCY_REDIS_URL = os.environ.get("LAMBDA_CONCURRENCY_REDIS_URL", "")
# A lease not renewed for this long expires (a crashed node's capacity comes back after it).
LAMBDA_CONCURRENCY_LEASE_TTL = envfloat("LAMBDA_CONCURRENCY_LEASE_TTL", 30.0)
# A node keeps a finished lease this long for its next invocation before giving it back.
LAMBDA_CONCURRENCY_LINGER = envfloat("LAMBDA_CONCURRENCY_LINGER", 0.2)

# --- Asynchronous invocation (invocations/services/async_events.py, retry_policy.py, destinations.py)
# Base of the retry delays: a function error is retried after base×1, then base×2 (AWS: ~1 and
# ~2 minutes); throttles and platform errors back off 1 s … 5 min, scaled by base/60. Tests and
# demos use 1 or less.
LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS = envfloat("LAMBDA_ASYNC_RETRY_BASE_DELAY_SECONDS", 60)
# Every worker sweeps this often: it publishes retries and deliveries that are due, and requeues
# events whose worker died mid-run (SIGKILL, lost machine).
LAMBDA_ASYNC_SWEEP_SECONDS = envfloat("LAMBDA_ASYNC_SWEEP_SECONDS", 1.0)
# A queued event (or delivery) published this long ago and still not taken is published again: the
# embedded broker drops messages a killed worker had fetched. Duplicates are harmless (a conditional
# claim lets one run), so this only needs to exceed the usual queueing delay.
LAMBDA_ASYNC_REDISPATCH_SECONDS = envfloat("LAMBDA_ASYNC_REDISPATCH_SECONDS", 300)
# A worker on another host whose heartbeat is older than this is presumed dead (on this host the
# sweep checks the worker's pid directly).
LAMBDA_ASYNC_WORKER_LOST_SECONDS = envfloat("LAMBDA_ASYNC_WORKER_LOST_SECONDS", 180)
# Redis redelivers a message nobody acknowledged after this many seconds: above the 900 s maximum
# function timeout, so a long run is not handed to a second worker while the first is still busy.
LAMBDA_ASYNC_VISIBILITY_TIMEOUT_SECONDS = envint("LAMBDA_ASYNC_VISIBILITY_TIMEOUT_SECONDS", 1200)
# Destination deliveries (OnSuccess/OnFailure, DLQ): attempts before one is marked failed, and the
# network timeout of each. Retries back off 5, 10, 20 … s (scaled by base/60 like event retries).
LAMBDA_DESTINATION_MAX_ATTEMPTS = envint("LAMBDA_DESTINATION_MAX_ATTEMPTS", 5)
LAMBDA_DESTINATION_TIMEOUT_SECONDS = envfloat("LAMBDA_DESTINATION_TIMEOUT_SECONDS", 10)
# Webhook destinations (http:// or https:// instead of an ARN): the body is signed with
# HMAC-SHA256 in `X-Workbench-Signature: sha256=<hex>` keyed by LAMBDA_WEBHOOK_SECRET (default: a
# key derived from SECRET_KEY). Hosts resolving to private, loopback, link-local or reserved
# addresses are refused unless listed (names, IPs or CIDRs) in LAMBDA_WEBHOOK_ALLOWED_HOSTS.
LAMBDA_WEBHOOK_SECRET = os.environ.get("LAMBDA_WEBHOOK_SECRET", "")
LAMBDA_WEBHOOK_ALLOWED_HOSTS = [h.strip() for h in os.environ.get("LAMBDA_WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()]

# --- Schedules and push triggers (invocations/event_sources/{scheduler,push}.py) -----------------
# How often each worker looks for due schedules (their fire times are whole minutes).
LAMBDA_SCHEDULER_SECONDS = envfloat("LAMBDA_SCHEDULER_SECONDS", 1.0)
# Where an SNS subscription endpoint may fetch SigningCertURL and SubscribeURL from: host patterns
# over https (fnmatch, e.g. "*.amazonaws.com"), or full origins ("http://127.0.0.1:4566") for an
# emulator. When AWS_ENDPOINT_URL_SNS is set, certificates named sns.<region>.amazonaws.com are
# fetched from that endpoint instead (moto and LocalStack serve the certificate they signed with).
LAMBDA_SNS_TRUSTED_HOSTS = [
    h.strip() for h in os.environ.get("LAMBDA_SNS_TRUSTED_HOSTS", "*.amazonaws.com").split(",") if h.strip()
]

# --- Event source mappings (invocations/event_sources/supervisor.py, sqs.py; docs/event-sources.md) --
LAMBDA_ESM_TICK_SECONDS = envfloat("LAMBDA_ESM_TICK_SECONDS", 1.0)  # how often mapping changes are followed
LAMBDA_ESM_SLICE_SECONDS = envfloat("LAMBDA_ESM_SLICE_SECONDS", 2.0)  # a poller re-reads its mapping between slices
LAMBDA_ESM_LEASE_SECONDS = envfloat("LAMBDA_ESM_LEASE_SECONDS", 30.0)  # a lost machine's pollers are replaced after this
LAMBDA_ESM_UNITS_REFRESH_SECONDS = envfloat("LAMBDA_ESM_UNITS_REFRESH_SECONDS", 10.0)  # re-list shards / pollers
LAMBDA_ESM_MAX_POLLERS = envint("LAMBDA_ESM_MAX_POLLERS", 64)  # poller threads per worker (0: polls nothing)
LAMBDA_ESM_SQS_DEFAULT_CONCURRENCY = envint("LAMBDA_ESM_SQS_DEFAULT_CONCURRENCY", 5)  # pollers per SQS mapping
LAMBDA_ESM_SQS_MAX_CONNECTIONS = envint("LAMBDA_ESM_SQS_MAX_CONNECTIONS", 64)  # HTTP connections per SQS client

# --- Stream and broker sources (invocations/event_sources/kinesis.py, rabbitmq.py) --------------
# How long a Kinesis shard poller waits when GetRecords returns nothing.
LAMBDA_KINESIS_POLL_SECONDS = envfloat("LAMBDA_KINESIS_POLL_SECONDS", 1.0)
# A failing stream batch blocks its shard and is retried after base, 2×base … up to the maximum.
LAMBDA_STREAM_RETRY_BASE_DELAY_SECONDS = envfloat("LAMBDA_STREAM_RETRY_BASE_DELAY_SECONDS", 1.0)
LAMBDA_STREAM_RETRY_MAX_DELAY_SECONDS = envfloat("LAMBDA_STREAM_RETRY_MAX_DELAY_SECONDS", 30.0)
# RabbitMQ: pause after a failed (requeued) batch, and between reconnects to an unreachable broker.
LAMBDA_RABBITMQ_RETRY_DELAY_SECONDS = envfloat("LAMBDA_RABBITMQ_RETRY_DELAY_SECONDS", 1.0)
LAMBDA_RABBITMQ_RECONNECT_SECONDS = envfloat("LAMBDA_RABBITMQ_RECONNECT_SECONDS", 5.0)

# --- Function URLs (invocations/urls_function, README.md) ----------------------
# FunctionUrl is http://<url-id>.lambda-url.<region>.<FUNCTION_URL_DOMAIN>:<port>/. The default
# "localhost" works because browsers and curl resolve *.localhost to loopback; set a wildcard DNS
# name of your own for other machines. Every URL also answers on /lambda-url/<url-id>/ on any host.
FUNCTION_URL_DOMAIN = os.environ.get("FUNCTION_URL_DOMAIN", "localhost")
# The port put in FunctionUrl; 0 = the port the API request came in on (its Host header).
FUNCTION_URL_PORT = envint("FUNCTION_URL_PORT", 0)
# "https" when a TLS-terminating proxy sits in front of the server.
FUNCTION_URL_SCHEME = os.environ.get("FUNCTION_URL_SCHEME", "http")
# Function URL requests are answered before the other middleware (no sessions, CSRF or auth for them).
MIDDLEWARE.insert(0, "invocations.urls_function.middleware.FunctionUrlMiddleware")

# --- Monitoring: /metrics, /healthz, /readyz, log format (invocations/metrics.py, invocations/health.py) --
# /metrics answers only when this is set, to requests carrying "Authorization: Bearer <token>".
# Set it for the web node AND the worker: a process counts only while it is set.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# prometheus_client's multiprocess directory, shared by the node's web process and its workers
# (one per DATA_DIR; emptied by scripts/stack.py when the node starts). Always derived here, never
# inherited from a parent process's environment, and exported before prometheus_client is imported.
METRICS_DIR = Path(os.environ.get("METRICS_DIR", DATA_DIR / "prometheus")).resolve()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
# /readyz: how long a probe waits for the broker and for a worker's answer, and how long its verdict
# is reused (a load balancer probing every second must not ping the broker every second).
READYZ_TIMEOUT_SECONDS = envfloat("READYZ_TIMEOUT_SECONDS", 1.0)
READYZ_CACHE_SECONDS = envfloat("READYZ_CACHE_SECONDS", 2.0)
# "json": one JSON object per line (time, level, logger, message, request_id/function when known)
# for Django, Celery and the platform; "text" (default): plain lines.
LAMBDA_LOG_FORMAT = os.environ.get("LAMBDA_LOG_FORMAT", "text").strip().lower()
if LAMBDA_LOG_FORMAT == "json":
    LOGGING["formatters"] = {"json": {"()": "config.log_format.JsonFormatter"}}
    LOGGING["handlers"]["console"]["formatter"] = "json"
