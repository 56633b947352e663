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
DATA_DIR.mkdir(parents=True, exist_ok=True)


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
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
    if "TEST" not in DATABASES["default"]:
        # A file (not :memory:) so test threads and subprocesses share it; one per test process.
        DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = envint("DB_CONN_MAX_AGE", 600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

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
    "loggers": {"django.request": {"level": "ERROR"}},
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

# --- Lambda -------------------------------------------------------------------------------------
LAMBDA_REGION = os.environ.get("LAMBDA_REGION", "us-east-1")
LAMBDA_ACCOUNT_ID = os.environ.get("LAMBDA_ACCOUNT_ID", "000000000000")
# Where unpacked function code, uploaded zips and per-environment /tmp directories live.
LAMBDA_CODE_DIR = DATA_DIR / "code"
LAMBDA_RUNTIMES_DIR = Path(os.environ.get("LAMBDA_RUNTIMES_DIR", DATA_DIR / "runtimes"))
# Execution environments: how many a node (web process or worker) may keep, and how long idle
# ones live before they are reaped.
LAMBDA_MAX_ENVIRONMENTS = envint("LAMBDA_MAX_ENVIRONMENTS", 128)
LAMBDA_KEEP_ALIVE_SECONDS = envfloat("LAMBDA_KEEP_ALIVE_SECONDS", 300)
# "auto" uses bwrap where it exists; "off" runs environments as plain subprocesses.
LAMBDA_SANDBOX = os.environ.get("LAMBDA_SANDBOX", "auto")
# Invocation records of synchronous calls are written in batches off the hot path.
LAMBDA_RECORD_FLUSH_SECONDS = envfloat("LAMBDA_RECORD_FLUSH_SECONDS", 0.05)
# "auto": batched by a writer thread, but inline when the caller is inside a transaction (tests);
# "sync": always inline; "thread": always batched.
LAMBDA_RECORD_MODE = os.environ.get("LAMBDA_RECORD_MODE", "auto")
# Logs kept per invocation (the tail is kept when longer).
LAMBDA_MAX_LOG_BYTES = envint("LAMBDA_MAX_LOG_BYTES", 1024 * 1024)
LAMBDA_SIGV4_MAX_SKEW_SECONDS = 300
