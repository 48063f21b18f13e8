"""Settings for the configuration management site.

Every value comes from the environment (or an optional ``.env`` file beside
``manage.py``) through django-environ. The README lists each variable.
"""

from __future__ import annotations

import base64
import os
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from configurations.conf import DEFAULTS
from configurations.core.vocabulary import ENVIRONMENTS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _from_env(parse, name: str):
    """The variable ``name`` read with ``parse`` (an ``env`` method); its default is written once, in conf.DEFAULTS."""
    default = DEFAULTS[name]
    return parse(name, default=list(default) if isinstance(default, tuple) else default)


if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# Only ever used with DEBUG on, on a developer's machine.
_DEVELOPMENT_ONLY_KEY = "django-insecure-development-only-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEVELOPMENT_ONLY_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

CONFIG_ENVIRONMENT = _from_env(env.str, "CONFIG_ENVIRONMENT")
if CONFIG_ENVIRONMENT not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"CONFIG_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}; got {CONFIG_ENVIRONMENT!r}."
    )

# Keys for secrets at rest: comma-separated "<key id>:<urlsafe base64 of 32 bytes>"; the first
# encrypts, all decrypt (docs/encryption.md). With DEBUG on and none set, a development key is
# generated once into a git-ignored file so that `make run` works on a fresh machine.
CONFIG_ENCRYPTION_KEYS = _from_env(env.str, "CONFIG_ENCRYPTION_KEYS")
if not CONFIG_ENCRYPTION_KEYS and DEBUG:
    _dev_keys = BASE_DIR / ".dev-encryption-keys"
    if not _dev_keys.exists():
        _dev_keys.write_text(f"dev:{base64.urlsafe_b64encode(os.urandom(32)).decode()}\n")
        _dev_keys.chmod(0o600)
    CONFIG_ENCRYPTION_KEYS = _dev_keys.read_text().strip()

# Runtime reads (configurations.runtime): a watcher thread per process keeps snapshots fresh.
CONFIG_RUNTIME_WATCH = _from_env(env.bool, "CONFIG_RUNTIME_WATCH")
CONFIG_RUNTIME_POLL_INTERVAL = _from_env(env.float, "CONFIG_RUNTIME_POLL_INTERVAL")
CONFIG_RUNTIME_REFRESH_SPACING = _from_env(env.float, "CONFIG_RUNTIME_REFRESH_SPACING")
CONFIG_RUNTIME_SNAPSHOT_DIR = _from_env(env.str, "CONFIG_RUNTIME_SNAPSHOT_DIR")
# LISTEN needs a session of its own: behind a transaction-pooling PgBouncer, point the watcher at PostgreSQL itself.
CONFIG_RUNTIME_LISTEN = env.db_url("CONFIG_RUNTIME_LISTEN_URL") if env.str("CONFIG_RUNTIME_LISTEN_URL", "") else None

# Email through the smtp category of CONFIG_ENVIRONMENT (docs/runtime.md). Set EMAIL_BACKEND to
# "configurations.mail.ConfigurationEmailBackend" to send with it.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
CONFIG_SMTP_TIMEOUT = _from_env(env.float, "CONFIG_SMTP_TIMEOUT")
CONFIG_SMTP_CA_FILE = _from_env(env.str, "CONFIG_SMTP_CA_FILE")

# Key names that make a key a secret (always encrypted, never shown): comma-separated substrings, any case.
CONFIG_SECRET_KEY_PATTERNS = _from_env(env.list, "CONFIG_SECRET_KEY_PATTERNS")

# The largest import file accepted, in bytes.
CONFIG_IMPORT_MAX_BYTES = _from_env(env.int, "CONFIG_IMPORT_MAX_BYTES")

# Seconds an admin-supplied validation pattern may run before the value is refused.
CONFIG_PATTERN_TIMEOUT = _from_env(env.float, "CONFIG_PATTERN_TIMEOUT")

# Proxies whose X-Forwarded-For header is trusted for the audit trail's client IP.
CONFIG_TRUSTED_PROXIES = _from_env(env.list, "CONFIG_TRUSTED_PROXIES")

# Prometheus metrics at /metrics need this bearer token; without it, /metrics answers 404.
CONFIG_METRICS_TOKEN = _from_env(env.str, "CONFIG_METRICS_TOKEN")

# The HTTP API (docs/api.md): bearer tokens only, JSON only, problem details for every error.
CONFIG_API_RATE = _from_env(env.str, "CONFIG_API_RATE")
CONFIG_API_MAX_WAIT = _from_env(env.float, "CONFIG_API_MAX_WAIT")
# Long polls of changes/ waiting at once: per token, and per process (empty: under WSGI 2 per token and the server's
# threads minus one, so that a probe or an ordinary read always finds a free thread; under ASGI, where a wait holds
# no thread, 1,000 per token and 10,000 per process).
CONFIG_API_MAX_WAITS_PER_TOKEN = _from_env(env.str, "CONFIG_API_MAX_WAITS_PER_TOKEN")
CONFIG_API_MAX_WAITS = _from_env(env.str, "CONFIG_API_MAX_WAITS")

