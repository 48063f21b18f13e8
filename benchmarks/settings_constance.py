"""Benchmark-only settings: the product's, plus django-constance's database backend to compare against."""

from config_site.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "constance"]  # noqa: F405
CONSTANCE_BACKEND = "constance.backends.database.DatabaseBackend"
CONSTANCE_CONFIG = {"SMTP_PORT": (587, "SMTP port")}
