"""Saring settings: one file, everything from the environment (12-factor).

With nothing set, the app runs on the *embedded default*: a SQLite file next to
manage.py and Celery tasks executed eagerly in-process, so `make demo` needs
nothing but Python. Set DATABASE_URL and REDIS_URL for PostgreSQL and a real
broker. DEBUG is off unless DJANGO_DEBUG=1 says otherwise (`make demo` and the
test settings do), and with DEBUG off a secret key and allowed hosts are
required: a missing environment never means debug. Every variable is listed in
the README.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# Off unless asked for: an image started without its environment must not serve debug pages.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
DEV_SECRET_KEY = "dev-insecure-only-for-the-embedded-default"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "DEBUG is off (DJANGO_DEBUG unset or 0), so DJANGO_SECRET_KEY must be set to a long random value. "
            "For development set DJANGO_DEBUG=1 (make demo and make test do).")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DEBUG is off (DJANGO_DEBUG unset or 0), so DJANGO_ALLOWED_HOSTS (comma-separated host names) is required. "
            "For development set DJANGO_DEBUG=1 (make demo and make test do).")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "crm",
    "contacts",
    "scoring",
    "nurture",
    "followup",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "crm.middleware.DatabaseUnavailableMiddleware",
    # After authentication (it reads request.user): which requests wrote, whose reads stay on the primary.
    "crm.replica.ReplicaMiddleware",
    "crm.middleware.FriendlyNotFoundMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.roles.roles_context",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
EMBEDDED_DATABASE = not env.str("DATABASE_URL", default="")
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the page server read while a worker writes; the timeout rides out short write locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A streaming read replica of the primary (PostgreSQL hot standby). Unset: no replica, every query
# on DATABASE_URL. Set: the dashboard, the contact lists, the export and the backtest/advisor reads
# go there (crm/replica.py: explicit blocks, read-after-write to the primary, a dead replica
# falls back to the primary); writes and migrations only ever use the primary.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
# After a user writes, their reads stay on the primary this long (the replica may lag behind).
CRM_REPLICA_STICKY_SECONDS = env.int("CRM_REPLICA_STICKY_SECONDS", default=10)
# How often each process checks that the replica answers (a failed query checks at once).
CRM_REPLICA_CHECK_SECONDS = env.float("CRM_REPLICA_CHECK_SECONDS", default=5.0)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    # A short connect timeout: a replica that does not answer costs 1 s per check, then the primary serves.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 1)
    # The test run never creates a test database on the replica: the alias mirrors the test default.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["crm.replica.ReplicaRouter"]

# --- Cache, Celery -------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_BROKER = not REDIS_URL


def _next_redis_db(url: str) -> str:
    """The same Redis server, the next database number: the cache must never share the
    broker's database, or a cache.clear() (FLUSHDB) would drop every queued task."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db + 1) % 16}"))


