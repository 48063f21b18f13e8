"""The app's settings, each default written once, here (docs in README.md's table).

config_site/settings.py reads each ``CONFIG_*`` variable from the environment with the default of ``DEFAULTS``;
the functions below read the Django setting, falling back to the same default for projects that do not set it.
"""

from __future__ import annotations

import os

from django.conf import settings

DEFAULT_SECRET_KEY_PATTERNS = ("pass", "secret", "token", "api_key", "apikey", "private_key", "credential")
DEFAULTS: dict[str, object] = {
    "CONFIG_ENVIRONMENT": "development",
    "CONFIG_ENCRYPTION_KEYS": "",
    "CONFIG_TRUSTED_PROXIES": (),
    "CONFIG_PATTERN_TIMEOUT": 0.25,
    "CONFIG_RUNTIME_WATCH": True,
    "CONFIG_RUNTIME_POLL_INTERVAL": 0.2,
    "CONFIG_RUNTIME_REFRESH_SPACING": 0.05,
    "CONFIG_RUNTIME_SNAPSHOT_DIR": "",
    "CONFIG_RUNTIME_LISTEN": None,  # read from CONFIG_RUNTIME_LISTEN_URL
    "CONFIG_SMTP_TIMEOUT": 10.0,
    "CONFIG_SMTP_CA_FILE": "",
    "CONFIG_SECRET_KEY_PATTERNS": DEFAULT_SECRET_KEY_PATTERNS,
    "CONFIG_IMPORT_MAX_BYTES": 10 * 1024 * 1024,
    "CONFIG_METRICS_TOKEN": "",
    "CONFIG_API_RATE": "1200/min",
    "CONFIG_API_MAX_WAIT": 60.0,
    "CONFIG_API_MAX_WAITS_PER_TOKEN": "",
    "CONFIG_API_MAX_WAITS": "",
    "CONFIG_SERVER": "",
    "CONFIG_DB_POOL_SIZE": 8,
    "CONFIG_DB_PREPARE": True,
    "CONFIG_STATIC_MANIFEST": False,
    "CONFIG_WEBHOOK_ALLOWED_HOSTS": (),
    "CONFIG_WEBHOOK_ALLOW_PRIVATE": False,
    "CONFIG_WEBHOOK_RETENTION_DAYS": 30,
    "CONFIG_WEBHOOK_TIMEOUT": 5.0,
    "CONFIG_WEBHOOK_MAX_ATTEMPTS": 12,
}


def value(name: str):
    """The Django setting ``name``, or its default."""
    return getattr(settings, name, DEFAULTS[name])


def encryption_keys_setting() -> str:
    """``CONFIG_ENCRYPTION_KEYS``: comma-separated ``<key id>:<urlsafe base64 of 32 bytes>``; the first encrypts."""
    return value("CONFIG_ENCRYPTION_KEYS") or ""


def trusted_proxies() -> frozenset[str]:
    """``CONFIG_TRUSTED_PROXIES``: proxy IPs whose X-Forwarded-For header is believed."""
    return frozenset(value("CONFIG_TRUSTED_PROXIES"))


def pattern_timeout() -> float:
    """``CONFIG_PATTERN_TIMEOUT``: seconds a validation pattern may run before the value is refused."""
    return float(value("CONFIG_PATTERN_TIMEOUT"))


def runtime_environment() -> str:
    """``CONFIG_ENVIRONMENT``: which environment this deployment reads at runtime."""
    return value("CONFIG_ENVIRONMENT")


def db_prepare() -> bool:
    """``CONFIG_DB_PREPARE``: prepare the optimistic write once per PostgreSQL connection (default on; off behind a
    transaction-pooling PgBouncer, which cannot keep a session's prepared statements)."""
    return bool(value("CONFIG_DB_PREPARE"))


def runtime_watch() -> bool:
    """``CONFIG_RUNTIME_WATCH``: run a watcher thread that keeps runtime snapshots fresh (default on)."""
    return bool(value("CONFIG_RUNTIME_WATCH"))


def runtime_poll_interval() -> float:
    """``CONFIG_RUNTIME_POLL_INTERVAL``: seconds between change checks on SQLite (PostgreSQL is notified)."""
    return float(value("CONFIG_RUNTIME_POLL_INTERVAL"))


def runtime_refresh_spacing() -> float:
    """``CONFIG_RUNTIME_REFRESH_SPACING``: the fewest seconds between two of a watcher's refreshes on PostgreSQL, so
    that a stream of commits costs each process at most one refresh per interval (0: one per notification drained)."""
    return float(value("CONFIG_RUNTIME_REFRESH_SPACING"))


def smtp_timeout() -> float:
    """``CONFIG_SMTP_TIMEOUT``: seconds an SMTP connection may take (connect, TLS, login, send)."""
    return float(value("CONFIG_SMTP_TIMEOUT"))


def smtp_ca_file() -> str:
    """``CONFIG_SMTP_CA_FILE``: an extra CA bundle the SMTP backend trusts (default: the system's only)."""
    return value("CONFIG_SMTP_CA_FILE") or ""


