"""API tokens: a digest, a scope and an owner (services/tokens.py creates and checks them)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from .model_base import User


class ApiTokenQuerySet(models.QuerySet):
    """Queries of API tokens: the usable ones."""

    def usable(self):
        return self.filter(revoked=False).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=Now()))


class ApiToken(models.Model):
    """A bearer token of the HTTP API (docs/api.md). Only a SHA-256 digest of the token is stored: it is shown
    once, when it is created. Its scope: environments (one or more), categories (empty: all), read or read-write,
    and whether secret values are returned decrypted. It acts as its owner, with the owner's permissions."""

    class Access(models.TextChoices):
        READ = "read", "read"
        READ_WRITE = "read-write", "read-write"

    name = models.CharField(max_length=100, unique=True)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False, help_text="The token's first characters, to tell it")
    environments = models.JSONField(default=list)
    categories = models.JSONField(default=list, blank=True, help_text="Empty: every category")
    access = models.CharField(max_length=10, choices=Access.choices, default=Access.READ)
    secrets = models.BooleanField(default=False, help_text="Return secret values decrypted")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        db_table = "configuration_api_tokens"
        verbose_name = _("API token")

    def __str__(self) -> str:
        return self.name

    @property
    def can_write(self) -> bool:
        return self.access == self.Access.READ_WRITE

    def covers(self, environment: str, category: str | None = None) -> bool:
        if environment not in self.environments:
            return False
        return category is None or not self.categories or category in self.categories
