"""The app's settings, read in one place with their defaults (docs in README.md)."""

from __future__ import annotations

import os

from django.conf import settings


def encryption_keys_setting() -> str:
    """``CONFIG_ENCRYPTION_KEYS``: comma-separated ``<key id>:<urlsafe base64 of 32 bytes>``; the first encrypts."""
    return getattr(settings, "CONFIG_ENCRYPTION_KEYS", "") or ""


def trusted_proxies() -> frozenset[str]:
    """``CONFIG_TRUSTED_PROXIES``: proxy IPs whose X-Forwarded-For header is believed."""
    return frozenset(getattr(settings, "CONFIG_TRUSTED_PROXIES", ()))


def pattern_timeout() -> float:
    """``CONFIG_PATTERN_TIMEOUT``: seconds a validation pattern may run before the value is refused."""
    return float(getattr(settings, "CONFIG_PATTERN_TIMEOUT", 0.25))


def runtime_environment() -> str:
    """``CONFIG_ENVIRONMENT``: which environment this deployment reads at runtime."""
    return getattr(settings, "CONFIG_ENVIRONMENT", "development")


def runtime_watch() -> bool:
    """``CONFIG_RUNTIME_WATCH``: run a watcher thread that keeps runtime snapshots fresh (default on)."""
    return bool(getattr(settings, "CONFIG_RUNTIME_WATCH", True))


def runtime_poll_interval() -> float:
    """``CONFIG_RUNTIME_POLL_INTERVAL``: seconds between change checks on SQLite (PostgreSQL is notified)."""
    return float(getattr(settings, "CONFIG_RUNTIME_POLL_INTERVAL", 0.2))


def smtp_timeout() -> float:
    """``CONFIG_SMTP_TIMEOUT``: seconds an SMTP connection may take (connect, TLS, login, send)."""
    return float(getattr(settings, "CONFIG_SMTP_TIMEOUT", 10))


def smtp_ca_file() -> str:
    """``CONFIG_SMTP_CA_FILE``: an extra CA bundle the SMTP backend trusts (default: the system's only)."""
    return getattr(settings, "CONFIG_SMTP_CA_FILE", "") or ""


def runtime_listen_settings() -> dict | None:
    """``CONFIG_RUNTIME_LISTEN_URL``: a direct PostgreSQL connection for the watcher's LISTEN (None: the default
    database's), for deployments whose requests go through a transaction-pooling PgBouncer."""
    return getattr(settings, "CONFIG_RUNTIME_LISTEN", None) or None


def runtime_snapshot_dir() -> str:
    """``CONFIG_RUNTIME_SNAPSHOT_DIR``: where snapshots are saved for a restart during an outage (empty: off)."""
    return getattr(settings, "CONFIG_RUNTIME_SNAPSHOT_DIR", "") or ""


DEFAULT_SECRET_KEY_PATTERNS = ("pass", "secret", "token", "api_key", "apikey", "private_key", "credential")


def secret_key_patterns() -> tuple[str, ...]:
    """``CONFIG_SECRET_KEY_PATTERNS``: lower-case substrings that make a key name a secret."""
    patterns = getattr(settings, "CONFIG_SECRET_KEY_PATTERNS", DEFAULT_SECRET_KEY_PATTERNS)
    return tuple(p.strip().lower() for p in patterns if p and p.strip())


def import_max_bytes() -> int:
    """``CONFIG_IMPORT_MAX_BYTES``: the largest import file accepted (default 10 MiB)."""
    return int(getattr(settings, "CONFIG_IMPORT_MAX_BYTES", 10 * 1024 * 1024))


def api_rate() -> str | None:
    """``CONFIG_API_RATE``: requests per token (``<n>/<second|minute|hour|day>``; empty: unlimited)."""
    return getattr(settings, "CONFIG_API_RATE", "1200/min") or None


def api_max_waits_per_token() -> int:
    """``CONFIG_API_MAX_WAITS_PER_TOKEN``: long polls one token may hold waiting at once, per process."""
    return max(0, int(getattr(settings, "CONFIG_API_MAX_WAITS_PER_TOKEN", 2)))


def api_max_waits() -> int:
    """``CONFIG_API_MAX_WAITS``: long polls waiting at once in this process; by default the server's threads minus
    one (``CONFIG_SERVER_THREADS``, which gunicorn.conf.py sets), or 8 under a server that does not say."""
    configured = getattr(settings, "CONFIG_API_MAX_WAITS", "")
    if configured not in ("", None):
        return max(0, int(configured))
    threads = os.environ.get("CONFIG_SERVER_THREADS", "")
    return max(0, int(threads) - 1) if threads.isdigit() else 8


def api_max_wait() -> float:
    """``CONFIG_API_MAX_WAIT``: the longest long poll of ``changes/`` in seconds (at most 60, the API's limit)."""
    return min(60.0, float(getattr(settings, "CONFIG_API_MAX_WAIT", 60)))