def runtime_listen_settings() -> dict | None:
    """``CONFIG_RUNTIME_LISTEN_URL``: a direct PostgreSQL connection for the watcher's LISTEN (None: the default
    database's), for deployments whose requests go through a transaction-pooling PgBouncer."""
    return value("CONFIG_RUNTIME_LISTEN") or None


def runtime_snapshot_dir() -> str:
    """``CONFIG_RUNTIME_SNAPSHOT_DIR``: where snapshots are saved for a restart during an outage (empty: off)."""
    return value("CONFIG_RUNTIME_SNAPSHOT_DIR") or ""


def secret_key_patterns() -> tuple[str, ...]:
    """``CONFIG_SECRET_KEY_PATTERNS``: lower-case substrings that make a key name a secret."""
    patterns = value("CONFIG_SECRET_KEY_PATTERNS")
    return tuple(p.strip().lower() for p in patterns if p and p.strip())


def import_max_bytes() -> int:
    """``CONFIG_IMPORT_MAX_BYTES``: the largest import file accepted (default 10 MiB)."""
    return int(value("CONFIG_IMPORT_MAX_BYTES"))


def metrics_token() -> str:
    """``CONFIG_METRICS_TOKEN``: the bearer token ``/metrics`` requires (empty: ``/metrics`` answers 404)."""
    return value("CONFIG_METRICS_TOKEN") or ""


def api_rate() -> str | None:
    """``CONFIG_API_RATE``: requests per token (``<n>/<second|minute|hour|day>``; empty: unlimited)."""
    return value("CONFIG_API_RATE") or None


def serves_asgi() -> bool:
    """``CONFIG_SERVER=asgi``: this process serves through ASGI (``make serve``'s uvicorn workers; set by
    config_site/gunicorn.conf.py), where long polls wait on the event loop, not on a thread."""
    return str(value("CONFIG_SERVER")).strip().lower() == "asgi"


def api_max_waits_per_token() -> int:
    """``CONFIG_API_MAX_WAITS_PER_TOKEN``: long polls one token may hold waiting at once, per process; by default 2
    under WSGI (each holds a thread) and 1,000 under ASGI."""
    configured = value("CONFIG_API_MAX_WAITS_PER_TOKEN")
    if configured in ("", None):
        return 1000 if serves_asgi() else 2
    return max(0, int(configured))


def api_max_waits() -> int:
    """``CONFIG_API_MAX_WAITS``: long polls waiting at once in this process; by default 10,000 under ASGI, and under
    WSGI the server's threads minus one (``CONFIG_SERVER_THREADS``, which gunicorn.conf.py sets), or 8 under a
    server that does not say."""
    configured = value("CONFIG_API_MAX_WAITS")
    if configured not in ("", None):
        return max(0, int(configured))
    if serves_asgi():
        return 10_000
    threads = os.environ.get("CONFIG_SERVER_THREADS", "")
    return max(0, int(threads) - 1) if threads.isdigit() else 8


def server_threads() -> int:
    """``CONFIG_SERVER_THREADS``: the threads each server process runs requests on (gunicorn.conf.py sets it from
    ``GUNICORN_THREADS``); under ASGI, how many requests run Django's synchronous code at once (default 4)."""
    threads = os.environ.get("CONFIG_SERVER_THREADS", "")
    return max(1, int(threads)) if threads.isdigit() else 4


def api_max_wait() -> float:
    """``CONFIG_API_MAX_WAIT``: the longest long poll of ``changes/`` in seconds (at most 60, the API's limit)."""
    return min(60.0, float(value("CONFIG_API_MAX_WAIT")))


def webhook_allowed_hosts() -> frozenset[str]:
    """``CONFIG_WEBHOOK_ALLOWED_HOSTS``: hosts that may receive webhooks over plain http:// (default: none)."""
    return frozenset(host.lower() for host in value("CONFIG_WEBHOOK_ALLOWED_HOSTS"))


def webhook_allow_private() -> bool:
    """``CONFIG_WEBHOOK_ALLOW_PRIVATE``: allow webhook URLs that resolve to loopback, private or link-local
    addresses (off by default: a server-side request forgery guard)."""
    return bool(value("CONFIG_WEBHOOK_ALLOW_PRIVATE"))


def webhook_retention_days() -> int:
    """``CONFIG_WEBHOOK_RETENTION_DAYS``: days delivered and dead deliveries, and dispatched events, are kept."""
    return max(1, int(value("CONFIG_WEBHOOK_RETENTION_DAYS")))


def webhook_timeout() -> float:
    """``CONFIG_WEBHOOK_TIMEOUT``: seconds a delivery may take to connect, and then to answer."""
    return float(value("CONFIG_WEBHOOK_TIMEOUT"))


def webhook_max_attempts() -> int:
    """``CONFIG_WEBHOOK_MAX_ATTEMPTS``: attempts before a delivery is dead (backoff doubles from 5 s up to 1 h:
    the default 12 spans about 3.5 hours)."""
    return max(1, int(value("CONFIG_WEBHOOK_MAX_ATTEMPTS")))
