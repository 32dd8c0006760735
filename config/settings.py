"""Settings for the grant ledger, read from the environment.

DATABASE_URL   default: SQLite under var/; PostgreSQL in production and CI
SECRET_KEY     required unless DEBUG is on (a development key is used then)
DEBUG          "1"/"true" to turn on; off by default
ALLOWED_HOSTS  comma-separated; defaults to localhost when DEBUG is on
CONN_MAX_AGE   seconds to keep database connections open (default 60)
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105

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
    "grants",
    "budget",
    "expenditures",
    "reports",
    "api",
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

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Money: only the two currencies a Mali project has. XOF has no minor unit.
CURRENCIES = ("XOF", "EUR")
CURRENCY_CHOICES = [("XOF", "XOF (CFA franc BCEAO)"), ("EUR", "EUR (euro)")]
CURRENCY_DECIMAL_PLACES = 2

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.DecimalJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
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
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Grant ledger API",
    "DESCRIPTION": (
        "Budgets, transfers, XOF/EUR spending, partners' quarterly statements and donor reports "
        "for NGO grants. Authenticate with `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
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
                             "api.schema.document_field_codes"],
}

SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False

# Idempotency-Key (api.idempotency): how long a request waits for the answer of the same request
# in progress, and after how long a reservation is deemed left by a dead process.
IDEMPOTENCY_WAIT_SECONDS = float(os.environ.get("IDEMPOTENCY_WAIT_SECONDS", "10"))
IDEMPOTENCY_STALE_SECONDS = 300

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
