"""Settings for the grant ledger, read from the environment.

DATABASE_URL   default: SQLite under var/; PostgreSQL in production and CI
SECRET_KEY     required unless DEBUG is on (a development key is used then)
DEBUG          "1"/"true" to turn on; off by default
ALLOWED_HOSTS  comma-separated; defaults to localhost when DEBUG is on
CONN_MAX_AGE   seconds to keep database connections open (default 60)

With DEBUG off the defaults are production's: HTTPS only (redirect, HSTS, secure cookies), a strong
SECRET_KEY, JSON only, the API's schema and docs behind authentication. The README's
"Configuration" and "Security" sections list every variable; the "security" block below reads them.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from api.resources import TAGS as API_TAGS  # plain data, no Django import

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A DRF rate, "<requests>/<s|min|hour|day>", checked at start rather than at the first request."""
    value = os.environ.get(name, default).strip()
    if not re.fullmatch(r"[0-9]+/(s|sec|m|min|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name} must read like 60/min (per s, min, hour or day), not {value!r}.")
    return value


DEBUG = env_bool("DEBUG", False)

# Django's own rule for a weak key (check security.W009), refused at start in production rather than
# only warned about by `check --deploy`, which may never be run.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
SECRET_KEY_INSECURE_PREFIX = "django-insecure-"


def secret_key_is_weak(key: str) -> bool:
    return (len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
            or key.startswith(SECRET_KEY_INSECURE_PREFIX))


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105
elif not DEBUG and secret_key_is_weak(SECRET_KEY):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak: it needs at least {SECRET_KEY_MIN_LENGTH} characters, "
        f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them distinct, and must not start with "
        f"'{SECRET_KEY_INSECURE_PREFIX}'. Make one with: "
        "python -c \"import secrets; print(secrets.token_urlsafe(50))\"")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djmoney",
    "simple_history",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "axes",
    "rangefilter",
    "grants",
    "budget",
    "expenditures",
    "reports",
    "api",
    "portal",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # A deadlock or a locked database on a page outside the API: 409 "try again", not a 500.
    "api.middleware.RetryableConflictMiddleware",
    # Last, as django-axes asks: it turns a login refused for a lockout into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# django-axes' backend first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'var' / 'ledger.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing at once with "database is locked": every
    # transaction takes the write lock when it begins (BEGIN IMMEDIATE), waiting for it up to the
    # timeout, so none fails half-way when a reader turns writer (a deferred transaction cannot
    # wait then: SQLite answers "database is locked" at once). Past the timeout the API answers
    # 409 "retry" (api.exceptions).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True
# Dates are typed day first (or ISO) in every language, never month first: config/formats/<lang>/.
# The fallback below is the same, for a language without a module there.
FORMAT_MODULE_PATH = ["config.formats"]
from config.formats.day_first import DATE_INPUT_FORMATS, DATETIME_INPUT_FORMATS  # noqa: E402, F401

# Amounts are shown and typed without thousands separators in forms (the admin's lists format
# their own); the decimal separator is the language's (a comma in French, see grants.admin).
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Money: only the two currencies a Mali project has. XOF has no minor unit.
CURRENCIES = ("XOF", "EUR")
CURRENCY_CHOICES = [("XOF", "XOF (CFA franc BCEAO)"), ("EUR", "EUR (euro)")]
CURRENCY_DECIMAL_PLACES = 2

# The browsable HTML API: for development only, unless asked for.
API_BROWSABLE = env_bool("API_BROWSABLE", DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's token authentication, answering 429 to an address that sent too many wrong tokens.
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"] + (
        ["rest_framework.renderers.BrowsableAPIRenderer"] if API_BROWSABLE else []),
    # Read at each request (api.throttling), so that a test may lower them.
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.AnonRateThrottle", "api.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("THROTTLE_ANON", "60/min"),
        # A partner's script posting a quarter's expenditures one by one, with retries.
        "user": env_rate("THROTTLE_USER", "1200/min"),
        # Wrong tokens sent from one address; past this, every token from it gets 429 until the
        # period ends (api.authentication).
        "failed_token": env_rate("THROTTLE_FAILED_TOKENS", "10/min"),
    },
    # The proxies in front of the app that append to X-Forwarded-For: the client's address is read
    # there, behind them (throttles, failed tokens, admin lockout). 0: REMOTE_ADDR, the header ignored.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.DecimalJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        # A list refuses a query parameter or an ordering it does not read (400), never ignores it.
        "api.filters.StrictQueryParams",
        "django_filters.rest_framework.DjangoFilterBackend",
        "api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

