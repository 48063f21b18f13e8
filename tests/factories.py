from __future__ import annotations

import secrets
import string
from datetime import timedelta

import factory
from django.db.models import F
from factory.django import DjangoModelFactory

from configurations.data import chain
from configurations.models import (
    ConfigurationHistory,
    ConfigurationHistoryArchive,
    ConfigurationMetadata,
    ConfigurationTemplate,
    HistoryChainHead,
    SystemConfiguration,
    User,
)

# Made per test run: test credentials are never written down.
USER_PASSWORD = secrets.token_urlsafe(16)


def app_password() -> str:
    """A random password in the shape of a Gmail App Password (four groups of four letters)."""
    return " ".join("".join(secrets.choice(string.ascii_lowercase) for _ in range(4)) for _ in range(4))


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(USER_PASSWORD)


def editor_of(*environments: str, username: str, **fields) -> User:
    """A staff user who may edit exactly ``environments`` (every environment when none are named)."""
    from django.contrib.auth.models import Permission

    from configurations.core.vocabulary import ENVIRONMENTS

    user = UserFactory(username=username, is_staff=True, **fields)
    codenames = [f"edit_{env}" for env in (environments or ENVIRONMENTS)]
    permissions = Permission.objects.filter(content_type__app_label="configurations", codename__in=codenames)
    user.user_permissions.add(*permissions)
    return User.objects.get(pk=user.pk)  # a fresh instance: no stale permission cache


class ConfigurationFactory(DjangoModelFactory):
    class Meta:
        model = SystemConfiguration

    category = "app"
    config_key = factory.Sequence(lambda n: f"key_{n}")
    config_value = factory.Sequence(lambda n: f"value {n}")
    environment = "development"


class MetadataFactory(DjangoModelFactory):
    class Meta:
        model = ConfigurationMetadata

    category = "app"
    config_key = factory.Sequence(lambda n: f"key_{n}")
    display_name = factory.LazyAttribute(lambda m: m.config_key.replace("_", " ").title())


class TemplateFactory(DjangoModelFactory):
    class Meta:
        model = ConfigurationTemplate

    provider_name = factory.Sequence(lambda n: f"provider{n}")
    category = "app"
    template_data = factory.LazyFunction(lambda: {"configs": {"host": "example.com"}, "variables": []})


def legacy_plaintext_secret(**fields) -> SystemConfiguration:
    """A secret stored in the clear, as before the database refused it (migration 0017); the history records it.

    Only the refusal of the insert is taken down, and put back before returning.
    """
    from django.db import connection

    from configurations.data import installation

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending (deferred) trigger events: ALTER may run
            cursor.execute("ALTER TABLE system_configurations DISABLE TRIGGER system_configurations_secrets_insert")
            try:
                return ConfigurationFactory(**fields)
            finally:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("ALTER TABLE system_configurations ENABLE TRIGGER system_configurations_secrets_insert")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("DROP TRIGGER system_configurations_secrets_plaintext_insert")
        try:
            return ConfigurationFactory(**fields)
        finally:
            installation.reinstall_sqlite_triggers()


def age_history(ids, *, days: int) -> None:
    """Make history rows ``days`` older, as if written then, and recompute the chain over the whole trail.

    The database stamps each row with the time of its write, so this is how archiving tests get old history whose
    chain still verifies (on PostgreSQL the rows move to their older month's partition, or the default one).
    """
    ConfigurationHistory.objects.filter(id__in=list(ids)).update(created_at=F("created_at") - timedelta(days=days))
    trail = [(model, row) for model in (ConfigurationHistory, ConfigurationHistoryArchive)
             for row in model.objects.values_list(*chain.FIELDS)]  # fmt: skip
    previous = last = None
    for model, row in sorted(trail, key=lambda item: item[1][0]):
        link = chain.chain_hash(previous, chain.content(*row))
        model.objects.filter(id=row[0]).update(prev_hash=previous, row_hash=link)
        previous, last = link, row[0]
    HistoryChainHead.objects.filter(id=1).update(last_id=last, last_hash=previous)
