"""The app's settings, read in one place with their defaults (docs in README.md)."""

from __future__ import annotations

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