DRF_STANDARDIZED_ERRORS = {
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "406", "409", "415", "422", "429"],
    # Their codes come from the registry (grants.errors.ErrorCode); api.schema builds the bodies.
    "ERROR_SCHEMAS": {
        "403": "api.schema.ErrorResponse403Serializer",
        "404": "api.schema.ErrorResponse404Serializer",
        "409": "api.schema.ErrorResponse409Serializer",
        "422": "api.schema.ErrorResponse422Serializer",
        "429": "api.schema.ErrorResponse429Serializer",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Grant ledger API",
    "DESCRIPTION": (
        "Budgets, transfers, XOF/EUR spending, partners' quarterly statements and donor reports "
        "for NGO grants. Authenticate with `Authorization: Token <key>`. `GET /api/v1/` lists the "
        "resources. Related records are named by their codes; money is two sibling fields "
        "(`amount`, `amount_currency`); every list is paginated (`count`, `next`, `previous`, "
        "`results`) and refuses a query parameter it does not know (400 `unknown_parameter`). "
        "Errors have one shape: `{\"type\", \"errors\": [{\"code\", \"detail\", \"attr\"}]}`. "
        "A partner's quarterly statement goes draft -> submitted -> returned or accepted: see the "
        "statements tag."
    ),
    "TAGS": API_TAGS,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs: for authenticated users (token or admin session) unless
    # API_DOCS_PUBLIC (read at each request).
    "SERVE_PERMISSIONS": ["api.permissions.DocsReadable"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies are documented as JSON (the upload, as the multipart form it is): the form
    # encodings the parsers also read cannot carry a statement's lines, and a client generated
    # from three encodings of one body sends the last (openapi-python-client sends multipart).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CurrencyEnum": "grants.money.CURRENCY_CHOICES",
        "EurCurrencyEnum": "api.fields.EUR_ONLY",
        "FxMethodEnum": "grants.models.FxMethod.choices",
        "XofCurrencyEnum": "api.serializers.XOF_ONLY",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
    },
    "POSTPROCESSING_HOOKS": ["drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
                             "api.schema.document_field_codes", "api.schema.document_retry_after",
                             "api.schema.document_list_query_errors"],
}

SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False

# Idempotency-Key (api.idempotency): how long a request waits for the answer of the same request
# in progress, and after how long a reservation is deemed left by a dead process.
IDEMPOTENCY_WAIT_SECONDS = float(os.environ.get("IDEMPOTENCY_WAIT_SECONDS", "10"))
IDEMPOTENCY_STALE_SECONDS = 300

# --- security (issue 15): HTTPS, the docs, the admin's lockout, the cache the limits count in ----

# Production serves HTTPS only: defaults are secure with DEBUG off, relaxed with it on (`make run`
# serves plain http on 127.0.0.1).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# Behind a proxy that ends TLS: the header it sets to "https" (X-Forwarded-Proto), so that Django
# knows the request was secure; without it SECURE_SSL_REDIRECT would redirect forever. The proxy
# must overwrite the header a client sends.
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + os.environ["SECURE_PROXY_SSL_HEADER"].strip().upper().replace("-", "_"), "https")

# The schema and docs (/api/schema/, /api/docs/, /api/redoc/) for anyone, or for authenticated
# users only (api.permissions.DocsReadable).
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", DEBUG)

# django-axes: the admin's login refused to an address after this many failures, for this long
# (each failure during the lockout starts it again); a correct password then does not log in.
# Attempts are kept in the database (axes' default handler), so every process sees them.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_COOLOFF_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
# The client's address as the throttles read it (REST_FRAMEWORK["NUM_PROXIES"]).
AXES_CLIENT_IP_CALLABLE = "api.throttling.client_ip"

# The throttles and the failed-token counts live in the cache. Django's default (local memory) is
# per process: with several gunicorn workers or hosts each counts alone, so production sets a
# shared one (Redis, which needs the `redis` package).
cache_url = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
if cache_url:
    if not cache_url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("CACHE_URL (or REDIS_URL) must be a Redis URL: redis://, rediss:// or unix://.")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache_url}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# --- uploads (issue 15) ---