REDIS_CACHE_URL = env.str("REDIS_CACHE_URL", default=_next_redis_db(REDIS_URL) if REDIS_URL else "")
if REDIS_URL:
    CACHES = {"default": {
        "BACKEND": "crm.cache.DegradingRedisCache", "LOCATION": REDIS_CACHE_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
# Where tasks are published (tests give each worker a queue of its own, for the tasks it queues too).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "Asia/Jakarta"
# Long tasks acknowledge after they finish, so a killed worker's task is redelivered;
# every task is idempotent (it recomputes, it never adds to a stored total).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
# Socket timeouts: a Redis that stops answering must not hang a web request that queues a task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 2, "socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when Redis is down: try briefly, then the
# caller falls back to the durable "needs rescore" flag that a beat job sweeps.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A worker keeps its database connection between tasks (Celery's Django fixup otherwise closes it before and
# after every task, so each task paid a new PostgreSQL connection); crm/celery.py closes it after CONN_MAX_AGE
# seconds or an error that left it unusable, as Django does between requests.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=10_000)
# Task modules beyond each app's tasks.py, so a real worker registers them too.
CELERY_IMPORTS = ["scoring.advisor.tasks", "contacts.privacy.tasks", "contacts.imports.tasks", "crm.bulk.tasks",
                  "contacts.rollup.tasks"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "nightly-rescore": {"task": "scoring.tasks.rescore_all_task", "schedule": timedelta(days=1)},
    "sweep-stale-scores": {"task": "scoring.tasks.rescore_stale_task", "schedule": timedelta(minutes=1)},
    # Above 50,000 contacts the dashboard's panels are cached for two minutes: keep the unfiltered one warm.
    "warm-dashboard": {"task": "crm.tasks.dashboard_warm_task", "schedule": timedelta(minutes=1)},
    # The stage rollup (dashboard, stage list counts): fold its delta log; recompute it with GROUP BY and log drift.
    "compact-stage-rollup": {"task": "contacts.rollup.tasks.rollup_compact_task", "schedule": timedelta(minutes=1)},
    "reconcile-stage-rollup": {"task": "contacts.rollup.tasks.rollup_reconcile_task", "schedule": timedelta(days=1)},
    "resume-rescore-runs": {"task": "scoring.tasks.resume_rescore_runs_task", "schedule": timedelta(minutes=5)},
    "retention": {"task": "contacts.tasks_privacy.retention_run_task", "schedule": timedelta(days=1)},
    # Confirmed bulk actions whose task was lost (the run itself is once-only).
    "sweep-bulk-actions": {"task": "crm.bulk.tasks.bulk_sweep_task", "schedule": timedelta(minutes=5)},
    # Deliveries whose retry time came, or whose task was lost; deliveries a dead worker left half-sent.
    "sweep-deliveries": {"task": "nurture.tasks.deliveries_sweep_task", "schedule": timedelta(minutes=1)},
    "run-sequences": {"task": "nurture.tasks.sequences_run_task", "schedule": timedelta(minutes=1)},
    # Hourly, a no-op until CRM_DIGEST_HOUR and after the day's digests went (one per user and day).
    "follow-up-digests": {"task": "followup.tasks.digests_task", "schedule": timedelta(hours=1)},
    "sweep-notification-emails": {"task": "followup.tasks.emails_sweep_task", "schedule": timedelta(minutes=1)},
    # Webhook deliveries whose retry time came, whose wake-up was lost, or that a dead worker left half-sent.
    "sweep-webhooks": {"task": "webhooks.tasks.deliveries_sweep_task", "schedule": timedelta(minutes=1)},
}

# --- Auth ----------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lock out one username from one address, never a whole office behind one NAT address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
# The same client address as the API throttles (the socket's unless CRM_NUM_PROXIES says otherwise).
AXES_CLIENT_IP_CALLABLE = "crm.net.client_ip"

# --- I18n ----------------------------------------------------------------------
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["crm.formats"]  # one date format per language (crm/formats/)
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True

# --- Static --------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("CRM_MEDIA_ROOT", default=BASE_DIR / "media")
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("CRM_MAX_BODY_BYTES", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- REST API ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's tokens, refused after CRM_API_TOKEN_DAYS (crm.tokens).
        "crm.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every API view says which roles may do what (crm.api_common.RolePermission); a view that
    # forgets to is closed, not open.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "crm.api_common.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": ["crm.api_strict.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "crm.api_common.FlexiblePagination",
    "PAGE_SIZE": 50,
    # JSON only, errors included (crm.api_common documents the one error shape).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "crm.api_common.JSONFallbackNegotiation",
    # JSON bodies everywhere; /api/capture/ also takes HTML form posts (its own parser list).
    "DEFAULT_PARSER_CLASSES": ["crm.api_common.JSONParser"],
    "EXCEPTION_HANDLER": "crm.api_common.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # DRF's per-user and per-address rates, counted in O(1) per request (crm.throttles).
    "DEFAULT_THROTTLE_CLASSES": ["crm.throttles.UserRateThrottle", "crm.throttles.AnonRateThrottle"],
    # Behind N reverse proxies, throttles read the client address from X-Forwarded-For. Unset (0):
    # the socket's address, whatever X-Forwarded-For says (crm.net.client_ip, also used by axes).
    "NUM_PROXIES": env.int("CRM_NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("CRM_API_RATE", default="6000/min"),
        "anon": env.str("CRM_API_ANON_RATE", default="60/min"),
        "capture": env.str("CRM_CAPTURE_RATE", default="30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Saring CRM API",
    "DESCRIPTION": (
        "Contacts, interactions, landing-page capture, notes, funnel and rule sets.\n\n"
        "Authenticate with `Authorization: Token <key>` (a token from `manage.py drf_create_token USER` or the "
        "profile page) or a browser session. Errors always have the shape "
        "`{\"error\": code, \"detail\": text, \"fields\": {\"field.path\": [messages]}}`. Lists are paginated by page "
        "number; `?paginate=cursor` pages by id for large exports. See docs/api.md for curl examples."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "contacts.models.Stage",
        "IndustryEnum": "contacts.models.Industry",
        "ChannelEnum": "contacts.models.Channel",
        "IntentLevelEnum": "contacts.models.IntentLevel",
        "MessageChannelEnum": "nurture.models.MessageChannel",
        "PurposeEnum": "nurture.models.Purpose",
        "LanguageEnum": "nurture.models.Language",
        "CampaignStatusEnum": "nurture.models.Campaign.Status",
        "DeliveryStatusEnum": "nurture.models.Delivery.Status",
        "TaskTypeEnum": "followup.models.TaskType",
        # Named before tasks had a "type" too: the rule type keeps its published name.
        "TypeEnum": "scoring.models.Rule.Type",
        "OutcomeEnum": "followup.models.Outcome",
        "NotificationKindEnum": "followup.models.Notification.Kind",
        "WebhookDeliveryStatusEnum": "webhooks.models.Delivery.Status",
        "WebhookEventEnum": "webhooks.models.EventType",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api_common.add_error_responses",
    ],
}

# --- Security ------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-free meta tag; this stays default
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Email -----------------------------------------------------------------------
# EMAIL_URL, e.g. smtp://user:pass@smtp.example.co.id:587/?tls=1 (or ?ssl=1). Without it, every
# email is written as a file under sent_mail/ (the embedded default: the same sending code,
# nothing leaves the machine).
_email_url = env.str("EMAIL_URL", default="")
if _email_url:
    _email = env.email_url_config(_email_url)
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST, EMAIL_PORT = _email["EMAIL_HOST"], _email["EMAIL_PORT"]
    EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_USER"], _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = bool(_email.get("OPTIONS", {}).get("TLS") or _email.get("EMAIL_USE_TLS"))
    EMAIL_USE_SSL = bool(_email.get("OPTIONS", {}).get("SSL") or _email.get("EMAIL_USE_SSL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env.path("CRM_SENT_MAIL_DIR", default=BASE_DIR / "sent_mail")
EMAIL_TIMEOUT = env.int("CRM_EMAIL_TIMEOUT", default=10)
CRM_EMAIL_FROM = env.str("CRM_EMAIL_FROM", default="Saring <noreply@saring.example>")
DEFAULT_FROM_EMAIL = SERVER_EMAIL = CRM_EMAIL_FROM
# Absolute links in emails (tracked links, the open pixel, unsubscribe) start with this.
# Under DEBUG, answer a 404 with the product's page instead of Django's technical one (the URL
# patterns): `make demo` sets it so the demo looks like the product; developers keep the technical page.
CRM_FRIENDLY_404 = env.bool("CRM_FRIENDLY_404", default=False)
CRM_BASE_URL = env.str("CRM_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# A temporary SMTP failure (4xx, connection refused, timeout) is retried with backoff this many times.
CRM_EMAIL_MAX_ATTEMPTS = env.int("CRM_EMAIL_MAX_ATTEMPTS", default=6)
# Pacing of sequence steps and campaigns: emails a minute in all, and to one mail domain (gmail.com...).
CRM_EMAIL_RATE_PER_MINUTE = env.int("CRM_EMAIL_RATE_PER_MINUTE", default=1200)
CRM_EMAIL_DOMAIN_RATE_PER_MINUTE = env.int("CRM_EMAIL_DOMAIN_RATE_PER_MINUTE", default=300)
# SMTP connections a campaign batch sends over at once (threads of the worker, each keeping its connection open).
CRM_EMAIL_CONNECTIONS = env.int("CRM_EMAIL_CONNECTIONS", default=8)
# Seconds a worker process keeps an idle campaign connection open for the next batch (0: close after each batch).
CRM_EMAIL_KEEP_OPEN_SECONDS = env.float("CRM_EMAIL_KEEP_OPEN_SECONDS", default=30.0)

# --- Product settings ------------------------------------------------------------
# Hours a new prospect may wait for a first personal follow-up before it is flagged.
CRM_FOLLOW_UP_HOURS = env.int("CRM_FOLLOW_UP_HOURS", default=24)
# Hours during which a merge of two contacts can be undone (from the success message or the kept contact's page).
CRM_MERGE_UNDO_HOURS = env.int("CRM_MERGE_UNDO_HOURS", default=24)
# The reps' and managers' daily follow-up digest: from this hour (0-23) in this time zone.
CRM_DIGEST_HOUR = env.int("CRM_DIGEST_HOUR", default=7)
CRM_DIGEST_TIMEZONE = env.str("CRM_DIGEST_TIMEZONE", default="Asia/Jakarta")
# May sales reps read (not change) contacts they do not own?
CRM_SALES_CAN_READ_ALL = env.bool("CRM_SALES_CAN_READ_ALL", default=False)
# Interactions may be stamped this far in the future (clock skew of the sender).
CRM_FUTURE_SKEW = timedelta(minutes=env.int("CRM_FUTURE_SKEW_MINUTES", default=5))
# Anonymise contacts with no activity for this many months (UU PDP retention); 0 turns it off.
CRM_RETENTION_MONTHS = env.int("CRM_RETENTION_MONTHS", default=0)
# Dashboard panels and stage-list counts read the stage rollup (contacts.rollup); 0 reads contacts with GROUP BY.
CRM_STAGE_ROLLUP = env.bool("CRM_STAGE_ROLLUP", default=True)
# Contacts per chunk of a full rescore; each chunk is one Celery task.
CRM_RESCORE_CHUNK = env.int("CRM_RESCORE_CHUNK", default=5000)
# With a broker, events wake one bulk scoring run; a lost wake-up expires after this long
# (the stale sweeper scores the contacts meanwhile).
CRM_PENDING_WAKE_SECONDS = env.int("CRM_PENDING_WAKE_SECONDS", default=60)

# Days an API token works after it is created (the profile page makes a new one); 0: no expiry.
CRM_API_TOKEN_DAYS = env.int("CRM_API_TOKEN_DAYS", default=90)
# How long a token's user and roles stay cached (crm.tokens); revoking a token drops its entry at once. 0: no cache.
CRM_TOKEN_CACHE_SECONDS = env.int("CRM_TOKEN_CACHE_SECONDS", default=60)
# /api/schema/ and /api/docs/ need a login unless this opens them to everyone.
CRM_PUBLIC_API_DOCS = env.bool("CRM_PUBLIC_API_DOCS", default=False)
# POST /api/contacts/ refusals that name no contact (the identity belongs to one the caller cannot see):
# at most this many per user and hour, so guessing who is in the CRM stays slow and visible.
CRM_HIDDEN_DUPLICATE_LIMIT = env.int("CRM_HIDDEN_DUPLICATE_LIMIT", default=20)
# Seconds a worker may spend reading an uploaded spreadsheet (unpacking, counting rows) before
# the import is stopped as failed; the task's hard limit is 30 seconds more.
CRM_IMPORT_PARSE_SECONDS = env.int("CRM_IMPORT_PARSE_SECONDS", default=120)
# Tasks that share one import (each takes a part of the file, then any chunk left): as many as the
# worker has processes to spare for imports; 1 keeps the file's order throughout (docs/decisions.md).
CRM_IMPORT_RUNNERS = env.int("CRM_IMPORT_RUNNERS", default=2)

# --- Outbound webhooks ------------------------------------------------------------
# Allow loopback and private targets (10/8, 192.168/16, 127.0.0.1…): tests and local development
# only. Link-local (169.254.169.254), multicast and reserved addresses are refused regardless.
CRM_WEBHOOK_ALLOW_PRIVATE = env.bool("CRM_WEBHOOK_ALLOW_PRIVATE", default=False)
# Seconds one request may take (connect, send, read the capped answer).
CRM_WEBHOOK_TIMEOUT = env.float("CRM_WEBHOOK_TIMEOUT", default=10.0)
# Attempts per delivery (backoff 30 s doubling to 4 h: 15 attempts span a little over a day).
CRM_WEBHOOK_MAX_ATTEMPTS = env.int("CRM_WEBHOOK_MAX_ATTEMPTS", default=15)
# Failed attempts in a row after which an endpoint is disabled and admins are emailed; 0: never.
CRM_WEBHOOK_DISABLE_AFTER = env.int("CRM_WEBHOOK_DISABLE_AFTER", default=15)

# --- Logging -------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Import: a count column ("TotalVisits: 12") writes at most this many interactions per cell.
CRM_IMPORT_COUNT_CAP = env.int("CRM_IMPORT_COUNT_CAP", default=25)
