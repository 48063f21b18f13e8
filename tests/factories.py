from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from configurations.models import ConfigurationMetadata, ConfigurationTemplate, SystemConfiguration, User


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


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