# Webhooks (docs/webhooks.md): http:// only for these hosts; private addresses refused unless allowed.
CONFIG_WEBHOOK_ALLOWED_HOSTS = _from_env(env.list, "CONFIG_WEBHOOK_ALLOWED_HOSTS")
CONFIG_WEBHOOK_ALLOW_PRIVATE = _from_env(env.bool, "CONFIG_WEBHOOK_ALLOW_PRIVATE")
CONFIG_WEBHOOK_RETENTION_DAYS = _from_env(env.int, "CONFIG_WEBHOOK_RETENTION_DAYS")
CONFIG_WEBHOOK_TIMEOUT = _from_env(env.float, "CONFIG_WEBHOOK_TIMEOUT")
CONFIG_WEBHOOK_MAX_ATTEMPTS = _from_env(env.int, "CONFIG_WEBHOOK_MAX_ATTEMPTS")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["configurations.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["configurations.api.authentication.HasToken"],
    "DEFAULT_THROTTLE_CLASSES": ["configurations.api.authentication.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["configurations.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "configurations.api.problems.handle",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Configurations API",
    "DESCRIPTION": "Typed, audited configurations per environment. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "COMPONENT_SPLIT_REQUEST": True,
    "OAS_VERSION": "3.1.0",  # webhooks need 3.1
    "WEBHOOKS": [
        "configurations.api.webhook_schema.configuration_changed",
        "configurations.api.webhook_schema.other_change",
    ],
}

# ------------------------------------------------------------------ HTTPS and cookies (check --deploy is clean)
# Production-safe with DEBUG off; behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=true so that Django
# trusts its X-Forwarded-Proto (only then: a client could send the header itself).
_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes speak plain HTTP inside the network
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_SECURE)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_SECURE)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_SECURE)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True

# Content Security Policy (django-csp): the admin uses no inline script or style, so 'self' is all it needs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

INSTALLED_APPS = [
    "configurations.apps.ConfigurationsAdminConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "configurations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "configurations.middleware.RequestObservabilityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the admin speaks the browser's language (LANGUAGES)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "configurations.middleware.AuditContextMiddleware",
    "configurations.middleware.RuntimeSnapshotMiddleware",
    "configurations.middleware.DatabaseOutageMiddleware",
]

ROOT_URLCONF = "config_site.urls"

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

WSGI_APPLICATION = "config_site.wsgi.application"
ASGI_APPLICATION = "config_site.asgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# One connection per worker thread, kept between requests and checked before reuse (a restarted or terminated
# server connection is replaced instead of failing the next request).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# asgi: served by uvicorn workers (config_site/gunicorn.conf.py and asgi.py set it); anything else: WSGI.
CONFIG_SERVER = _from_env(env.str, "CONFIG_SERVER")
CONFIG_DB_POOL_SIZE = _from_env(env.int, "CONFIG_DB_POOL_SIZE")
# The optimistic write is prepared once per PostgreSQL connection (data/optimistic.py); off behind a
# transaction-pooling PgBouncer, which cannot keep a session's prepared statements (docs/operations.md).
CONFIG_DB_PREPARE = _from_env(env.bool, "CONFIG_DB_PREPARE")
if CONFIG_SERVER == "asgi":
    # Under ASGI each request runs its synchronous code on a thread of its own, so a connection kept per thread would
    # never be reused: none is kept (Django's advice for ASGI), and PostgreSQL connections come from a pool.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "pool", {"min_size": 1, "max_size": CONFIG_DB_POOL_SIZE, "timeout": 3}
        )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", 5)
    # Which process holds which connection, in pg_stat_activity; a process forked after the settings were read
    # (gunicorn's workers, once the master preloaded the snapshot) names its own.
    if "application_name" not in _options:
        _options["application_name"] = f"configurations-{os.getpid()}"
        os.register_at_fork(after_in_child=lambda: _options.update(application_name=f"configurations-{os.getpid()}"))
# SQLite gets the same audit trail as PostgreSQL through a thin backend that
# registers the SQL functions its triggers call (configurations/data/backends); PostgreSQL's thin backend checks a
# pooled connection without a round trip while nothing arrived on it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "configurations.data.backends.sqlite3"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "configurations.data.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Error pages, error emails and logged reports hide sensitive variables and POST data with DEBUG on as well.
DEFAULT_EXCEPTION_REPORTER_FILTER = "configurations.error_reports.AlwaysCleansingFilter"
AUTH_USER_MODEL = "configurations.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The product's own pages are translated into these (configurations/locale/); Django's admin has its own catalogs.
LOCALE_PATHS = [BASE_DIR / "configurations" / "locale"]  # the product's catalogs (makemessages writes here)
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ar", "العربية"),
]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Hashed, compressed names from collectstatic only when the production command asks (`make serve` sets it):
# elsewhere (tests, `make run`, scripts) files are served from the apps' folders, so no page ever fails on a
# missing manifest entry.
CONFIG_STATIC_MANIFEST = _from_env(env.bool, "CONFIG_STATIC_MANIFEST")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if CONFIG_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not CONFIG_STATIC_MANIFEST
# Without collectstatic there is no STATIC_ROOT yet, which is expected then: the finders serve the files.
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)

# One line per event; LOG_FORMAT=json for one JSON object per line. Request lines carry the request id.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json; got {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "refusals": {"()": "configurations.error_reports.RefusalsWithoutTraceback"},
        "request_id": {"()": "configurations.observability.requestlog.RequestIdFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["refusals", "request_id"], "formatter": LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    # Django's own console handler (DEBUG) would print every record a second time through the root's.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