# What one request may make the server read (expenditures.upload_limits, api.exceptions). A
# statement workbook is refused before openpyxl parses any of it: its size (413), then its zip
# directory, then its shared strings and cells, streamed. A statement of 5,000 rows (the most the
# reader takes) with 500-character descriptions unpacks to about 4 MB, with at most 10,000
# different texts (its vouchers and descriptions).
STATEMENT_UPLOAD_MAX_BYTES = int(os.environ.get("STATEMENT_UPLOAD_MAX_BYTES", 5 * 1024 * 1024))
STATEMENT_UPLOAD_MAX_MEMBERS = int(os.environ.get("STATEMENT_UPLOAD_MAX_MEMBERS", 100))
STATEMENT_UPLOAD_MAX_UNCOMPRESSED_BYTES = int(os.environ.get("STATEMENT_UPLOAD_MAX_UNCOMPRESSED_BYTES",
                                                             20 * 1024 * 1024))
# Any part that openpyxl reads whole (styles, the workbook part, properties...): all but the
# worksheets, which it streams, and the shared strings, which have their own limits.
STATEMENT_UPLOAD_MAX_PART_BYTES = int(os.environ.get("STATEMENT_UPLOAD_MAX_PART_BYTES", 2 * 1024 * 1024))
STATEMENT_UPLOAD_MAX_SHARED_STRINGS = int(os.environ.get("STATEMENT_UPLOAD_MAX_SHARED_STRINGS", 100_000))
STATEMENT_UPLOAD_MAX_SHARED_STRINGS_BYTES = int(os.environ.get("STATEMENT_UPLOAD_MAX_SHARED_STRINGS_BYTES",
                                                               10 * 1024 * 1024))
STATEMENT_UPLOAD_MAX_CELL_CHARS = int(os.environ.get("STATEMENT_UPLOAD_MAX_CELL_CHARS", 32_767))  # Excel's own
# Django's limit on a body that is not a file (JSON, form fields): over it, 413 request_too_large.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440))  # Django's default
# The 413 body is documented on every write (api.schema), its codes from the registry.
DRF_STANDARDIZED_ERRORS["ALLOWED_ERROR_STATUS_CODES"].append("413")
DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"]["413"] = "api.schema.ErrorResponse413Serializer"

# --- jobs (issue 16) ---
# Long work (the whole grant's workbook, a revaluation) runs as a job (jobs.services). With a broker
# (production, CI) the jobs are Celery tasks on Redis, run by `celery -A config worker`; without
# one (`make run`) the web process runs them in a thread of its own ("thread"), and the tests may
# run them at once, in the request ("eager").
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
JOBS_RUNNER = os.environ.get("JOBS_RUNNER") or ("celery" if CELERY_BROKER_URL else "thread")
if JOBS_RUNNER not in ("celery", "thread", "eager"):
    raise ImproperlyConfigured("JOBS_RUNNER must be celery, thread or eager.")
if JOBS_RUNNER == "celery" and not CELERY_BROKER_URL:
    raise ImproperlyConfigured("JOBS_RUNNER=celery needs CELERY_BROKER_URL (redis://...).")
# A job running longer than this is stopped (Celery's soft limit, then the hard one 60 s later)
# and, if its worker died, marked failed by jobs.services.job_expire_stale.
JOB_TIME_LIMIT_SECONDS = int(os.environ.get("JOB_TIME_LIMIT_SECONDS", 30 * 60))
# The files of finished jobs are removed after this many days (`manage.py jobs_cleanup`, daily
# on Celery beat).
JOB_FILES_KEEP_DAYS = int(os.environ.get("JOB_FILES_KEEP_DAYS", 7))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "var" / "media")
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-job leaves the message to another
CELERY_TASK_REJECT_ON_WORKER_LOST = False  # ... but job_expire_stale, not a second run, settles a killed one
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long tasks: a worker takes one at a time
CELERY_TASK_SOFT_TIME_LIMIT = JOB_TIME_LIMIT_SECONDS
CELERY_TASK_TIME_LIMIT = JOB_TIME_LIMIT_SECONDS + 60
# Redis hands an unacknowledged message to another worker after visibility_timeout: longer than
# the longest job, so that no job is delivered twice while it runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_TASK_IGNORE_RESULT = True  # the Job row is the result
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "ledger-jobs")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "jobs-cleanup": {"task": "jobs.tasks.jobs_cleanup_task", "schedule": 24 * 3600},
    "jobs-expire-stale": {"task": "jobs.tasks.jobs_expire_stale_task", "schedule": 5 * 60},
}
# A running job's progress (rows done of rows to do) is kept in this cache while it runs: a
# revaluation runs in one transaction, whose own writes no one else sees before it ends. Redis
# when there is a broker (the workers and the web processes share it), else local memory (the
# jobs then run in the web process).
CACHES = globals().get("CACHES") or {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CACHES["jobs"] = ({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CELERY_BROKER_URL}
                  if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://"))
                  else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "jobs"})
