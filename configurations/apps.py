from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class ConfigurationsConfig(AppConfig):
    name = "configurations"
    verbose_name = "Configurations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, installation  # noqa: F401 - checks register themselves

        pre_migrate.connect(installation.drop_sqlite_triggers, sender=self)
        post_migrate.connect(installation.reinstall_sqlite_triggers, sender=self)
