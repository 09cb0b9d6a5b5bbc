"""Settings shared by every environment; everything that differs comes from the environment."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(environ.Env().str("MINZHENG_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# A development machine keeps its generated keys in var/dev.env (written by `make demo`);
# production passes them in the environment and never has this file.
_dev_env = BASE_DIR / "var" / "dev.env"
if _dev_env.exists():
    environ.Env.read_env(str(_dev_env), overwrite=False)

DEBUG = env.bool("MINZHENG_DEBUG", default=False)
SECRET_KEY = env.str("MINZHENG_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("MINZHENG_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# --- Keys for personal data (DESIGN §5). Missing keys stop the process: see core.apps. ---
MINZHENG_KEYS = {
    "enc": env.str("MINZHENG_ENC_KEY", default=""),  # SM4-GCM, 32 hex chars (128 bit)
    "idx": env.str("MINZHENG_IDX_KEY", default=""),  # HMAC-SM3 blind index, 64 hex chars
    "audit": env.str("MINZHENG_AUDIT_KEY", default=""),  # HMAC-SM3 audit chain, 64 hex chars
    "token": env.str("MINZHENG_TOKEN_KEY", default=""),  # signed short-lived tokens
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ninja",
    "minzheng.core",
    "minzheng.divisions",
    "minzheng.accounts",
    "minzheng.people",
    "minzheng.ledger",
    "minzheng.rules",
    "minzheng.safety",
    "minzheng.meals",
    "minzheng.assistance",
    "minzheng.web",
    "minzheng.synth",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "minzheng.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "minzheng.accounts.middleware.SessionLifetimeMiddleware",
    "minzheng.accounts.middleware.RouteAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "minzheng.web.middleware.ApplicationErrorMiddleware",
    "minzheng.core.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "minzheng.web.context.navigation",
            ],
        },
    },
]

# --- Database: SQLite (WAL) under var/ by default, DATABASE_URL for PostgreSQL. ---
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'minzheng.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
            " PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
else:
    _db.setdefault("CONN_MAX_AGE", 60)
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault("connect_timeout", 5)
    # Parameters travel apart from the SQL, and a statement a connection runs often is prepared
    # once per connection (ADR 0008). The cursor quotes on the client only a statement with more
    # parameters than PostgreSQL's protocol carries.
    from minzheng.core.pgcursor import Cursor as _ServerBindingCursor

    _db["OPTIONS"].setdefault("server_side_binding", True)
    _db["OPTIONS"].setdefault("cursor_factory", _ServerBindingCursor)
    _db["OPTIONS"].setdefault("prepare_threshold", 2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.Staff"
AUTHENTICATION_BACKENDS = ["minzheng.accounts.backends.StaffBackend"]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []  # policy lives in accounts.domain (AUTH-2)

# --- Sessions (AUTH-5): idle 30 min (15 for the 三员), absolute 12 h. ---
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "mz_session"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Only the test settings allow `flush` to empty the append-only tables (core flush command).
MINZHENG_ALLOW_FLUSH = False

MINZHENG = {
    "IDLE_TIMEOUT": timedelta(minutes=30),
    "ADMIN_IDLE_TIMEOUT": timedelta(minutes=15),
    "ABSOLUTE_TIMEOUT": timedelta(hours=12),
    "LOCKOUT_FAILURES": 5,
    "LOCKOUT_WINDOW": timedelta(minutes=15),
    "LOCKOUT_DURATION": timedelta(minutes=15),
    "ADMIN_LOCKOUT_DURATION": timedelta(minutes=30),
    "IP_THROTTLE_FAILURES": 20,
    "IP_THROTTLE_WINDOW": timedelta(minutes=10),
    "PASSWORD_MAX_AGE": timedelta(days=90),
    "EXPORT_MAX_ROWS": 5000,
    # AC-5: an export of more rows than this needs a second person's approval; one person may
    # export at most EXPORT_DAILY_ROWS rows a day.
    "EXPORT_APPROVAL_ROWS": 100,
    "EXPORT_DAILY_ROWS": 1000,
    # AUTH-8: the 三员 screens (accounts, roles, keys, audit log), and every screen of a 三员
    # holder, answer 404 outside these networks (the government intranet's ranges).
    "ADMIN_NETWORKS": tuple(env.list(
        "MINZHENG_ADMIN_NETWORKS", default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    )),
    "UPLOAD_MAX_BYTES": 5 * 1024 * 1024,
    # AU-2: the audit log is this many independent hash chains (ADR 0006); a request's rows all
    # join one of them, so concurrent requests do not queue on one chain head.
    "AUDIT_CHAINS": env.int("MINZHENG_AUDIT_CHAINS", default=16),
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# Celery (production: DESIGN §2). Without a broker the tasks run in-process (eager) and the
# periodic jobs come from `minzheng scheduler`; with one, `celery -A config worker` and
# `celery -A config beat` run them (config/celery.py).
CELERY_BROKER_URL = env.str("MINZHENG_CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True  # a job killed with its worker is delivered again (jobs are idempotent)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": env.str("MINZHENG_LOG_LEVEL", default="INFO")},
}
