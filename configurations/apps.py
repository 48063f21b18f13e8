from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core.signals import setting_changed
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _

from .data import installation


class ConfigurationsConfig(AppConfig):
    """The app: checks, signal handlers and the SQLite trigger installation."""

    default = True
    name = "configurations"
    verbose_name = _("Configurations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks; it needs the models loaded
        from .data import secret_patterns

        pre_migrate.connect(installation.drop_sqlite_triggers, sender=self)
        post_migrate.connect(installation.reinstall_sqlite_triggers, sender=self)
        post_migrate.connect(secret_patterns.sync, sender=self)
        setting_changed.connect(secret_patterns.on_setting_changed)


class ConfigurationsAdminConfig(admin_apps.AdminConfig):
    """Django's admin with this project's site (INSTALLED_APPS lists it instead of django.contrib.admin)."""

    default = False
    default_site = "configurations.admin.site.default_site"
