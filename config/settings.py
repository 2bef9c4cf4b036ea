"""Kairos settings, read from the environment.

Every value that differs between a laptop and production comes from an environment variable.
The defaults make a newcomer's first run work (SQLite, the django-q2 ORM broker, development keys
generated once into ``var/dev-keys.json``); ``KAIROS_ENV=production`` turns every one of those
conveniences into a refusal to start, so a development key can never reach production silently.

Variables (see docs/production.md for the full list):

``KAIROS_ENV``               ``development`` (default), ``test`` or ``production``
``DATABASE_URL``             any dj-database-url URL; default ``sqlite:///var/kairos.sqlite3``
``DJANGO_SECRET_KEY``        required in production
``KAIROS_ENCRYPTION_KEYS``   comma-separated Fernet keys, newest first; required in production
``KAIROS_REDIS_URL``         when set, Redis is the django-q2 broker instead of the database
``KAIROS_CACHE_URL``         when set, Redis holds the API's rate-limit budgets, shared by all workers
``KAIROS_ALLOWED_HOSTS``     comma-separated host names
``KAIROS_Q_WORKERS``         django-q2 worker processes (default 2)
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KAIROS_VAR_DIR", BASE_DIR / "var"))

KAIROS_ENV = os.environ.get("KAIROS_ENV", "development")
if KAIROS_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"KAIROS_ENV must be development, test or production, not {KAIROS_ENV!r}"
    )
PRODUCTION = KAIROS_ENV == "production"


def _csv(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def _development_keys() -> dict[str, str]:
    """Keys generated once per checkout, so sessions and encrypted secrets survive a restart."""
    from cryptography.fernet import Fernet

    path = VAR_DIR / "dev-keys.json"
    if path.exists():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    keys = {
        "secret_key": "dev-" + secrets.token_urlsafe(48),
        "encryption_key": Fernet.generate_key().decode(),
    }
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


def _required_in_production(name: str, dev_value: str) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when KAIROS_ENV=production")
    return dev_value


_dev_keys = _development_keys() if not PRODUCTION else {"secret_key": "", "encryption_key": ""}

SECRET_KEY = _required_in_production("DJANGO_SECRET_KEY", _dev_keys["secret_key"])
KAIROS_ENCRYPTION_KEYS = _csv(
    "KAIROS_ENCRYPTION_KEYS",
    _required_in_production("KAIROS_ENCRYPTION_KEYS", _dev_keys["encryption_key"]),
)
if PRODUCTION and SECRET_KEY.startswith("dev-"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY looks like a development key")

DEBUG = os.environ.get("KAIROS_DEBUG", "0" if PRODUCTION else "1") == "1"
ALLOWED_HOSTS = _csv(
    "KAIROS_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver"
)
CSRF_TRUSTED_ORIGINS = _csv("KAIROS_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    # Swagger UI and ReDoc as static files of our own (no CDN): the API docs work offline.
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "calendar_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Answers /r/<code> (the click redirect) itself, skipping what follows: it has no session,
    # user, form or message (calendar_app/tracking_middleware.py, docs/production.md).
    "calendar_app.tracking_middleware.TrackedRedirectMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a repeated Idempotency-Key is keyed by who sent it.
    "calendar_app.api.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login refused by the lock-out into the "too many attempts" page.
    "axes.middleware.AxesMiddleware",
]

# The lock-out backend comes first so a locked client is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' templates: the admin's base_site with the listening banner
        # (django.contrib.admin is listed before calendar_app, so an app override would lose).
        "DIRS": [BASE_DIR / "calendar_app" / "listening" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "calendar_app.listening.admin.open_alerts",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kairos.sqlite3'}"),
        conn_max_age=int(os.environ.get("KAIROS_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; the busy timeout waits out short locks
    # instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # One connection per request unless asked: ``make run`` serves with Django's development
    # server, whose thread per request would leave a connection behind with each thread. Under
    # gunicorn set KAIROS_DB_CONN_MAX_AGE (docs/production.md): opening a SQLite connection
    # (the PRAGMAs, Django's SQL functions) cost more than a whole item read.
    if "KAIROS_DB_CONN_MAX_AGE" not in os.environ:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and (
    os.environ.get("KAIROS_DB_SERVER_SIDE_BINDING", "1") == "1"
):
    # Server-side binding lets psycopg prepare a statement run twice on a connection: PostgreSQL
    # then skips parsing and planning it. Measured in process on 100,000 items: an item detail
    # 1.37 -> 0.83 ms, a list page 4.07 -> 3.59 ms, a redirect 0.72 -> 0.58 ms. Behind a pooler
    # in transaction mode (PgBouncer < 1.21) set KAIROS_DB_SERVER_SIDE_BINDING=0: a prepared
    # statement lives on one server connection (docs/production.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=2
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("KAIROS_STATIC_ROOT", BASE_DIR / "staticfiles"))

# Request bodies: a content calendar never needs more than a few MiB per request (the .ics import
# is the largest); anything bigger is refused with 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("KAIROS_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- django-q2 -------------------------------------------------------------------------------
# timeout < retry, as django-q2 requires; ack_failures so that a failed task is never replayed
# behind our back: retries are decided by Kairos (publication.next_attempt_at), not the broker.
# save_limit -1: successful task results are not kept. With a positive limit django-q2's monitor
# loads (and unpickles) every kept result under a lock to prune one after *each* task, ~18 ms a
# task at 1,000; the outcome of Kairos' work is in its own tables anyway. Failures are always
# kept (they are bugs to read) and purged after KAIROS_Q_FAILURE_RETENTION_DAYS by a schedule.
# See docs/production.md, "Task queue throughput".
Q_CLUSTER = {
    "name": "kairos",
    "workers": int(os.environ.get("KAIROS_Q_WORKERS", "2")),
    "timeout": int(os.environ.get("KAIROS_Q_TIMEOUT", "60")),
    "retry": int(os.environ.get("KAIROS_Q_RETRY", "90")),
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": int(os.environ.get("KAIROS_Q_SAVE_LIMIT", "-1")),
    "queue_limit": 50,
    "catch_up": False,
    "poll": 0.2,
    "orm": "default",
}
KAIROS_Q_FAILURE_RETENTION_DAYS = int(os.environ.get("KAIROS_Q_FAILURE_RETENTION_DAYS", "14"))
KAIROS_REDIS_URL = os.environ.get("KAIROS_REDIS_URL", "")
if KAIROS_REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = KAIROS_REDIS_URL
# The cache holds the API's rate-limit buckets (calendar_app/api/throttling.py). By default it is
# each process's memory, so each gunicorn worker counts a key's budget on its own; a Redis URL
# here makes every worker and host count it once.
KAIROS_CACHE_URL = os.environ.get("KAIROS_CACHE_URL", "")
if KAIROS_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": KAIROS_CACHE_URL,
            # a lost Redis must not hold requests: the throttle lets them through meanwhile
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
if os.environ.get("KAIROS_Q_SYNC") == "1":
    Q_CLUSTER["sync"] = True

# --- Kairos ----------------------------------------------------------------------------------
# Plugins named here are not loaded even if installed (entry-point names, comma-separated).
KAIROS_DISABLED_PLUGINS = _csv("KAIROS_DISABLED_PLUGINS")
KAIROS_TRACE_PLUGINS = os.environ.get("KAIROS_TRACE_PLUGINS") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # One line per event that matters, not per task tick (calendar_app/logfilters.py).
    "filters": {"quiet_tasks": {"()": "calendar_app.logfilters.QuietTaskChatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KAIROS_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes announces itself at every start; its lock-out warnings still show.
        "axes.apps": {"level": "WARNING"},
        "django-q": {"filters": ["quiet_tasks"]},
    },
}

# --- Delivery ----------------------------------------------------------------------------------
# The database is the queue; django-q2 tasks only wake workers up (see calendar_app/delivery).
# A worker's claim on the publications it is sending lasts KAIROS_CLAIM_TTL seconds and a thread
# in the worker renews it every third of that, so a dead worker's claims lapse within seconds
# whatever the network's time-outs, and the dispatcher, which looks for lapsed claims every
# KAIROS_RECOVERY_INTERVAL seconds, gives them to another worker.
KAIROS_CLAIM_TTL = float(os.environ.get("KAIROS_CLAIM_TTL", "6"))
KAIROS_RECOVERY_INTERVAL = float(os.environ.get("KAIROS_RECOVERY_INTERVAL", "1"))
# The promise made to marketers and checked by /health/: a publication whose task, worker,
# dispatcher or database connection was lost is picked up again within this many seconds.
KAIROS_RECOVERY_BOUND = float(os.environ.get("KAIROS_RECOVERY_BOUND", "15"))
# A worker that knows an outcome keeps trying to record it this long while the database restarts.
KAIROS_DB_RETRY_WINDOW = float(os.environ.get("KAIROS_DB_RETRY_WINDOW", "30"))
# The dispatcher wakes workers for publications due within the next KAIROS_DISPATCH_LOOKAHEAD
# seconds; the worker waits out the remainder, so a post leaves on its due second.
KAIROS_DISPATCH_LOOKAHEAD = float(os.environ.get("KAIROS_DISPATCH_LOOKAHEAD", "0.5"))
KAIROS_DISPATCH_INTERVAL = float(os.environ.get("KAIROS_DISPATCH_INTERVAL", "0.25"))
# A worker claims this many due publications at once and keeps claiming for at most
# KAIROS_DRAIN_BUDGET seconds before giving its process back to other tasks (heartbeats, metrics).
KAIROS_CLAIM_BATCH = int(os.environ.get("KAIROS_CLAIM_BATCH", "10"))
KAIROS_DRAIN_BUDGET = float(os.environ.get("KAIROS_DRAIN_BUDGET", "10"))
# Wake-up tasks a dispatcher keeps waiting in the broker while work is due: enough for every
# worker of every cluster to find one (default: two per local worker).
KAIROS_DISPATCH_PREFETCH = int(
    os.environ.get("KAIROS_DISPATCH_PREFETCH", str(2 * Q_CLUSTER["workers"]))
)
# Transient failures are retried with exponential back-off and jitter (publishers.retry): the
# n-th retry waits up to BASE × FACTOR^(n-1) seconds, capped at CAP, JITTER of it random;
# MAX_ATTEMPTS attempts in all; a Retry-After over MAX_RETRY_AFTER seconds means giving up.
# KAIROS_RETRY_NETWORKS overrides any of them per network, as JSON: {"webhook": {"cap": 600}}.
KAIROS_RETRY_MAX_ATTEMPTS = int(os.environ.get("KAIROS_RETRY_MAX_ATTEMPTS", "8"))
KAIROS_RETRY_BASE = float(os.environ.get("KAIROS_RETRY_BASE", "15"))
KAIROS_RETRY_FACTOR = float(os.environ.get("KAIROS_RETRY_FACTOR", "2"))
KAIROS_RETRY_CAP = float(os.environ.get("KAIROS_RETRY_CAP", "3600"))
KAIROS_RETRY_JITTER = float(os.environ.get("KAIROS_RETRY_JITTER", "1"))
KAIROS_RETRY_MAX_RETRY_AFTER = float(os.environ.get("KAIROS_RETRY_MAX_RETRY_AFTER", "21600"))
KAIROS_RETRY_NETWORKS = os.environ.get("KAIROS_RETRY_NETWORKS", "{}")
# A publication found more than this many seconds overdue gets its item's lateness policy.
KAIROS_OVERDUE_GRACE = float(os.environ.get("KAIROS_OVERDUE_GRACE", "60"))
KAIROS_METRICS_WINDOW_DAYS = int(os.environ.get("KAIROS_METRICS_WINDOW_DAYS", "14"))
KAIROS_METRICS_INTERVAL_MINUTES = int(os.environ.get("KAIROS_METRICS_INTERVAL_MINUTES", "15"))
# A collection run is queued as tasks of at most this many publications (calendar_app.metrics):
# small enough that one task stays far below Q_CLUSTER's timeout even on a slow network.
KAIROS_METRICS_BATCH = int(os.environ.get("KAIROS_METRICS_BATCH", "100"))
# OAuth access tokens are renewed when they expire within this many seconds (calendar_app.connect.refresh).
KAIROS_TOKEN_REFRESH_MARGIN_SECONDS = int(
    os.environ.get("KAIROS_TOKEN_REFRESH_MARGIN_SECONDS", "900")
)
# How often every connected channel's replies, mentions and watches are read (docs/listening.md).
KAIROS_LISTENING_INTERVAL_MINUTES = int(os.environ.get("KAIROS_LISTENING_INTERVAL_MINUTES", "5"))

# --- Tracked links -----------------------------------------------------------------------------
# Public base URL of this deployment's short links (/r/<code>). Empty: CTA links are posted as
# they are, untracked (production must set it to track clicks on networks that do not report).
KAIROS_TRACKING_BASE_URL = os.environ.get(
    "KAIROS_TRACKING_BASE_URL", "" if PRODUCTION else "http://127.0.0.1:8000"
)
# --- Media ---------------------------------------------------------------------------------------
# Uploaded pictures and videos live in Django's default storage (local files under MEDIA_ROOT
# unless STORAGES says otherwise, e.g. S3 in production) and are served to networks at
# <KAIROS_PUBLIC_BASE_URL>/m/<token>: an unguessable address, like a tracked link.
MEDIA_ROOT = Path(os.environ.get("KAIROS_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media-files/"
KAIROS_PUBLIC_BASE_URL = os.environ.get("KAIROS_PUBLIC_BASE_URL", KAIROS_TRACKING_BASE_URL)
KAIROS_MEDIA_MAX_BYTES = int(os.environ.get("KAIROS_MEDIA_MAX_BYTES", str(40 * 1024 * 1024)))

# Public base URL of the one-click unsubscribe links in newsletters (/u/<token>/); empty: the
# tracking base URL above. Without either, the email network refuses to send.
KAIROS_UNSUBSCRIBE_BASE_URL = os.environ.get("KAIROS_UNSUBSCRIBE_BASE_URL", "")
# Outbound webhooks: private and loopback receivers are refused unless this is on (tests, or an
# integrator's receiver on the same private network).
KAIROS_WEBHOOKS_ALLOW_PRIVATE = os.environ.get("KAIROS_WEBHOOKS_ALLOW_PRIVATE") == "1"
# Network plugins (the webhook network, a Matrix homeserver...) reach loopback and private
# addresses only for the networks the operator lists in KAIROS_ALLOW_PRIVATE_NETWORKS
# ("webhook,matrix", or "*"): an on-premises server, or a test rig. The plugins read it from the
# environment themselves (publishers.private_allowed); a workspace can never switch it on.
KAIROS_WEBHOOKS_RETENTION_DAYS = int(os.environ.get("KAIROS_WEBHOOKS_RETENTION_DAYS", "30"))

# A moment's readiness check asks each link of the armed templates whether it answers (HEAD, or
# GET when refused), with this time-out in seconds; "0" checks their form only. Links on private
# addresses are checked only when KAIROS_ALLOW_PRIVATE_NETWORKS lists "link-check".
KAIROS_READINESS_CHECK_LINKS = os.environ.get("KAIROS_READINESS_CHECK_LINKS", "1") != "0"
KAIROS_READINESS_LINK_TIMEOUT = float(os.environ.get("KAIROS_READINESS_LINK_TIMEOUT", "3"))

# Counted clicks: at most KAIROS_CLICK_CLIENT_LIMIT clicks of one client (an IPv4 address or an
# IPv6 /64, whatever its user agent) on one link count within KAIROS_CLICK_CLIENT_WINDOW seconds;
# further clicks still redirect and are recorded as not counted (calendar_app.tracking).
KAIROS_CLICK_CLIENT_LIMIT = int(os.environ.get("KAIROS_CLICK_CLIENT_LIMIT", "3"))
KAIROS_CLICK_CLIENT_WINDOW = int(os.environ.get("KAIROS_CLICK_CLIENT_WINDOW", "3600"))
# On PostgreSQL a click's commit does not wait for its WAL flush (synchronous_commit off for
# that transaction only): a database crash may lose the last fraction of a second of clicks,
# never anything else. "1" makes clicks wait like every other write (docs/production.md).
KAIROS_CLICK_DURABLE_COMMIT = os.environ.get("KAIROS_CLICK_DURABLE_COMMIT", "0") == "1"

# --- Client addresses (calendar_app.client_address) -------------------------------------------
# Behind a reverse proxy, the header it sets with the client's address, e.g. X-Forwarded-For or
# X-Real-IP; empty: REMOTE_ADDR. Never set it without a proxy that overwrites or appends to that
# header: a client could then claim any address. For X-Forwarded-For, KAIROS_TRUSTED_PROXY_COUNT
# is how many of your own proxies append to it (the client's address is that many from the right).
# KAIROS_TRUST_X_FORWARDED_FOR=1 (older setting) means X-Forwarded-For behind one proxy.
KAIROS_TRUST_X_FORWARDED_FOR = os.environ.get("KAIROS_TRUST_X_FORWARDED_FOR") == "1"
KAIROS_CLIENT_IP_HEADER = os.environ.get(
    "KAIROS_CLIENT_IP_HEADER", "X-Forwarded-For" if KAIROS_TRUST_X_FORWARDED_FOR else ""
)
KAIROS_TRUSTED_PROXY_COUNT = int(os.environ.get("KAIROS_TRUSTED_PROXY_COUNT", "1"))

# --- Login lock-out (django-axes, calendar_app.login_lockout) -----------------------------------
# Per (username, client address): KAIROS_LOGIN_FAILURE_LIMIT failures lock for
# KAIROS_LOGIN_LOCKOUT_BASE seconds; each failure after a lock doubles it, up to
# KAIROS_LOGIN_LOCKOUT_CAP (at most a day). Failures are forgotten a day after the last one, or at
# the next successful login. `manage.py axes_reset_username <name>` (or axes_reset) lifts a lock.
KAIROS_LOGIN_LOCKOUT_BASE = int(os.environ.get("KAIROS_LOGIN_LOCKOUT_BASE", "300"))
KAIROS_LOGIN_LOCKOUT_CAP = int(os.environ.get("KAIROS_LOGIN_LOCKOUT_CAP", "86400"))
# Successful logins are kept (who logged in, when, from where) this many days.
KAIROS_LOGIN_LOG_RETENTION_DAYS = int(os.environ.get("KAIROS_LOGIN_LOG_RETENTION_DAYS", "90"))
AXES_ENABLED = True
AXES_FAILURE_LIMIT = int(os.environ.get("KAIROS_LOGIN_FAILURE_LIMIT", "5"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(hours=24)  # the memory of failures; the lock itself backs off
AXES_HANDLER = "calendar_app.login_lockout.BackoffDatabaseHandler"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "calendar_app.login_lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "calendar_app.client_address.client_key_for_request"
AXES_HTTP_RESPONSE_CODE = 429
# Never store what was typed into the login form (a password typed into the username field).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password"]

# --- REST API --------------------------------------------------------------------------------
# Tokens first (an integration's header wins), then the session for the browsable API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "calendar_app.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["calendar_app.api.permissions.WorkspacePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["calendar_app.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("KAIROS_API_RATE", "1200/minute")},
    "DEFAULT_PAGINATION_CLASS": "calendar_app.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "calendar_app.api.filters.KairosFilterBackend",
        "calendar_app.api.filters.StrictOrderingFilter",
    ],
    # JSON only: the schema's types are JSON types (a form would carry "true" and "12" as strings).
    # The two file uploads (media, .ics import) declare multipart themselves.
    "DEFAULT_PARSER_CLASSES": ["calendar_app.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "calendar_app.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "calendar_app.api.schema.KairosAutoSchema",
    "EXCEPTION_HANDLER": "calendar_app.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kairos API",
    "DESCRIPTION": (
        "Headless content calendar for real-time marketing. Authenticate with "
        "`Authorization: Token <prefix.secret>`; every resource is nested under "
        "`/api/v1/workspaces/{workspace_slug}/`. Errors have one shape: "
        '`{"code", "detail", "fields"}`. See docs/api.md for a walk-through.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from drf-spectacular-sidecar's static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "calendar_app.api.schema.tighten_schema",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ContentStatusEnum": "calendar_app.models.ContentStatus",
        "PublicationStatusEnum": "calendar_app.models.PublicationStatus",
        "ExperimentStatusEnum": "calendar_app.models.ExperimentStatus",
        "ChannelStatusEnum": "calendar_app.models.ChannelStatus",
        "RoleEnum": "calendar_app.models.Role",
        "MetricEnum": "calendar_app.models.Metric",
        "EventSourceEnum": "calendar_app.models.EventSource",
        "ScenarioEnum": "calendar_app.models.Scenario",
        "LatenessPolicyEnum": "calendar_app.models.LatenessPolicy",
        "WebhookDeliveryStatusEnum": "calendar_app.models.WebhookDeliveryStatus",
    },
}
